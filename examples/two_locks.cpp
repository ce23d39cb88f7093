// Python:
//     def transfer(src, dst, amount):
//         first, second = sorted((src, dst), key=lambda a: a.id)   # one global order
//         with first.lock, second.lock:
//             src.balance -= amount
//             dst.balance += amount
//
//     def try_transfer(src, dst, amount, timeout):
//         first, second = sorted((src, dst), key=lambda a: a.id)
//         deadline = time.monotonic() + timeout
//         if not first.lock.acquire(timeout=timeout):
//             return False
//         try:
//             if not second.lock.acquire(timeout=max(0, deadline - time.monotonic())):
//                 return False                                     # give up gracefully
//             ...
//
// Two locks taken in one consistent order (here: by account id) can never deadlock, whatever order
// the callers name the accounts in. The timed variant gives up cleanly when it cannot get both
// locks by a deadline, holding neither afterwards. The program checks that money is conserved
// under concurrent transfers in both directions, and that a transfer blocked by a held lock times
// out without changing anything.
#include <atomkit/spinlock.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct account {
  int id;
  long balance;  // guarded by lock
  atomkit::spinlock lock;
};

void transfer(account& src, account& dst, long amount) {
  account& first = src.id < dst.id ? src : dst;
  account& second = src.id < dst.id ? dst : src;
  const std::scoped_lock hold_first(first.lock);
  const std::scoped_lock hold_second(second.lock);
  src.balance -= amount;
  dst.balance += amount;
}

// Both locks by the deadline, or neither: false on time-out, with nothing changed.
bool try_transfer_for(account& src, account& dst, long amount, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  account& first = src.id < dst.id ? src : dst;
  account& second = src.id < dst.id ? dst : src;
  std::unique_lock hold_first(first.lock, std::defer_lock);
  if (!hold_first.try_lock_until(deadline)) return false;
  std::unique_lock hold_second(second.lock, std::defer_lock);
  if (!hold_second.try_lock_until(deadline)) return false;  // hold_first unlocks on return
  src.balance -= amount;
  dst.balance += amount;
  return true;
}

}  // namespace

int main() {
  constexpr long initial = 1'000'000;
  constexpr long rounds = 50'000;  // a sends 3 and receives 2 per round: a loses `rounds`
  account a{.id = 1, .balance = initial, .lock = {}};
  account b{.id = 2, .balance = initial, .lock = {}};

  // 1. Transfers in both directions at once: with a consistent order this cannot deadlock.
  std::thread ab([&] {
    for (long i = 0; i < rounds; ++i) transfer(a, b, 3);
  });
  std::thread ba([&] {
    for (long i = 0; i < rounds; ++i) transfer(b, a, 2);
  });
  ab.join();
  ba.join();
  std::printf("after concurrent transfers: a = %ld, b = %ld\n", a.balance, b.balance);
  if (a.balance + b.balance != 2 * initial || a.balance != initial - rounds) {
    std::fprintf(stderr, "FAIL: expected a = %ld, b = %ld\n", initial - rounds, initial + rounds);
    return 1;
  }

  // 2. A time-out that fails gracefully: b's lock is held here while another thread tries.
  bool moved = true;
  {
    const std::scoped_lock hold_b(b.lock);
    std::thread impatient([&] { moved = try_transfer_for(a, b, 500, 20ms); });
    impatient.join();  // before b's lock is released, so the attempt cannot have succeeded
  }
  std::printf("transfer while b is locked: %s\n", moved ? "done" : "timed out, nothing changed");
  if (moved || a.balance + b.balance != 2 * initial || a.balance != initial - rounds) {
    std::fprintf(stderr, "FAIL: the blocked transfer must time out and change nothing\n");
    return 1;
  }
  // Neither lock may be left held by the failed attempt.
  if (a.lock.is_locked() || b.lock.is_locked()) {
    std::fprintf(stderr, "FAIL: a lock was left held after the time-out\n");
    return 1;
  }

  // 3. With the locks free the same call succeeds.
  if (!try_transfer_for(a, b, 500, 20ms) || a.balance != initial - rounds - 500) {
    std::fprintf(stderr, "FAIL: the transfer should succeed once the locks are free\n");
    return 1;
  }
  std::printf("transfer with both locks free: done, a = %ld, b = %ld\n", a.balance, b.balance);
  return 0;
}
