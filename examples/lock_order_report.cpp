// Python's guide to deadlock prevention warns about this program:
//
//     def audit():                  # one part of the program: the ledger, then an account
//         with ledger_lock:
//             with account_lock:
//                 ...
//     def deposit():                # another part: the account, then the ledger
//         with account_lock:
//             if ledger_lock.acquire(timeout=1):   # "acquire with a time-out"
//                 ...
//
// Run one after the other it never hangs, and tests pass. Run at the same time, the two can
// deadlock (or, with the time-out, fail at random). The lock-order checker sees the problem
// without any concurrency: audit() records "ledger before account"; deposit() then takes the
// ledger while holding the account, and the checker reports the inversion with both acquisition
// paths. This program enables the checker, runs the two parts on threads that never overlap,
// prints the report and checks that it was made.
#include <atomkit/lock_order.hpp>
#include <atomkit/spinlock.hpp>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace {

atomkit::spinlock ledger_lock;
atomkit::spinlock account_lock;
long ledger_entries = 0;  // guarded by ledger_lock
long balance = 0;         // guarded by account_lock

std::string last_report;  // written by the handler

void on_inversion(const atomkit::lock_order::inversion& inv) {
  last_report = inv.text;
  std::fputs(inv.text.c_str(), stdout);
}

ATOMKIT_NOINLINE void audit() {
  const std::scoped_lock ledger(ledger_lock);
  const std::scoped_lock account(account_lock);
  ++ledger_entries;
}

ATOMKIT_NOINLINE void deposit(long amount) {
  const std::scoped_lock account(account_lock);
  std::unique_lock ledger(ledger_lock, std::defer_lock);
  if (ledger.try_lock_for(std::chrono::seconds(1))) {  // the reverse order: reported here
    balance += amount;
    ++ledger_entries;
  }
}

}  // namespace

int main() {
  namespace lock_order = atomkit::lock_order;
  lock_order::set_name(&ledger_lock, "ledger_lock");
  lock_order::set_name(&account_lock, "account_lock");
  lock_order::set_handler(&on_inversion);
  lock_order::enable();

  std::thread(audit).join();  // never at the same time as deposit()
  if (lock_order::inversions() != 0) {
    std::fputs("FAIL: a consistent order was reported\n", stderr);
    return 1;
  }
  std::thread(deposit, 100).join();

  lock_order::disable();
  if (lock_order::inversions() != 1 || last_report.find("ledger_lock") == std::string::npos ||
      last_report.find("account_lock") == std::string::npos) {
    std::fputs("FAIL: the inversion was not reported\n", stderr);
    return 1;
  }
  if (balance != 100 || ledger_entries != 2) {
    std::fputs("FAIL: reporting must not change what the program does\n", stderr);
    return 1;
  }
  std::printf("the checker reported the inversion (%zu report)\n", lock_order::inversions());
  return 0;
}
