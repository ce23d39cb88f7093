// atomkit/condition_variable.hpp: Python's threading.Condition, for any lock.
//
// Usage: std::unique_lock g(m); cv.wait(g, [&] { return !q.empty(); });  // m: any lock
// Reference: docs/coordination.md
//
// wait(lock) takes any BasicLockable the caller holds: every atomkit lock (spinlock, ticket_lock,
// reentrant_lock, ...), std::unique_lock<M>, or a user type. A reentrant_lock held several times
// is released completely for the wait and taken back to the same depth, as Python's Condition
// does with an RLock. No allocation, no pointers in the object (it can live in shared memory with
// a process-shared policy), spurious wake-ups allowed (as with std), FIFO among the waiters that
// a notify releases.
//
// One lock per condition variable: every waiter of one condition variable must wait with the same
// lock (as std::condition_variable requires; std::condition_variable_any does not). notify_all's
// chain (below) has each released waiter wake the next only once it holds the lock again, so a
// waiter that waits with another lock is woken only when the first one's lock is free: a notifier
// that holds that lock while it waits for the second waiter deadlocks. Not detected (the object
// holds no pointers). The process-shared form's notify_all has no chain (it releases every waiter
// at once), so there the restriction does not apply.
//
// Robust locks (ipc::robust_lock, or any lock with owner_died() and unlock_unrepaired()): a wait
// with a lock in the owner_died condition (recovered, not yet repaired) releases it with
// unlock_unrepaired(), so the lock stays recoverable; the next acquirer (another thread, or this
// waiter when it takes the lock back) is told owner_died. After any wait returns, owner_died() on
// the lock says whether the caller holds a recovered lock to repair and mark_consistent().
//
// Process-shared (ipc::condition_variable): notify_all releases every waiting ticket at once, so
// a process killed inside wait() (its ticket stays in the window) does not hold up the others; a
// notify_one that releases a dead waiter's ticket is spent on it (as with a pthread condition
// variable). Each such dead ticket counts toward the 32767-waiter limit until a notify releases it.
//
// The protocol. Waiters take tickets; the state word (below) holds the ticket dispenser `tail`,
// how many of the newest tickets are still waiting (`window`: tickets tail-window .. tail-1),
// how many of those a notify_all chain still owes a release (`owed`), and `ghost` (a waiter that
// timed out left its ticket in the middle of the window). A ticket t is released once it is no
// longer in the window. Waiters sleep, through the waiting engine, on one of slot_count futex
// words picked by their ticket.
//   wait        (holding the lock) take ticket t; release the lock; wait until t is released or
//               the deadline passes; take the lock back; if released, pass the baton (below).
//   notify_one  release the oldest waiting ticket and wake its slot (a running notify_all chain
//               keeps owing the tickets after it).
//   notify_all  the same, and make the chain owe every other waiting ticket (`owed`); the
//               process-shared form releases the whole window instead (no chain).
//   baton       every released waiter, once it holds the lock again, releases the next owed
//               ticket (if the chain owes any) and wakes it.
// So notify_all does not stampede: a chain wakes one waiter, which wakes the next only once it
// holds the lock again, so a chain puts at most one woken waiter beside the lock's holder, as a
// kernel requeue onto the lock does (each further notify call adds at most one more). Every
// notify wakes a waiter itself (it never only extends a chain), so no notify waits behind a
// released waiter that is slow to be scheduled. Why the chain always completes: each release while
// the chain owes releases goes to a live waiter (a released ticket is never a ghost unless
// `ghost` is set, and then the chain's next step releases the whole window at once), and every
// released live waiter passes the baton exactly once; so while `owed` > 0 a released waiter that
// has not yet passed exists, and each pass either shrinks `owed` by one or empties it.
// Time-outs: a waiter whose deadline passes removes its ticket if it is the newest (tail moves
// back) or the oldest (the window shrinks), and otherwise marks `ghost`; while a ghost may sit in
// the window, the next notify or baton pass releases the whole window (every waiter wakes and
// re-checks: spurious wake-ups, never a lost one). A waiter that finds its ticket released when
// it times out reports no time-out and passes the baton: no notify is swallowed by a time-out.
// Why no wake-up is lost: a notify that follows, under the lock, the state change a waiter checked
// before it waited also follows that waiter's ticket (taken while holding the lock), so the
// notify sees it; the wake itself is the engine's handshake on the slot (store_load.hpp), as in
// ticket_lock.
//
// Progress: notify_one and notify_all are lock-free (a compare-and-swap loop that repeats only
// when another thread changed the state), and make no system call and no write when nobody waits;
// wait blocks; the timed forms block at most until the deadline, then take the lock back (which
// may block longer, as with std).
//
// Misuse it detects: wait with a lock the caller does not hold, where the lock can tell
// (std::system_error, operation_not_permitted; nothing changes): a std::unique_lock that owns
// nothing, a reentrant_lock that another thread (or nobody) holds, a spinlock or ticket_lock that
// nobody holds. Not detected: a spinlock or ticket_lock that another thread holds (they record no
// owner), and user lock types. More than 32767 threads waiting at once on one condition variable
// is also reported as misuse.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <concepts>
#include <condition_variable>  // std::cv_status
#include <cstdint>
#include <type_traits>
#include <utility>

