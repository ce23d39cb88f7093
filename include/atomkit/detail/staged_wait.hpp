// atomkit: a staged wait built from the waiting engine's own calls, for primitives whose waits are
// often short but whose threads often outnumber the CPUs (semaphores, events, barriers).
//
//   1. spin    for `staged_spin_attempts` attempts of the engine's spin phase (its backoff rounds
//              of 1, 2, 4 ... 64 pauses: a few microseconds): a partner running on another CPU
//              usually answers within it;
//   2. yield   for up to `staged_yield` (the engine's yield loop, as the busy policy does): a
//              partner that shares our CPU runs now, at the cost of a sched_yield, not of a
//              whole spin budget;
//   3. wait    by the caller's policy with spinning off: park sleeps on the futex at once; for
//              busy, stage 2 simply goes on until the deadline.
// Stages 1 and 2 are one detail::await<busy> call whose attempt function ends them (by counting
// attempts, then by the clock, read only between yields); stage 3 is one detail::await<Wait>.
// No new spin or yield loop.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>

namespace atomkit::detail {

inline constexpr int staged_spin_attempts = 5;
inline constexpr std::int64_t staged_yield_ns = 100'000;

// try_once(bool spin) is an engine attempt (it reads `word` first) that passes `spin` on to
// attempt::retry. spin_first = false skips stage 1 (spinning is known to be useless).
template <class Wait, class Try>
bool staged_await(const atomic<std::uint32_t>& word, atomic<std::uint32_t>& sleepers,
                  Try&& try_once, const deadline& dl, bool spin_first = true,
                  bool shared = false) noexcept {
  int attempts = spin_first ? 0 : staged_spin_attempts;
  std::int64_t yield_end = 0;  // set at the first attempt of stage 2
  bool stage_over = false;
  const bool first_stages_done = await<busy>(
      word, sleepers,
      [&] {
        const bool spin = attempts < staged_spin_attempts;
        const attempt a = try_once(spin);
        if (a.done || spin) {
          ++attempts;
          return a;
        }
        if constexpr (Wait::sleeps) {  // stage 2 for park: bounded by the clock
          const std::int64_t now = deadline::now_ns();
          if (yield_end == 0) {
            yield_end = now + staged_yield_ns;
          } else if (now >= yield_end) {
            stage_over = true;
            return attempt::success();  // ends the stage; not a success of the caller's wait
          }
        }
        return a;
      },
      dl, shared);
  if (!stage_over) return first_stages_done;  // done, or the caller's deadline passed
  return await<Wait>(word, sleepers, [&] { return try_once(false); }, dl, shared);
}

}  // namespace atomkit::detail
