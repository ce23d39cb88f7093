// atomkit/barrier.hpp: std::barrier semantics plus Python's breaking rules (threading.Barrier).
//
// Usage: atomkit::barrier<> sync(4); /* in each of 4 threads: */ sync.arrive_and_wait();
// Reference: docs/coordination.md
//
// State. One 64-bit atomic `state_` holds [broken:1][phase:31][completing:1][remaining:31]: every
// arrival is one compare-and-swap on it, so arriving, completing and breaking are ordered against
// each other. Waiters sleep on a separate 32-bit futex word `phase_word_` = [broken:1][phase:31],
// which only the thread completing a phase, the thread breaking the barrier and reset() change
// (the first two by RMW, and their changes commute, so racing ones cannot undo each other).
//   arrive(n)        takes n off `remaining`; the arrival that takes it to 0 also sets `completing`
//                    and runs the completion (no arrival fits meanwhile), then installs the next
//                    phase with the expected count (clearing `completing`), bumps phase_word_ and
//                    wakes every waiter. A completion is in flight from that arrival until the
//                    bump: `completing` set, or state_'s phase one ahead of phase_word_'s.
//   wait(token)      returns once phase_word_ shows another phase; throws broken_barrier if it
//                    shows the barrier broken in the token's phase.
//   arrive_and_wait_for(d)  on time-out breaks the barrier, unless the phase is already complete
//                    or completing (then it waits for that and returns true); returns false.
//   abort()          breaks it at once; a completion already running still finishes its phase.
// After a break every waiter of the broken phase and every later call throws broken_barrier,
// until reset().
//
// Waiting (detail::wait_profile): a short spin, a short run of yields, then the policy's wait.
// A barrier with more parties than the CPUs this process may use skips the spin: the arrivals
// it waits for need the waiter's CPU.
//
// reset(): on a barrier that is not broken, throws std::system_error(operation_not_permitted) if
// any thread has arrived in the current phase (so also if one waits in it, or if the completion of
// the current phase runs); otherwise the barrier is already fresh and reset() changes nothing.
// Parties of a completed phase that are still on their way out of wait() do not count.
// On a broken barrier it first waits, through the waiting engine (asleep under park), for a
// completion still in flight to finish its phase (the last arrival may have come just before the
// break, and the caller cannot know; that completion's end would otherwise move the phase word a
// second time, past the fresh phase, and let every later phase through early), and for the break
// to be published on the phase word. Then it lets the threads still inside a wait leave (they are
// all woken and throw broken_barrier at once), then starts a fresh phase with the expected count
// (which keeps the reductions made by arrive_and_drop). So reset() blocks for as long as a running
// completion takes, and must not be called from a completion. reset() must not run concurrently
// with arrivals, nor with another reset() (the waits above rely on every change of phase_word_
// but reset's own being followed by a notify). A token obtained before a reset() is spent:
// waiting on it returns at once.
//
// Progress: arrive and arrive_and_drop are lock-free, except that the last arrival of a phase runs
// the completion (and wakes waiters, one futex_wake when any sleep); abort and broken are
// wait-free; wait, arrive_and_wait block; arrive_and_wait_for blocks at most until its deadline
// (plus a completion already running); reset of a broken barrier blocks while a completion already
// running finishes and while woken waiters of the broken phase leave.
//
// The completion runs once per phase, on the last arrival's thread, before anyone is released. It
// need not be declared noexcept, but if it throws the program ends (std::terminate), as with
// std::barrier. The constructor is constexpr: `constinit atomkit::barrier<> b(4);` works.
//
// Process sharing: barrier<Completion, process_shared> (ipc::barrier, ipc.hpp) works between
// processes that map it; the default policy's futex is private to one process, so a `park` barrier
// in shared memory is the caller's bug. The completion runs in whichever process arrives last, so
// it must be valid in every process: captureless, or referring only to shared memory (no pointer
// to one process's heap or stack); it is a member of the barrier, so a stateful one lives in the
// shared mapping too. With process_shared a timed arrival whose deadline passes while another
// arrival's completion runs breaks the barrier and returns false instead of waiting for it (that
// completer may have died). A process killed while it runs the completion leaves the barrier in
// that phase for good: timed arrivals break it at their deadline, and reset() of the broken
// barrier then blocks forever. A process killed inside a wait leaves its count in the threads-
// inside tally, so reset() of a broken barrier blocks forever too. docs/ipc.md has the table.
//
// Misuse: arrive(n) with n < 1, or with n larger than the arrivals the phase still expects, throws
// std::system_error(operation_not_permitted), the state unchanged. parties outside [1, max()]
// throws std::invalid_argument. broken_barrier derives from std::runtime_error; under
// -fno-exceptions a break that would throw ends the program with a message.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <sched.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

