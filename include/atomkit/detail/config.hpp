// atomkit: build configuration shared by every header.
#pragma once

#include <cstddef>

// ThreadSanitizer detection: GCC defines __SANITIZE_THREAD__, Clang answers __has_feature.
#if defined(__SANITIZE_THREAD__)
#define ATOMKIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ATOMKIT_TSAN 1
#endif
#endif
#ifndef ATOMKIT_TSAN
#define ATOMKIT_TSAN 0
#endif

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define ATOMKIT_EXCEPTIONS 1
#else
#define ATOMKIT_EXCEPTIONS 0
#endif

#if defined(__GNUC__)
#define ATOMKIT_LIKELY(x) __builtin_expect(!!(x), 1)
#define ATOMKIT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ATOMKIT_NOINLINE __attribute__((noinline))
#else
#define ATOMKIT_LIKELY(x) (x)
#define ATOMKIT_UNLIKELY(x) (x)
#define ATOMKIT_NOINLINE
#endif

namespace atomkit::detail {

// One cache line. Padding uses two lines (128 bytes) where false sharing matters, because x86's
// adjacent-line prefetcher pulls lines in pairs.
inline constexpr std::size_t cache_line = 64;
inline constexpr std::size_t pad_size = 128;

}  // namespace atomkit::detail
