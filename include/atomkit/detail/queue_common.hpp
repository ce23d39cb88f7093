// atomkit: what the queues share: queue_status, the element slot helpers, and division by an
// invariant integer (so that a ring of any capacity maps tickets to slots with no divide
// instruction on the hot path).
#pragma once

#include <atomkit/detail/config.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace atomkit {

// The result of every queue operation; [[nodiscard]]: a `closed` that nobody reads is a lost item.
//   try_push / try_pop never wait for another thread and never fail spuriously: full/empty only
//   when the queue really was. busy: the slot they need is held by another thread's operation
//   still in flight (P0260's name), so neither full/empty nor success can be answered without
//   waiting for it. Timed forms return by their deadline (timeout), never busy. A push that fails
//   (full, closed, timeout, busy) leaves the caller's value intact: moved from only on success.
enum class [[nodiscard]] queue_status { success, empty, full, closed, timeout, busy };

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

// How long a queue waiter spins before it parks (park) or yields (busy), adapted to what recent
// waits found, in the manner of glibc's adaptive mutexes: a wait satisfied while spinning
// lengthens the next spin by one attempt, a wait that had to yield or park halves it. Whether it
// had to is told by the engine (saw(phase), called by every attempt): the engine's own spin
// budget may end the spin before this limit does, and such a wait, counted as satisfied, made
// the limit only grow, so that a producer and consumer sharing a core spun out the whole budget
// (about 6 us) before each hand-over (bench/RESULTS.md, spsc_queue 1P1C). The partner a queue
// waiter waits for is on another core (then a short spin hands the element over without a system
// call) or, when threads outnumber cores, often on this one (then spinning only delays it).
// Attempts are rounds of the engine's backoff; the engine's own budget may end the spin first,
// and saw() is how the next limit learns that it did.
// Measurements behind the bounds: bench/RESULTS.md.
class queue_spin {
 public:
  static constexpr std::uint32_t min_attempts = 3;   //    3 pauses in all
  static constexpr std::uint32_t max_attempts = 30;  // 1535 pauses in all
  static constexpr std::uint32_t initial_attempts = 12;

  explicit queue_spin(std::uint32_t limit) noexcept : limit_(limit) {}
  // Called at the start of every attempt, with the phase the engine runs it in.
  void saw(wait_phase phase) noexcept { spun_out_ = spun_out_ || phase != wait_phase::spin; }
  // Called by try_once when its condition is false: may the waiter spin once more?
  bool more() noexcept { return ++n_ < limit_; }
  // The limit for the next wait: longer if this one was satisfied while spinning, else halved.
  [[nodiscard]] std::uint32_t next_limit() const noexcept {
    if (!spun_out_ && n_ < limit_) return limit_ < max_attempts ? limit_ + 1 : max_attempts;
    return limit_ / 2 > min_attempts ? limit_ / 2 : min_attempts;
  }

 private:
  std::uint32_t limit_;
  std::uint32_t n_ = 0;
  bool spun_out_ = false;  // an attempt ran after the spin phase (yield or sleep)
};

// The size in bytes of a ring of `count` elements of `size` bytes, refused (invalid_argument) when
// it is not representable: count * size overflows size_t, or exceeds PTRDIFF_MAX (no array can be
// that large, and pointer arithmetic across it would be undefined). Checked before allocating, so a
// huge capacity can never yield a small block that the constructor then writes past.
inline std::size_t ring_bytes(const char* primitive, std::size_t count, std::size_t size) {
  constexpr auto max_object = static_cast<std::size_t>(PTRDIFF_MAX);
  if (size == 0 || count > max_object / size) {
    invalid_argument(primitive, "capacity too large for the element size");
  }
  return count * size;
}

// Where a queue keeps its ring, a policy of the queue cores (the algorithms are the same):
//   heap_ring      allocated by the constructor (operator new), owned and freed by the queue: the
//                  in-process queues;
//   trailing_ring  in the bytes right behind the queue object, found at a fixed offset from
//                  `this`: the ipc queues (ipc_queue.hpp). Shared state then holds no pointer, so
//                  the queue works at whatever address each process maps it; whoever places the
//                  queue reserves those bytes, and nothing is freed.
struct heap_ring {};
struct trailing_ring {};

template <class Cell, class Ring>
class ring_storage;

template <class Cell>
class ring_storage<Cell, heap_ring> {
 public:
  // The constructor's one allocation; `offset` is the trailing ring's (unused here).
  void allocate(std::size_t /*offset*/, std::size_t bytes) {
    cells_ = static_cast<Cell*>(::operator new(bytes, std::align_val_t{alignof(Cell)}));
  }
  [[nodiscard]] Cell* get(const void* /*owner*/) const noexcept { return cells_; }
  void release() noexcept {
    ::operator delete(static_cast<void*>(cells_), std::align_val_t{alignof(Cell)});
  }

 private:
  Cell* cells_ = nullptr;
};

template <class Cell>
class ring_storage<Cell, trailing_ring> {
 public:
  void allocate(std::size_t offset, std::size_t /*bytes*/) noexcept { offset_ = offset; }
  [[nodiscard]] Cell* get(const void* owner) const noexcept {
    // The ring was placed `offset_` bytes behind the owner by whoever placed the owner (an address
    // computed from this process's own mapping of the owner, never stored).
    auto* base = const_cast<unsigned char*>(  // NOLINT(cppcoreguidelines-pro-type-const-cast)
        static_cast<const unsigned char*>(owner));
    return reinterpret_cast<Cell*>(base + offset_);
  }
  void release() noexcept {}

 private:
  std::size_t offset_ = 0;  // from the owner to its ring: an offset, valid at any address
};

// The offset of a trailing ring of `Cell` behind an object of `owner_size` bytes.
template <class Cell>
constexpr std::size_t trailing_offset(std::size_t owner_size) noexcept {
  return (owner_size + alignof(Cell) - 1) / alignof(Cell) * alignof(Cell);
}

template <class T>
inline constexpr bool queue_element_ok =
    std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>;

}  // namespace detail
}  // namespace atomkit
