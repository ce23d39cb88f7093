// atomkit/robust_lock.hpp: ipc::robust_lock, a lock for memory shared between processes that
// survives the death of its holder (as a PTHREAD_MUTEX_ROBUST pthread mutex does).
//
// Usage: if (m.lock() == atomkit::ipc::lock_result::owner_died) { repair(); m.mark_consistent(); }
//        ...; m.unlock();
// Reference: docs/robust_lock.md
//
// Contract. Lockable and TimedLockable (std::scoped_lock, std::unique_lock work). When the thread
// holding it ends without unlocking (its process was killed, crashed or exited; or the thread
// itself exited), the next acquirer gets the lock *and* lock_result::owner_died (try_lock* return
// true); owner_died() then reports true until the new holder, having repaired the data it
// protects, calls mark_consistent(). An unlock() without mark_consistent() after owner_died makes
// the lock unrecoverable: every later lock() or try_lock*(), in every process, throws
// std::system_error(std::errc::state_not_recoverable) and waiters are woken to throw it. If the
// recovering holder dies too, the next acquirer is told owner_died again. A holder that cannot
// repair (it only took the lock in passing: lock_all's back-off, a condition_variable's wait)
// gives it back with unlock_unrepaired(): the lock is free and stays recoverable, and its next
// acquirer is told owner_died in turn.
//
// Mechanism. One 64-bit state word holds the holder's identity (kernel thread id and process id,
// detail/robust_owner.hpp), and waiters sleep on a shared futex (process_shared waiting), in
// slices: after 2 ms, then every 10 ms without the lock, a waiter checks whether the holder still
// lives (tgkill(pid, tid, 0), then /proc for a zombie). So a dead holder is detected within about
// 10 ms by any waiter, with no polling faster than that. A try_lock() that finds the lock held
// checks at once (then at most once per 10 ms per thread for the same holder). The kernel's
// robust-futex list is not used: glibc registers that list for its own mutexes in every thread,
// and sharing it would tie this lock to glibc's private, per-architecture layout.
//
// Limits (docs/robust_lock.md): every process using one lock must be in the same pid namespace;
// ids reused after the pid space wraps can make a long-dead holder look alive (waiters then wait
// for the impostor to end; never two holders); a holder's death is what ends its hold, so a
// holder stopped by SIGSTOP or a debugger is alive, as is one that called exec (unlike pthread
// robust mutexes, which exec releases); a child made without glibc's fork handlers (_Fork, raw
// clone) acts under its parent's ids. A thread that exits holding the lock is treated as dead,
// as with pthread robust mutexes. Under ThreadSanitizer, a recovery from a dead
// thread of the same process is reported as a double lock (TSan cannot be told to repair a lock).
//
// Progress: lock blocks; try_lock is wait-free but may make a few system calls (a liveness check)
// when it finds the lock held; unlock is wait-free (one futex_wake call when a waiter sleeps);
// try_lock_for/until block at most until the deadline (plus one liveness check). Not FIFO.
// Uncontended lock and unlock make no system call: a load and a compare-and-swap to lock; a load,
// a store and the shared handshake's fence (a futex lock's atomic exchange, in cost) to unlock.
//
// Memory: an unlock happens before the acquisition that follows it; the writes of a holder that
// died are visible to the acquirer that recovers the lock (its death, which the liveness check
// observes through the kernel, is after them).
//
// Misuse it detects (std::system_error, operation_not_permitted): unlock(), unlock_unrepaired()
// or mark_consistent() by a thread that does not hold the lock, mark_consistent() when
// owner_died() is false, lock() or try_lock_for/until by the thread that holds it (they could
// never succeed; try_lock() returns false). Place it in shared memory (shared_memory, or
// placement new in any MAP_SHARED mapping): it holds no pointers, so each process may map it at
// its own address. Under -fno-exceptions, misuse and an unrecoverable lock end the program with
// a message.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/lock_order_hook.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/tsan.hpp>
#include <atomkit/detail/wait_engine.hpp>

#if defined(ATOMKIT_ROBUST_OWNER_HEADER)
#include ATOMKIT_ROBUST_OWNER_HEADER
#else
#include <atomkit/detail/robust_owner.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#if ATOMKIT_EXCEPTIONS
#include <string>
#include <system_error>
#endif

