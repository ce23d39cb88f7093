// atomkit/lock_all.hpp: several locks at once, without deadlock, whatever order callers name them
// in: lock_all, try_lock_all_for/until, and multi_lock (RAII over lock_all).
//
// Usage: atomkit::multi_lock hold(from.lock, to.lock); /* both held; any order elsewhere is fine */
// Reference: docs/deadlock.md
//
// Any mix of Lockable types (lock, try_lock, unlock): atomkit locks, std::mutex, user types. No
// global order is needed (no address sort), so it also works for locks that one process sees at
// different addresses from another (locks in shared memory).
//
// The algorithm (try and back off, blocking on the lock that failed, as libstdc++'s std::lock):
// a round blocks on one lock (the first named, then always the one that failed last time), then
// try_locks the others in turn, starting after it; if one is busy it releases what it took and
// the next round blocks on the busy one. A thread therefore never blocks while holding one of the
// set, which is why no cycle of waiters can form. The first rounds follow one another at once (each
// blocks in a lock's own wait); a thread that keeps losing rounds (more than one per lock) then
// backs off between rounds through the waiting engine (bounded pauses, then sched_yield), so that
// threads that keep finding each other's locks taken do not livelock when threads outnumber cores.
// Chosen by measurement (bench/bench_deadlock.cpp): a back-off after every failed round cost 3-8%
// against std::scoped_lock at 2-4 threads; this hybrid is on par with it.
//
// Timed forms: a round waits for its first lock with that lock's try_lock_until when it has one,
// and try_locks it otherwise; the rounds repeat through the engine (pauses, then yields) until
// all are held or the deadline passes. A zero or past deadline still makes one attempt (a round).
//
// Guarantees: on return every lock is held (lock_all, multi_lock, or a timed form returning
// true) or none is (a timed form returning false, or an exception from a lock's lock, try_lock
// or try_lock_until, which propagates after the locks taken in that round are released).
// Blocking: lock_all waits as long as the locks are held elsewhere; it is deadlock-free against
// any other lock_all or std::lock calls over any subsets in any order, but not against a thread
// that holds one of these locks while it blocks on another outside lock_all (that order inversion
// is the caller's bug).
// Not fair in general: a thread can lose rounds to others for as long as they keep taking the
// locks.
//
// Robust locks (ipc::robust_lock, or any lock with owner_died() and unlock_unrepaired()): a round
// that took one from a dead holder (owner_died) and then backs off gives it back with
// unlock_unrepaired(), so the lock stays recoverable and the next acquirer (this thread's next
// round, or another) is told owner_died in turn. lock_all does not report owner_died: after it
// (or multi_lock's constructor, or a timed form returning true) returns, check owner_died() on
// each robust lock passed, and repair and mark_consistent() as usual. multi_lock's destructor
// calls unlock(): an unrepaired robust lock then becomes unrecoverable, as its own unlock() does.
//
// Misuse: naming the same lock twice throws std::system_error(resource_deadlock_would_occur)
// before any lock is taken (under -fno-exceptions it ends the program with a message). Locks are
// told apart by address; a wrapper with mutex() (std::unique_lock, std::shared_lock) counts as the
// mutex it refers to, so a unique_lock and its own mutex, or two unique_locks over one mutex, are
// also caught. Other wrappers (user types) over one lock are not.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/lock_order_hook.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#if ATOMKIT_EXCEPTIONS
#include <exception>
#endif

namespace atomkit {

namespace detail {

template <class L>
concept has_try_lock_until = requires(L& l, std::chrono::steady_clock::time_point tp) {
  { l.try_lock_until(tp) } -> std::convertible_to<bool>;
};
// A lock with a steady_clock try_lock_until (atomkit locks, std::timed_mutex, ...). A wrapper with
// mutex() (std::unique_lock declares try_lock_until for every mutex) counts only if its mutex has
// one.
template <class L>
concept timed_lockable =
    has_try_lock_until<L> &&
    (!requires(L& l) { *l.mutex(); } ||
     has_try_lock_until<std::remove_pointer_t<decltype(std::declval<L&>().mutex())>>);

// Whether L's try_lock_until, if it has one (the timed forms call it), cannot throw.
template <class L>
inline constexpr bool timed_nothrow = true;
template <timed_lockable L>
inline constexpr bool timed_nothrow<L> = noexcept(std::declval<L&>().try_lock_until(
    std::declval<const std::chrono::steady_clock::time_point&>()));

// A lock that can report the owner_died condition and give itself back keeping it
// (ipc::robust_lock): a round's back-off releases it with unlock_unrepaired().
template <class L>
concept keeps_owner_died = requires(L& l) {
  { l.owner_died() } -> std::convertible_to<bool>;
  l.unlock_unrepaired();
};

// What a lock is, for the duplicate check: the mutex behind a wrapper with mutex() (unique_lock),
// else the object itself.
template <class L>
const void* lock_identity(L& l) noexcept {
  if constexpr (requires {
                  { l.mutex() } -> std::convertible_to<const void*>;
                }) {
    const void* m = l.mutex();
    if (m != nullptr) return m;
  }
  return static_cast<const void*>(std::addressof(l));
}

// The locks of one call, reached by index (the rotation needs a run-time index).
template <class... L>
class lock_set {
 public:
  static constexpr std::size_t size = sizeof...(L);
  // Whether no lock operation the engine's loop may call can throw (lock, try_lock, and
  // try_lock_until where a lock has one: the timed forms call it).
  static constexpr bool nothrow =
      ((noexcept(std::declval<L&>().lock()) && noexcept(std::declval<L&>().try_lock()) &&
        timed_nothrow<L>) &&
       ...);