namespace atomkit {

namespace detail {

// The mutex behind a lock passed to wait(): *l.mutex() for a wrapper, else the lock itself.
template <class Lock>
struct cv_mutex_of {
  using type = Lock;
};
template <class Lock>
  requires requires(Lock& l) { *l.mutex(); }
struct cv_mutex_of<Lock> {
  using type = std::remove_cvref_t<decltype(*std::declval<Lock&>().mutex())>;
};

// How a condition variable releases and retakes the caller's lock, and checks that it is held.
// Lock is the object passed to wait(); the mutex behind it is the lock itself or, for a
// std::unique_lock-like wrapper, *lock.mutex().
template <class Lock>
class cv_lock_access {
 public:
  explicit cv_lock_access(Lock& l) noexcept : lock_(l) {}

  // Throws system_error(operation_not_permitted) if the caller visibly does not hold the lock.
  void check_held() const {
    if constexpr (requires { lock_.owns_lock(); }) {
      if (!lock_.owns_lock()) {
        misuse("condition_variable", "wait with a unique_lock that owns no lock");
      }
    }
    auto& m = mutex();
    if constexpr (requires { m.held_by_this_thread(); }) {
      if (!m.held_by_this_thread()) {
        misuse("condition_variable", "wait with a lock the calling thread does not hold");
      }
    } else if constexpr (requires { m.is_locked(); }) {
      if (!m.is_locked()) misuse("condition_variable", "wait with a lock that nobody holds");
    } else if constexpr (requires { m.queue_length(); }) {
      if (m.queue_length() == 0) misuse("condition_variable", "wait with a lock that nobody holds");
    }
  }

  // Releases the lock completely (every level of a reentrant lock); returns the levels released.
  std::uint32_t release() {
    std::uint32_t extra = 0;
    auto& m = mutex();
    if constexpr (keeps_died) {
      if (m.owner_died()) {  // a recovered robust lock, not yet repaired: keep that for later
        m.unlock_unrepaired();  // a wrapper (unique_lock) keeps owning: reacquire() retakes m
        direct_ = true;
        return 1;
      }
    }
    if constexpr (requires { m.depth(); }) {
      extra = m.depth() - 1;  // check_held() saw the lock held by this thread: depth() >= 1
      for (std::uint32_t i = 0; i < extra; ++i) m.unlock();
    }
    lock_.unlock();
    return extra + 1;
  }

  // Takes the lock back to the depth release() returned.
  void reacquire(std::uint32_t levels) {
    auto& m = mutex();
    if constexpr (keeps_died) {
      if (direct_) {
#if ATOMKIT_EXCEPTIONS
        try {
          (void)m.lock();  // owner_died again (or a later holder's death): owner_died() says so
        } catch (...) {
          // Not retaken (unrecoverable): a wrapper must not unlock it later.
          if constexpr (!std::is_same_v<std::remove_cvref_t<decltype(m)>, Lock>) {
            (void)lock_.release();
          }
          throw;
        }
#else
        (void)m.lock();
#endif
        return;
      }
    }
    lock_.lock();
    for (std::uint32_t i = 1; i < levels; ++i) m.lock();
  }

 private:
  [[nodiscard]] auto& mutex() const noexcept {
    if constexpr (requires { lock_.mutex(); }) {
      return *lock_.mutex();
    } else {
      return lock_;
    }
  }

  using mutex_type = typename cv_mutex_of<Lock>::type;
  // A robust lock (owner_died(), unlock_unrepaired()), passed itself or in a wrapper that can
  // let go of it (release(), as std::unique_lock): a wait keeps its owner_died condition.
  static constexpr bool keeps_died =
      requires(mutex_type& m) {
        { m.owner_died() } -> std::convertible_to<bool>;
        m.unlock_unrepaired();
      } && (std::is_same_v<mutex_type, Lock> || requires(Lock& l) { l.release(); });

