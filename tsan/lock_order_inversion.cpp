// Negative control: two atomkit locks taken in opposite orders by two threads (one after the
// other, so the program never deadlocks). TSan's deadlock detector must report a
// lock-order-inversion, which it can only do if atomkit's locks announce themselves.
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <thread>

int main() {
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  std::thread([&] {
    a.lock();
    b.lock();
    b.unlock();
    a.unlock();
  }).join();
  std::thread([&] {
    b.lock();
    a.lock();
    a.unlock();
    b.unlock();
  }).join();
  return 0;
}
