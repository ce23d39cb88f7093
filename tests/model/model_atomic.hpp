// The model build's atomic: Relacy's rl::atomic behind std::atomic's interface, substituted for
// detail::atomic through ATOMKIT_ATOMIC_TEMPLATE. Each operation records where it was called
// (std::source_location), so a failing execution's history names atomkit's own lines.
//
// Mutation (the bug-injection controls): an operation whose calling function's name contains
// `mutation::function` and whose order is `mutation::from` runs with `mutation::to` instead, so a
// control can turn, say, the release store of spinlock::unlock into a relaxed one and check that
// the model check catches it.
#pragma once

// Relacy defines macros ($, memory-order names) that break standard headers included after it:
// every standard header that atomkit's headers use comes first.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <source_location>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <relacy/relacy.hpp>

// Relacy's source-rewriting macros: atomkit is written against std's names, which the adapter
// below maps itself; allocations are left to the real allocator.
#undef memory_order_relaxed
#undef memory_order_consume
#undef memory_order_acquire
#undef memory_order_release
#undef memory_order_acq_rel
#undef memory_order_seq_cst
#undef new
#undef delete
#undef malloc
#undef calloc
#undef realloc
#undef free
#undef errno

namespace model {

struct mutation {
  static inline const char* function = nullptr;  // substring of the caller's function name
  static inline std::memory_order from = std::memory_order_seq_cst;
  static inline std::memory_order to = std::memory_order_seq_cst;
  static inline long applied = 0;  // how often it changed an order (a control must apply it)
  // A compare-exchange strong whose calling function's name contains this runs as a separate load,
  // compare and store (no longer atomic): the control for a CAS that must make one winner.
  static inline const char* split_cas = nullptr;
};

inline bool split_here(const std::source_location& loc) {
  if (mutation::split_cas == nullptr ||
      std::strstr(loc.function_name(), mutation::split_cas) == nullptr) {
    return false;
  }
  ++mutation::applied;
  return true;
}

inline rl::memory_order to_rl(std::memory_order mo, const std::source_location& loc) {
  if (mutation::function != nullptr && mo == mutation::from &&
      std::strstr(loc.function_name(), mutation::function) != nullptr) {
    mo = mutation::to;
    ++mutation::applied;
  }
  switch (mo) {
    case std::memory_order_relaxed: return rl::mo_relaxed;
    case std::memory_order_consume: return rl::mo_consume;
    case std::memory_order_acquire: return rl::mo_acquire;
    case std::memory_order_release: return rl::mo_release;
    case std::memory_order_acq_rel: return rl::mo_acq_rel;
    default: return rl::mo_seq_cst;
  }
}

inline rl::debug_info info(const std::source_location& loc) {
  return rl::debug_info(loc.function_name(), loc.file_name(), loc.line());
}

// The order a failed compare-exchange uses when only the success order is given (as std does).
inline std::memory_order failure_order(std::memory_order mo) {
  if (mo == std::memory_order_acq_rel) return std::memory_order_acquire;
  if (mo == std::memory_order_release) return std::memory_order_relaxed;
  return mo;
}

template <class T>
class atomic {
  using loc = std::source_location;

 public:
  static constexpr bool is_always_lock_free = true;

  atomic() : a_() { a_.store(T{}, rl::mo_relaxed, info(loc::current())); }
  atomic(T v) : a_() { a_.store(v, rl::mo_relaxed, info(loc::current())); }  // NOLINT
  atomic(const atomic&) = delete;
  atomic& operator=(const atomic&) = delete;

  T load(std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) const {
    return a_.load(to_rl(mo, l), info(l));
  }
  void store(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    a_.store(v, to_rl(mo, l), info(l));
  }
  T exchange(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.exchange(v, to_rl(mo, l), info(l));
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order success,
                             std::memory_order failure, loc l = loc::current()) {
    return a_.compare_exchange_weak(expected, desired, to_rl(success, l), info(l),
                                    to_rl(failure, l), info(l));
  }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order mo = std::memory_order_seq_cst,
                             loc l = loc::current()) {
    return compare_exchange_weak(expected, desired, mo, failure_order(mo), l);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order success,
                               std::memory_order failure, loc l = loc::current()) {
    if (split_here(l)) {
      const T seen = a_.load(to_rl(success == std::memory_order_release ? failure : success, l),
                             info(l));
      if (seen != expected) {
        expected = seen;
        return false;
      }
      a_.store(desired, rl::mo_relaxed, info(l));
      return true;
    }
    return a_.compare_exchange_strong(expected, desired, to_rl(success, l), info(l),
                                      to_rl(failure, l), info(l));
  }
  bool compare_exchange_strong(T& expected, T desired,
                               std::memory_order mo = std::memory_order_seq_cst,
                               loc l = loc::current()) {
    return compare_exchange_strong(expected, desired, mo, failure_order(mo), l);
  }
  T fetch_add(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.fetch_add(v, to_rl(mo, l), info(l));
  }
  T fetch_sub(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.fetch_sub(v, to_rl(mo, l), info(l));
  }
  T fetch_and(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.fetch_and(v, to_rl(mo, l), info(l));
  }
  T fetch_or(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.fetch_or(v, to_rl(mo, l), info(l));
  }
  T fetch_xor(T v, std::memory_order mo = std::memory_order_seq_cst, loc l = loc::current()) {
    return a_.fetch_xor(v, to_rl(mo, l), info(l));
  }

  // For the model OS layer's futex.
  rl::atomic<T>& model() const { return a_; }

 private:
  mutable rl::atomic<T> a_;
};

}  // namespace model