namespace atomkit {

struct broken_barrier : std::runtime_error {
  using runtime_error::runtime_error;
};

namespace detail {

// The CPUs this process may run on, read once (the first call; a later change of affinity is
// not seen). Only a tuning input: it decides whether barrier waiters spin.
inline unsigned usable_cpus() noexcept {
  static const unsigned n = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
      return static_cast<unsigned>(CPU_COUNT(&set));
    }
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1u : hc;
  }();
  return n;
}

struct barrier_noop {
  void operator()() const noexcept {}
};

[[noreturn]] ATOMKIT_NOINLINE inline void throw_broken_barrier() {
#if ATOMKIT_EXCEPTIONS
  throw broken_barrier("atomkit::barrier: the barrier is broken");
#else
  std::fprintf(stderr, "atomkit::barrier: broken_barrier (the barrier is broken)\n");
  std::abort();
#endif
}

}  // namespace detail

template <class Completion = detail::barrier_noop, class Wait = park>
class barrier {
  static_assert(std::is_invocable_v<Completion&>,
                "atomkit::barrier: the completion must be invocable as an lvalue");
  static_assert(std::is_nothrow_move_constructible_v<Completion>,
                "atomkit::barrier: the completion must be nothrow move constructible");

 public:
  class arrival_token {
   public:
    arrival_token(arrival_token&&) noexcept = default;
    arrival_token& operator=(arrival_token&&) noexcept = default;

   private:
    friend class barrier;
    explicit arrival_token(std::uint32_t phase) noexcept : phase_(phase) {}
    std::uint32_t phase_;
  };

  static constexpr std::ptrdiff_t max() noexcept { return INT32_MAX; }

  // Throws std::invalid_argument unless 1 <= parties <= max(). constexpr: a barrier with static
  // storage can be constinit.
  constexpr explicit barrier(std::ptrdiff_t parties, Completion c = Completion())
      : state_(checked_parties(parties)),
        expected_(static_cast<std::uint32_t>(parties)),
        completion_(std::move(c)) {}
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  // Lock-free (the last arrival runs the completion). Throws broken_barrier if broken.
  [[nodiscard]] arrival_token arrive(std::ptrdiff_t n = 1) {
    return arrival_token(arrive_impl(n, false));
  }

  // Blocks until the token's phase completes; throws broken_barrier if it broke first.
  void wait(arrival_token&& t) const {
    inside_guard g(waiters_);
    if (wait_impl(t.phase_, detail::deadline::never()) == outcome::broken) {
      detail::throw_broken_barrier();
    }
  }

  void arrive_and_wait() {
    inside_guard g(waiters_);
    const std::uint32_t phase = arrive_impl(1, false);
    if (wait_impl(phase, detail::deadline::never()) == outcome::broken) {
      detail::throw_broken_barrier();
    }
  }

