// The model build's owner identity and liveness for ipc::robust_lock (the contract is in
// include/atomkit/detail/robust_owner.hpp): one process, the model's thread index as thread id,
// and a per-thread "dead" flag that a suite's thread sets (release) as its last act when it dies
// holding the lock; check_owner reads it (acquire), as the real check observes a death through
// the kernel after the dead thread's last writes.
//
// Mutation for a control: check_owner reports every holder dead (a liveness check that lies).
#pragma once

#include "model_atomic.hpp"
#include "model_os.hpp"

#include <cstdint>

namespace model {

struct robust_mutation {
  static inline bool always_dead = false;
};

// The dead flags of the running execution, indexed by thread id (set by the suite's before()).
inline model::atomic<int>* robust_dead = nullptr;
inline constexpr int robust_max_threads = 8;

}  // namespace model

namespace atomkit::detail::robust {

inline constexpr unsigned id_bits = 22;
inline constexpr std::uint64_t id_mask = (std::uint64_t{1} << id_bits) - 1;
// Two model-clock reads per slice (model_os.hpp advances the clock 100 us per read).
inline constexpr std::int64_t check_interval_ns = 200'000;
inline constexpr std::int64_t first_check_ns = 100'000;
inline constexpr std::int64_t ending_check_ns = 100'000;

inline std::uint64_t self() noexcept {
  return std::uint64_t{this_thread_id()} | std::uint64_t{1} << id_bits;  // process id 1
}

enum class owner_status { alive, ending, gone };

inline owner_status check_owner(std::uint64_t owner) noexcept {
  if (model::robust_mutation::always_dead) return owner_status::gone;
  const auto tid = static_cast<int>(owner & id_mask);
  RL_ASSERT(tid > 0 && tid <= model::robust_max_threads);
  // acquire: pairs with the dying thread's release store of its flag.
  return model::robust_dead[tid].load(std::memory_order_acquire) == 0 ? owner_status::alive
                                                                      : owner_status::gone;
}

// No memo: every check asks (the model has no per-thread storage outside the suite).
inline bool recently_alive(std::uint64_t) noexcept { return false; }
inline void remember_alive(std::uint64_t) noexcept {}

}  // namespace atomkit::detail::robust
