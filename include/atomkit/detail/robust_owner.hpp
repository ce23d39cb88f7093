// atomkit: owner identity and owner liveness for ipc::robust_lock (Linux). A model-checking
// build defines ATOMKIT_ROBUST_OWNER_HEADER to a header of its own, included instead of this
// one, which must define the same names in namespace atomkit::detail::robust:
//
//   std::uint64_t self();                      // the calling thread's identity (never 0)
//   owner_status check_owner(std::uint64_t owner);   // alive, ending (check again soon), gone
//                                              // (gone only if that thread is known to have ended)
//   bool recently_alive(std::uint64_t state);  // this thread found state's owner alive lately
//   void remember_alive(std::uint64_t state);  //   (a per-thread memo that rate-limits checks)
//   inline constexpr std::int64_t check_interval_ns;   // how often a waiter checks the owner
//   inline constexpr std::int64_t first_check_ns;      // when a waiter checks the first time
//   inline constexpr std::int64_t ending_check_ns;     // how soon it checks an ending owner again
//
// Identity. A thread is named by its kernel thread id (gettid) and its process id (getpid), each
// below 2^22 (the kernel's PID_MAX_LIMIT): identity = tid | pid << 22, 44 bits. Both are cached
// in a thread-local after the first call and recomputed in a child after fork(). Ids are those of
// the caller's pid namespace: every process that uses one lock must be in the same pid namespace.
//
// Liveness. tgkill(pid, tid, 0) fails with ESRCH once that thread is gone (it exited, or its
// process ended and was reaped). A thread that has ended may still exist as a zombie until it is
// reaped: the main thread of a process that was killed and whose parent has not called wait()
// yet, or a main thread that called pthread_exit() while other threads run. So when tgkill finds
// the thread, /proc/<pid>/task/<tid>/stat is read: state Z or X means it has ended; a pending
// SIGKILL means it is about to (it is still counted alive, but checked again soon). Without a
// readable /proc, a zombie counts as alive until it is reaped. EPERM (another user's process)
// means the thread exists.
//
// Limits. Process and thread ids are reused by the kernel after the pid space wraps around
// (pid_max ids, 32768 to 4194304). If a holder dies and the lock stays unchecked while its ids are
// handed to a new thread of a process with the same pid, that thread is taken for the owner and
// waiters wait until it ends (a liveness failure, never two owners: the recovery compare-and-swap
// also checks an acquisition sequence number, see robust_lock.hpp).
#pragma once

#include <atomkit/detail/config.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace atomkit::detail::robust {

// Each id is below the kernel's PID_MAX_LIMIT (4 * 1024 * 1024 on 64-bit, 32768 on 32-bit).
inline constexpr unsigned id_bits = 22;
inline constexpr std::uint64_t id_mask = (std::uint64_t{1} << id_bits) - 1;

// A waiter that has slept this long without the lock checks whether its holder still lives:
// detection of a dead holder takes at most about this long (plus scheduling delays), for the
// price of one wake-up and a system call or two per waiting thread per interval.
inline constexpr std::int64_t check_interval_ns = 10'000'000;
// The first check of a wait comes sooner, so that a waiter arriving at a lock whose holder is
// already dead does not wait a whole interval.
inline constexpr std::int64_t first_check_ns = 2'000'000;
// A holder that is being killed (SIGKILL pending) is checked again this soon: under load, the
// killed process may wait for a CPU before it can end.
inline constexpr std::int64_t ending_check_ns = 1'000'000;
static_assert(0 < first_check_ns && first_check_ns <= check_interval_ns);
static_assert(0 < ending_check_ns && ending_check_ns <= check_interval_ns);

inline std::uint64_t& self_cache() noexcept {
  static thread_local std::uint64_t id = 0;  // constant-initialized: no TLS guard
  return id;
}

ATOMKIT_NOINLINE inline std::uint64_t self_slow() noexcept {
  static const bool registered = [] {
    // The child of fork() has new ids: its first use recomputes them.
    ::pthread_atfork(nullptr, nullptr, [] { self_cache() = 0; });
    return true;
  }();
  static_cast<void>(registered);
  const auto tid = static_cast<std::uint64_t>(::syscall(SYS_gettid));
  const auto pid = static_cast<std::uint64_t>(::getpid());
  if (tid == 0 || tid > id_mask || pid == 0 || pid > id_mask) {
    std::fputs("atomkit::ipc::robust_lock: a thread or process id above 2^22\n", stderr);
    std::abort();
  }
  const std::uint64_t id = tid | pid << id_bits;
  self_cache() = id;
  return id;
}

