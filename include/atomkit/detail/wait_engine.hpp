// atomkit: the waiting engine. Every primitive that waits does so through detail::await and wakes
// through detail::notify; this is the only spin loop and the only futex sleep in the library.
//
// The protocol. A primitive owns a 32-bit futex `word` (whose value changes whenever a waiter may
// be able to proceed) and a `sleepers` count. A waiter calls await() with an attempt function:
//   spin phase   try, then pause with bounded exponential backoff, until the budget is spent
//                (skipped when the attempt says spinning is pointless, e.g. far back in a queue)
//   yield phase  park with a wait_profile that asks for it: sched_yield() between tries, for a
//                bounded time
//   busy policy  then sched_yield(), and spin again; never sleeps in the kernel
//   park policy  then ++sleepers, heavy barrier, try, futex_wait(word, observed), --sleepers;
//                after each wake-up, spin again before sleeping again
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

// How a releaser and a thread going to sleep close the store/load window (store_load.hpp):
// asymmetric (the default) puts the whole cost on the sleeper (membarrier) and none on the release
// path; symmetric puts a seq_cst fence on both sides, for primitives whose waiters go to sleep on
// nearly every operation (membarrier interrupts every running thread of the process).
enum class handshake { asymmetric, symmetric };

// How long a waiter spins and yields before it sleeps. The default suits locks; primitives whose
// partner often shares the waiter's CPU (semaphores, events, barriers) spin less and then yield
// for a while, which lets that partner run for the price of a sched_yield, not a futex round trip.
struct wait_profile {
  std::uint32_t spin_pauses = backoff::default_budget;  // pauses (with backoff) before yielding
  std::int64_t yield_ns = 0;  // park only: then sched_yield() for up to this long, then sleep
};
// A few backoff rounds (1+2+4+8+16 pauses), then up to 100 us of yields.
inline constexpr wait_profile short_spin_then_yield{31, 100'000};
// The default spin, then up to 20 us of yields: for the queues, whose partners on two cores are
// often placed on one core after a parked hand-off (wake-affine); a yield hands that partner the
// core at once, and lets the scheduler move one of them to the free core (helper measurement:
// ping-pong 0.04 -> 3.6 M round trips/s, mpmc 8P8C 10 -> 23 M items/s).
inline constexpr wait_profile spin_then_yield{backoff::default_budget, 20'000};
// No spinning (it would only delay threads that need our CPU), then up to 100 us of yields.
inline constexpr wait_profile yield_then_sleep{0, 100'000};

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
template <class Word>
wait_status sleep_on(const Word& word, std::uint32_t expected, const deadline& dl,
                     bool shared) noexcept {
  if (dl.infinite()) {
    futex_wait(word, expected, nullptr, shared);
    return wait_status::woken;
  }
  const timespec ts = dl.to_timespec();
  return futex_wait(word, expected, &ts, shared) == futex_result::timed_out ? wait_status::timed_out
                                                                            : wait_status::woken;
}

// In a sleepers word: the count of registered sleepers in the low bits, and this flag while a
// notify_one_pending() wake-up is in flight (see there).
inline constexpr std::uint32_t wake_pending = 0x8000'0000U;

// A sleeper about to sleep, whose last attempt failed after it read the futex word: any wake-up
// claimed before that read has been seen (it bumped the word first), so the claim is void.
// seq_cst (load and RMW): against notify_one_pending's claim and bump, see there.
inline void void_wake_claim(atomic<std::uint32_t>& sleepers) noexcept {
  if ((sleepers.load(std::memory_order_seq_cst) & wake_pending) != 0) {
    sleepers.fetch_and(~wake_pending, std::memory_order_seq_cst);
  }
}

// A sleeper leaves the count after its sleep and clears wake_pending: whatever woke it, it tries
// again (and re-registers, with the heavy barrier, before it sleeps again).
inline void leave_sleepers(atomic<std::uint32_t>& sleepers) noexcept {
  // relaxed: only wakers read the word, and a stale value costs at most one needless wake; the
  // re-check before a later sleep is ordered by the heavy barrier of the registration.
  std::uint32_t s = sleepers.load(std::memory_order_relaxed);
  while (!sleepers.compare_exchange_weak(s, (s - 1) & ~wake_pending, std::memory_order_relaxed)) {
  }
}

// Waits until try_once() reports done (returns true) or the deadline passes (returns false; one
// last attempt is made after the deadline, so a condition that became true is never reported as a
// time-out). try_once must read `word` before it checks its condition, and report what it read.
template <class Wait, class Try>
bool await(const atomic<std::uint32_t>& word, atomic<std::uint32_t>& sleepers, Try&& try_once,
           const deadline& dl, bool shared = false, handshake hs = handshake::asymmetric,
           const wait_profile& profile = {}) noexcept {
  bool done = false;
  for (;;) {
    // Spin phase: at the start, and again after each wake-up when the attempt says spinning is
    // worth it (a woken waiter usually finds its condition true within microseconds).
    backoff spin(profile.spin_pauses);
    attempt a = try_once();
    while (!a.done && a.spin && spin.pause()) {
      if (dl.passed()) break;
      a = try_once();
    }
    if (a.done) {
      done = true;
      break;
    }
    if (dl.passed()) {
      done = try_once().done;
      break;
    }
    if constexpr (!Wait::sleeps) {
      ::sched_yield();
    } else {
      if (profile.yield_ns > 0) {
        // Yield phase, bounded by the profile's time and the caller's deadline.
        const std::int64_t end = deadline::now_ns() + profile.yield_ns;
        do {
          ::sched_yield();
          a = try_once();
        } while (!a.done && deadline::now_ns() < end && !dl.passed());
        if (a.done) {
          done = true;
          break;
        }
      }
      // Counted in `sleepers` only while asleep or about to sleep, so that releases made while
      // this thread spins after a wake-up make no futex call.
      // relaxed: the heavy barrier right after it orders this count before the re-check below;
      // together they are the sleeper's half of the handshake with notify() (store_load.hpp).
      // (A seq_cst RMW here would also give TSan false happens-before edges between threads.)
      sleepers.fetch_add(1, std::memory_order_relaxed);
      heavy_barrier(shared || hs == handshake::symmetric);
      a = try_once();  // re-check after registering: a release may have come before it
      if (!a.done) void_wake_claim(sleepers);
      const bool timed_out =
          !a.done && sleep_on(word, a.observed, dl, shared) == wait_status::timed_out;
      leave_sleepers(sleepers);
      if (a.done || timed_out) {
        done = a.done || try_once().done;
        break;
      }
    }
  }
  return done;
}

// After changing the state a waiter waits for: wake up to `count` sleepers on `word`, with no
// system call when none sleeps.
template <class Wait, class Word>
void notify(const Word& word, const atomic<std::uint32_t>& sleepers, int count,
            bool shared = false, handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(shared || hs == handshake::symmetric);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
      futex_wake(word, count, shared);
    }
  }
}

// The second half of notify_generation, for a caller that issued the light barrier itself (once
// for several words): if anyone sleeps, advance the generation, then wake up to `count` of them.
inline void wake_generation(atomic<std::uint32_t>& generation, const atomic<std::uint32_t>& sleepers,
                            int count, bool shared) noexcept {
  // relaxed: ordered after the caller's state change by the caller's light barrier.
  if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
    // release: a waiter that reads the new generation (acquire) also sees the state change.
    generation.fetch_add(1, std::memory_order_release);
    futex_wake(generation, count, shared);
  }
}

