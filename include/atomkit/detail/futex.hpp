// atomkit: the Linux futex system calls on a 32-bit word, with absolute CLOCK_MONOTONIC deadlines.
// The private/shared choice is a parameter: process-shared primitives pass shared = true.
#pragma once

#include <atomkit/detail/atomic.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

namespace atomkit::detail {

enum class futex_result { woken, value_changed, interrupted, timed_out };

// Word: detail::atomic<std::uint32_t>, or std::atomic<std::uint32_t> from the public wait.hpp
// (they differ in a model-checking build, which replaces this layer).
template <class Word>
std::uint32_t* futex_addr(const Word& word) noexcept {
  static_assert(sizeof(Word) == sizeof(std::uint32_t), "a futex word is 32 bits");
  // The kernel reads the word atomically; std::atomic<uint32_t> has the layout of uint32_t.
  return const_cast<std::uint32_t*>(reinterpret_cast<const std::uint32_t*>(&word));
}

// Sleep while *word == expected. abs_deadline is on CLOCK_MONOTONIC; nullptr waits forever.
template <class Word>
futex_result futex_wait(const Word& word, std::uint32_t expected,
                               const timespec* abs_deadline, bool shared) noexcept {
  const int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  const long rc = ::syscall(SYS_futex, futex_addr(word), op, expected, abs_deadline, nullptr,
                            FUTEX_BITSET_MATCH_ANY);
  if (rc == 0) return futex_result::woken;
  switch (errno) {
    case EAGAIN: return futex_result::value_changed;
    case ETIMEDOUT: return futex_result::timed_out;
    default: return futex_result::interrupted;  // EINTR; callers re-check and loop
  }
}

template <class Word>
void futex_wake(const Word& word, int count, bool shared) noexcept {
  const int op = FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  ::syscall(SYS_futex, futex_addr(word), op, count, nullptr, nullptr, 0);
}

}  // namespace atomkit::detail
