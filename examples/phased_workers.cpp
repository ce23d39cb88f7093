// Python:
//     def end_of_phase():                  # runs once per phase, in the last thread to arrive
//         global phase
//         phase += 1
//     barrier = threading.Barrier(4, action=end_of_phase)
//     def worker(i):
//         for p in range(PHASES):
//             do_phase_work(i, p)
//             barrier.wait()               # nobody starts phase p+1 before all finished phase p
//
// Four workers run several phases in lock step. The barrier's completion step runs once per
// phase, after the last arrival and before anyone is released, so it sees every worker's work of
// that phase and none of the next. The program checks that no worker ever works in a phase other
// than the current one, and that each completion sees exactly four arrivals.
#include <atomkit/barrier.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

constexpr int workers = 4;
constexpr int phases = 50;

struct progress {
  std::atomic<int> phase{0};                     // advanced by the completion step only
  std::array<std::atomic<int>, phases + 1> work{};  // arrivals counted per phase
  std::atomic<bool> ok{true};
  std::atomic<int> completions{0};
};

}  // namespace

int main() {
  progress pr;

  // The completion runs in the last thread to arrive, while the others still wait.
  auto end_of_phase = [&pr]() noexcept {
    const int p = pr.phase.load();
    const auto i = static_cast<std::size_t>(p);
    if (pr.work[i].load() != workers || pr.work[i + 1].load() != 0) {
      pr.ok = false;  // a worker missing from this phase, or already in the next
    }
    pr.completions.fetch_add(1);
    pr.phase.store(p + 1);
  };
  atomkit::barrier sync(workers, end_of_phase);

  std::vector<std::thread> team;
  team.reserve(workers);
  for (int w = 0; w < workers; ++w) {
    team.emplace_back([&pr, &sync] {
      for (int p = 0; p < phases; ++p) {
        if (pr.phase.load() != p) pr.ok = false;  // phases interleaved
        pr.work[static_cast<std::size_t>(p)].fetch_add(1);
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& t : team) t.join();

  std::printf("%d workers, %d phases, %d completions, phases interleaved: %s\n", workers, phases,
              pr.completions.load(), pr.ok ? "never" : "YES");
  if (!pr.ok || pr.completions.load() != phases || pr.phase.load() != phases) {
    std::fprintf(stderr, "FAIL: phases must run strictly one after another\n");
    return 1;
  }
  return 0;
}
