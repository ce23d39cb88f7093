// atomkit/wait.hpp: the waiting engine on any 32-bit atomic word (docs/waiting.md).
//
// Usage: while (flag.load() == 0) atomkit::wait(flag, 0);
//        other thread: flag.store(1); atomkit::wake_all(flag);
// Reference: docs/waiting.md
//
// wait/wait_until sleep while the word holds `expected` (spurious returns allowed: call them in a
// loop that re-checks your condition). wake_one/wake_all make no system call when no thread sleeps
// on a word that hashes to the same bucket. Change the word (any memory order) before waking.
// Progress: wait and wait_until block; wake_one and wake_all are wait-free.
#pragma once

#include <atomkit/detail/config.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace atomkit {

namespace detail {

// Sleeper counts for words that carry none of their own, hashed by address. A collision only
// costs a needless futex_wake.
struct alignas(cache_line) sleeper_bucket {
  atomic<std::uint32_t> count{0};
};
inline atomic<std::uint32_t>& sleepers_for(const void* word) noexcept {
  // A function-local static (constant-initialized): nothing is constructed before main.
  static std::array<sleeper_bucket, 64> sleeper_table{};
  auto h = reinterpret_cast<std::uintptr_t>(word);
  h ^= h >> 12;
  h *= 0x9E3779B97F4A7C15ULL;
  return sleeper_table[(h >> 58) & 63].count;
}

inline wait_status wait_word(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                             const deadline& dl) noexcept {
  if (dl.passed()) return wait_status::timed_out;
  atomic<std::uint32_t>& sleepers = sleepers_for(&word);
  // relaxed: ordered before the word's re-check by the heavy barrier; together they are the
  // sleeper's half of the handshake with wake_one/wake_all (store_load.hpp).
  sleepers.fetch_add(1, std::memory_order_relaxed);
  heavy_barrier(/*symmetric=*/false);
  wait_status st = wait_status::woken;
  // acquire: pairs with the waker's store, so what it wrote before is visible on return.
  if (word.load(std::memory_order_acquire) == expected) {
    st = sleep_on(word, expected, dl, sharing::process_private);
  }
  // relaxed: the count is only a hint for wakers (see await()).
  sleepers.fetch_sub(1, std::memory_order_relaxed);
  return st;
}

}  // namespace detail

template <class Clock, class Duration>
wait_status wait_until(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                       const std::chrono::time_point<Clock, Duration>& deadline) noexcept {
  return detail::wait_word(word, expected, detail::deadline::at(deadline));
}

template <class Rep, class Period>
wait_status wait_for(const std::atomic<std::uint32_t>& word, std::uint32_t expected,
                     const std::chrono::duration<Rep, Period>& d) noexcept {
  return detail::wait_word(word, expected, detail::deadline::after(d));
}

inline void wait(const std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  detail::wait_word(word, expected, detail::deadline::never());
}

inline void wake_one(std::atomic<std::uint32_t>& word) noexcept {
  detail::notify<park>(word, detail::sleepers_for(&word), 1);
}

inline void wake_all(std::atomic<std::uint32_t>& word) noexcept {
  detail::notify<park>(word, detail::sleepers_for(&word), detail::wake_all_count);
}

}  // namespace atomkit
