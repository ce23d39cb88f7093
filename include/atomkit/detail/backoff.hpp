// atomkit: the CPU pause and the bounded exponential backoff used by the waiting engine's spin
// phase. Nothing outside detail/wait_engine.hpp spins.
#pragma once

#include <atomkit/detail/config.hpp>
#include <atomkit/detail/os.hpp>

#include <cstdint>

// Pauses a waiter spends before it sleeps or yields (overridable for tuning experiments).
#ifndef ATOMKIT_SPIN_BUDGET
#define ATOMKIT_SPIN_BUDGET 256
#endif

namespace atomkit::detail {

// Bounded exponential backoff: rounds of 1, 2, 4 ... max_round pauses, until `budget` pauses are
// spent. The budget (a few microseconds of pauses) is far below a scheduling quantum, so a waiter
// that would only burn its time slice behind a descheduled thread goes to sleep (or yields) early.
class backoff {
 public:
  static constexpr std::uint32_t max_round = 64;
  static constexpr std::uint32_t default_budget = ATOMKIT_SPIN_BUDGET;

  explicit backoff(std::uint32_t budget = default_budget) noexcept : budget_(budget) {}

  // One round of pauses; false, without pausing, once the budget is spent.
  bool pause() noexcept {
    if (spent_ >= budget_) return false;
    const std::uint32_t n = round_;
    for (std::uint32_t i = 0; i < n; ++i) cpu_relax();
    spent_ += n;
    if (round_ < max_round) round_ *= 2;
    return true;
  }
  [[nodiscard]] bool exhausted() const noexcept { return spent_ >= budget_; }

 private:
  std::uint32_t budget_;
  std::uint32_t round_ = 1;
  std::uint32_t spent_ = 0;
};

}  // namespace atomkit::detail