  Lock& lock_;
  bool direct_ = false;  // release() gave back a robust lock in the owner_died condition
};

}  // namespace detail

template <class Wait = park>
class basic_condition_variable {
 public:
  static constexpr std::uint32_t slot_count = 16;  // futex words waiters sleep on (by ticket)

  constexpr basic_condition_variable() noexcept = default;
  basic_condition_variable(const basic_condition_variable&) = delete;
  basic_condition_variable& operator=(const basic_condition_variable&) = delete;
  basic_condition_variable(basic_condition_variable&&) = delete;
  basic_condition_variable& operator=(basic_condition_variable&&) = delete;

  // Releases one waiting thread (the one waiting longest). No system call and no write when
  // nobody waits.
  void notify_one() noexcept { release_oldest(false); }

  // Releases every waiting thread, one after the other: the longest waiting now, each next one
  // when the one before it holds the lock again (process-shared: all at once). No system call and
  // no write when nobody waits.
  void notify_all() noexcept { release_oldest(true); }

  // Releases the lock, waits for a notify (or a spurious wake-up), takes the lock back.
  template <class Lock>
  void wait(Lock& lock) {
    (void)wait_impl(lock, detail::deadline::never());
  }

  template <class Lock, class Pred>
  void wait(Lock& lock, Pred stop_waiting) {
    while (!stop_waiting()) (void)wait_impl(lock, detail::deadline::never());
  }

