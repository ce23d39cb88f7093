// The OS layer of the atomic-substitution build (atomic_substitution.cpp): the contract of
// include/atomkit/detail/os.hpp over counted_atomic, a type that is not layout-compatible with
// std::atomic, so the Linux layer's reinterpret_cast could not serve it. A futex wait here is a
// yield and a spurious return (allowed by the contract); every call is counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <thread>

namespace substitution {
inline std::atomic<long> futex_waits{0};
inline std::atomic<long> futex_wakes{0};
inline std::atomic<long> heavy_barriers{0};
}  // namespace substitution

namespace atomkit::detail {

enum class futex_result { woken, value_changed, interrupted, timed_out };

template <class Word>
futex_result futex_wait(const Word& word, std::uint32_t expected, const timespec*, bool) noexcept {
  substitution::futex_waits.fetch_add(1);
  if (word.load() != expected) return futex_result::value_changed;
  std::this_thread::yield();
  return futex_result::interrupted;
}
template <class Word>
void futex_wake(const Word&, int, bool) noexcept {
  substitution::futex_wakes.fetch_add(1);
}
inline void full_fence() noexcept { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void light_barrier(bool) noexcept { full_fence(); }
inline void heavy_barrier(bool) noexcept {
  substitution::heavy_barriers.fetch_add(1);
  full_fence();
}
inline void acquire_fence() noexcept { std::atomic_thread_fence(std::memory_order_acquire); }
inline void release_fence() noexcept { std::atomic_thread_fence(std::memory_order_release); }
inline void cpu_relax() noexcept {}
inline void yield_now() noexcept { std::this_thread::yield(); }
inline std::int64_t clock_now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
inline std::uint32_t this_thread_id() noexcept {
  static std::atomic<std::uint32_t> next{1};
  static thread_local const std::uint32_t id = next.fetch_add(1);
  return id;
}

}  // namespace atomkit::detail
