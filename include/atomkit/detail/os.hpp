// atomkit: the OS layer, the one customization point for everything the algorithms need besides
// their atomics (those come through detail/atomic.hpp). A model-checking build defines
// ATOMKIT_OS_HEADER to a header of its own, included instead of os_linux.hpp, which must define in
// namespace atomkit::detail:
//
//   enum class futex_result { woken, value_changed, interrupted, timed_out };
//   futex_result futex_wait(const W& word, std::uint32_t expected, const timespec* abs_deadline,
//                           bool shared);    // sleep while word == expected; deadline on the
//                                            // monotonic clock, nullptr = none; spurious returns ok
//   void futex_wake(const W& word, int count, bool shared);   // W: any detail::atomic<uint32_t>
//   void light_barrier(bool symmetric);      // the release side of the store/load handshake
//   void heavy_barrier(bool symmetric);      // the sleeper's side (store_load.hpp)
//   void full_fence();                       // a StoreLoad barrier
//   void acquire_fence(); void release_fence();   // fence.hpp
//   void cpu_relax();                        // one pause inside a spin
//   void yield_now();                        // give the CPU away (sched_yield)
//   std::int64_t clock_now_ns();             // the monotonic clock, in nanoseconds
//   std::uint32_t this_thread_id();          // never 0; unique among live threads
//
// Nothing in either layer is constructed before main (function-local statics only), so that a
// model checker can run the library from its first call.
#pragma once

#if defined(ATOMKIT_OS_HEADER)
#include ATOMKIT_OS_HEADER
#else
#include <atomkit/detail/os_linux.hpp>
#endif
