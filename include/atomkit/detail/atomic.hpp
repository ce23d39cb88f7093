// atomkit: the one customization point through which every primitive reaches its atomics.
//
// A model-checking build defines ATOMKIT_ATOMIC_TEMPLATE (for example to Relacy's rl::atomic)
// before including any atomkit header; the algorithms are written against detail::atomic<T> only.
#pragma once

#include <atomic>
#include <cstdint>

namespace atomkit::detail {

#if defined(ATOMKIT_ATOMIC_TEMPLATE)
template <class T>
using atomic = ATOMKIT_ATOMIC_TEMPLATE<T>;
#else
template <class T>
using atomic = std::atomic<T>;
#endif

// The futex layer reinterprets a 32-bit atomic as the kernel's 32-bit word.
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace atomkit::detail
