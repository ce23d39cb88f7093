// atomkit: the one helper that derives every timed form (`X_for(duration)` and
// `X_until(time_point)`, and the queues' `const T&`/`T&&` overloads) from a single function
// taking a detail::deadline. Durations are measured from the call on the monotonic clock; time
// points of std::chrono::steady_clock are used as they are, those of other clocks converted once,
// at the call (detail/deadline.hpp).
#pragma once

#include <atomkit/detail/deadline.hpp>

#include <chrono>
#include <type_traits>

// Inside a class: RET NAME_for(d) QUALS and RET NAME_until(tp) QUALS, each `return IMPL(deadline)`.
#define ATOMKIT_DETAIL_TIMED_FORMS(RET, NAME, IMPL, ...)                                 \
  template <class Rep, class Period>                                                     \
  RET NAME##_for(const std::chrono::duration<Rep, Period>& d) __VA_ARGS__ {              \
    return IMPL(::atomkit::detail::deadline::after(d));                                  \
  }                                                                                      \
  template <class Clock, class Duration>                                                 \
  RET NAME##_until(const std::chrono::time_point<Clock, Duration>& tp) __VA_ARGS__ {     \
    return IMPL(::atomkit::detail::deadline::at(tp));                                    \
  }

// Inside a queue of T: NAME_for/NAME_until for T&& (moved from only on success) and for const T&
// (copied first), each `return IMPL(T& value, deadline)`.
#define ATOMKIT_DETAIL_TIMED_PUSH_FORMS(NAME, IMPL)                                      \
  template <class Rep, class Period>                                                     \
  queue_status NAME##_for(T&& v, const std::chrono::duration<Rep, Period>& d) noexcept { \
    return IMPL(v, ::atomkit::detail::deadline::after(d));                               \
  }                                                                                      \
  template <class Rep, class Period>                                                     \
  queue_status NAME##_for(const T& v, const std::chrono::duration<Rep, Period>& d)       \
      noexcept(std::is_nothrow_copy_constructible_v<T>) {                                \
    T copy(v);                                                                           \
    return IMPL(copy, ::atomkit::detail::deadline::after(d));                            \
  }                                                                                      \
  template <class Clock, class Duration>                                                 \
  queue_status NAME##_until(T&& v, const std::chrono::time_point<Clock, Duration>& tp)   \
      noexcept {                                                                         \
    return IMPL(v, ::atomkit::detail::deadline::at(tp));                                 \
  }                                                                                      \
  template <class Clock, class Duration>                                                 \
  queue_status NAME##_until(const T& v,                                                  \
                            const std::chrono::time_point<Clock, Duration>& tp)          \
      noexcept(std::is_nothrow_copy_constructible_v<T>) {                                \
    T copy(v);                                                                           \
    return IMPL(copy, ::atomkit::detail::deadline::at(tp));                              \
  }

// Inside a queue of T: NAME_for(T& out, d) and NAME_until(T& out, tp), each `return IMPL(out,
// deadline)`.
#define ATOMKIT_DETAIL_TIMED_POP_FORMS(NAME, IMPL)                                       \
  template <class Rep, class Period>                                                     \
  queue_status NAME##_for(T& out, const std::chrono::duration<Rep, Period>& d) noexcept { \
    return IMPL(out, ::atomkit::detail::deadline::after(d));                             \
  }                                                                                      \
  template <class Clock, class Duration>                                                 \
  queue_status NAME##_until(T& out, const std::chrono::time_point<Clock, Duration>& tp)  \
      noexcept {                                                                         \
    return IMPL(out, ::atomkit::detail::deadline::at(tp));                               \
  }