  explicit lock_set(L&... locks) noexcept : locks_(std::addressof(locks)...) {}

  // Whether two of the locks are one (compared by lock_identity).
  [[nodiscard]] bool has_duplicate() const noexcept {
    const std::array<const void*, size> addr = std::apply(
        [](auto*... p) { return std::array<const void*, size>{lock_identity(*p)...}; }, locks_);
    for (std::size_t i = 0; i < size; ++i) {
      for (std::size_t j = i + 1; j < size; ++j) {
        if (addr[i] == addr[j]) return true;
      }
    }
    return false;
  }

  void lock(std::size_t i) {
    visit(i, [](auto& l) {
      l.lock();
      return true;
    });
  }
  bool try_lock(std::size_t i) {
    return visit(i, [](auto& l) { return static_cast<bool>(l.try_lock()); });
  }
  // Waits for lock i until dl: with its try_lock_until when it has one, else one try_lock.
  bool try_lock_until(std::size_t i, const deadline& dl) {
    return visit(i, [&](auto& l) {
      if constexpr (timed_lockable<std::remove_reference_t<decltype(l)>>) {
        const timespec ts = dl.to_timespec();  // CLOCK_MONOTONIC, steady_clock's clock on Linux
        const std::chrono::steady_clock::time_point tp(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
        return static_cast<bool>(l.try_lock_until(tp));
      } else {
        return static_cast<bool>(l.try_lock());
      }
    });
  }
  void unlock(std::size_t i) {
    visit(i, [](auto& l) {
      l.unlock();
      return true;
    });
  }
  // A round's back-off: unlocks lock i, keeping a robust lock's owner_died for its next acquirer.
  void back_off(std::size_t i) {
    visit(i, [](auto& l) {
      if constexpr (keeps_owner_died<std::remove_reference_t<decltype(l)>>) {
        if (l.owner_died()) {
          l.unlock_unrepaired();
          return true;
        }
      }
      l.unlock();
      return true;
    });
  }
  // Unlocks every lock, last named first.
  void unlock_all() {
    for (std::size_t i = size; i-- > 0;) unlock(i);
  }

 private:
  template <class F>
  bool visit(std::size_t i, F&& f) {
    return visit_impl(i, f, std::index_sequence_for<L...>{});
  }
  template <class F, std::size_t... Is>
  bool visit_impl(std::size_t i, F& f, std::index_sequence<Is...>) {
    bool result = false;
    (void)((i == Is ? (result = f(*std::get<Is>(locks_)), true) : false) || ...);
    return result;
  }

  std::tuple<L*...> locks_;
};

// Releases, last taken first, the `taken` locks of a round from `start` on, unless the round
// succeeded (taken set to 0).
template <class Set>
struct round_undo {
  Set& set;
  std::size_t start;
  std::size_t taken = 1;
  round_undo(Set& s, std::size_t first) noexcept : set(s), start(first) {}
  round_undo(const round_undo&) = delete;
  round_undo& operator=(const round_undo&) = delete;
  // A lock whose unlock throws here (it was taken in this very round) ends the program.
  ~round_undo() {  // NOLINT(bugprone-exception-escape): see above
    while (taken > 0) {
      --taken;
      set.back_off((start + taken) % Set::size);  // keeps a recovered robust lock recoverable
    }
  }
};

// One round: waits for lock `first` (blocking for an infinite deadline, else until dl), then
// try_locks the others in turn. On failure everything taken in the round is released and `first`
// names the lock to wait for next round. An exception from a lock releases what the round took.
template <class Set>
bool acquire_round(Set& set, std::size_t& first, const deadline& dl) {
  constexpr std::size_t n = Set::size;
  if (dl.infinite()) {
    set.lock(first);
  } else if (!set.try_lock_until(first, dl)) {
    return false;
  }
  round_undo<Set> undo(set, first);
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t j = (first + k) % n;
    if (!set.try_lock(j)) {
      first = j;  // wait for the busy one next round, holding nothing meanwhile
      return false;
    }
    ++undo.taken;
  }
  undo.taken = 0;
  return true;
}

// The acquisition loop of lock_all, try_lock_all_*, multi_lock: rounds until all are held, or the
// deadline passes (false, none held). The duplicate check comes before anything is locked.
template <class... L>
bool acquire_all(const deadline& dl, L&... locks) {
  lock_set<L...> set(locks...);
  if constexpr (sizeof...(L) == 0) {
    return true;
  } else {
    if (ATOMKIT_UNLIKELY(set.has_duplicate())) {
      would_deadlock("lock_all", "the same lock named twice (nothing was locked)");
    }
    // Every acquisition of the call happens below, in this function: the lock-order checker sees
    // them as one group (no order among them; each after the locks held before the call).
    const lock_order_group group;
    std::size_t first = 0;
    // The first round outside the engine: the common uncontended case pays for nothing else (an
    // exception from a lock propagates from here directly, the round having released its locks).
    if (ATOMKIT_LIKELY(acquire_round(set, first, dl))) return true;
    // Without a deadline each round blocks on the lock that was busy, which is itself a wait (in
    // that lock's engine): the next rounds, up to one per lock, follow at once. Only a thread that
    // keeps losing rounds backs off through the engine below (measured: a pause after every
    // failed round costs 3-8% against std::scoped_lock's immediate retry at 2-4 threads).
    if (dl.infinite()) {
      for (std::size_t k = 0; k < sizeof...(L); ++k) {
        if (acquire_round(set, first, dl)) return true;
      }
    }
    // The engine runs the rounds and backs off between failed ones (pauses, then yields: the
    // `busy` policy never sleeps, so these words are never waited on or woken).
    atomic<std::uint32_t> unused_word{0};
    atomic<std::uint32_t> unused_sleepers{0};
    if constexpr (lock_set<L...>::nothrow) {
      return await<busy>(
          unused_word, unused_sleepers,
          [&] { return acquire_round(set, first, dl) ? attempt::success() : attempt::retry(0); },
          dl);
    } else {
#if ATOMKIT_EXCEPTIONS
      // The engine's loop is noexcept: an exception from a lock is carried out of it and
      // rethrown here (the round has released what it took).
      std::exception_ptr error;
      const bool done = await<busy>(
          unused_word, unused_sleepers,
          [&] {
            try {
              return acquire_round(set, first, dl) ? attempt::success() : attempt::retry(0);
            } catch (...) {
              error = std::current_exception();
              return attempt::success();
            }
          },
          dl);
      if (error) std::rethrow_exception(error);
      return done;
#else
      return await<busy>(
          unused_word, unused_sleepers,
          [&] { return acquire_round(set, first, dl) ? attempt::success() : attempt::retry(0); },
          dl);
#endif
    }
  }
}

}  // namespace detail

// Takes every lock; returns with all held. Deadlock-free against other lock_all calls over any
// subsets, in any order. Throws system_error(resource_deadlock_would_occur) if a lock is named
// twice (nothing locked); an exception from a lock propagates with none of them held.
template <class L1, class L2, class... Ln>
void lock_all(L1& a, L2& b, Ln&... rest) {
  (void)detail::acquire_all(detail::deadline::never(), a, b, rest...);
}

// All by the deadline (true), or none (false). A zero or past deadline still makes one attempt.
template <class Rep, class Period, class... L>
bool try_lock_all_for(const std::chrono::duration<Rep, Period>& d, L&... locks) {
  return detail::acquire_all(detail::deadline::after(d), locks...);
}
template <class Clock, class Duration, class... L>
bool try_lock_all_until(const std::chrono::time_point<Clock, Duration>& tp, L&... locks) {
  return detail::acquire_all(detail::deadline::at(tp), locks...);
}

// RAII over lock_all: takes every lock in the constructor, releases them (last named first) in
// the destructor. CTAD: atomkit::multi_lock hold(a, b);
template <class... L>
class [[nodiscard]] multi_lock {
 public:
  explicit multi_lock(L&... locks) : set_(locks...) {
    (void)detail::acquire_all(detail::deadline::never(), locks...);
  }
  // An unlock that throws (a lock released behind the guard's back) ends the program.
  ~multi_lock() { set_.unlock_all(); }  // NOLINT(bugprone-exception-escape): see above
  multi_lock(const multi_lock&) = delete;
  multi_lock& operator=(const multi_lock&) = delete;
  multi_lock(multi_lock&&) = delete;
  multi_lock& operator=(multi_lock&&) = delete;

 private:
  detail::lock_set<L...> set_;
};

}  // namespace atomkit
