// Element types shared by the queue tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

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

namespace queue_test {

// Stands in for a thread preempted in the middle of a push or pop: while armed and not yet opened,
// every move of a gated element waits here (moves into a slot are pushes, moves out are pops).
// The test opens the gate itself; the wait is also cut off `limit` after the gate was made, so
// that a queue which wrongly waits for such a move fails the test's timing checks instead of
// hanging it (a bound, not synchronization).
struct gate {
  static constexpr std::chrono::seconds limit{5};
  std::atomic<bool> armed{false};
  std::atomic<bool> opened{false};
  std::atomic<int> inside{0};  // moves waiting at the gate now
  const std::chrono::steady_clock::time_point give_up = std::chrono::steady_clock::now() + limit;

  void pass() noexcept {
    if (!armed.load() || opened.load()) return;
    inside.fetch_add(1);
    while (!opened.load() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
    inside.fetch_sub(1);
  }
  // Waits (yielding) until `n` moves wait at the gate; false if that did not happen in time.
  bool wait_inside(int n) const noexcept {
    while (inside.load() != n) {
      if (std::chrono::steady_clock::now() >= give_up) return false;
      std::this_thread::yield();
    }
    return true;
  }
};

// Move-only; a move leaves `moved_from` behind, so a test can see whether a failed push kept it.
struct gated {
  static constexpr std::uint64_t moved_from = ~std::uint64_t{0};
  std::uint64_t v;
  gate* g;
  explicit gated(std::uint64_t x, gate* gt = nullptr) noexcept : v(x), g(gt) {}
  gated(gated&& o) noexcept : v(o.v), g(o.g) {
    if (g != nullptr) g->pass();
    o.v = moved_from;
  }
  gated& operator=(gated&& o) noexcept {
    v = o.v;
    g = o.g;
    if (g != nullptr) g->pass();
    o.v = moved_from;
    return *this;
  }
  gated(const gated&) = delete;
  gated& operator=(const gated&) = delete;
  ~gated() = default;
};

// How long a call took, to check that try and timed forms return promptly.
template <class F>
std::chrono::milliseconds timed_call(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace queue_test
