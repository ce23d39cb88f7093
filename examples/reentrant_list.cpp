// Python:
//     class SafeList:
//         def __init__(self):
//             self._lock = threading.RLock()
//             self._items = []
//         def append(self, x):
//             with self._lock:
//                 self._items.append(x)
//         def extend(self, xs):
//             with self._lock:          # held across the whole extend ...
//                 for x in xs:
//                     self.append(x)    # ... and taken again, by the same thread, in append
//
// A reentrant lock lets extend() call append() while it already holds the lock. Because extend()
// holds it for the whole batch, the items of one extend() are never interleaved with another
// thread's: the program checks that every batch lies contiguous in the final list.
#include <atomkit/reentrant_lock.hpp>

#include <cstddef>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace {

class safe_list {
 public:
  void append(int x) {
    const std::scoped_lock guard(lock_);
    items_.push_back(x);
  }

  void extend(const std::vector<int>& xs) {
    const std::scoped_lock guard(lock_);
    for (const int x : xs) append(x);  // nests: depth() is 2 inside append
  }

  [[nodiscard]] std::vector<int> snapshot() {
    const std::scoped_lock guard(lock_);
    return items_;
  }

 private:
  atomkit::reentrant_lock lock_;
  std::vector<int> items_;  // guarded by lock_
};

int run() {
  constexpr int threads = 4;
  constexpr int batches = 200;
  constexpr int batch_size = 10;

  safe_list list;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&list, t] {
      for (int b = 0; b < batches; ++b) {
        // Batch b of thread t holds the values id*batch_size .. id*batch_size + batch_size-1.
        const int id = t * batches + b;
        std::vector<int> batch;
        batch.reserve(batch_size);
        for (int i = 0; i < batch_size; ++i) batch.push_back(id * batch_size + i);
        list.extend(batch);
      }
    });
  }
  for (auto& w : workers) w.join();

  const std::vector<int> items = list.snapshot();
  const std::size_t expected = std::size_t{threads} * batches * batch_size;
  std::printf("%zu items in %d batches of %d\n", items.size(), threads * batches, batch_size);
  if (items.size() != expected) {
    std::fprintf(stderr, "FAIL: expected %zu items\n", expected);
    return 1;
  }
  // Every batch must appear once, as one contiguous run of its values in order.
  const int batch_count = threads * batches;
  std::vector<bool> seen(static_cast<std::size_t>(batch_count), false);
  for (std::size_t start = 0; start < items.size(); start += batch_size) {
    const int id = items[start] / batch_size;
    if (items[start] % batch_size != 0 || id < 0 || id >= batch_count ||
        seen[static_cast<std::size_t>(id)]) {
      std::fprintf(stderr, "FAIL: a batch is misplaced or repeated at index %zu\n", start);
      return 1;
    }
    seen[static_cast<std::size_t>(id)] = true;
    for (int i = 1; i < batch_size; ++i) {
      if (items[start + static_cast<std::size_t>(i)] != id * batch_size + i) {
        std::fprintf(stderr, "FAIL: batch %d interleaved at index %zu\n", id, start);
        return 1;
      }
    }
  }
  std::printf("every batch is contiguous\n");
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
