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

// Bounded exponential backoff: rounds of 1, 2, 4 ... `cap` pauses, until `budget` pauses are spent.
// The budget (a few microseconds of pauses) is far below a scheduling quantum, so a waiter that
// would only burn its time slice behind a descheduled thread goes to sleep (or yields) early. The
// cap bounds how late a waiter notices a change (a round of 64 pauses is about 1.5 us on the
// development host; bench/RESULTS.md).
class backoff {
 public:
  static constexpr std::uint32_t max_round = 64;
  static constexpr std::uint32_t default_budget = ATOMKIT_SPIN_BUDGET;

  explicit backoff(std::uint32_t budget = default_budget, std::uint32_t cap = max_round) noexcept
      : budget_(budget), cap_(cap) {}
  static constexpr bool valid_cap(std::uint32_t cap) noexcept {
    return cap != 0 && cap <= max_round && (cap & (cap - 1)) == 0;
  }

  // One round of pauses; false, without pausing, once the budget is spent.
  bool pause() noexcept {
    if (spent_ >= budget_) return false;
    const std::uint32_t n = round_;
    for (std::uint32_t i = 0; i < n; ++i) cpu_relax();
    spent_ += n;
    if (round_ < cap_) round_ *= 2;
    return true;
  }
  [[nodiscard]] bool exhausted() const noexcept { return spent_ >= budget_; }

 private:
  std::uint32_t budget_;
  std::uint32_t cap_;  // the longest round: a power of two, at most max_round
  std::uint32_t round_ = 1;
  std::uint32_t spent_ = 0;
};

}  // namespace atomkit::detail
