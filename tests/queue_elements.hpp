// Element types shared by the queue tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

namespace queue_test {

// Counts live instances, to prove construction and destruction balance.
struct counted {
  static inline std::atomic<long> live{0};
  std::uint64_t v = 0;
  explicit counted(std::uint64_t x) noexcept : v(x) { live.fetch_add(1, std::memory_order_relaxed); }
  counted(const counted& o) noexcept : v(o.v) { live.fetch_add(1, std::memory_order_relaxed); }
  counted(counted&& o) noexcept : v(o.v) { live.fetch_add(1, std::memory_order_relaxed); }
  counted& operator=(const counted&) noexcept = default;
  counted& operator=(counted&&) noexcept = default;
  ~counted() { live.fetch_sub(1, std::memory_order_relaxed); }
};

// Move-only and not default-constructible.
struct move_only {
  std::unique_ptr<std::uint64_t> p;
  explicit move_only(std::uint64_t v) : p(std::make_unique<std::uint64_t>(v)) {}
  move_only(move_only&&) noexcept = default;
  move_only& operator=(move_only&&) noexcept = default;
};

}  // namespace queue_test
