// Python:
//     slots = threading.Semaphore(3)
//     def download(url):
//         with slots:                     # at most 3 downloads at a time
//             fetch(url)
//
// A counting semaphore caps how many "downloads" run at once. Ten threads each download a few
// files; a download holds one of three units for its duration (a short sleep stands in for the
// network). The program tracks how many downloads are in flight and the largest number ever seen
// (an atomic maximum), and checks that it never exceeded 3 and that every download ran.
#include <atomkit/semaphore.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr int cap = 3;

// Raises `max` to at least `value`.
void raise_max(std::atomic<int>& max, int value) {
  int seen = max.load();
  while (seen < value && !max.compare_exchange_weak(seen, value)) {
  }
}

}  // namespace

int main() {
  constexpr int threads = 10;
  constexpr int files_per_thread = 5;

  atomkit::counting_semaphore<cap> slots(cap);
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> done{0};

  std::vector<std::thread> downloaders;
  downloaders.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    downloaders.emplace_back([&] {
      for (int f = 0; f < files_per_thread; ++f) {
        atomkit::semaphore_guard slot(slots);  // Python's `with slots:`
        raise_max(max_in_flight, in_flight.fetch_add(1) + 1);
        std::this_thread::sleep_for(1ms);  // the "download": work, not synchronization
        in_flight.fetch_sub(1);
        done.fetch_add(1);
      }
    });
  }
  for (auto& d : downloaders) d.join();

  std::printf("%d downloads, at most %d at a time (cap %d)\n", done.load(), max_in_flight.load(),
              cap);
  if (max_in_flight.load() > cap || max_in_flight.load() < 1) {
    std::fprintf(stderr, "FAIL: the cap of %d was exceeded\n", cap);
    return 1;
  }
  if (done.load() != threads * files_per_thread || slots.available() != cap) {
    std::fprintf(stderr, "FAIL: expected %d downloads and %d free units\n",
                 threads * files_per_thread, cap);
    return 1;
  }
  return 0;
}
