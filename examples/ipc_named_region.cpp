// Two unrelated processes meet in a named shared-memory region and pass work through an
// ipc::mpmc_queue (Python: multiprocessing.shared_memory plus a Queue between two programs).
//
// The program starts a second copy of itself (/proc/self/exe, with "--worker <region>"): a
// separate program image, not a fork, so it shares nothing with the first but the region's name.
// The first process creates the region and two queues in it, sends numbers; the worker opens the
// region, finds the queues by name, and sends back each number's square. Checks its own result.
#include <atomkit/ipc_queue.hpp>
#include <atomkit/shared_memory.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

extern char** environ;

namespace {

struct job {
  std::uint64_t id;
  std::uint64_t value;
};
using job_queue = atomkit::ipc::mpmc_queue<job>;
constexpr std::uint64_t jobs = 10000;

// The second process: serve until the job queue is closed and drained.
int worker(const std::string& name) {
  auto region = atomkit::shared_memory::open(name);
  auto& in = region.find<job_queue>("jobs");
  auto& out = region.find<job_queue>("results");
  job j{};
  while (in.pop(j) == atomkit::queue_status::success) {
    j.value *= j.value;
    if (out.push(j) != atomkit::queue_status::success) return 1;
  }
  return 0;
}

int run(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc == 3 && std::strcmp(argv[1], "--worker") == 0) return worker(argv[2]);

  const std::string name = "/atomkit_example_" + std::to_string(::getpid());
  auto region = atomkit::shared_memory::create(name, 1 << 20);
  auto& in = region.construct<job_queue>("jobs", 64);
  auto& out = region.construct<job_queue>("results", 64);

  char self[] = "/proc/self/exe";
  char flag[] = "--worker";
  std::string region_arg = name;
  char* args[] = {self, flag, region_arg.data(), nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, self, nullptr, nullptr, args, environ) != 0) {
    std::fprintf(stderr, "could not start the worker\n");
    atomkit::shared_memory::remove(name);
    return 1;
  }

  // Send and collect at once: the queues are bounded, so neither side may run far ahead.
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t sum = 0;
  bool ok = true;
  while (received < jobs && ok) {
    if (sent < jobs) {
      const auto r = in.try_push_for(job{sent, sent}, 1ms);
      if (r == atomkit::queue_status::success) ++sent;
    }
    if (sent == jobs) in.close();  // the worker drains, then stops
    job j{};
    const auto r = out.try_pop_for(j, sent == jobs ? 10s : 0s);
    if (r == atomkit::queue_status::success) {
      ok = j.value == j.id * j.id;
      sum += j.value;
      ++received;
    } else if (sent == jobs || r != atomkit::queue_status::timeout) {
      ok = false;  // ten seconds without a result (the worker is gone), or a broken queue
    }
  }
  in.close();
  int status = 1;
  ::waitpid(pid, &status, 0);
  atomkit::shared_memory::remove(name);

  const std::uint64_t want = (jobs - 1) * jobs * (2 * jobs - 1) / 6;  // sum of i*i below jobs
  std::printf("%llu squares from the worker, sum %llu\n", static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(sum));
  return ok && sum == want && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // a region that cannot be created or opened
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
