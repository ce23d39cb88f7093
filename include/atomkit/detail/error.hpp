// atomkit: how misuse and bad arguments are reported (exceptions, or a message and abort under
// -fno-exceptions). Cold paths only.
#pragma once

#include <atomkit/detail/config.hpp>

#include <cstdio>
#include <cstdlib>
#if ATOMKIT_EXCEPTIONS
#include <stdexcept>
#include <string>
#include <system_error>
#endif

namespace atomkit::detail {

// A caller bug, such as unlocking a lock that is not held: std::system_error with
// std::errc::operation_not_permitted.
// A model-checking build may define ATOMKIT_MISUSE_HOOK(primitive, rule) to report misuse as a
// failure of the checked execution (it must not return): a model checker's threads cannot throw.
[[noreturn]] ATOMKIT_NOINLINE inline void misuse(const char* primitive, const char* rule) {
#if defined(ATOMKIT_MISUSE_HOOK)
  ATOMKIT_MISUSE_HOOK(primitive, rule);
#endif
#if ATOMKIT_EXCEPTIONS
  throw std::system_error(std::make_error_code(std::errc::operation_not_permitted),
                          std::string("atomkit::") + primitive + ": " + rule);
#else
  std::fprintf(stderr, "atomkit::%s: misuse: %s\n", primitive, rule);
  std::abort();
#endif
}

// A request that would deadlock the caller at once, such as naming one lock twice in one
// acquisition: std::system_error with std::errc::resource_deadlock_would_occur (as std::unique_lock
// reports a relock).
[[noreturn]] ATOMKIT_NOINLINE inline void would_deadlock(const char* primitive, const char* rule) {
#if ATOMKIT_EXCEPTIONS
  throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                          std::string("atomkit::") + primitive + ": " + rule);
#else
  std::fprintf(stderr, "atomkit::%s: misuse: %s\n", primitive, rule);
  std::abort();
#endif
}

// A bad constructor or call argument: std::invalid_argument.
[[noreturn]] ATOMKIT_NOINLINE inline void invalid_argument(const char* primitive, const char* rule) {
#if ATOMKIT_EXCEPTIONS
  throw std::invalid_argument(std::string("atomkit::") + primitive + ": " + rule);
#else
  std::fprintf(stderr, "atomkit::%s: invalid argument: %s\n", primitive, rule);
  std::abort();
#endif
}

}  // namespace atomkit::detail
