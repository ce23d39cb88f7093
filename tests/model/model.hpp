// The model-check build of atomkit: include this before any atomkit header. It substitutes
// Relacy's atomics (model_atomic.hpp) and an OS layer of its own (model_os.hpp), caps every wait
// at one pause before it sleeps (so the checker reaches the sleep paths at once), and gives each
// check file a main() that runs its registered checks and controls.
//
// A check is a Relacy test suite, run under the scheduler and iteration count of the command line
// (`random N` or `bound K`). A control is a check run with a bug injected (model_atomic.hpp,
// model_os.hpp): it passes only if the checker reports a failure.
#pragma once

#define ATOMKIT_ATOMIC_TEMPLATE ::model::atomic
#define ATOMKIT_OS_HEADER "model_os.hpp"
#define ATOMKIT_WAIT_MAX_SPIN 1
#define ATOMKIT_WAIT_MAX_YIELD_NS 0

#include "model_atomic.hpp"
#include "model_os.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

namespace model {

// A bug to inject for a control; disarmed after the run.
struct injection {
  const char* function = nullptr;  // model_atomic.hpp's mutation
  std::memory_order from = std::memory_order_seq_cst;
  std::memory_order to = std::memory_order_seq_cst;
  bool drop_wake = false;
  bool no_light_barrier = false;
  bool no_heavy_barrier = false;
  const char* split_cas = nullptr;  // model_atomic.hpp's split compare-exchange

  void arm() const {
    mutation::function = function;
    mutation::from = from;
    mutation::to = to;
    mutation::applied = 0;
    os_mutation::drop_wake = drop_wake;
    os_mutation::no_light_barrier = no_light_barrier;
    os_mutation::no_heavy_barrier = no_heavy_barrier;
    mutation::split_cas = split_cas;
  }
  static void disarm() { injection{}.arm(); }
};

// Which schedulers run an entry: a suite too large for the exhaustive context-bounded search runs
// under the random scheduler only, beside a smaller instance that runs under both.
enum modes : unsigned { random_only = 1, bound_only = 2, both_modes = 3 };

struct entry {
  std::string name;
  std::function<bool(rl::test_params&)> run;  // Relacy's verdict: true = no failure found
  bool control = false;
  injection bug;
  unsigned iteration_divisor = 1;  // for slow suites: run fewer random iterations
  unsigned modes = both_modes;     // the schedulers that run it (enum modes)
};

inline std::vector<entry>& registry() {
  static std::vector<entry> r;
  return r;
}

template <class Suite>
void check(std::string name, unsigned iteration_divisor = 1, unsigned modes = both_modes) {
  registry().push_back({std::move(name), [](rl::test_params& p) { return rl::simulate<Suite>(p); },
                        false, {}, iteration_divisor, modes});
}

template <class Suite>
void control(std::string name, injection bug, unsigned iteration_divisor = 1,
             unsigned modes = both_modes) {
  registry().push_back({std::move(name), [](rl::test_params& p) { return rl::simulate<Suite>(p); },
                        true, bug, iteration_divisor, modes});
}

// Base for suites: resets the model clock at the start of every execution.
template <class Derived, int Threads>
struct suite : rl::test_suite<Derived, Threads> {
  void before() { reset_os(); }
};

// Relacy's report goes to a temporary file through this buffer, which never allocates (Relacy
// replaces operator new while it runs, and a string stream's buffer would be freed across it).
class file_buf : public std::streambuf {
 public:
  file_buf() : f_(std::tmpfile()) {}
  ~file_buf() override {
    if (f_ != nullptr) std::fclose(f_);
  }
  file_buf(const file_buf&) = delete;
  file_buf& operator=(const file_buf&) = delete;
  // Prints up to `limit` bytes of what was written.
  void dump(long limit) {
    if (f_ == nullptr) return;
    std::fflush(f_);
    std::rewind(f_);
    char buf[4096];
    long left = limit;
    std::size_t n = 0;
    while (left > 0 && (n = std::fread(buf, 1, sizeof buf, f_)) > 0) {
      std::fwrite(buf, 1, n, stdout);
      left -= static_cast<long>(n);
    }
  }

 protected:
  int_type overflow(int_type c) override {
    if (f_ != nullptr && c != traits_type::eof()) std::fputc(c, f_);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    return f_ == nullptr ? n : static_cast<std::streamsize>(std::fwrite(s, 1, static_cast<std::size_t>(n), f_));
  }

 private:
  std::FILE* f_;
};

// usage: model_X [random ITERATIONS | bound CONTEXT_BOUND] [NAME-SUBSTRING]
inline int run_all(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "random";
  const unsigned long n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100000;
  const char* filter = argc > 3 ? argv[3] : nullptr;
  const unsigned this_mode = mode == "bound" ? bound_only : random_only;
  int failed = 0;
  int passed = 0;
  for (const entry& e : registry()) {
    if (filter != nullptr && e.name.find(filter) == std::string::npos) continue;
    if ((e.modes & this_mode) == 0) continue;
    rl::test_params p;
    file_buf report;
    std::ostream out(&report);
    p.output_stream = &out;
    p.progress_stream = &out;
    if (mode == "bound") {
      p.search_type = rl::fair_context_bound_scheduler_type;
      p.context_bound = static_cast<unsigned>(n);
      p.iteration_count = 0;
    } else {
      p.search_type = rl::random_scheduler_type;
      p.iteration_count = n / e.iteration_divisor;
    }
    e.bug.arm();
    const auto t0 = std::chrono::steady_clock::now();
    const bool clean = e.run(p);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long applied = mutation::applied;
    injection::disarm();
    const char* what = rl::test_result_str(p.test_result);
    bool ok = false;
    if (!e.control) {
      ok = clean;
      std::printf("%-58s %s: %s, %llu iterations, %.1f s\n", e.name.c_str(), mode.c_str(),
                  clean ? "passed" : what, static_cast<unsigned long long>(p.stop_iteration),
                  secs);
      if (!clean) report.dump(64 * 1024);
    } else {
      ok = !clean && ((e.bug.function == nullptr && e.bug.split_cas == nullptr) || applied > 0);
      std::printf("%-58s %s: %s at iteration %llu, %.1f s%s\n", e.name.c_str(), mode.c_str(),
                  clean ? "NOT CAUGHT" : "caught", static_cast<unsigned long long>(p.stop_iteration),
                  secs, clean ? "" : (std::string(" (") + what + ")").c_str());
      if ((e.bug.function != nullptr || e.bug.split_cas != nullptr) && applied == 0) {
        std::printf("  the injection never applied\n");
      }
    }
    (ok ? passed : failed) += 1;
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace model
