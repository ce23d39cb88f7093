// Python:
//     buf, cond = collections.deque(), threading.Condition()
//     def put(x):
//         with cond:
//             cond.wait_for(lambda: len(buf) < capacity)
//             buf.append(x)
//             cond.notify_all()
//     def get():
//         with cond:
//             cond.wait_for(lambda: len(buf) > 0)
//             x = buf.popleft()
//             cond.notify_all()
//             return x
//
// A bounded buffer built from a condition variable and a spinlock (one condition variable for
// both "not full" and "not empty", as the Python version has one Condition; notify_all wakes the
// waiters one after another, not all at once). The program checks that every item is received
// exactly once, in each producer's order.
#include <atomkit/condition_variable.hpp>
#include <atomkit/spinlock.hpp>

#include <array>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t capacity = 8;

class bounded_buffer {
 public:
  void put(long x) {
    std::unique_lock hold(lock_);
    cond_.wait(hold, [&] { return count_ < capacity; });
    items_[(head_ + count_) % capacity] = x;
    ++count_;
    cond_.notify_all();
  }
  long get() {
    std::unique_lock hold(lock_);
    cond_.wait(hold, [&] { return count_ > 0; });
    const long x = items_[head_];
    head_ = (head_ + 1) % capacity;
    --count_;
    cond_.notify_all();
    return x;
  }

 private:
  atomkit::spinlock lock_;
  atomkit::condition_variable cond_;
  std::array<long, capacity> items_{};  // guarded by lock_
  std::size_t head_ = 0;                // guarded by lock_
  std::size_t count_ = 0;               // guarded by lock_
};

}  // namespace

int main() {
  constexpr int producers = 2;
  constexpr int consumers = 2;
  constexpr long per_producer = 5'000;
  bounded_buffer buf;
  // Item = producer * per_producer + sequence number; each consumer checks per-producer order.
  std::vector<std::vector<long>> received(consumers);
  std::vector<std::thread> threads;
  threads.reserve(producers + consumers);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (long i = 0; i < per_producer; ++i) buf.put(p * per_producer + i);
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      for (long i = 0; i < producers * per_producer / consumers; ++i) {
        received[static_cast<std::size_t>(c)].push_back(buf.get());
      }
    });
  }
  for (auto& t : threads) t.join();

  std::vector<int> seen(producers * per_producer, 0);
  for (const auto& got : received) {
    std::array<long, producers> last{};
    last.fill(-1);
    for (const long x : got) {
      const auto p = static_cast<std::size_t>(x / per_producer);
      if (x % per_producer <= last[p]) {
        std::fprintf(stderr, "FAIL: items of producer %zu out of order\n", p);
        return 1;
      }
      last[p] = x % per_producer;
      ++seen[static_cast<std::size_t>(x)];
    }
  }
  for (const int n : seen) {
    if (n != 1) {
      std::fprintf(stderr, "FAIL: an item was received %d times\n", n);
      return 1;
    }
  }
  std::printf("%ld items through a buffer of %zu: each received once, in order\n",
              producers * per_producer, capacity);
  return 0;
}
