// Python (the guide's other cure: acquire with a time-out and fail gracefully):
//     def try_both(a, b, timeout):
//         deadline = time.monotonic() + timeout
//         if not a.acquire(timeout=timeout):
//             return False
//         if not b.acquire(timeout=max(0, deadline - time.monotonic())):
//             a.release()                  # give back what we took
//             return False
//         return True
//
// try_lock_all_for takes every lock by the deadline, or none of them: on a time-out nothing is
// left held, and the caller can back off, report, or try later. The program holds one account's
// lock in another thread, checks that the transfer times out with nothing changed and no lock
// left held, then that it succeeds once the lock is free.
#include <atomkit/lock_all.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct account {
  long balance;  // guarded by lock
  atomkit::ticket_lock lock;
};

// Both locks by the deadline, then the transfer; false (nothing changed, nothing held) otherwise.
bool try_transfer(account& from, account& to, long amount, std::chrono::milliseconds timeout) {
  if (!atomkit::try_lock_all_for(timeout, from.lock, to.lock)) return false;
  // Adopt the locks just taken, so that they are released on every path.
  const std::scoped_lock hold(std::adopt_lock, from.lock, to.lock);
  from.balance -= amount;
  to.balance += amount;
  return true;
}

int run() {
  account a{.balance = 100, .lock = {}};
  account b{.balance = 100, .lock = {}};

  bool moved = true;
  {
    const std::scoped_lock busy(b.lock);  // another thread's long operation on b
    std::thread impatient([&] { moved = try_transfer(a, b, 30, 20ms); });
    impatient.join();  // before b is released: the attempt cannot have succeeded
  }
  std::printf("transfer while b is busy: %s\n", moved ? "done" : "timed out, nothing changed");
  if (moved || a.balance != 100 || b.balance != 100) {
    std::fprintf(stderr, "FAIL: the blocked transfer must time out and change nothing\n");
    return 1;
  }
  if (a.lock.queue_length() != 0 || b.lock.queue_length() != 0) {
    std::fprintf(stderr, "FAIL: a lock was left held after the time-out\n");
    return 1;
  }
  if (!try_transfer(b, a, 30, 20ms) || a.balance != 130 || b.balance != 70) {
    std::fprintf(stderr, "FAIL: the transfer should succeed once the locks are free\n");
    return 1;
  }
  std::printf("transfer with both locks free: done, a = %ld, b = %ld\n", a.balance, b.balance);
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
