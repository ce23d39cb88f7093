// atomkit: the Linux OS layer (see os.hpp for the contract): futex system calls on a 32-bit word,
// the membarrier-based store/load handshake (store_load.hpp has the argument), the pause, the
// yield, the monotonic clock and the thread id.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace atomkit::detail {

// ---- futex ------------------------------------------------------------------------------------

enum class futex_result { woken, value_changed, interrupted, timed_out };

// Word: detail::atomic<std::uint32_t>, or std::atomic<std::uint32_t> from the public wait.hpp.
template <class Word>
std::uint32_t* futex_addr(const Word& word) noexcept {
  static_assert(sizeof(Word) == sizeof(std::uint32_t), "a futex word is 32 bits");
  static_assert(alignof(Word) >= alignof(std::uint32_t), "a futex word is 4-byte aligned");
  // The kernel reads the word atomically; std::atomic<uint32_t> has the layout of uint32_t.
  return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

// Sleep while word == expected. abs_deadline is on CLOCK_MONOTONIC; nullptr waits forever.
template <class Word>
futex_result futex_wait(const Word& word, std::uint32_t expected, const timespec* abs_deadline,
                        bool shared) noexcept {
  const int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  const long rc = ::syscall(SYS_futex, futex_addr(word), op, expected, abs_deadline, nullptr,
                            FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return futex_result::woken;
  switch (errno) {
    case EAGAIN: return futex_result::value_changed;
    case ETIMEDOUT: return futex_result::timed_out;
    default: return futex_result::interrupted;  // EINTR; callers re-check and loop
  }
}

template <class Word>
void futex_wake(const Word& word, int count, bool shared) noexcept {
  const int op = FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  ::syscall(SYS_futex, futex_addr(word), op, count, nullptr, nullptr, 0);
}

// ---- the store/load handshake (store_load.hpp) --------------------------------------------------

// Test builds define ATOMKIT_SYMMETRIC_HANDSHAKE to run every handshake with fences on both sides.
#if defined(ATOMKIT_SYMMETRIC_HANDSHAKE)
inline constexpr bool force_symmetric = true;
#else
inline constexpr bool force_symmetric = false;
#endif

enum : std::uint32_t { membarrier_unknown = 0, membarrier_ready = 1, membarrier_absent = 2 };

// Moves once from unknown to ready or absent, at the first barrier of either side. The light side
// uses the cheap barrier only after reading "ready", which is stored after registration
// succeeded, so every heavy side that can pair with such a light side issues the membarrier.
// Constant-initialized: nothing runs before main.
inline std::atomic<std::uint32_t>& membarrier_state() noexcept {
  static std::atomic<std::uint32_t> state{membarrier_unknown};
  return state;
}

// GCC warns (-Wtsan, an error under -Werror) that TSan does not model fences. That is fine here:
// the fences order atomics against atomics for the lost-wake-up argument only; no data is
// published through them. A seq_cst RMW on a shared dummy word instead would be worse under TSan,
// since it would create happens-before edges between unrelated threads and hide real races.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
inline void full_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // StoreLoad only; TSan: see above
}
// The standalone fences of fence.hpp. TSan does not model them: each use site says why TSan needs
// no edge from it (they only make a validation fail; published data travels by atomics).
inline void acquire_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_acquire);  // TSan: not modelled, see above
}
inline void release_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_release);  // TSan: not modelled, see above
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

// Registers this process for expedited membarrier; idempotent, and the result is the same for
// every caller.
ATOMKIT_NOINLINE inline std::uint32_t register_membarrier() noexcept {
  const long rc = ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
  const std::uint32_t state = rc == 0 ? membarrier_ready : membarrier_absent;
  // relaxed: the state only chooses a barrier; a light side that reads "ready" pairs with heavy
  // sides that all issue membarrier (they read "ready" too, or register and get it themselves).
  membarrier_state().store(state, std::memory_order_relaxed);
  return state;
}

inline void light_barrier(bool symmetric) noexcept {
  symmetric = symmetric || force_symmetric;
  // relaxed: the state only chooses the barrier; it carries no data (see membarrier_state).
  const std::uint32_t state = membarrier_state().load(std::memory_order_relaxed);
  if (!symmetric && ATOMKIT_LIKELY(state == membarrier_ready)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // keep W before R in program order
    return;
  }
  // The first release in the process registers (one system call), so that later ones are cheap.
  if (!symmetric && state == membarrier_unknown) register_membarrier();
  full_fence();
}

inline void heavy_barrier(bool symmetric) noexcept {
  symmetric = symmetric || force_symmetric;
  if (!symmetric) {
    // relaxed: see membarrier_state; a stale "unknown" only repeats the idempotent registration.
    std::uint32_t state = membarrier_state().load(std::memory_order_relaxed);
    if (state == membarrier_unknown) state = register_membarrier();
    if (state == membarrier_ready) {
      // Once registered, this call cannot fail; if it ever did, release paths relying on it
      // would lose wake-ups, so that is a fatal error rather than a silent fall-back.
      if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
        std::fputs("atomkit: membarrier(PRIVATE_EXPEDITED) failed after registration\n", stderr);
        std::abort();
      }
      return;
    }
  }
  full_fence();
}

// ---- pause, yield, clock ------------------------------------------------------------------------

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

inline void yield_now() noexcept { ::sched_yield(); }

// CLOCK_MONOTONIC, the clock of futex_wait's deadlines and of std::chrono::steady_clock.
inline std::int64_t clock_now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ---- thread id ----------------------------------------------------------------------------------
// The kernel thread id (gettid): unique among live threads of the whole system (per pid
// namespace), so an owner field holding it stays meaningful when the lock lives in memory shared
// between processes. It is cached in a thread_local of the *calling* code only; a lock stores it
// as a plain integer, never a pointer. The cache is reset in the child after fork(), whose only
// thread has a new id. Never 0, so 0 can mean "no owner".

inline std::uint32_t& thread_id_cache() noexcept {
  static thread_local std::uint32_t id = 0;  // constant-initialized: no TLS guard on the fast path
  return id;
}

ATOMKIT_NOINLINE inline std::uint32_t thread_id_slow() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { thread_id_cache() = 0; });
    return true;
  }();
  static_cast<void>(registered);
  const auto id = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  thread_id_cache() = id;
  return id;
}

// The calling thread's id: one thread-local load after the first call.
inline std::uint32_t this_thread_id() noexcept {
  const std::uint32_t id = thread_id_cache();
  return ATOMKIT_LIKELY(id != 0) ? id : thread_id_slow();
}

}  // namespace atomkit::detail
