// atomkit/reentrant_lock.hpp: a reentrant (recursive) lock whose lock word is a sequence counter,
// with optimistic reads in the manner of Java's StampedLock, but a reentrant writer side.
//
// Usage: atomkit::reentrant_lock m; std::scoped_lock g(m); /* may lock m again on this thread */
// Reference: docs/seqlock.md
//
// State: a 64-bit sequence, odd while the lock is held; the owner's thread id (kernel tid, 0 when
// free); the nesting depth, touched only by the owner. The sequence moves only at the outermost
// lock() and the last unlock(), so nested sections of the owner are invisible to readers.
//
// Optimistic reads. `stamp s = read_begin()` waits while another thread holds the lock and returns
// the (even) sequence; the caller reads shared data; `read_validate(s)` is true if no write section
// began or ended since s, and then what was read is a consistent view. `read(f)` loops this until
// a validated run of f and returns its result. The data the reader reads MUST be read with atomic
// loads (std::atomic or std::atomic_ref; memory_order_relaxed is enough), because a writer may be
// changing it meanwhile; the writer must store it atomically too (relaxed is enough). f may run
// several times and may see an inconsistent state on the runs that are discarded, so it must not
// act on what it reads before validation (no unbounded loops, no dereference of a pointer read
// from the data unless the pointee outlives the read).
//
// Owner reads: the owner may call read_begin/read(f) while it holds the lock. read_begin then
// returns at once with the current (odd) sequence, which validates for as long as the owner keeps
// the lock (nested lock/unlock included, since they do not move the sequence); it fails once the
// owner's last unlock() has run. The owner sees its own writes in program order.
//
// Ordering (no standalone fence on the lock/unlock hot path of the data it guards):
//   lock    fetch_or(1) on seq, even -> odd (acquire; on a held lock it changes nothing), then a
//           release fence: a reader whose relaxed load reads any store of the section sees the odd
//           sequence (or later) when it re-reads seq.
//   unlock  seq odd -> even (release store): pairs with the acquire fetch_or of the next owner and
//           with read_begin's acquire load.
//   validate  an acquire fence, then seq (relaxed): the caller's relaxed data loads cannot move
//           below the re-read. These two fences are compiler barriers on x86. TSan does not model
//           fences; they only make a validation fail (they carry "a writer was here", not data),
//           and what a validated reader relies on is published by unlock's release store and
//           read_begin's acquire load, which TSan sees. So TSan neither misses an edge a correct
//           program needs nor invents one that would hide a race.
//
// Progress:
//   lock             blocking (spins briefly, then sleeps for `park`, yields for `busy`).
//   try_lock         wait-free (one attempt; false if another thread holds the lock).
//   try_lock_for/until  blocking up to the deadline.
//   unlock           wait-free (a futex wake system call only when a thread sleeps).
//   held_by_this_thread, depth, read_validate   wait-free.
//   read_begin       wait-free when no other thread holds the lock; else blocks until it is free.
//   read(f)          blocking, and retries without bound while writers keep entering sections.
// Not FIFO: a releasing or spinning thread may take the lock before a sleeper that was woken.
//
// Misuse it detects: unlock() by a thread that does not hold the lock (std::system_error,
// operation_not_permitted; nothing changes); nesting deeper than 2^32 - 1.
//
// TSan sees it as a reentrant mutex: every level of nesting is announced, so TSan's recursion
// count follows depth(); data guarded by the lock is judged by the lock's happens-before.
//
// Process sharing: the owner is stored as a kernel thread id, an integer valid in every process;
// no pointers, no thread-local state in the object. A thread that exits while holding the lock
// leaves it held. Between processes use ipc::reentrant_lock (basic_reentrant_lock<process_shared>,
// ipc.hpp); a `park` or `busy` one in memory shared between processes is the caller's bug
// (docs/ipc.md). Thread ids are unique within one pid namespace only: every process using one lock
// must live in the same pid namespace (containers that share a mapping but not a pid namespace
// would see two owners with one id). After a holder died, a later thread that the kernel gives the
// same id (ids are reused after pid_max others) would be taken for the owner.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/fence.hpp>
#include <atomkit/detail/lock_order_hook.hpp>
#include <atomkit/detail/os.hpp>
#include <atomkit/detail/sequence.hpp>
#include <atomkit/detail/tsan.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

namespace atomkit {

template <class Wait = park>
class basic_reentrant_lock {
 public:
  using stamp = std::uint64_t;

