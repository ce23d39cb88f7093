// atomkit: the waiting engine. Every primitive that waits does so through detail::await and wakes
// through detail::notify; this is the only spin loop and the only futex sleep in the library.
//
// The protocol. A primitive owns a 32-bit futex `word` (whose value changes whenever a waiter may
// be able to proceed) and a `sleepers` count. A waiter calls await() with an attempt function:
//   spin phase   try, then pause with bounded exponential backoff, until the budget is spent
//   busy policy  then sched_yield() between tries, never sleeping in the kernel
//   park policy  then a few sched_yield() rounds (park_yields), then ++sleepers, heavy barrier,
//                and loop { try; futex_wait(word, observed) }
// A releaser changes the state (any memory order), then calls notify(), which issues the light
// barrier and makes the futex_wake system call only if sleepers != 0. See store_load.hpp for why
// no wake-up is lost, and why the release path needs no locked instruction for it.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/backoff.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/futex.hpp>
#include <atomkit/detail/store_load.hpp>

#include <sched.h>

#include <climits>
#include <cstdint>

namespace atomkit {

// Waiting policies (API.md, "Waiting").
struct park {
  static constexpr bool sleeps = true;  // spin briefly, then sleep on the futex
};
struct busy {
  static constexpr bool sleeps = false;  // spin briefly, then sched_yield(); never sleeps
};

enum class wait_status { woken, timed_out };

namespace detail {

// What one attempt of a waiter found.
struct attempt {
  bool done{false};           // the waiter got what it waited for
  std::uint32_t observed{0};  // otherwise: the word's value, read before the condition was checked
  bool spin{true};            // false: spinning is pointless now (e.g. far back in a queue)

  static constexpr attempt success() noexcept { return {true, 0, true}; }
  static constexpr attempt retry(std::uint32_t observed, bool spin = true) noexcept {
    return {false, observed, spin};
  }
};

// One futex sleep while word == expected, bounded by the deadline. Spurious returns are allowed.
inline wait_status sleep_on(const atomic<std::uint32_t>& word, std::uint32_t expected,
                            const deadline& dl, bool shared) noexcept {
  if (dl.infinite()) {
    futex_wait(word, expected, nullptr, shared);
    return wait_status::woken;
  }
  const timespec ts = dl.to_timespec();
  return futex_wait(word, expected, &ts, shared) == futex_result::timed_out ? wait_status::timed_out
                                                                            : wait_status::woken;
}

// sched_yield() rounds a park waiter makes between its spin and its futex sleep (see await()).
inline constexpr int park_yields = 8;

// Waits until try_once() reports done (returns true) or the deadline passes (returns false; one
// last attempt is made after the deadline, so a condition that became true is never reported as a
// time-out). try_once must read `word` before it checks its condition, and report what it read.
template <class Wait, class Try>
bool await(const atomic<std::uint32_t>& word, atomic<std::uint32_t>& sleepers, Try&& try_once,
           const deadline& dl, bool shared = false) noexcept {
  backoff spin;
  for (;;) {
    const attempt a = try_once();
    if (a.done) return true;
    if (!a.spin || !spin.pause()) break;
    if (dl.passed()) return try_once().done;
  }
  if constexpr (!Wait::sleeps) {
    for (;;) {
      if (dl.passed()) return try_once().done;
      ::sched_yield();
      if (try_once().done) return true;
    }
  } else {
    // Yield phase: a few sched_yield() rounds before parking. When the thread we wait for is
    // runnable on this core, a yield hands it the core at once (a futex sleep and wake-up cost far
    // more), and while both threads stay runnable the scheduler's idle balancing can move one to a
    // free core; parking at once invites wake-affine placement of both on one core, where every
    // later handoff parks again. Measured on the 2-core host with the queues (median of 3):
    // ping-pong 0.04 -> 3.6 M round trips/s, mpmc 8P8C 10 -> 23 M items/s, 1P4C 6 -> 20 M.
    for (int i = 0; i < park_yields; ++i) {
      if (dl.passed()) return try_once().done;
      ::sched_yield();
      if (try_once().done) return true;
    }
    // seq_cst: the sleeper's half of the store/load handshake with notify() (store_load.hpp).
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    heavy_barrier(shared);
    bool done = false;
    for (;;) {
      const attempt a = try_once();
      if (a.done) {
        done = true;
        break;
      }
      if (sleep_on(word, a.observed, dl, shared) == wait_status::timed_out) {
        done = try_once().done;
        break;
      }
    }
    // relaxed: only notify() reads the count, and a stale non-zero costs one needless wake.
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    return done;
  }
}

// After changing the state a waiter waits for: wake up to `count` sleepers on `word`, with no
// system call when none sleeps.
template <class Wait>
void notify(const atomic<std::uint32_t>& word, const atomic<std::uint32_t>& sleepers, int count,
            bool shared = false) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(shared);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
      futex_wake(word, count, shared);
    }
  }
}

// For a word that is only a wake-up generation (waiters read it, then check their condition): if
// anyone sleeps, advance the generation, then wake up to `count` of them.
template <class Wait>
void notify_generation(atomic<std::uint32_t>& generation, const atomic<std::uint32_t>& sleepers,
                       int count, bool shared = false) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(shared);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
      // release: a waiter that reads the new generation (acquire) also sees the state change.
      generation.fetch_add(1, std::memory_order_release);
      futex_wake(generation, count, shared);
    }
  }
}

inline constexpr int wake_all_count = INT_MAX;

}  // namespace detail
}  // namespace atomkit