  // Arrives, and leaves the party: later phases expect one arrival fewer. Lock-free.
  void arrive_and_drop() { (void)arrive_impl(1, true); }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, arrive_and_wait, arrive_and_wait_timed)

  void abort() noexcept {
    // acq_rel: ordered with arrivals (acquire their effects, publish the break to later ones).
    const std::uint64_t prev = state_.fetch_or(broken_bit, std::memory_order_acq_rel);
    if ((prev & broken_bit) == 0) publish_broken();
  }

  void reset() {
    // acquire: pairs with the arrivals' release CAS; we read a consistent snapshot of the state.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    if ((s & broken_bit) == 0) {
      // Not broken: fresh unless a thread has arrived in the current phase (remaining below the
      // expected count, or the last arrival's completion running). Every thread waiting in the
      // current phase has arrived in it. waiters_ is not read: it also counts the parties of a
      // completed phase still on their way out of wait(), and a fresh phase changes nothing for
      // them. A caller that returned from a wait has seen (acquire on phase_word_) the bump the
      // completer made after it installed the next phase in state_, so it reads that state here.
      // relaxed: reset must not race with arrivals or drops; the count is the one the completer of
      // the phase read (or a later drop's), ordered before us as state_ is.
      const std::uint32_t expected = expected_.load(std::memory_order_relaxed);
      if ((s & completing_bit) != 0 || remaining_of(s) != expected) {
        detail::misuse("barrier", "reset() while threads have arrived in the current phase");
      }
      return;  // already fresh
    }
    // Broken: no arrival fits any more, so no completion can start; but one may be in flight (its
    // arrival came before the break), and the break's publish_broken may not have run yet. Wait
    // for both: the fresh phase installed below must be the last change of either word, or a late
    // bump or broken bit would put phase_word_ out of step with state_ for every later phase.
    // Each of the awaited changes ends with a change of phase_word_ and a notify (complete_phase,
    // publish_broken), so this sleeps on phase_word_ like a waiter.
    (void)detail::await<Wait>(
        phase_word_, sleepers_,
        [this] {
          // acquire: pairs with complete_phase's and publish_broken's release RMWs; the word is
          // read first, so a state read after it is at least as recent as the bump it shows.
          const std::uint32_t w = phase_word_.load(std::memory_order_acquire);
          // acquire: pairs with complete_phase's release CAS (the completion's effects, and its
          // last write of state_, happen before ours).
          const std::uint64_t st = state_.load(std::memory_order_acquire);
          const bool settled = (st & completing_bit) == 0 && phase_of(st) == (w & phase_mask) &&
                               (w & word_broken) != 0;
          return settled ? detail::attempt::success() : detail::attempt::retry(w);
        },
        detail::deadline::never(),
        detail::sharing_of<Wait>, detail::handshake::asymmetric, profile());
    // Every waiter inside has been woken (publish_broken) and leaves by throwing; let them go
    // before the phase word changes, so none of them mistakes the new phase for completion.
    detail::atomic<std::uint32_t> no_sleepers{0};
    detail::await<busy>(
        waiters_, no_sleepers,
        [this] {
          // acquire: pairs with the release decrement of a leaving waiter.
          const std::uint32_t w = waiters_.load(std::memory_order_acquire);
          return w == 0 ? detail::attempt::success() : detail::attempt::retry(w);
        },
        detail::deadline::never());
    // acquire: as above; re-read after the drain.
    s = state_.load(std::memory_order_acquire);
    const std::uint32_t next = (phase_of(s) + 1) & phase_mask;
    // release: publishes the fresh state to later arrivals (their acquire CAS).
    state_.store(pack(next, expected_.load(std::memory_order_relaxed)), std::memory_order_release);
    // release: pairs with waiters' acquire loads of phase_word_ (a spent token sees a new phase).
    phase_word_.store(next, std::memory_order_release);
  }

  [[nodiscard]] bool broken() const noexcept {
    // acquire: pairs with the acq_rel CAS that broke it.
    return (state_.load(std::memory_order_acquire) & broken_bit) != 0;
  }

 private:
  enum class outcome { passed, broken, timed_out };

  // process_shared: the completion may run in another process, which may die in it; a timed
  // arrival must not wait for it past its deadline (file comment, "Process sharing").
  static constexpr bool completer_may_be_elsewhere =
      detail::sharing_of<Wait> == detail::sharing::process_shared;

  // state_: [broken:1][phase:31][completing:1][remaining:31] (bit 63 down to bit 0). remaining
  // fits 31 bits because max() is INT32_MAX; completing is set by the arrival that takes
  // remaining to 0 and cleared when its completion installs the next phase.
  static constexpr std::uint64_t broken_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t completing_bit = std::uint64_t{1} << 31;
  static constexpr std::uint64_t remaining_mask = completing_bit - 1;
  static_assert(static_cast<std::uint64_t>(INT32_MAX) <= remaining_mask,
                "every party count up to max() fits the remaining field");
  // phase_word_: [broken:1][phase:31]; the phase is state_'s, the broken bit published after it.
  static constexpr std::uint32_t word_broken = std::uint32_t{1} << 31;
  static constexpr std::uint32_t phase_mask = word_broken - 1;

  static constexpr std::uint64_t pack(std::uint32_t phase, std::uint32_t remaining) noexcept {
    return (std::uint64_t{phase} << 32) | remaining;
  }
  static constexpr std::uint32_t phase_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s >> 32) & phase_mask;
  }
  static constexpr std::uint32_t remaining_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s & remaining_mask);
  }
  static constexpr std::uint64_t checked_parties(std::ptrdiff_t parties) {
    if (parties < 1 || parties > max()) {
      detail::invalid_argument("barrier", "parties outside [1, max()]");
    }
    return pack(0, static_cast<std::uint32_t>(parties));
  }

  // Counts a thread inside wait/arrive_and_wait*, for reset() of a broken barrier, which lets them
  // all leave before it installs a fresh phase. It counts the parties of a completed phase still
  // on their way out too, so it does not tell whether anyone waits in the current phase.
  struct inside_guard {
    explicit inside_guard(detail::atomic<std::uint32_t>& c) noexcept : count(c) {
      // relaxed: reset() only needs to see this once the thread can be blocked, and the thread's
      // later acq_rel arrival CAS / acquire loads order it before anything reset could act on.
      count.fetch_add(1, std::memory_order_relaxed);
    }
    ~inside_guard() {
      // release: pairs with reset()'s acquire load: the waiter is done with the phase word.
      count.fetch_sub(1, std::memory_order_release);
    }
    inside_guard(const inside_guard&) = delete;
    inside_guard& operator=(const inside_guard&) = delete;
    detail::atomic<std::uint32_t>& count;
  };

  // One arrival of n; returns the phase arrived at. Runs the completion if it was the last.
  std::uint32_t arrive_impl(std::ptrdiff_t n, bool drop) {
    if (ATOMKIT_UNLIKELY(n < 1)) detail::misuse("barrier", "arrive(n) with n < 1");
    // relaxed: only a guess for the CAS, which re-checks it.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    check_arrival(s, n, false);
    if (drop) {
      // The drop lowers the count of later phases. It is made before our arrival, so the last
      // arrival of this phase (ours, or a later one whose acquire CAS reads after our release
      // CAS) installs the lowered count; the phase cannot complete without our arrival.
      // relaxed: published by the release half of the CAS below.
      expected_.fetch_sub(1, std::memory_order_relaxed);
    }
    for (;;) {
      check_arrival(s, n, drop);
      // n <= remaining (checked), so the subtraction stays inside the remaining field; the last
      // arrival marks the phase completing in the same CAS, so reset() cannot miss its completion.
      const bool last = remaining_of(s) == static_cast<std::uint64_t>(n);
      const std::uint64_t desired =
          (s - static_cast<std::uint64_t>(n)) | (last ? completing_bit : std::uint64_t{0});
      // acq_rel: release publishes this thread's writes before the barrier to the last arrival;
      // acquire lets the last arrival (and its completion) see every earlier arrival's writes.
      if (state_.compare_exchange_weak(s, desired, std::memory_order_acq_rel,
                                       std::memory_order_relaxed)) {
        const std::uint32_t phase = phase_of(s);
        if (last) complete_phase(phase);
        return phase;
      }
    }
  }

  // Throws, state unchanged, if an arrival of n is not possible in state s.
  void check_arrival(std::uint64_t s, std::ptrdiff_t n, bool undo_drop) {
    const bool is_broken = (s & broken_bit) != 0;
    if (ATOMKIT_LIKELY(!is_broken && static_cast<std::uint64_t>(n) <= remaining_of(s))) return;
    // relaxed: undoes our own decrement; nothing was published with it.
    if (undo_drop) expected_.fetch_add(1, std::memory_order_relaxed);
    if (is_broken) detail::throw_broken_barrier();
    detail::misuse("barrier", "more arrivals than the phase expects");
  }

  // noexcept: a completion that throws ends the program (std::terminate), as std::barrier's
  // would; the completion itself need not be declared noexcept.
  ATOMKIT_NOINLINE void complete_phase(std::uint32_t phase) noexcept {
    completion_();
    const std::uint32_t next = (phase + 1) & phase_mask;
    // relaxed: every drop of this phase happened before its arrival, which our acq_rel CAS read.
    const std::uint32_t expected = expected_.load(std::memory_order_relaxed);
    // relaxed: only abort() can change the state while it is completing (remaining is 0), and
    // reset() waits for the end of the completion (completing bit, then phase_word_).
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    // release: pairs with the acquire of the next phase's arrivals: the completion's writes are
    // visible to a thread that arrives again without waiting. Keeps a concurrent abort's bit;
    // clears the completing bit (pack() has none).
    while (!state_.compare_exchange_weak(s, (s & broken_bit) | pack(next, expected),
                                         std::memory_order_release, std::memory_order_relaxed)) {
    }
    // relaxed: only a guess for the CAS.
    std::uint32_t w = phase_word_.load(std::memory_order_relaxed);
    // release: pairs with the waiters' acquire loads: the completion's writes and every arrival's
    // (acquired above) happen before the waiters return. Increments the phase, keeps the broken
    // bit: it commutes with publish_broken's fetch_or.
    while (!phase_word_.compare_exchange_weak(w, (w & word_broken) | ((w + 1) & phase_mask),
                                              std::memory_order_release,
                                              std::memory_order_relaxed)) {
    }
    detail::notify<Wait>(phase_word_, sleepers_, detail::wake_all_count);
  }

  void publish_broken() noexcept {
    // release: pairs with waiters' acquire loads of phase_word_.
    phase_word_.fetch_or(word_broken, std::memory_order_release);
    detail::notify<Wait>(phase_word_, sleepers_, detail::wake_all_count);
  }

  // What a waiter of `phase` sees in the phase word `w`.
  outcome judge(std::uint32_t phase, std::uint32_t w) const noexcept {
    if ((w & phase_mask) != phase) return outcome::passed;
    if ((w & word_broken) == 0) return outcome::timed_out;  // "not yet"
    // Broken while the word still shows our phase. If the state already moved on, our phase
    // completed (an abort() raced the completion): we passed. If our phase is still completing
    // (the last arrival came before the break), it will complete: "not yet", and the end of the
    // completion changes the word, which wakes us (the model check's abort-race suite).
    // acquire: pairs with complete_phase's release CAS, and with the arrivals' CAS that set the
    // completing bit (read by abort()'s RMW, which our read of the broken word follows).
    const std::uint64_t s = state_.load(std::memory_order_acquire);
    if (phase_of(s) != phase) return outcome::passed;
    return (s & completing_bit) != 0 ? outcome::timed_out : outcome::broken;
  }

  // With more parties than CPUs, the arrivals a waiter waits for need its CPU: spinning only
  // delays them, so such a barrier starts its wait with the yields (detail::wait_profile).
  const detail::wait_profile& profile() const noexcept {
    // relaxed: only a tuning input.
    const bool crowded = expected_.load(std::memory_order_relaxed) > detail::usable_cpus();
    return crowded ? detail::yield_then_sleep : detail::short_spin_then_yield;
  }

  outcome wait_impl(std::uint32_t phase, const detail::deadline& dl) const noexcept {
    outcome result = outcome::timed_out;
    const bool done = detail::await<Wait>(
        phase_word_, sleepers_,
        [this, phase, &result] {
          // acquire: pairs with the release RMWs in complete_phase and publish_broken.
          const std::uint32_t w = phase_word_.load(std::memory_order_acquire);
          result = judge(phase, w);
          return result != outcome::timed_out ? detail::attempt::success()
                                              : detail::attempt::retry(w);
        },
        dl, detail::sharing_of<Wait>, detail::handshake::asymmetric, profile());
    return done ? result : outcome::timed_out;
  }

  bool arrive_and_wait_timed(const detail::deadline& dl) {
    inside_guard g(waiters_);
    const std::uint32_t phase = arrive_impl(1, false);
    outcome o = wait_impl(phase, dl);
    if (o == outcome::timed_out) {
      // Break it, unless the phase completed or is completing (remaining 0) meanwhile.
      // acquire: pairs with the arrivals' release CAS.
      std::uint64_t s = state_.load(std::memory_order_acquire);
      for (;;) {
        if (phase_of(s) != phase) {
          o = outcome::passed;
          break;
        }
        if ((s & broken_bit) != 0) {
          o = outcome::broken;
          break;
        }
        // Completing: its end is near, wait for it; unless the completer may be another process,
        // which may have died in the completion (process_shared): then the time-out breaks it.
        if ((s & completing_bit) != 0 && !completer_may_be_elsewhere) {
          o = wait_impl(phase, detail::deadline::never());
          break;
        }
        // acq_rel: ordered with arrivals, as in abort().
        if (state_.compare_exchange_weak(s, s | broken_bit, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
          publish_broken();
          return false;
        }
      }
    }
    if (o == outcome::broken) detail::throw_broken_barrier();
    return true;
  }

  // Arrivals: state_, the expected count of later phases and the count of threads inside a wait
  // (inside_guard).
  alignas(detail::pad_size) detail::atomic<std::uint64_t> state_;
  detail::atomic<std::uint32_t> expected_;
  mutable detail::atomic<std::uint32_t> waiters_{0};
  // Waiters: the futex word and its sleepers.
  alignas(detail::pad_size) detail::atomic<std::uint32_t> phase_word_{0};
  mutable detail::atomic<std::uint32_t> sleepers_{0};
  [[no_unique_address]] Completion completion_;  // run by the last arrival of each phase
};

}  // namespace atomkit