  template <class Lock, class Rep, class Period>
  std::cv_status wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d) {
    return wait_impl(lock, detail::deadline::after(d));
  }
  template <class Lock, class Clock, class Duration>
  std::cv_status wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp) {
    return wait_impl(lock, detail::deadline::at(tp));
  }

  // The predicate forms return stop_waiting() as last evaluated, with the lock held. (The timed
  // forms are written out: detail/timed.hpp's helper makes forms without the lock argument.)
  template <class Lock, class Rep, class Period, class Pred>
  bool wait_for(Lock& lock, const std::chrono::duration<Rep, Period>& d, Pred stop_waiting) {
    return wait_pred(lock, detail::deadline::after(d), stop_waiting);
  }
  template <class Lock, class Clock, class Duration, class Pred>
  bool wait_until(Lock& lock, const std::chrono::time_point<Clock, Duration>& tp,
                  Pred stop_waiting) {
    return wait_pred(lock, detail::deadline::at(tp), stop_waiting);
  }

 private:
  // The state word, bit by bit:
  //   bits  0..31  tail:   the next ticket to hand out (wraps)
  //   bits 32..46  window: waiting tickets, the newest ones (tail - window .. tail - 1)
  //   bits 47..61  owed:   releases a notify_all chain still owes (the oldest `owed` of the window)
  //   bit  62      ghost:  a timed-out waiter may have left its ticket inside the window
  // Invariants: owed <= window; while ghost is clear every ticket in the window has a live
  // waiter; while owed > 0 (and ghost is clear) some released waiter has not yet passed the baton.
  static constexpr unsigned window_shift = 32;
  static constexpr unsigned owed_shift = 47;
  static constexpr unsigned ghost_shift = 62;
  static constexpr std::uint32_t count_mask = 0x7FFF;  // window and owed: 15 bits each
  static constexpr std::uint32_t max_waiters = count_mask;
  static_assert(window_shift + 15 == owed_shift && owed_shift + 15 == ghost_shift);
  static_assert(ghost_shift < 64);

  struct fields {
    std::uint32_t tail;
    std::uint32_t window;
    std::uint32_t owed;
    bool ghost;
  };
  static constexpr fields unpack(std::uint64_t s) noexcept {
    return {static_cast<std::uint32_t>(s),
            static_cast<std::uint32_t>(s >> window_shift) & count_mask,
            static_cast<std::uint32_t>(s >> owed_shift) & count_mask,
            ((s >> ghost_shift) & 1) != 0};
  }
  static constexpr std::uint64_t pack(const fields& f) noexcept {
    return std::uint64_t{f.tail} | (std::uint64_t{f.window} << window_shift) |
           (std::uint64_t{f.owed} << owed_shift) |
           (std::uint64_t{f.ghost ? 1U : 0U} << ghost_shift);
  }
  // Whether ticket t has left the window (t was handed out: 1 <= tail - t).
  static constexpr bool released(const fields& f, std::uint32_t t) noexcept {
    return f.tail - t > f.window;
  }

  static constexpr auto scope = detail::sharing_of<Wait>;
  // Process-shared: notify_all releases every waiter at once (no chain), so a waiter whose process
  // was killed in wait(), whose ticket stays in the window, never holds up a baton the others need.
  // No chain ever starts there (owed stays 0), so the baton is never owed either.
  static constexpr bool broadcast_all = scope == detail::sharing::process_shared;
  // Condition-variable waiters nearly always sleep, so the symmetric handshake (a fence on the
  // notifier's side, only when someone waits) is cheaper than membarrier on every sleep.
  static constexpr auto handshake = detail::handshake::symmetric;

  struct slot {
    detail::atomic<std::uint32_t> generation{0};  // futex word, advanced before each wake
    detail::atomic<std::uint32_t> sleepers{0};    // waiters asleep on it (park only)
  };

  slot& slot_of(std::uint32_t ticket) noexcept { return slots_[ticket % slot_count]; }

  // notify_one and notify_all: release the oldest waiting ticket and wake it; notify_all also makes
  // the chain owe the rest. A chain already running keeps what it owes (beyond the ticket
  // released here), so a notify never waits for a baton holder that is slow to run: it wakes a
  // waiter itself.
  void release_oldest(bool all) noexcept {
    // relaxed: a waiter whose state change this notify must see took its ticket before it
    // released the lock that the notifier took after it (happens-before), so coherence alone
    // makes this load see that ticket; the CAS below re-reads anyway.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      const fields f = unpack(s);
      if (ATOMKIT_LIKELY(f.window == 0)) return;
      if (f.ghost || (all && broadcast_all)) {
        release_window(s, f);
        return;
      }
      fields n = f;
      --n.window;  // the oldest ticket is released
      // notify_all: the chain owes every other waiter. notify_one: a running chain still owes
      // what it owed beyond the released ticket (all of the rest at most).
      n.owed = all || f.owed > n.window ? n.window : f.owed;
      // release: pairs with the acquire loads in the waiters' attempt and withdraw: a released
      // waiter sees what the notifier wrote before notifying.
      if (state_.compare_exchange_weak(s, pack(n), std::memory_order_release,
                                       std::memory_order_relaxed)) {
        wake_ticket(f.tail - f.window);
        return;
      }
    }
  }

  void wake_ticket(std::uint32_t ticket) noexcept {
    slot& sl = slot_of(ticket);
    detail::notify_generation<Wait>(sl.generation, sl.sleepers, detail::wake_all_count, scope,
                                    handshake);
  }

  // Releases every ticket in the window at once (ghost set: the chain cannot tell a ghost from a
  // waiter). s is the value last read, f its fields.
  void release_window(std::uint64_t s, fields f) noexcept {
    for (;;) {
      fields n = f;
      n.window = 0;
      n.owed = 0;
      n.ghost = false;
      // release: as in release_oldest.
      if (state_.compare_exchange_weak(s, pack(n), std::memory_order_release,
                                       std::memory_order_relaxed)) {
        break;
      }
      f = unpack(s);
      if (f.window == 0) return;
    }
    if constexpr (Wait::sleeps) {
      // One barrier for every slot (what notify_generation issues for one), then each slot's
      // sleepers, if any, are woken.
      detail::light_barrier(scope == detail::sharing::process_shared ||
                            handshake == detail::handshake::symmetric);
      const std::uint32_t n = f.window < slot_count ? f.window : slot_count;
      for (std::uint32_t i = 0; i < n; ++i) {
        slot& sl = slot_of(f.tail - 1 - i);
        detail::wake_generation(sl.generation, sl.sleepers, detail::wake_all_count, scope);
      }
    }
  }

  // Takes a ticket; called with the lock held.
  std::uint32_t take_ticket() {
    // relaxed: a guess for the CAS.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      fields f = unpack(s);
      if (ATOMKIT_UNLIKELY(f.window == max_waiters)) {
        detail::misuse("condition_variable", "more than 32767 threads waiting at once");
      }
      const std::uint32_t t = f.tail;
      ++f.tail;
      ++f.window;
      // relaxed: the caller's release of the lock, right after, orders this before any notify
      // that follows a state change made under the lock (see release_oldest).
      if (state_.compare_exchange_weak(s, pack(f), std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
        return t;
      }
    }
  }

  // A timed-out waiter withdraws ticket t; true if it found t released meanwhile (then it counts
  // as woken and passes the baton).
  bool withdraw(std::uint32_t t) noexcept {
    // acquire (this load and the failed CAS below): if the value read shows t released, the
    // waiter synchronizes with the release CAS of the notify or baton that released it.
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      const fields f = unpack(s);
      if (released(f, t)) return true;
      fields n = f;
      if (f.tail - t == 1) {
        --n.tail;  // the newest ticket: hand it out again
        --n.window;
        if (n.owed > n.window) n.owed = n.window;  // it was owed: the chain owes one fewer
      } else if (f.tail - t == f.window) {
        --n.window;  // the oldest ticket: the window starts after it
        if (n.owed > 0) --n.owed;  // it was next in the chain, whose baton holder goes on
      } else {
        n.ghost = true;
      }
      // acquire (failure): see the load above; on success withdrawing publishes nothing (a
      // notifier that reads the new state acts on the waiters it describes), but the failure
      // order may not be stronger than the success order.
      if (state_.compare_exchange_weak(s, pack(n), std::memory_order_acquire,
                                       std::memory_order_acquire)) {
        return false;
      }
    }
  }

  // The baton: a released waiter, holding the lock again, releases the next ticket the chain owes.
  void pass_baton() noexcept {
    // relaxed: a guess for the CAS.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      const fields f = unpack(s);
      if (ATOMKIT_LIKELY(f.owed == 0)) return;
      if (f.ghost) {
        release_window(s, f);
        return;
      }
      fields n = f;
      --n.window;
      --n.owed;
      // release: as in release_oldest.
      if (state_.compare_exchange_weak(s, pack(n), std::memory_order_release,
                                       std::memory_order_relaxed)) {
        wake_ticket(f.tail - f.window);
        return;
      }
    }
  }

  // Passes the baton when it goes out of scope, if the waiter was released: after the lock is
  // taken back, and also if taking it back throws.
  struct baton_guard {
    basic_condition_variable& cv;
    bool released;
    baton_guard(basic_condition_variable& c, bool r) noexcept : cv(c), released(r) {}
    baton_guard(const baton_guard&) = delete;
    baton_guard& operator=(const baton_guard&) = delete;
    ~baton_guard() {
      if (released) cv.pass_baton();
    }
  };

  // Releases the caller's lock after its ticket was taken. A lock whose unlock throws (a user type)
  // leaves the wait: the ticket is withdrawn (and a notify it received handed on) first, so no
  // ticket without a waiter stays in the line.
  template <class Access>
  std::uint32_t release_or_withdraw(Access& access, std::uint32_t t) {
#if ATOMKIT_EXCEPTIONS
    try {
      return access.release();
    } catch (...) {
      if (withdraw(t)) {  // released meanwhile: hand on what it was given
        pass_baton();
        release_oldest(false);
      }
      throw;
    }
#else
    (void)t;
    return access.release();
#endif
  }

  template <class Lock>
  std::cv_status wait_impl(Lock& lock, const detail::deadline& dl) {
    detail::cv_lock_access<Lock> access(lock);
    access.check_held();
    const std::uint32_t t = take_ticket();
    const std::uint32_t levels = release_or_withdraw(access, t);
    slot& sl = slot_of(t);
    bool woken = detail::await<Wait>(
        sl.generation, sl.sleepers,
        [this, &sl, t] {
          // acquire (generation): pairs with the release bump in notify_generation, so a waiter
          // that reads the new generation also reads the state that released it.
          const std::uint32_t g = sl.generation.load(std::memory_order_acquire);
          // acquire: pairs with the release CAS of the notify or baton that released t.
          const fields f = unpack(state_.load(std::memory_order_acquire));
          return released(f, t) ? detail::attempt::success() : detail::attempt::retry(g);
        },
        dl, scope, handshake, detail::short_spin_then_yield);
    if (!woken) woken = withdraw(t);
    const baton_guard baton(*this, woken);
    access.reacquire(levels);
    return woken ? std::cv_status::no_timeout : std::cv_status::timeout;
  }

  template <class Lock, class Pred>
  bool wait_pred(Lock& lock, const detail::deadline& dl, Pred& stop_waiting) {
    while (!stop_waiting()) {
      if (wait_impl(lock, dl) == std::cv_status::timeout) return stop_waiting();
    }
    return true;
  }

  detail::atomic<std::uint64_t> state_{0};  // tail, window, owed, ghost (bit map above)
  slot slots_[slot_count];                    // waiters sleep on slots_[ticket % slot_count]
};

using condition_variable = basic_condition_variable<park>;

}  // namespace atomkit
