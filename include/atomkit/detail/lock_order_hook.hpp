// atomkit: the lock-order checker's hook, the one place where atomkit's locks tell the checker
// (atomkit/lock_order.hpp, src/lock_order.cpp) what they acquire, release and destroy.
//
// Usage (inside a lock): detail::on_acquire(this) once the lock is taken or about to be taken by a
// blocking lock(); detail::on_release(this) when it is given up; detail::on_destroy(this) in the
// destructor. A reentrant lock calls on_acquire/on_release only at depth 0 -> 1 and 1 -> 0.
// Reference: docs/lock_order.md
//
// Cost. Compiled with -DATOMKIT_LOCK_ORDER=0 every function here is empty. Otherwise, while the
// checker is off, each call is one relaxed load of a constant-initialized word and one branch
// that is never taken. The checker's work (a per-thread held-lock stack and lock-free lookups of
// the order pairs) runs out of line, in the library.
//
// lock_order_group: "the acquisitions inside this scope form no edges among themselves, but each is
// ordered after the locks the thread held before the scope". lock_all wraps its acquisition loop
// in one, since it takes its locks in an order of its own choosing that cannot deadlock.
#pragma once

#include <atomkit/detail/config.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

#ifndef ATOMKIT_LOCK_ORDER
#define ATOMKIT_LOCK_ORDER 1
#endif

namespace atomkit::detail::lock_order_hook {

// The checker's state word. Bit map:
//   bit 0  checking: enable() was called and disable() was not called since.
//   bit 1  tables exist (set once, never cleared): destroyed locks must be forgotten.
//   bits 2..63  epoch, advanced by every enable() and disable(): a thread whose held-lock stack
//               was recorded in an older epoch drops it (it may miss releases made while off).
inline constexpr std::uint64_t checking_bit = 1;
inline constexpr std::uint64_t tables_bit = 2;
inline constexpr unsigned epoch_shift = 2;

#if ATOMKIT_LOCK_ORDER
inline std::atomic<std::uint64_t> state{0};  // constant-initialized: no dynamic initializer

// Out of line, in the library (src/lock_order.cpp).
void acquired(const void* lock) noexcept;
void released(const void* lock) noexcept;
void destroyed(const void* lock) noexcept;
std::uint32_t group_begin() noexcept;
void group_end(std::uint32_t saved) noexcept;
#endif

// For atomkit's own tests: forgets every lock, order and report and sizes the tables anew
// (max_locks locks, max_orders ordered pairs); the checker is left off. Call it only while no
// other thread uses an atomkit lock.
void reset_for_tests(std::size_t max_locks, std::size_t max_orders) noexcept;

}  // namespace atomkit::detail::lock_order_hook

namespace atomkit::detail {

inline void on_acquire([[maybe_unused]] const void* lock) noexcept {
#if ATOMKIT_LOCK_ORDER
  // relaxed: a gate only. A thread that still sees the checker off skips this acquisition (and
  // the epoch then makes it drop its stack); the checker's tables are reached through their own
  // acquire loads.
  if (ATOMKIT_UNLIKELY(lock_order_hook::state.load(std::memory_order_relaxed) &
                       lock_order_hook::checking_bit)) {
    lock_order_hook::acquired(lock);
  }
#endif
}

inline void on_release([[maybe_unused]] const void* lock) noexcept {
#if ATOMKIT_LOCK_ORDER
  // relaxed: as in on_acquire.
  if (ATOMKIT_UNLIKELY(lock_order_hook::state.load(std::memory_order_relaxed) &
                       lock_order_hook::checking_bit)) {
    lock_order_hook::released(lock);
  }
#endif
}

inline void on_destroy([[maybe_unused]] const void* lock) noexcept {
#if ATOMKIT_LOCK_ORDER
  // relaxed: as in on_acquire. Tested even while the checker is off, so that a lock destroyed
  // then is forgotten too and a new lock at the same address starts with no order.
  if (ATOMKIT_UNLIKELY(lock_order_hook::state.load(std::memory_order_relaxed) &
                       lock_order_hook::tables_bit)) {
    lock_order_hook::destroyed(lock);
  }
#endif
}

// RAII: see the file comment. Scopes nest (an inner scope's locks are members of the outer one).
class lock_order_group {
 public:
  lock_order_group() noexcept {
#if ATOMKIT_LOCK_ORDER
    // relaxed: as in on_acquire.
    if (ATOMKIT_UNLIKELY(lock_order_hook::state.load(std::memory_order_relaxed) &
                         lock_order_hook::checking_bit)) {
      saved_ = lock_order_hook::group_begin();
      active_ = true;
    }
#endif
  }
  ~lock_order_group() {
#if ATOMKIT_LOCK_ORDER
    if (active_) lock_order_hook::group_end(saved_);
#endif
  }
  lock_order_group(const lock_order_group&) = delete;
  lock_order_group& operator=(const lock_order_group&) = delete;
  lock_order_group(lock_order_group&&) = delete;
  lock_order_group& operator=(lock_order_group&&) = delete;

 private:
#if ATOMKIT_LOCK_ORDER
  std::uint32_t saved_ = 0;
  bool active_ = false;
#endif
};

}  // namespace atomkit::detail