// For a word that is only a wake-up generation (waiters read it, then check their condition): if
// anyone sleeps, advance the generation, then wake up to `count` of them.
template <class Wait>
void notify_generation(atomic<std::uint32_t>& generation, const atomic<std::uint32_t>& sleepers,
                       int count, bool shared = false,
                       handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(shared || hs == handshake::symmetric);
    wake_generation(generation, sleepers, count, shared);
  }
}

// Wake-one with at most one wake-up in flight, for primitives whose releases are frequent (a
// spinlock's unlock): while a woken sleeper has not run yet, further releases only read a word.
// `generation` must be the futex word the sleepers sleep on, read (seq_cst) by try_once before it
// checks its condition. Why the wake_pending claim never strands a sleeper:
//  - the claimer bumps the generation after the claim, so every registered sleeper that read the
//    generation before the bump returns from futex_wait (woken, or the word changed) and clears
//    the claim in leave_sleepers;
//  - a sleeper that read the generation after the bump comes after the claim in the seq_cst order
//    (claim < bump < its read < its void_wake_claim), so it clears the claim before it sleeps;
//  - a release that skipped its wake because of the claim stored its state before it read the
//    claim, and the sleeper that clears the claim re-registers with the heavy barrier before it
//    sleeps again, so it sees that state (the handshake of store_load.hpp).
template <class Wait>
void notify_one_pending(atomic<std::uint32_t>& generation, atomic<std::uint32_t>& sleepers,
                        bool shared = false, handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(shared || hs == handshake::symmetric);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    std::uint32_t s = sleepers.load(std::memory_order_relaxed);
    do {
      if (ATOMKIT_LIKELY(s == 0) || (s & wake_pending) != 0) return;
      // seq_cst: the claim is ordered against sleepers' generation reads (see above).
    } while (!sleepers.compare_exchange_weak(s, s | wake_pending, std::memory_order_seq_cst,
                                             std::memory_order_relaxed));
    // seq_cst: after the claim; a sleeper that reads the new value (acquire) also sees the state.
    generation.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(generation, 1, shared);
  }
}

inline constexpr int wake_all_count = INT_MAX;

}  // namespace detail
}  // namespace atomkit