  basic_reentrant_lock() noexcept { detail::tsan::mutex_create(this, detail::tsan::write_reentrant); }
  ~basic_reentrant_lock() {
    detail::on_destroy(this);
    detail::tsan::mutex_destroy(this);
  }
  basic_reentrant_lock(const basic_reentrant_lock&) = delete;
  basic_reentrant_lock& operator=(const basic_reentrant_lock&) = delete;

  void lock() {
    const std::uint32_t me = detail::this_thread_id();
    if (is_owner(me)) {
      nest();
      return;
    }
    detail::on_acquire(this);  // depth 0 -> 1 only; before blocking, so an inversion is reported
    detail::tsan::pre_lock(this, 0);
    if (ATOMKIT_UNLIKELY(!try_acquire_now())) lock_slow(detail::deadline::never());
    become_owner(me);
    detail::tsan::post_lock(this, 0);
  }

  bool try_lock() {
    const std::uint32_t me = detail::this_thread_id();
    if (is_owner(me)) {
      nest();
      return true;
    }
    const bool ok = detail::tsan::try_lock_bracket(this, [&] {
      if (!try_acquire()) return false;
      become_owner(me);
      return true;
    });
    if (ok) detail::on_acquire(this);  // depth 0 -> 1
    return ok;
  }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_lock, try_lock_timed)

  void unlock() {
    // relaxed: a thread reads its own id here only if it stored it itself (see is_owner).
    if (ATOMKIT_UNLIKELY(!is_owner(detail::this_thread_id()))) {
      detail::misuse("reentrant_lock", "unlock() by a thread that does not hold the lock");
    }
    // relaxed: depth_ is touched only by the owner, which we are.
    const std::uint32_t d = depth_.load(std::memory_order_relaxed);
    if (d == 1) detail::on_release(this);  // depth 1 -> 0 only
    detail::tsan::pre_unlock(this, 0);
    if (d > 1) {
      depth_.store(d - 1, std::memory_order_relaxed);  // relaxed: owner-only, as above
      detail::tsan::post_unlock(this, 0);
      return;
    }
    // relaxed: only the owner changes seq_ while it is odd (failed fetch_or's by others store the
    // same odd value), so this is our own odd value.
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    // relaxed: the next owner's acquire fetch_or (paired with the release store below) orders
    // this before its own store. depth_ is left as is: the next owner sets it, and only the
    // owner reads it.
    owner_.store(0, std::memory_order_relaxed);
    detail::tsan::post_unlock(this, 0);
    // release: pairs with the acquire fetch_or in try_acquire_now() and the acquire loads in
    // read_begin(): the section's writes are visible to the next owner and to readers that read
    // s + 1. Done after post_unlock so that TSan sees it as the release that optimistic readers
    // acquire.
    seq_.store(s + 1, std::memory_order_release);
    detail::notify_one_pending<Wait>(lock_gen_, lock_sleepers_);
    detail::notify_generation<Wait>(read_gen_, read_sleepers_, detail::wake_all_count);
  }

  [[nodiscard]] bool held_by_this_thread() const noexcept {
    return is_owner(detail::this_thread_id());
  }

  // Nesting depth held by the calling thread, else 0.
  [[nodiscard]] std::uint32_t depth() const noexcept {
    // relaxed: owner-only field, read by the owner (see is_owner).
    return is_owner(detail::this_thread_id()) ? depth_.load(std::memory_order_relaxed) : 0;
  }

  // Waits while another thread holds the lock; returns a stamp for read_validate().
  [[nodiscard]] stamp read_begin() const noexcept {
    // acquire: pairs with the release store in unlock(): a reader that reads s sees the writes of
    // every section that ended at or before s.
    const std::uint64_t s = seq_.load(std::memory_order_acquire);
    if (ATOMKIT_LIKELY((s & 1) == 0)) return s;
    if (is_owner(detail::this_thread_id())) return s;  // owner read: see file comment
    return await_unheld_seq();
  }

  // True if no write section began or ended since s was taken.
  [[nodiscard]] bool read_validate(stamp s) const noexcept {
    // Keeps the caller's data loads (relaxed allowed) above the re-read of seq_; pairs with the
    // release fence after the fetch_or in try_acquire_now(). TSan: see file comment.
    detail::acquire_fence();
    // relaxed: ordered by the fence above.
    return seq_.load(std::memory_order_relaxed) == s;
  }

