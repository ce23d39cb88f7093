// Compiled with ATOMKIT_ATOMIC_TEMPLATE set to counted_atomic, a type that is not
// layout-compatible with std::atomic (it carries an operation count beside the value), and with
// ATOMKIT_OS_HEADER set to an OS layer of its own: every primitive must reach its atomics through
// detail::atomic and everything else through the OS layer, as a model checker's build needs.
// The counts prove that the primitives' operations went through both.
#include <atomic>
#include <cstdint>
#include <cstdio>

namespace substitution {
inline std::atomic<long> atomic_ops{0};
}  // namespace substitution

template <class T>
class counted_atomic {
 public:
  static constexpr bool is_always_lock_free = std::atomic<T>::is_always_lock_free;
  counted_atomic() noexcept = default;
  counted_atomic(T v) noexcept : v_(v) {}  // NOLINT(google-explicit-constructor)
  counted_atomic(const counted_atomic&) = delete;
  counted_atomic& operator=(const counted_atomic&) = delete;

  [[nodiscard]] T load(std::memory_order mo = std::memory_order_seq_cst) const noexcept {
    count();
    return v_.load(mo);
  }
  void store(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    v_.store(v, mo);
  }
  T exchange(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.exchange(v, mo);
  }
  bool compare_exchange_weak(T& e, T d, std::memory_order s, std::memory_order f) noexcept {
    count();
    return v_.compare_exchange_weak(e, d, s, f);
  }
  bool compare_exchange_weak(T& e, T d, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.compare_exchange_weak(e, d, mo);
  }
  bool compare_exchange_strong(T& e, T d, std::memory_order s, std::memory_order f) noexcept {
    count();
    return v_.compare_exchange_strong(e, d, s, f);
  }
  bool compare_exchange_strong(T& e, T d,
                               std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.compare_exchange_strong(e, d, mo);
  }
  T fetch_add(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.fetch_add(v, mo);
  }
  T fetch_sub(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.fetch_sub(v, mo);
  }
  T fetch_and(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.fetch_and(v, mo);
  }
  T fetch_or(T v, std::memory_order mo = std::memory_order_seq_cst) noexcept {
    count();
    return v_.fetch_or(v, mo);
  }

 private:
  static void count() noexcept { substitution::atomic_ops.fetch_add(1, std::memory_order_relaxed); }
  std::uint32_t tag_ = 0x5eed;  // makes the layout differ from std::atomic<T>
  std::atomic<T> v_{};
};
static_assert(sizeof(counted_atomic<std::uint32_t>) != sizeof(std::atomic<std::uint32_t>));

#define ATOMKIT_ATOMIC_TEMPLATE counted_atomic
#define ATOMKIT_OS_HEADER "substitution_os.hpp"
#include <atomkit/atomkit.hpp>

#include <mutex>
#include <thread>

int main() try {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  atomkit::reentrant_lock r;
  {
    std::scoped_lock all(s, t, r);
  }
  // A contended lock, so that the sleep path (futex wait and heavy barrier) runs.
  {
    std::thread other;
    {
      std::scoped_lock held(s);
      other = std::thread([&] {
        std::scoped_lock g(s);
      });
      while (substitution::futex_waits.load() == 0) std::this_thread::yield();
    }
    other.join();
  }
  atomkit::counting_semaphore<> c(1);
  c.acquire();
  c.release();
  atomkit::mpmc_queue<int> mq(4);
  atomkit::spsc_queue<int> sq(4);
  int out = 0;
  if (mq.push(1) != atomkit::queue_status::success || mq.pop(out) != atomkit::queue_status::success)
    return 1;
  if (sq.try_push(2) != atomkit::queue_status::success ||
      sq.try_pop(out) != atomkit::queue_status::success || out != 2)
    return 1;
  atomkit::event e;
  e.set();
  e.wait();
  atomkit::barrier<> b(1);
  b.arrive_and_wait();
  atomkit::seqlock<int> q(3);
  const bool ok = q.load() == 3 && substitution::atomic_ops.load() > 0 &&
                  substitution::futex_waits.load() > 0 && substitution::heavy_barriers.load() > 0;
  std::printf("substituted atomic operations: %ld, futex waits %ld, wakes %ld\n",
              substitution::atomic_ops.load(), substitution::futex_waits.load(),
              substitution::futex_wakes.load());
  return ok ? 0 : 1;
} catch (...) {
  return 2;
}