// The calling thread's identity: one thread-local load after the first call.
inline std::uint64_t self() noexcept {
  const std::uint64_t id = self_cache();
  return ATOMKIT_LIKELY(id != 0) ? id : self_slow();
}

// What /proc/<pid>/task/<tid>/stat says of a thread: its state letter (0 if the file is absent,
// so the thread has gone; '?' if it cannot be read: no /proc, the caller assumes alive), and
// whether a SIGKILL is pending for it (its process is being killed but has not ended yet).
struct proc_stat {
  char state = '?';
  bool sigkill_pending = false;
};

inline proc_stat read_proc_stat(std::uint64_t pid, std::uint64_t tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%llu/task/%llu/stat",
                static_cast<unsigned long long>(pid), static_cast<unsigned long long>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno == ENOENT || errno == ESRCH ? '\0' : '?', false};
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return {n == 0 || errno == ESRCH ? '\0' : '?', false};
  buf[n] = '\0';
  // "tid (comm) S f4 f5 ...": comm may hold spaces and parentheses, so find the last ')'.
  const char* close_paren = nullptr;
  for (const char* p = buf; *p != '\0'; ++p) {
    if (*p == ')') close_paren = p;
  }
  if (close_paren == nullptr || close_paren[1] != ' ' || close_paren[2] == '\0') return {};
  proc_stat r{close_paren[2], false};
  // Field 31 is the thread's pending signals, in decimal: 28 fields after the state (field 3).
  // A fatal SIGKILL is added to every thread's own pending set.
  const char* p = close_paren + 2;
  for (int field = 3; field < 31 && *p != '\0'; ++p) {
    if (*p == ' ') ++field;
  }
  unsigned long long pending = 0;
  for (; *p >= '0' && *p <= '9'; ++p) pending = pending * 10 + static_cast<unsigned>(*p - '0');
  r.sigkill_pending = ((pending >> (SIGKILL - 1)) & 1U) != 0;
  return r;
}

enum class owner_status {
  alive,   // the thread exists and runs (or sleeps, or is stopped)
  ending,  // it exists, but a SIGKILL is pending: it is about to end (check again soon)
  gone     // it has ended: exited, killed, or a zombie
};

// Whether the thread named by `owner` has ended (see the header comment). `gone` is only ever
// reported for a thread that has ended.
ATOMKIT_NOINLINE inline owner_status check_owner(std::uint64_t owner) noexcept {
  const int saved_errno = errno;
  const std::uint64_t tid = owner & id_mask;
  const std::uint64_t pid = (owner >> id_bits) & id_mask;
  owner_status status = owner_status::alive;
  if (::syscall(SYS_tgkill, static_cast<pid_t>(pid), static_cast<pid_t>(tid), 0) != 0 &&
      errno == ESRCH) {
    status = owner_status::gone;
  } else {
    const proc_stat st = read_proc_stat(pid, tid);
    if (st.state == '\0' || st.state == 'Z' || st.state == 'X' || st.state == 'x') {
      status = owner_status::gone;
    } else if (st.sigkill_pending) {
      status = owner_status::ending;
    }
  }
  errno = saved_errno;
  return status;
}

// The memo: the lock state (owner and acquisition number) this thread last found alive, and when.
struct alive_memo {
  std::uint64_t state = 0;
  std::int64_t until_ns = 0;
};
inline alive_memo& memo() noexcept {
  static thread_local alive_memo m;
  return m;
}

inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// True if this thread found the owner of exactly this state alive less than check_interval_ns
// ago: a failed try_lock() then skips the system calls.
inline bool recently_alive(std::uint64_t state) noexcept {
  const alive_memo& m = memo();
  return m.state == state && monotonic_ns() < m.until_ns;
}

inline void remember_alive(std::uint64_t state) noexcept {
  memo() = alive_memo{state, monotonic_ns() + check_interval_ns};
}

}  // namespace atomkit::detail::robust
