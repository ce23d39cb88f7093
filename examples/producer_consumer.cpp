// Python (3.13's Queue.shutdown() plays the part of close()):
//     q = queue.Queue(maxsize=8)
//     def producer(items):
//         for x in items:
//             q.put(x)                     # blocks while the queue is full (backpressure)
//     def consumer():
//         while True:
//             try:
//                 x = q.get()              # blocks while empty
//             except queue.ShutDown:       # closed and drained: no sentinel needed
//                 return
//             handle(x)
//     ... join the producers, then: q.shutdown()
//
// A bounded multi-producer multi-consumer queue. Instead of pushing one sentinel per consumer,
// the producers' owner closes the queue once they are done: pops drain what is left and then
// report `closed`, and every waiting consumer wakes. The program checks that every item was
// consumed exactly once, and that a push after close() fails with `closed`.
#include <atomkit/mpmc_queue.hpp>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

namespace {

int run() {
  constexpr int producers = 3;
  constexpr int consumers = 3;
  constexpr int items_per_producer = 20'000;
  constexpr int items = producers * items_per_producer;

  atomkit::mpmc_queue<int> q(8);
  std::vector<std::atomic<int>> times_seen(items);  // how often each item was consumed
  std::atomic<bool> push_failed{false};

  std::vector<std::thread> consumer_threads;
  consumer_threads.reserve(consumers);
  for (int c = 0; c < consumers; ++c) {
    consumer_threads.emplace_back([&] {
      int x = 0;
      while (q.pop(x) == atomkit::queue_status::success) {
        times_seen[static_cast<std::size_t>(x)].fetch_add(1);
      }
      // pop returned closed: the queue was closed and everything in it was handed out.
    });
  }
  std::vector<std::thread> producer_threads;
  producer_threads.reserve(producers);
  for (int p = 0; p < producers; ++p) {
    producer_threads.emplace_back([&, p] {
      for (int i = 0; i < items_per_producer; ++i) {
        if (q.push(p * items_per_producer + i) != atomkit::queue_status::success) {
          push_failed = true;
        }
      }
    });
  }
  for (auto& t : producer_threads) t.join();  // every item has been pushed
  q.close();
  for (auto& t : consumer_threads) t.join();  // each saw `closed` once the queue was drained

  int once = 0;
  int wrong = 0;
  for (const auto& n : times_seen) (n.load() == 1 ? once : wrong) += 1;
  const atomkit::queue_status late = q.push(-1);
  std::printf("%d items, %d consumed exactly once, %d lost or repeated; push after close: %s\n",
              items, once, wrong, late == atomkit::queue_status::closed ? "closed" : "accepted?!");
  if (push_failed || once != items || wrong != 0 || late != atomkit::queue_status::closed) {
    std::fprintf(stderr, "FAIL: every item must be consumed exactly once\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {  // not expected: report it as a failure
    std::fprintf(stderr, "FAIL: unexpected exception: %s\n", e.what());
    return 1;
  }
}
