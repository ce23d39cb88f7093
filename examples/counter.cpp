// Python:
//     lock = threading.Lock()
//     def work():
//         global counter
//         for _ in range(100_000):
//             with lock:
//                 counter += 1
//
// A shared counter under a lock: four threads add 100000 each, so the total is always 400000.
// atomkit::spinlock meets the standard Lockable requirements, so std::scoped_lock (or
// std::lock_guard, std::unique_lock) plays the part of Python's `with lock:`.
#include <atomkit/spinlock.hpp>

#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

int main() {
  constexpr int threads = 4;
  constexpr long increments = 100'000;

  atomkit::spinlock lock;
  long counter = 0;  // guarded by lock

  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (long i = 0; i < increments; ++i) {
        const std::scoped_lock guard(lock);
        ++counter;
      }
    });
  }
  for (auto& w : workers) w.join();

  std::printf("counter = %ld\n", counter);
  if (counter != threads * increments) {
    std::fprintf(stderr, "FAIL: expected %ld\n", threads * increments);
    return 1;
  }
  return 0;
}
