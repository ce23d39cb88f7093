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
#include <atomkit/detail/os.hpp>
#include <atomkit/detail/store_load.hpp>

#include <climits>
#include <cstdint>
#include <type_traits>

namespace atomkit {

namespace detail {

// Whether a primitive's words may be shared between processes (futex without the private flag,
// and the symmetric handshake: membarrier does not reach other processes). Every entry point of
// the engine takes it as a parameter whose default is the policy's (sharing_of<Wait>), so a
// primitive instantiated with process_shared sleeps and wakes across processes.
enum class sharing { process_private, process_shared };

}  // namespace detail

// Waiting policies (docs/waiting.md). `scope` says whether the futex calls and the store/load
// handshake must reach other processes.
struct park {
  static constexpr bool sleeps = true;  // spin briefly, then sleep on the futex
  static constexpr detail::sharing scope = detail::sharing::process_private;
};
struct busy {
  static constexpr bool sleeps = false;  // spin briefly, then sched_yield(); never sleeps
  static constexpr detail::sharing scope = detail::sharing::process_private;
};
// As park, for objects in memory shared between processes: the futex is a shared one (any process
// that maps the word can wake it) and the handshake is the symmetric one.
struct process_shared {
  static constexpr bool sleeps = true;
  static constexpr detail::sharing scope = detail::sharing::process_shared;
};

enum class wait_status { woken, timed_out };

namespace detail {

// The sharing a policy asks for: what a primitive passes to await/notify.
template <class Wait>
inline constexpr sharing sharing_of = Wait::scope;

// Whether a policy's store/load handshakes must be the symmetric form (store_load.hpp): for words
// shared between processes, where membarrier does not reach the other side. For primitives that
// issue the light/heavy barriers themselves rather than through await/notify.
template <class Wait>
inline constexpr bool symmetric_handshake = sharing_of<Wait> == sharing::process_shared;

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
  std::uint32_t max_round = backoff::max_round;  // the longest backoff round (a power of two)
};
// A few backoff rounds (1+2+4+8+16 pauses), then up to 100 us of yields.
inline constexpr wait_profile short_spin_then_yield{31, 100'000};
// The default spin, then up to 20 us of yields: for the queues, whose partners on two cores are
// often placed on one core after a parked hand-off (wake-affine); a yield hands that partner the
// core at once, and lets the scheduler move one of them to the free core (bench/RESULTS.md).
inline constexpr wait_profile spin_then_yield{backoff::default_budget, 20'000};
// No spinning (it would only delay threads that need our CPU), then up to 100 us of yields.
inline constexpr wait_profile yield_then_sleep{0, 100'000};
// ticket_lock's waiters. The one whose turn is next spins the default budget in rounds of at most
// 16 pauses, so that it sees the release within a fraction of a microsecond (only that waiter
// spins, so probing more often adds no traffic from a crowd; with rounds of up to 64 pauses its
// 2-thread hand-off p99.9 was about twice as long). Then every waiter (those further back skip
// the spin) yields for up to 20 us before it sleeps. The yields matter when threads outnumber
// cores: the holder a waiter needs is often runnable on the waiter's own CPU (woken there by the
// last hand-off), and a yield lets it run and release for the price of a sched_yield, where a
// sleep cost a futex round trip per hand-off and let the two threads still running take turns
// alone (bench/RESULTS.md, "ticket_lock: its waiters yield before they sleep").
inline constexpr wait_profile ticket_wait{
    .spin_pauses = backoff::default_budget, .yield_ns = 20'000, .max_round = 16};
static_assert(backoff::valid_cap(ticket_wait.max_round));

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

// Which phase of await() an attempt runs in, for attempt functions that take it (optional: an
// attempt may ignore it and take no argument). sleep: the waiter is registered in `sleepers`
// and has issued the heavy barrier; if this attempt fails it sleeps, so whatever the attempt
// writes for its partner to read must be followed by a heavy barrier before it reads the state
// (spsc_queue's record()).
enum class wait_phase { spin, yield, sleep };

template <class Try>
attempt attempt_in(Try& try_once, wait_phase phase) noexcept {
  if constexpr (std::is_invocable_v<Try&, wait_phase>) {
    return try_once(phase);
  } else {
    return try_once();
  }
}

// One futex sleep while word == expected, bounded by the deadline. Spurious returns are allowed.
template <class Word>
wait_status sleep_on(const Word& word, std::uint32_t expected, const deadline& dl,
                     sharing scope) noexcept {
  const bool shared = scope == sharing::process_shared;
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

// Clears a pending wake claim (notify_one_pending) on behalf of a waiter whose attempt failed after
// it registered; true if this call cleared it. A release that found the claim pending skipped its
// wake, possibly after this waiter's attempt read the state, so whoever clears a claim must try
// again behind the heavy barrier before it sleeps or gives up (await does; see
// notify_one_pending for the whole argument).
// seq_cst (load and RMW): the load must see any claim made before the generation bump this
// waiter's attempt read (claim < bump < that read < this load in the seq_cst order).
inline bool clear_wake_claim(atomic<std::uint32_t>& sleepers) noexcept {
  return (sleepers.load(std::memory_order_seq_cst) & wake_pending) != 0 &&
         (sleepers.fetch_and(~wake_pending, std::memory_order_seq_cst) & wake_pending) != 0;
}

// A sleeper leaves the count after its sleep and clears wake_pending: whatever woke it, it tries
// again (behind the heavy barrier before it sleeps again or gives up, if this returns true: it
// cleared a claim).
inline bool leave_sleepers(atomic<std::uint32_t>& sleepers) noexcept {
  // relaxed: only wakers read the count, and a stale value costs at most one needless wake; a
  // cleared claim is made up for by the caller's re-check behind the heavy barrier.
  std::uint32_t s = sleepers.load(std::memory_order_relaxed);
  while (!sleepers.compare_exchange_weak(s, (s - 1) & ~wake_pending, std::memory_order_relaxed)) {
  }
  return (s & wake_pending) != 0;
}

// Test builds may cap every wait's spin and yield phases, so that the sleep paths run as often
// as the spin paths (ATOMKIT_WAIT_MAX_SPIN=1 ATOMKIT_WAIT_MAX_YIELD_NS=0: spin once, then park).
#ifndef ATOMKIT_WAIT_MAX_SPIN
#define ATOMKIT_WAIT_MAX_SPIN 0xFFFFFFFFU
#endif
#ifndef ATOMKIT_WAIT_MAX_YIELD_NS
#define ATOMKIT_WAIT_MAX_YIELD_NS 0x7FFFFFFFFFFFFFFFLL
#endif
inline constexpr wait_profile capped(const wait_profile& p) noexcept {
  const std::uint32_t spin = ATOMKIT_WAIT_MAX_SPIN;
  const std::int64_t yield = ATOMKIT_WAIT_MAX_YIELD_NS;
  return {p.spin_pauses < spin ? p.spin_pauses : spin, p.yield_ns < yield ? p.yield_ns : yield,
          p.max_round};
}

// Waits until try_once() reports done (returns true) or the deadline passes (returns false; one
// last attempt is made after the deadline, so a condition that became true is never reported as a
// time-out). try_once must read `word` before it checks its condition, and report what it read.
template <class Wait, class Try>
bool await(const atomic<std::uint32_t>& word, atomic<std::uint32_t>& sleepers, Try&& try_once,
           const deadline& dl, sharing scope = sharing_of<Wait>,
           handshake hs = handshake::asymmetric, const wait_profile& requested = {}) noexcept {
  const wait_profile profile = capped(requested);
  const bool symmetric = scope == sharing::process_shared || hs == handshake::symmetric;
  // Set while this waiter has cleared a wake claim and not yet re-checked behind the heavy
  // barrier: it must not give up on a failed plain attempt then (see clear_wake_claim).
  bool recheck_before_giving_up = false;
  const auto last_attempt = [&](wait_phase phase) {
    if (attempt_in(try_once, phase).done) return true;
    if (!recheck_before_giving_up) return false;
    heavy_barrier(symmetric);
    return attempt_in(try_once, phase).done;
  };
  for (;;) {
    // Spin phase: at the start, and again after each wake-up when the attempt says spinning is
    // worth it (a woken waiter usually finds its condition true within microseconds).
    backoff spin(profile.spin_pauses, profile.max_round);
    attempt a = attempt_in(try_once, wait_phase::spin);
    while (!a.done && a.spin && spin.pause()) {
      if (dl.passed()) break;
      a = attempt_in(try_once, wait_phase::spin);
    }
    if (a.done) return true;
    if (dl.passed()) return last_attempt(wait_phase::spin);
    if constexpr (!Wait::sleeps) {
      yield_now();
    } else {
      if (profile.yield_ns > 0) {
        // Yield phase, bounded by the profile's time and the caller's deadline.
        const std::int64_t end = deadline::now_ns() + profile.yield_ns;
        do {
          yield_now();
          a = attempt_in(try_once, wait_phase::yield);
        } while (!a.done && deadline::now_ns() < end && !dl.passed());
        if (a.done) return true;
      }
      // Counted in `sleepers` only while asleep or about to sleep, so that releases made while
      // this thread spins after a wake-up make no futex call.
      // relaxed: the heavy barrier right after it orders this count before the re-check below;
      // together they are the sleeper's half of the handshake with notify() (store_load.hpp).
      // (A seq_cst RMW here would also give TSan false happens-before edges between threads.)
      sleepers.fetch_add(1, std::memory_order_relaxed);
      heavy_barrier(symmetric);
      // re-check after registering: a release may have come before it
      a = attempt_in(try_once, wait_phase::sleep);
      while (!a.done && clear_wake_claim(sleepers)) {
        heavy_barrier(symmetric);  // a release that skipped its wake for the claim is seen now
        a = attempt_in(try_once, wait_phase::sleep);
      }
      const bool timed_out =
          !a.done && sleep_on(word, a.observed, dl, scope) == wait_status::timed_out;
      recheck_before_giving_up = leave_sleepers(sleepers);
      if (a.done) return true;
      if (timed_out) return last_attempt(wait_phase::spin);
    }
  }
}

// After changing the state a waiter waits for: wake up to `count` sleepers on `word`, with no
// system call when none sleeps.
template <class Wait, class Word>
void notify(const Word& word, const atomic<std::uint32_t>& sleepers, int count,
            sharing scope = sharing_of<Wait>,
            handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(scope == sharing::process_shared || hs == handshake::symmetric);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
      futex_wake(word, count, scope == sharing::process_shared);
    }
  }
}

// The second half of notify_generation, for a caller that issued the light barrier itself (once
// for several words): if anyone sleeps, advance the generation, then wake up to `count` of them.
inline void wake_generation(atomic<std::uint32_t>& generation, const atomic<std::uint32_t>& sleepers,
                            int count, sharing scope) noexcept {
  // relaxed: ordered after the caller's state change by the caller's light barrier.
  if (ATOMKIT_UNLIKELY(sleepers.load(std::memory_order_relaxed) != 0)) {
    // release: a waiter that reads the new generation (acquire) also sees the state change.
    generation.fetch_add(1, std::memory_order_release);
    futex_wake(generation, count, scope == sharing::process_shared);
  }
}

// For a word that is only a wake-up generation (waiters read it, then check their condition): if
// anyone sleeps, advance the generation, then wake up to `count` of them.
template <class Wait>
void notify_generation(atomic<std::uint32_t>& generation, const atomic<std::uint32_t>& sleepers,
                       int count, sharing scope = sharing_of<Wait>,
                       handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(scope == sharing::process_shared || hs == handshake::symmetric);
    wake_generation(generation, sleepers, count, scope);
  }
}

// Wake-one with at most one wake-up in flight, for primitives whose releases are frequent (a
// spinlock's unlock): while a woken sleeper has not run yet, further releases only read a word.
// `generation` must be the futex word the sleepers sleep on, read (seq_cst) by try_once before it
// checks its condition. A release that finds the claim (wake_pending) set skips its wake. Why no
// sleeper is stranded:
//  - the claimer bumps the generation after the claim, so every registered sleeper that read the
//    generation before the bump returns from futex_wait (woken, or the word changed);
//  - every sleeper that returns clears the claim (leave_sleepers), and a registered waiter whose
//    attempt failed clears a claim it finds before it sleeps (clear_wake_claim); one that read
//    the generation after the bump finds the claim (claim < bump < its read < its load, seq_cst);
//  - whoever clears a claim tries again behind the heavy barrier before it sleeps or gives up
//    (await): a release that skipped its wake read the claim before the clearing write, so by
//    the handshake (store_load.hpp) that re-check sees the state the release stored; if the
//    re-check fails, another thread holds the state and its own release comes later;
//  - a waiter that clears the claim and succeeds has the lock, so a release follows.
// A claim that was set is therefore cleared by someone who re-checks, and until then every
// sleeper that could sleep on an old generation was woken by the bump.
template <class Wait>
void notify_one_pending(atomic<std::uint32_t>& generation, atomic<std::uint32_t>& sleepers,
                        sharing scope = sharing_of<Wait>,
                        handshake hs = handshake::asymmetric) noexcept {
  if constexpr (Wait::sleeps) {
    light_barrier(scope == sharing::process_shared || hs == handshake::symmetric);
    // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
    std::uint32_t s = sleepers.load(std::memory_order_relaxed);
    do {
      if (ATOMKIT_LIKELY(s == 0) || (s & wake_pending) != 0) return;
      // seq_cst: the claim is ordered against sleepers' generation reads (see above).
    } while (!sleepers.compare_exchange_weak(s, s | wake_pending, std::memory_order_seq_cst,
                                             std::memory_order_relaxed));
    // seq_cst: after the claim; a sleeper that reads the new value (acquire) also sees the state.
    generation.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(generation, 1, scope == sharing::process_shared);
  }
}

inline constexpr int wake_all_count = INT_MAX;

}  // namespace detail
}  // namespace atomkit
