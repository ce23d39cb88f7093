// Compiled with -fno-exceptions: the whole library must build without exceptions.
#include <atomkit/atomkit.hpp>
#include <atomkit/robust_lock.hpp>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

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
  {
    const atomkit::multi_lock all(r, t, s);
  }
  if (!atomkit::try_lock_all_for(std::chrono::milliseconds(1), s, t)) return 1;
  t.unlock();
  atomkit::condition_variable cv;
  (void)cv.wait_for(s, std::chrono::microseconds(1));
  s.unlock();
  cv.notify_all();
  // The ipc:: forms (here in process memory: only that they build without exceptions).
  atomkit::ipc::spinlock is;
  atomkit::ipc::ticket_lock it;
  atomkit::ipc::reentrant_lock ir;
  atomkit::ipc::seqlock<int> iq(1);
  atomkit::ipc::counting_semaphore<> isem(0);
  atomkit::ipc::bounded_semaphore ibsem(0, 1);
  atomkit::ipc::event iev;
  atomkit::ipc::barrier<> ibar(1);
  {
    std::scoped_lock guard(is, it, ir);
    iq.store(iq.load() + 1);
  }
  isem.release();
  isem.acquire();
  ibsem.release();
  ibsem.acquire();
  iev.set();
  iev.wait();
  ibar.arrive_and_wait();
  {
    atomkit::thread_pool pool(1);
    std::vector<atomkit::future<int>> fs;
    fs.push_back(pool.submit([] { return 1; }));
    for (std::size_t i : atomkit::as_completed(fs)) (void)i;
    if (fs[0].get() != 1) return 1;
  }
  atomkit::ipc::robust_lock rl;
  if (rl.lock() != atomkit::ipc::lock_result::acquired) return 1;
  rl.unlock();
  return s.try_lock() && t.try_lock() ? (s.unlock(), t.unlock(), 0) : 1;
}
