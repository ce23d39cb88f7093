// atomkit: a small integer naming the calling thread, for locks that record their owner.
//
// The id is the kernel thread id (gettid): unique among live threads of the whole system (per pid
// namespace), so an owner field holding it stays meaningful when the lock lives in memory shared
// between processes. It is cached in a thread_local of the *calling* code only; a lock stores it
// as a plain integer, never a pointer. The cache is reset in the child after fork(), whose only
// thread has a new id. Never 0, so 0 can mean "no owner".
#pragma once

#include <atomkit/detail/config.hpp>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace atomkit::detail {

inline std::uint32_t& thread_id_cache() noexcept {
  static thread_local std::uint32_t id = 0;  // constant-initialized: no TLS guard on the fast path
  return id;
}

ATOMKIT_NOINLINE inline std::uint32_t thread_id_slow() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { thread_id_cache() = 0; });
    return true;
  }();
  static_cast<void>(registered);
  const auto id = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  thread_id_cache() = id;
  return id;
}

// The calling thread's id: one thread-local load after the first call.
inline std::uint32_t this_thread_id() noexcept {
  const std::uint32_t id = thread_id_cache();
  return ATOMKIT_LIKELY(id != 0) ? id : thread_id_slow();
}

}  // namespace atomkit::detail
