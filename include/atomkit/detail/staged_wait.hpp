// atomkit: a staged wait built from the waiting engine's own calls, for primitives whose waits are
// often short but whose threads often outnumber the CPUs (semaphores, events, barriers).
//
//   1. spin    up to `staged_spin` (the engine's spin phase, cut short by a deadline): a partner
//              running on another CPU usually answers within it;
//   2. yield   up to `staged_yield` (the busy policy with spinning off): a partner that shares
//              our CPU runs now, at the cost of a sched_yield, not of a whole spin budget;
//   3. wait    by the caller's policy with spinning off: park sleeps on the futex at once, busy
//              keeps yielding.
// Stage 2 is skipped for busy (stage 3 is the same thing). The caller's deadline is checked in
// every stage. No new spin or yield loop: each stage is one detail::await call.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>

namespace atomkit::detail {

inline constexpr std::chrono::nanoseconds staged_spin{4'000};
inline constexpr std::chrono::nanoseconds staged_yield{100'000};

// try_once(bool spin) is an engine attempt (it reads `word` first) that passes `spin` on to
// attempt::retry. spin_first = false skips stage 1 (spinning is known to be useless).
template <class Wait, class Try>
bool staged_await(const atomic<std::uint32_t>& word, atomic<std::uint32_t>& sleepers,
                  Try&& try_once, const deadline& dl, bool spin_first = true,
                  bool shared = false) noexcept {
  bool expired = false;
  // A stage ends early when the caller's deadline passes (after one more attempt).
  auto staged = [&](bool spin) {
    return [&, spin] {
      const attempt a = try_once(spin);
      if (!a.done && dl.passed()) {
        expired = true;
        return attempt::success();  // ends the stage; reported as a time-out below
      }
      return a;
    };
  };
  if (spin_first &&
      await<busy>(word, sleepers, staged(true), deadline::after(staged_spin), shared)) {
    return !expired;
  }
  if constexpr (Wait::sleeps) {
    if (await<busy>(word, sleepers, staged(false), deadline::after(staged_yield), shared)) {
      return !expired;
    }
  }
  return await<Wait>(word, sleepers, [&] { return try_once(false); }, dl, shared);
}

}  // namespace atomkit::detail
