// atomkit: the ThreadSanitizer layer. Every __tsan_* call in the library goes through here; outside
// a TSan build each function is an empty inline and compiles to nothing.
//
// Locks bracket their acquire and release with the mutex annotations, so TSan treats them as
// mutexes: users' data races under an atomkit lock are judged by lock happens-before, and
// lock-order inversions between atomkit locks are reported. Between pre_* and post_* TSan ignores
// the lock's own memory accesses and synchronization.
#pragma once

#include <atomkit/detail/config.hpp>

#if ATOMKIT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace atomkit::detail::tsan {

#if ATOMKIT_TSAN
inline constexpr unsigned try_lock = __tsan_mutex_try_lock;
inline constexpr unsigned try_lock_failed = __tsan_mutex_try_lock_failed;
inline constexpr unsigned read_lock = __tsan_mutex_read_lock;
inline constexpr unsigned write_reentrant = __tsan_mutex_write_reentrant;
inline constexpr unsigned recursive_lock = __tsan_mutex_recursive_lock;
inline constexpr unsigned recursive_unlock = __tsan_mutex_recursive_unlock;

inline void mutex_create(const void* m, unsigned flags) noexcept {
  __tsan_mutex_create(const_cast<void*>(m), flags);
}
inline void mutex_destroy(const void* m) noexcept { __tsan_mutex_destroy(const_cast<void*>(m), 0); }
inline void pre_lock(const void* m, unsigned flags) noexcept {
  __tsan_mutex_pre_lock(const_cast<void*>(m), flags);
}
inline void post_lock(const void* m, unsigned flags, int recursion = 0) noexcept {
  __tsan_mutex_post_lock(const_cast<void*>(m), flags, recursion);
}
inline int pre_unlock(const void* m, unsigned flags) noexcept {
  return __tsan_mutex_pre_unlock(const_cast<void*>(m), flags);
}
inline void post_unlock(const void* m, unsigned flags) noexcept {
  __tsan_mutex_post_unlock(const_cast<void*>(m), flags);
}
// Plain happens-before edges for hand-made synchronization that TSan cannot see.
inline void acquire(const void* addr) noexcept { __tsan_acquire(const_cast<void*>(addr)); }
inline void release(const void* addr) noexcept { __tsan_release(const_cast<void*>(addr)); }
#else
inline constexpr unsigned try_lock = 0;
inline constexpr unsigned try_lock_failed = 0;
inline constexpr unsigned read_lock = 0;
inline constexpr unsigned write_reentrant = 0;
inline constexpr unsigned recursive_lock = 0;
inline constexpr unsigned recursive_unlock = 0;

inline void mutex_create(const void*, unsigned) noexcept {}
inline void mutex_destroy(const void*) noexcept {}
inline void pre_lock(const void*, unsigned) noexcept {}
inline void post_lock(const void*, unsigned, int = 0) noexcept {}
inline int pre_unlock(const void*, unsigned) noexcept { return 0; }
inline void post_unlock(const void*, unsigned) noexcept {}
inline void acquire(const void*) noexcept {}
inline void release(const void*) noexcept {}
#endif

// The one bracket for try-lock forms (try_lock, try_lock_for/until): announces a try-lock of m
// around attempt(), which returns whether the lock was taken, and reports a failure as such.
template <class Attempt>
bool try_lock_bracket(const void* m, Attempt&& attempt) noexcept {
  pre_lock(m, try_lock);
  const bool ok = attempt();
  post_lock(m, ok ? try_lock : try_lock | try_lock_failed);
  return ok;
}

}  // namespace atomkit::detail::tsan
