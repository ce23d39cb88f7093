// Python has no robust lock: if a multiprocessing.Lock holder is killed, the others wait forever.
// With atomkit::ipc::robust_lock, the next acquirer is told the holder died, repairs the data
// the lock protects, and carries on:
//
//     with lock:                      # lock() returned owner_died?
//         if lock.owner_died: repair(); lock.mark_consistent()
//         record.value += 1           # in two steps: value, then its check copy
//
// A record in shared memory holds a value and a check copy, updated under the lock in two steps
// (value first, then check). A child process takes the lock, starts an update and dies (SIGKILL
// from the parent) before finishing it. The parent's lock() then returns owner_died: it finds the
// half-done update, completes it, calls mark_consistent(), and adds its own update.
#include <atomkit/robust_lock.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <thread>

namespace {

struct record {
  atomkit::ipc::robust_lock lock;
  long value = 0;                         // guarded by lock; updated first
  long check = 0;                         // guarded by lock; == value when consistent
  std::atomic<int> child_mid_update{0};  // the child has half-updated the record
};

}  // namespace

int main() try {
  void* mem = ::mmap(nullptr, sizeof(record), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
  if (mem == MAP_FAILED) return 1;
  auto* r = new (mem) record;

  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {  // the process that dies holding the lock
    r->lock.lock();
    r->value = r->value + 1;  // first step done...
    r->child_mid_update.store(1);
    for (;;) ::pause();  // ...and killed before the second
  }

  while (r->child_mid_update.load() == 0) std::this_thread::yield();
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  bool repaired = false;
  if (r->lock.lock() == atomkit::ipc::lock_result::owner_died) {
    std::printf("the holder died: value %ld, check %ld\n", r->value, r->check);
    r->check = r->value;  // repair: complete the interrupted update
    r->lock.mark_consistent();
    repaired = true;
  }
  r->value = r->value + 1;
  r->check = r->value;
  const long value = r->value;
  const long check = r->check;
  r->lock.unlock();

  std::printf("value = %ld, check = %ld\n", value, check);
  const bool ok = repaired && value == 2 && check == 2 && !r->lock.owner_died() &&
                  r->lock.try_lock();
  if (ok) r->lock.unlock();
  r->~record();
  ::munmap(mem, sizeof(record));
  if (!ok) {
    std::fprintf(stderr, "FAIL: expected owner_died, then value 2 and check 2\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "FAIL: %s\n", e.what());
  return 1;
}