namespace atomkit::ipc {

enum class lock_result { acquired, owner_died };

class robust_lock {
 public:
  robust_lock() noexcept { detail::tsan::mutex_create(this, 0); }
  ~robust_lock() {
    detail::on_destroy(this);
    detail::tsan::mutex_destroy(this);
  }
  robust_lock(const robust_lock&) = delete;
  robust_lock& operator=(const robust_lock&) = delete;
  robust_lock(robust_lock&&) = delete;
  robust_lock& operator=(robust_lock&&) = delete;

  // owner_died: the caller holds the lock and its previous holder died holding it.
  lock_result lock() { return result_of(acquire(detail::deadline::never(), false)); }

  bool try_lock() { return succeeded(acquire(detail::deadline::never(), true)); }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_lock, try_lock_timed, )

  // Whether the lock is in the owner_died condition (a snapshot): held by a thread that recovered
  // it from a dead holder (or took it after an unlock_unrepaired()) and has not called
  // mark_consistent() yet; or free after unlock_unrepaired(), its next acquirer to be told.
  [[nodiscard]] bool owner_died() const noexcept {
    return (state_.load(std::memory_order_relaxed) & died_bit) != 0;  // relaxed: a snapshot
  }

  // The holder repaired the protected data after owner_died.
  void mark_consistent() {
    // relaxed: only the holder writes a held state (a waiter's recovery CAS needs a dead holder),
    // so this thread reads its own last write.
    const std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (owner_of(s) != detail::robust::self() || (s & died_bit) == 0) {
      detail::misuse("ipc::robust_lock",
                     "mark_consistent() by a thread that does not hold the lock after owner_died");
    }
    // relaxed: the holder's own word; unlock()'s release store publishes it with the data.
    state_.store(s & ~died_bit, std::memory_order_relaxed);
  }

