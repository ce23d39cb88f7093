// atomkit: standalone acquire/release fences, for the few protocols that must order accesses the
// library does not perform itself (a user's relaxed loads inside an optimistic read, a user's
// stores inside a write section).
//
// TSan does not model fences (and GCC says so with -Wtsan, an error under -Werror). Every use site
// states why TSan needs no happens-before edge from its fence: where a fence only makes a
// validation FAIL (it carries the "a writer was here" fact, not data), TSan loses nothing, since
// data that a validated reader goes on to use is published by release/acquire atomics it models.
#pragma once

#include <atomic>

namespace atomkit::detail {

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif

// Orders the caller's earlier loads before its later loads and stores. A compiler barrier on x86.
inline void acquire_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_acquire);  // TSan: not modelled; see the file comment
}

// Orders the caller's earlier loads and stores before its later stores. A compiler barrier on x86.
inline void release_fence() noexcept {
  std::atomic_thread_fence(std::memory_order_release);  // TSan: not modelled; see the file comment
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

}  // namespace atomkit::detail
