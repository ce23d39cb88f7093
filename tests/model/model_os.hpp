// The model build's OS layer (see include/atomkit/detail/os.hpp for the contract), for Relacy:
// futex wait/wake on the model's atomics, every barrier a seq_cst fence (the symmetric handshake;
// Relacy cannot model membarrier), yield and pause as scheduling points, a model clock, and the
// model's thread index as the thread id.
//
// Mutations for the bug-injection controls: drop every futex wake, or remove the light or the
// heavy barrier.
#pragma once

#include "model_atomic.hpp"

#include <atomic>
#include <cstdint>
#include <ctime>
#include <source_location>

namespace model {

struct os_mutation {
  static inline bool drop_wake = false;
  static inline bool no_light_barrier = false;
  static inline bool no_heavy_barrier = false;
};

// The model clock: every read advances it by one step, so a deadline passes after a bounded
// number of reads whatever the schedule; Relacy also lets any timed futex wait time out.
inline constexpr std::int64_t clock_step_ns = 100'000;
inline std::int64_t clock_ns = 0;

// Called at the start of each execution.
inline void reset_os() { clock_ns = 1'000'000'000; }

}  // namespace model

namespace atomkit::detail {

enum class futex_result { woken, value_changed, interrupted, timed_out };

inline void model_fence(rl::memory_order mo, const std::source_location& l) {
  rl::atomic_thread_fence(mo, model::info(l));
}

template <class T>
futex_result futex_wait(const model::atomic<T>& word, std::uint32_t expected,
                        const timespec* abs_deadline, bool /*shared*/,
                        std::source_location l = std::source_location::current()) noexcept {
  rl::context& c = rl::ctx();
  c.sched();
  c.atomic_thread_fence_seq_cst();  // a futex system call is a full barrier
  std::uint32_t v = 0;
  {
    rl::preemption_disabler pd(c);  // the kernel's check-and-sleep is atomic
    v = word.model().load(rl::mo_acquire, model::info(l));
  }
  if (v != expected) return futex_result::value_changed;
  switch (word.model().wait(c, abs_deadline != nullptr, true, model::info(l))) {
    case rl::unpark_reason_normal: return futex_result::woken;
    case rl::unpark_reason_timeout: return futex_result::timed_out;
    default: return futex_result::interrupted;
  }
}

template <class T>
void futex_wake(const model::atomic<T>& word, int count, bool /*shared*/,
                std::source_location l = std::source_location::current()) noexcept {
  if (model::os_mutation::drop_wake || count <= 0) return;
  rl::context& c = rl::ctx();
  c.sched();
  c.atomic_thread_fence_seq_cst();
  const int n = count > 64 ? 64 : count;
  word.model().wake(c, static_cast<rl::thread_id_t>(n), model::info(l));
}

// The public wait.hpp works on std::atomic words, which the model cannot see: a spurious return.
inline futex_result futex_wait(const std::atomic<std::uint32_t>&, std::uint32_t, const timespec*,
                               bool) noexcept {
  return futex_result::interrupted;
}
inline void futex_wake(const std::atomic<std::uint32_t>&, int, bool) noexcept {}

inline void full_fence(std::source_location l = std::source_location::current()) noexcept {
  model_fence(rl::mo_seq_cst, l);
}
inline void light_barrier(bool /*symmetric*/,
                          std::source_location l = std::source_location::current()) noexcept {
  if (!model::os_mutation::no_light_barrier) model_fence(rl::mo_seq_cst, l);
}
inline void heavy_barrier(bool /*symmetric*/,
                          std::source_location l = std::source_location::current()) noexcept {
  if (!model::os_mutation::no_heavy_barrier) model_fence(rl::mo_seq_cst, l);
}
inline void acquire_fence(std::source_location l = std::source_location::current()) noexcept {
  model_fence(rl::mo_acquire, l);
}
inline void release_fence(std::source_location l = std::source_location::current()) noexcept {
  model_fence(rl::mo_release, l);
}

inline void cpu_relax(std::source_location l = std::source_location::current()) noexcept {
  rl::yield(1, model::info(l));
}
inline void yield_now(std::source_location l = std::source_location::current()) noexcept {
  rl::yield(1, model::info(l));
}
inline std::int64_t clock_now_ns() noexcept {
  model::clock_ns += model::clock_step_ns;
  return model::clock_ns;
}
inline std::uint32_t this_thread_id() noexcept { return rl::thread_index() + 1; }

}  // namespace atomkit::detail
