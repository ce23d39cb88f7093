// Compiled with -fno-exceptions: the whole library must build without exceptions.
#include <atomkit/atomkit.hpp>
#include <atomkit/robust_lock.hpp>

#include <mutex>

int main() {
  atomkit::spinlock s;
  atomkit::ticket_lock t;
  atomkit::reentrant_lock r;
  atomkit::seqlock<int> q(1);
  atomkit::counting_semaphore<> sem(1);
  atomkit::bounded_semaphore bsem(1, 1);
  atomkit::mpmc_queue<int> mq(4);
  atomkit::spsc_queue<int> sq(4);
  int out = 0;
  (void)mq.push(1);
  (void)mq.pop(out);
  (void)sq.try_push(2);
  (void)sq.try_pop(out);
  atomkit::event ev;
  atomkit::barrier<> bar(1);
  sem.acquire();
  sem.release();
  bsem.acquire();
  bsem.release();
  ev.set();
  ev.wait();
  bar.arrive_and_wait();
  {
    std::scoped_lock guard(s, t, r);
    q.store(q.load() + 1);
  }
  atomkit::ipc::robust_lock rl;
  if (rl.lock() != atomkit::ipc::lock_result::acquired) return 1;
  rl.unlock();
  return s.try_lock() && t.try_lock() ? (s.unlock(), t.unlock(), 0) : 1;
}
