// atomkit: the store-to-load barrier that lets a release (wake) path skip the futex system call
// when nobody sleeps, without paying a locked instruction on that path.
//
// The pattern (Dekker):  waker:   W: store(word);   [light];  R: load(sleepers)
//                        sleeper: S: ++sleepers;    [heavy];  C: check(word), futex_wait
// needs that the waker sees the sleeper, or the sleeper sees the store. The light side is a compiler
// barrier only; the heavy side is membarrier(PRIVATE_EXPEDITED), which makes every running thread
// of this process execute a full memory barrier before it returns. Whichever side of that barrier
// the waker's W and R fall, one of the two reads sees the other's write (the argument of folly's
// asymmetric fences). The heavy side runs only before a thread goes to sleep, already a system call.
//
// membarrier covers one process only, so process-shared words (shared = true) and kernels without
// it use a seq_cst fence on both sides instead. The fences here order atomics against atomics for
// the lost-wake-up argument only; no data is published through them, so TSan's not modelling them
// hides no race.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace atomkit::detail {

enum : std::uint32_t { membarrier_unknown = 0, membarrier_ready = 1, membarrier_absent = 2 };

// Moves once from unknown to ready or absent, in heavy_barrier. The light side uses the cheap
// barrier only after reading "ready", which is stored after registration succeeded, so every heavy
// side that can pair with such a light side issues the membarrier.
inline std::atomic<std::uint32_t> membarrier_state{membarrier_unknown};

// GCC warns (-Wtsan, an error under -Werror) that TSan does not model fences. That is fine here:
// see the file comment. A seq_cst RMW on a shared dummy word instead would be worse under TSan,
// since it would create happens-before edges between unrelated threads and hide real races.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
inline void full_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // StoreLoad only; TSan: see file comment
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

inline void light_barrier(bool shared) noexcept {
  // relaxed: the state only chooses the barrier; it carries no data (see membarrier_state).
  if (!shared && membarrier_state.load(std::memory_order_relaxed) == membarrier_ready) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // keep W before R in program order
  } else {
    full_fence();
  }
}

// Registers this process for expedited membarrier; idempotent.
inline std::uint32_t register_membarrier() noexcept {
  const long rc = ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
  const std::uint32_t state = rc == 0 ? membarrier_ready : membarrier_absent;
  // relaxed: the registering thread issues its own membarrier before relying on it (heavy side);
  // a light side that reads "ready" pairs with heavy sides that all issue membarrier.
  membarrier_state.store(state, std::memory_order_relaxed);
  return state;
}

// Registration at start-up, so that release paths take the cheap barrier from the first call on
// (until then they take the fence, which is always correct).
inline const std::uint32_t membarrier_at_startup = register_membarrier();

inline void heavy_barrier(bool shared) noexcept {
  if (!shared) {
    // relaxed: see membarrier_state; a stale "unknown" only repeats the idempotent registration.
    std::uint32_t state = membarrier_state.load(std::memory_order_relaxed);
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

}  // namespace atomkit::detail
