// Negative control: one thread updates `shared` under an atomkit lock, the other without it.
// TSan must report a data race (the CTest entry passes only if it does). With --guarded both
// threads take the lock, and TSan must report nothing: the lock's annotations give the
// happens-before edge.
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <cstring>
#include <latch>
#include <mutex>
#include <thread>

int main(int argc, char** argv) {
  const bool guarded = argc > 1 && std::strcmp(argv[1], "--guarded") == 0;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  long shared = 0;
  std::latch both(2);
  std::thread t1([&] {
    both.arrive_and_wait();
    for (int i = 0; i < 1000; ++i) {
      std::scoped_lock g(a, b);
      ++shared;
    }
  });
  std::thread t2([&] {
    both.arrive_and_wait();
    for (int i = 0; i < 1000; ++i) {
      if (guarded) {
        std::scoped_lock g(a, b);
        ++shared;
      } else {
        ++shared;  // the race
      }
    }
  });
  t1.join();
  t2.join();
  return shared > 0 ? 0 : 1;
}