  void unlock() {
    // relaxed: only the holder writes a held state (see mark_consistent).
    const std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(owner_of(s) != detail::robust::self())) {
      detail::misuse("ipc::robust_lock", "unlock() by a thread that does not hold the lock");
    }
    release(s);
  }

  // Releases the lock, keeping the owner_died condition when it is set: the next acquirer gets
  // lock_result::owner_died (try_lock* true, owner_died() true) and repairs; the lock stays
  // recoverable. Without owner_died, the same as unlock(). For holders that cannot repair: lock_all
  // uses it to back off from a lock it recovered, condition_variable to wait with one.
  void unlock_unrepaired() {
    // relaxed: only the holder writes a held state (see mark_consistent).
    const std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(owner_of(s) != detail::robust::self())) {
      detail::misuse("ipc::robust_lock",
                     "unlock_unrepaired() by a thread that does not hold the lock");
    }
    release(s, true);
  }

  // Snapshots, for tests and diagnostics.
  [[nodiscard]] bool is_locked() const noexcept {
    return owner_of(state_.load(std::memory_order_relaxed)) != 0;  // relaxed: a snapshot
  }
  [[nodiscard]] bool is_unrecoverable() const noexcept {
    return (state_.load(std::memory_order_relaxed) & unrecoverable_bit) != 0;  // relaxed: snapshot
  }

 private:
  // The state word's bit map:
  //   bits  0..21  holder's thread id  } together the holder's identity (robust::self());
  //   bits 22..43  holder's process id }   0 when free
  //   bit  44      died_bit: the holder recovered the lock from a dead one; not yet consistent.
  //                With identity 0: free after unlock_unrepaired(), the next acquirer is told
  //   bit  45      unrecoverable_bit: terminal; no holder, every acquisition throws
  //   bits 46..63  sequence: advanced by every acquisition, so a state never recurs within
  //                2^18 acquisitions (the recovery CAS's protection against ids being reused)
  // Invariant: free  <=>  identity == 0 && !unrecoverable_bit (died_bit: free, owner_died owed).
  static constexpr std::uint64_t identity_mask = (std::uint64_t{1} << 44) - 1;
  static constexpr std::uint64_t died_bit = std::uint64_t{1} << 44;
  static constexpr std::uint64_t unrecoverable_bit = std::uint64_t{1} << 45;
  static constexpr unsigned sequence_shift = 46;
  static constexpr std::uint64_t sequence_one = std::uint64_t{1} << sequence_shift;
  static constexpr std::uint64_t sequence_mask = ~std::uint64_t{0} << sequence_shift;
  static_assert(2 * detail::robust::id_bits <= 44, "an identity fits below died_bit");
  static_assert((identity_mask & (died_bit | unrecoverable_bit | sequence_mask)) == 0 &&
                    (sequence_mask & (died_bit | unrecoverable_bit)) == 0,
                "the state's fields do not overlap");

  // holder_ending: busy, and the holder is being killed (check_holder only; callers see busy).
  enum class outcome { acquired, owner_died, busy, unrecoverable, self_deadlock, holder_ending };

  static constexpr std::uint64_t owner_of(std::uint64_t s) noexcept { return s & identity_mask; }
  static constexpr bool is_free(std::uint64_t s) noexcept {
    return (s & ~(sequence_mask | died_bit)) == 0;  // died_bit kept by unlock_unrepaired()
  }
  // The held state that follows s: the next sequence number, and `bits` (identity, died_bit).
  static constexpr std::uint64_t next_held(std::uint64_t s, std::uint64_t bits) noexcept {
    return ((s & sequence_mask) + sequence_one) | bits;  // the sequence wraps modulo 2^18
  }

  static lock_result result_of(outcome r) {
    failures(r);
    return r == outcome::owner_died ? lock_result::owner_died : lock_result::acquired;
  }
  static bool succeeded(outcome r) {
    failures(r);
    return r != outcome::busy;
  }
  static void failures(outcome r) {
    if (ATOMKIT_UNLIKELY(r == outcome::unrecoverable)) not_recoverable();
    if (ATOMKIT_UNLIKELY(r == outcome::self_deadlock)) {
      detail::misuse("ipc::robust_lock", "a blocking lock by the thread that holds it");
    }
  }

  [[noreturn]] ATOMKIT_NOINLINE static void not_recoverable() {
#if ATOMKIT_EXCEPTIONS
    throw std::system_error(std::make_error_code(std::errc::state_not_recoverable),
                            "atomkit::ipc::robust_lock: the lock is unrecoverable (unlocked after "
                            "owner_died without mark_consistent())");
#else
    std::fputs("atomkit::ipc::robust_lock: the lock is unrecoverable (unlocked after owner_died "
               "without mark_consistent())\n",
               stderr);
    std::abort();
#endif
  }

  bool try_lock_timed(const detail::deadline& dl) { return succeeded(acquire(dl, false)); }

  // The one acquisition path (lock, try_lock, timed forms), bracketed for TSan. `once`: a single
  // attempt and, if the lock is held, a check of its holder (try_lock).
  outcome acquire(const detail::deadline& dl, bool once) {
    const std::uint64_t me = detail::robust::self();
    detail::tsan::pre_lock(this, once || !dl.infinite() ? detail::tsan::try_lock : 0);
    outcome r = try_acquire(me);
    if (ATOMKIT_UNLIKELY(r == outcome::busy)) r = once ? check_holder(me) : acquire_slow(me, dl);
    if (r == outcome::holder_ending) r = outcome::busy;
    const bool ok = r == outcome::acquired || r == outcome::owner_died;
    const unsigned flags = once || !dl.infinite() ? detail::tsan::try_lock : 0;
    detail::tsan::post_lock(this, ok ? flags : flags | detail::tsan::try_lock_failed);
    // After success only (lock() may throw when the lock is unrecoverable): the lock-order
    // checker hears of an acquisition once it is one.
    if (ok) detail::on_acquire(this);
    return r;
  }

  // One attempt on a free lock: the fast path (a load and a CAS).
  outcome try_acquire(std::uint64_t me) noexcept {
    // relaxed: only chooses whether to try; the CAS below is what acquires.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(!is_free(s))) {
      return (s & unrecoverable_bit) != 0 ? outcome::unrecoverable : outcome::busy;
    }
    // Free after unlock_unrepaired(): this acquirer is told owner_died and repairs.
    const std::uint64_t died = s & died_bit;
    // acquire: pairs with the release store in release(): the last holder's writes are visible.
    // relaxed on failure: the caller re-reads the state.
    if (!state_.compare_exchange_strong(s, next_held(s, me | died), std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      return outcome::busy;
    }
    return died != 0 ? outcome::owner_died : outcome::acquired;
  }

  // The lock was found held: if its holder has ended, take it over with owner_died. Exactly one
  // caller can succeed for a given dead holder: the CAS expects the whole state, whose sequence
  // changes with every acquisition, and a dead holder cannot change it.
  ATOMKIT_NOINLINE outcome check_holder(std::uint64_t me) {
    // relaxed: only picks the holder to check; the CAS below (or try_acquire's) acquires.
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    if (is_free(s)) return try_acquire(me);
    if ((s & unrecoverable_bit) != 0) return outcome::unrecoverable;
    const std::uint64_t holder = owner_of(s);
    if (holder == me) return outcome::busy;  // try_lock by the holder: held (lock() checks this)
    if (detail::robust::recently_alive(s)) return outcome::busy;
    switch (detail::robust::check_owner(holder)) {
      case detail::robust::owner_status::alive:
        detail::robust::remember_alive(s);
        return outcome::busy;
      case detail::robust::owner_status::ending: return outcome::holder_ending;
      case detail::robust::owner_status::gone: break;
    }
    // acquire: the dead holder's writes come before its death, which the liveness check saw
    // through the kernel; this also pairs with the release store of the unlock that preceded the
    // dead holder's acquisition. relaxed on failure: someone else changed the state (recovered
    // it, or it was never dead at this sequence); the caller looks again.
    return state_.compare_exchange_strong(s, next_held(s, me | died_bit),
                                          std::memory_order_acquire, std::memory_order_relaxed)
               ? outcome::owner_died
               : outcome::busy;
  }

  // Sleeps on the shared futex in slices (first_check_ns, then check_interval_ns); after each
  // slice without the lock it checks the holder. At the caller's deadline, a last check.
  ATOMKIT_NOINLINE outcome acquire_slow(std::uint64_t me, const detail::deadline& dl) {
    // relaxed: only the holder can have stored its own identity, so this is exact for `me`.
    if (owner_of(state_.load(std::memory_order_relaxed)) == me) return outcome::self_deadlock;
    // The first slice is shorter: a waiter that arrives after the holder died finds out soon.
    std::int64_t slice_ns = detail::robust::first_check_ns;
    for (;;) {
      outcome r = outcome::busy;
      const detail::deadline slice =
          dl.sooner(detail::deadline::after(std::chrono::nanoseconds(slice_ns)));
      slice_ns = detail::robust::check_interval_ns;
      const bool done = detail::await<process_shared>(
          generation_, sleepers_,
          [&] {
            // seq_cst: read before the state, ordered against notify_one_pending's claim and bump
            // (wait_engine.hpp); it also pairs with the bump as an acquire.
            const std::uint32_t gen = generation_.load(std::memory_order_seq_cst);
            r = try_acquire(me);
            return r == outcome::busy ? detail::attempt::retry(gen) : detail::attempt::success();
          },
          slice, scope, detail::handshake::symmetric);
      if (done) return r;
      r = check_holder(me);
      if (r == outcome::holder_ending) {  // being killed: look again soon
        r = outcome::busy;
        slice_ns = detail::robust::ending_check_ns;
      }
      if (r != outcome::busy || dl.passed()) return r;
    }
  }

  // The one release path: frees the lock (keeping owner_died for the next acquirer when `keep`,
  // or making it unrecoverable after an unrepaired owner_died) and wakes a waiter (all of them,
  // to throw, when unrecoverable).
  void release(std::uint64_t s, bool keep = false) noexcept {
    detail::on_release(this);
    detail::tsan::pre_unlock(this, 0);
    if (ATOMKIT_LIKELY((s & died_bit) == 0 || keep)) {
      // release: pairs with the acquire CAS of the next acquirer; publishes the critical section
      // (and, with died_bit kept, what the dead holder left, which this thread saw).
      state_.store(s & (sequence_mask | died_bit), std::memory_order_release);
      detail::notify_one_pending<process_shared>(generation_, sleepers_, scope,
                                                 detail::handshake::symmetric);
    } else {
      // release: as above, for the acquirers' loads that see it (they throw).
      state_.store((s & sequence_mask) | unrecoverable_bit, std::memory_order_release);
      detail::notify_generation<process_shared>(generation_, sleepers_, detail::wake_all_count,
                                                scope, detail::handshake::symmetric);
    }
    detail::tsan::post_unlock(this, 0);
  }

  static constexpr detail::sharing scope = detail::sharing_of<process_shared>;

  detail::atomic<std::uint64_t> state_{0};        // the bit map above
  detail::atomic<std::uint32_t> sleepers_{0};     // waiters asleep + wake_pending (wait_engine)
  detail::atomic<std::uint32_t> generation_{0};   // the futex word the sleepers wait on
};

}  // namespace atomkit::ipc
