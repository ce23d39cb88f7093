// atomkit: absolute deadlines on CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), with
// saturation so that "forever"-sized durations and time points do not overflow.
#pragma once

#include <atomkit/detail/os.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <type_traits>

namespace atomkit::detail {

class deadline {
 public:
  using clock = std::chrono::steady_clock;

  static constexpr deadline never() noexcept { return deadline(max_ns); }

  template <class Rep, class Period>
  static deadline after(const std::chrono::duration<Rep, Period>& d) noexcept {
    if (d <= d.zero()) return deadline(now_ns());
    // Anything beyond ~30 years is "forever"; the double check avoids overflow in the cast.
    if (std::chrono::duration<double>(d).count() > 1e9) return never();
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    const std::int64_t now = now_ns();
    return deadline(ns > max_ns - now ? max_ns : now + static_cast<std::int64_t>(ns));
  }

  template <class Clock, class Duration>
  static deadline at(const std::chrono::time_point<Clock, Duration>& tp) noexcept {
    if constexpr (std::is_same_v<Clock, clock>) {
      const auto since = tp.time_since_epoch();
      if (std::chrono::duration<double>(since).count() > 1e9) return never();
      if (since <= since.zero()) return deadline(0);
      return deadline(std::chrono::duration_cast<std::chrono::nanoseconds>(since).count());
    } else {
      // Other clocks are converted once, at the call, by their distance from now. The distance
      // is computed in floating point first: a coarse far-future time point (say
      // time_point<system_clock, seconds>::max()) overflows when brought to nanoseconds.
      const auto now = Clock::now();
      using secs = std::chrono::duration<double>;
      const double gap = secs(tp.time_since_epoch()).count() - secs(now.time_since_epoch()).count();
      if (gap > 1e9) return never();
      if (gap <= 0) return deadline(now_ns());
      return after(tp - now);
    }
  }

  // Whichever of the two comes first (for waits that wake up periodically before their deadline).
  [[nodiscard]] deadline sooner(const deadline& other) const noexcept {
    return ns_ <= other.ns_ ? *this : other;
  }

  [[nodiscard]] bool infinite() const noexcept { return ns_ == max_ns; }
  [[nodiscard]] bool passed() const noexcept { return !infinite() && now_ns() >= ns_; }
  [[nodiscard]] timespec to_timespec() const noexcept {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(ns_ / 1000000000);
    ts.tv_nsec = static_cast<long>(ns_ % 1000000000);
    return ts;
  }

  static std::int64_t now_ns() noexcept { return clock_now_ns(); }

 private:
  static constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();
  constexpr explicit deadline(std::int64_t ns) noexcept : ns_(ns) {}
  std::int64_t ns_;
};

}  // namespace atomkit::detail
