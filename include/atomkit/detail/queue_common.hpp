// atomkit: what the queues share: queue_status, the element slot helpers, and division by an
// invariant integer (so that a ring of any capacity maps tickets to slots with no divide
// instruction on the hot path).
#pragma once

#include <atomkit/detail/config.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace atomkit {

// The result of every queue operation (API.md, "Queues").
enum class queue_status { success, empty, full, closed, timeout };

namespace detail {

// NOLINTNEXTLINE(modernize-use-using): __extension__ (for -Wpedantic) needs the typedef form
__extension__ typedef unsigned __int128 uint128;

// Unsigned 64-bit division by a divisor fixed at construction, with one multiply-high, two
// shifts and two additions (Granlund and Montgomery, "Division by invariant integers using
// multiplication", 1994, fig. 4.1). Exact for every 64-bit numerator; divisors up to 2^62.
class invariant_divider {
 public:
  invariant_divider() noexcept = default;
  explicit invariant_divider(std::uint64_t d) noexcept : d_(d) {
    // l = ceil(log2 d); m = floor(2^64 * (2^l - d) / d) + 1 fits in 64 bits because 2^l - d < d.
    const unsigned l = d <= 1 ? 0u : 64u - static_cast<unsigned>(std::countl_zero(d - 1));
    const uint128 span = (uint128{1} << l) - d;
    m_ = static_cast<std::uint64_t>((span << 64) / d) + 1;
    s1_ = l < 1 ? l : 1;
    s2_ = l > 1 ? l - 1 : 0;
  }
  [[nodiscard]] std::uint64_t divisor() const noexcept { return d_; }
  [[nodiscard]] std::uint64_t quotient(std::uint64_t n) const noexcept {
    const auto t1 = static_cast<std::uint64_t>((uint128{m_} * n) >> 64);
    return (t1 + ((n - t1) >> s1_)) >> s2_;
  }

 private:
  std::uint64_t d_ = 1;
  std::uint64_t m_ = 1;
  unsigned s1_ = 0;
  unsigned s2_ = 0;
};

// Raw, suitably aligned storage for one element; constructed and destroyed explicitly.
template <class T>
struct element_storage {
  alignas(T) unsigned char bytes[sizeof(T)];

  T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  template <class... A>
  void construct(A&&... a) noexcept {
    ::new (static_cast<void*>(bytes)) T(std::forward<A>(a)...);
  }
  void destroy() noexcept { get()->~T(); }
};

// How long a queue waiter spins before it parks (park) or yields (busy): 10 attempts of the
// engine's backoff (1 + 2 + ... + 64 + 3 * 64 = 319 pauses, ~12 us where a pause costs ~38 ns, as
// on this project's AMD EPYC host), about what a futex sleep and wake-up cost, the classic
// competitive bound. The partner a queue waiter waits for is often on the same core when threads
// outnumber cores: spinning then only delays it. With the engine's full budget (2048 pauses,
// ~80 us here) a ping-pong between two threads that shared a core fell to ~10 k round trips/s.
// Must stay well below the engine's budget (record() in spsc_queue relies on it).
class queue_spin {
 public:
  static constexpr unsigned attempts = 10;
  bool more() noexcept { return ++n_ < attempts; }

 private:
  unsigned n_ = 0;
};

template <class T>
inline constexpr bool queue_element_ok =
    std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>;

}  // namespace detail
}  // namespace atomkit