  // Runs f() until a run is validated and returns that run's result. f reads shared data with
  // atomic loads (see file comment); it may run more than once.
  template <class F>
    requires std::invocable<F&>
  auto read(F&& f) const {
    for (;;) {
      const stamp s = read_begin();
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        f();
        if (read_validate(s)) return;
      } else {
        auto result = f();
        if (read_validate(s)) return result;
      }
    }
  }

 private:
  bool is_owner(std::uint32_t me) const noexcept {
    // relaxed: owner_ equals our id only if this thread stored it (ids of live threads are
    // unique), and a thread always reads its own latest store or a later one (coherence).
    return owner_.load(std::memory_order_relaxed) == me;
  }

  void nest() {
    // relaxed: owner-only field.
    const std::uint32_t d = depth_.load(std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(d == std::numeric_limits<std::uint32_t>::max())) {
      detail::misuse("reentrant_lock", "nesting depth overflow");
    }
    detail::tsan::pre_lock(this, 0);
    depth_.store(d + 1, std::memory_order_relaxed);  // relaxed: owner-only field
    detail::tsan::post_lock(this, 0);
  }

  void become_owner(std::uint32_t me) noexcept {
    // relaxed: written by the new owner after its acquire fetch_or; others compare it to their own id
    // only (see is_owner).
    owner_.store(me, std::memory_order_relaxed);
    depth_.store(1, std::memory_order_relaxed);  // relaxed: owner-only field
  }

  // One attempt. Setting the low bit takes a free lock (even s becomes s + 1) and leaves a held
  // one unchanged (odd | 1 == odd), so no compare-and-swap loop and no prior load is needed.
  bool try_acquire_now() noexcept {
    // acquire: pairs with the release store in unlock(): the previous section's writes are
    // visible. A failed attempt stores the value it read and synchronizes with nothing it uses.
    if (seq_.fetch_or(1, std::memory_order_acquire) & 1) return false;
    // The section's stores (the user's, any order) stay below the odd sequence for a reader that
    // reads one of them; pairs with the acquire fence in read_validate(). TSan: see file comment.
    detail::release_fence();
    return true;
  }

  // For waiters: look first, so that spinning on a held lock does not take its line exclusive.
  bool try_acquire() noexcept {
    // relaxed: a first look; the read-modify-write decides.
    return (seq_.load(std::memory_order_relaxed) & 1) == 0 && try_acquire_now();
  }

  bool acquire_until(const detail::deadline& dl) noexcept {
    return detail::await<Wait>(
        lock_gen_, lock_sleepers_,
        [this] {
          // seq_cst: the futex word first (engine protocol), ordered against
          // notify_one_pending's claim and bump; pairs with the bump as an acquire.
          const std::uint32_t g = lock_gen_.load(std::memory_order_seq_cst);
          return try_acquire() ? detail::attempt::success() : detail::attempt::retry(g);
        },
        dl);
  }

  ATOMKIT_NOINLINE void lock_slow(const detail::deadline& dl) noexcept { acquire_until(dl); }

  bool try_lock_timed(const detail::deadline& dl) {
    const std::uint32_t me = detail::this_thread_id();
    if (is_owner(me)) {
      nest();
      return true;
    }
    const bool ok = detail::tsan::try_lock_bracket(this, [&] {
      if (!try_acquire() && !acquire_until(dl)) return false;
      become_owner(me);
      return true;
    });
    if (ok) detail::on_acquire(this);  // depth 0 -> 1
    return ok;
  }

  // Waits, through the engine, until no other thread holds the lock; returns the even sequence.
  ATOMKIT_NOINLINE std::uint64_t await_unheld_seq() const noexcept {
    return detail::await_even_sequence<Wait>(seq_, read_gen_, read_sleepers_);
  }

  detail::atomic<std::uint64_t> seq_{0};     // odd while held; moves at outermost lock/unlock
  detail::atomic<std::uint32_t> owner_{0};   // kernel tid of the holder, 0 when free
  detail::atomic<std::uint32_t> depth_{0};   // nesting depth; touched only by the owner
  detail::atomic<std::uint32_t> lock_gen_{0};       // futex word for lock() waiters
  detail::atomic<std::uint32_t> lock_sleepers_{0};  // lock() waiters asleep on lock_gen_
  detail::atomic<std::uint32_t> read_gen_{0};               // futex word for read_begin waiters
  mutable detail::atomic<std::uint32_t> read_sleepers_{0};  // readers asleep on read_gen_
};

using reentrant_lock = basic_reentrant_lock<park>;

}  // namespace atomkit
