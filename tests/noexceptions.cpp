// Compiled with -fno-exceptions: the whole library must build without exceptions.
#include <atomkit/atomkit.hpp>

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
  mq.task_done();  // a surplus one would end the program with a message (detail/error.hpp)
  sq.task_done();
  mq.join();
  sq.join();
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
  return s.try_lock() && t.try_lock() ? (s.unlock(), t.unlock(), 0) : 1;
}
