// atomkit: the wait shared by the sequence-counter primitives (seqlock, reentrant_lock): until no
// write section is open (the sequence is even), through the waiting engine, sleeping on a
// generation word that the writer advances (notify_generation) when it closes its section.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <cstdint>

namespace atomkit::detail {

// Returns the even sequence it saw (acquire).
template <class Wait>
std::uint64_t await_even_sequence(const atomic<std::uint64_t>& seq,
                                  const atomic<std::uint32_t>& generation,
                                  atomic<std::uint32_t>& sleepers) noexcept {
  std::uint64_t s = 0;
  await<Wait>(
      generation, sleepers,
      [&] {
        // acquire: the futex word first (engine protocol); pairs with notify_generation's
        // release increment.
        const std::uint32_t g = generation.load(std::memory_order_acquire);
        // acquire: pairs with the writer's release store of the even sequence, so what it wrote
        // in its section is visible to the caller.
        s = seq.load(std::memory_order_acquire);
        return (s & 1) == 0 ? attempt::success() : attempt::retry(g);
      },
      deadline::never());
  return s;
}

}  // namespace atomkit::detail
