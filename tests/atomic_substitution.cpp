// Compiled with ATOMKIT_ATOMIC_TEMPLATE set to a type other than std::atomic: every primitive
// must reach its atomics through detail::atomic only, so that a model checker's atomic type
// (Relacy's rl::atomic, say) can be substituted without touching the algorithms.
#include <atomic>
#include <cstdint>

template <class T>
struct substituted_atomic : std::atomic<T> {
  using std::atomic<T>::atomic;
  using std::atomic<T>::operator=;
};
#define ATOMKIT_ATOMIC_TEMPLATE substituted_atomic
#include <atomkit/atomkit.hpp>

#include <mutex>

int main() try {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  atomkit::reentrant_lock r;
  {
    std::scoped_lock all(s, t, r);
  }
  std::atomic<std::uint32_t> w{1};
  atomkit::wait(w, 0);
  atomkit::wake_all(w);
  atomkit::counting_semaphore<> c(1);
  c.acquire();
  c.release();
  atomkit::mpmc_queue<int> mq(4);
  atomkit::spsc_queue<int> sq(4);
  int out = 0;
  (void)mq.push(1);
  (void)mq.pop(out);
  (void)sq.try_push(2);
  (void)sq.try_pop(out);
  atomkit::event e;
  e.set();
  e.wait();
  atomkit::seqlock<int> q(3);
  return q.load() == 3 ? 0 : 1;
} catch (...) {
  return 2;
}
