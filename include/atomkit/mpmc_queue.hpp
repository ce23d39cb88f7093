// atomkit/mpmc_queue.hpp: a bounded, linearizable MPMC FIFO with backpressure that parks
// (Python's queue.Queue(maxsize=N) as a ticket ring).
//
// Algorithm. Two 64-bit ticket counters, tail_ (pushes) and head_ (pops), each on its own padded
// line; tickets never wrap. Ticket t belongs to slot remap(t mod capacity) in lap t / capacity
// (computed by multiplication: detail::invariant_divider, so any capacity works with no divide on
// the hot path and the ring holds exactly `capacity` elements). Every slot carries a 32-bit turn
// word, which is also the futex word its waiters sleep on, and its own sleepers count:
//   turn == 2*lap      the producer holding a ticket of this lap may write the slot
//   turn == 2*lap + 1  the element is there; the consumer holding that ticket may take it
// (31 bits, compared for equality only, so the wrap is harmless; bit 31 is flipped once by
// close() to change every turn word, see below). Blocking push/pop take a ticket with one
// fetch_add, then wait for the slot's turn: a brief spin, then a futex sleep through the waiting
// engine on that slot's word. Finishing a push stores the turn and wakes only that slot's sleepers,
// with no system call when none sleeps (likewise a pop, for the producer of the next lap).
//
// Layout. Slots are padded to a power of two; inside each block of k*k slots (k slots per 128
// bytes) the index is remapped by swapping its two log2(k)-bit digits, so consecutive tickets
// land on different cache-line pairs (the ring is rounded up to a whole block; the extra slots are
// never used). Measured at capacity 1024 on the 2-core host (median of 3, M items/s at
// 2/4/8/16 threads): remapped 28.1/25.7/17.1/10.9, one slot per 128 bytes 30.3/27.4/17.4/11.4,
// contiguous 27.4/27.7/17.3/10.9: no difference beyond noise there (scheduling dominates with two
// cores). Remapping is kept: it costs two shifts, and padding would take 4x the memory for
// 8-byte elements (8 MiB instead of 2 MiB at capacity 65536).
//
// Spinning. A ticket holder spins a few microseconds before it parks, for a length adapted to
// whether recent waits were satisfied while spinning (detail::queue_spin).
//
// try_push/try_pop. They look at the slot of the current tail (head) ticket: if it is ready they
// claim the ticket with a CAS. If it is not, they report full (empty) only when no consumer
// (producer) has claimed the ticket that would free (fill) it, i.e. head + capacity <= tail
// (tail <= head) at that moment: the queue really was full (empty) then. Otherwise an operation
// on that slot is already in flight (a pop that took its ticket but has not finished reading, or a
// push not finished writing); reporting full/empty then would not be linearizable (a later push
// may already have completed), so they claim the ticket and wait for that in-flight operation.
// Timed forms never hold a ticket while they wait: they sleep on a per-side generation word that
// pops (pushes) advance when someone watches, and retry try_push/try_pop until the deadline.
//
// close(). One fetch_or sets bit 63 of tail_: from then on every push fails with `closed`
// (blocking pushes see the bit in the ticket they fetched; try_push's CAS cannot succeed). The
// tail value before the bit, T, is published in close_ticket_; then close() flips bit 31 of every
// turn word and wakes each slot's sleepers and all timed waiters. Tickets below T were handed to
// producers before the close:
//   - a producer holding one whose slot is free completes normally; one still waiting for space
//     gives up with `closed` (its value untouched) and marks the slot abandoned from its lap on
//     (a per-slot minimum: that slot can never reach a later lap either);
//   - a consumer holding ticket h waits (on the queue-wide pop generation, which every later push
//     and every abandonment advance) until its element arrives, or h >= T (no element will come:
//     it returns closed), or its slot is marked abandoned at or before its lap: a hole, and the
//     consumer takes a fresh ticket and tries again (so an element behind the hole still reaches
//     some consumer, and `closed` is reported only once everything pushed has been handed out).
// Nobody hangs: every ticket below T is either filled or marked, and every waiter is woken by a
// change of the word it sleeps on. (A waiter that reads a turn value stored after close()'s flip
// also sees close_ticket_: that store precedes the flip in close()'s program order, and x86 and
// ARMv8 are other-multi-copy-atomic; the engine's lost-wake-up argument is at that level too.)
//
// Progress: push and pop block (backpressure). try_push, try_pop, size, empty, is_closed and
// capacity never wait for space or elements; try_push/try_pop may wait for an operation already
// in flight on their slot (see above), so formally they are blocking, in practice a few hundred
// nanoseconds unless that thread is preempted. Timed forms block until their deadline. close() is
// wait-free apart from its O(capacity) wake-up sweep and futex calls.
//
// Elements live in raw storage constructed in place: move-only and non-default-constructible T
// work; T's move constructor must be noexcept (checked at compile time). Elements still inside
// are destroyed with the queue. The ring is allocated once, in the constructor.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/queue_common.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace atomkit {

template <class T, class Wait = park>
class mpmc_queue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "atomkit::mpmc_queue<T>: T's move constructor must be noexcept (an element moved "
                "into or out of a slot cannot be half-done)");
  static_assert(std::is_nothrow_destructible_v<T>,
                "atomkit::mpmc_queue<T>: T's destructor must be noexcept");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>,
                "atomkit::mpmc_queue<T>: T must be a non-const object type");

 public:
  using value_type = T;

  explicit mpmc_queue(std::size_t capacity) {
    if (capacity == 0) detail::invalid_argument("mpmc_queue", "capacity must be at least 1");
    if (capacity > max_capacity) detail::invalid_argument("mpmc_queue", "capacity too large");
    // capacity <= 2^40 (checked above), so the round-up to whole blocks cannot wrap; the product
    // with the slot size can (a slot is as large as T), and ring_bytes refuses that.
    const std::size_t physical = (capacity + block - 1) / block * block;
    const std::size_t bytes = detail::ring_bytes("mpmc_queue", physical, sizeof(slot));
    cap_ = capacity;
    div_ = detail::invariant_divider(capacity);
    physical_ = physical;
    void* raw = ::operator new(bytes, std::align_val_t{alignof(slot)});
    slots_ = static_cast<slot*>(raw);
    for (std::size_t i = 0; i < physical_; ++i) ::new (static_cast<void*>(&slots_[i])) slot();
  }

  ~mpmc_queue() {
    for (std::size_t i = 0; i < physical_; ++i) {
      // relaxed: the destructor runs after every other use of the queue (the caller's duty).
      if (slots_[i].turn.load(std::memory_order_relaxed) & 1u) slots_[i].data.destroy();
      slots_[i].~slot();
    }
    ::operator delete(static_cast<void*>(slots_), std::align_val_t{alignof(slot)});
  }

  mpmc_queue(const mpmc_queue&) = delete;
  mpmc_queue& operator=(const mpmc_queue&) = delete;

  // ---- blocking ----------------------------------------------------------------------------

  // Waits while the queue is full. success, or closed (the value is left with the caller).
  queue_status push(T&& v) noexcept {
    // relaxed: the RMW alone makes tickets unique; the slot's turn orders the data.
    const std::uint64_t t = tail_.fetch_add(1, std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(t & closed_bit)) return queue_status::closed;
    return fill(t, v);
  }
  queue_status push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      const std::uint64_t t = tail_.fetch_add(1, std::memory_order_relaxed);  // as in push(T&&)
      if (ATOMKIT_UNLIKELY(t & closed_bit)) return queue_status::closed;
      return fill(t, v);
    } else {
      T copy(v);  // may throw: before any ticket is taken
      return push(std::move(copy));
    }
  }

  // Waits while the queue is empty. success, or closed once closed and drained.
  queue_status pop(T& out) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "atomkit::mpmc_queue<T>::pop: T's move assignment must be noexcept");
    for (;;) {
      // relaxed: the RMW alone makes tickets unique; the slot's turn orders the data.
      const std::uint64_t h = head_.fetch_add(1, std::memory_order_relaxed);
      const where w = locate(h);
      const std::uint32_t want = (w.lap2 + 1) & seq_mask;
      // acquire: pairs with the producer's release store of the turn: the element is visible.
      if (ATOMKIT_UNLIKELY((w.s->turn.load(std::memory_order_acquire) & seq_mask) != want)) {
        const take r = await_element(*w.s, want, h, w.lap2 >> 1);
        if (r == take::hole) continue;
        if (r == take::closed) return queue_status::closed;
      }
      take_element(*w.s, want, out);
      return queue_status::success;
    }
  }

  // ---- non-blocking ------------------------------------------------------------------------

  // full only when the queue really was full; never takes the value unless it returns success.
  queue_status try_push(T&& v) noexcept { return try_push_impl(v); }
  queue_status try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      return try_push_impl(v);
    } else {
      T copy(v);
      return try_push_impl(copy);
    }
  }

  // empty only when the queue really was empty; closed once closed and drained.
  queue_status try_pop(T& out) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "atomkit::mpmc_queue<T>::try_pop: T's move assignment must be noexcept");
    // relaxed: a starting guess; the CAS below validates it.
    std::uint64_t h = head_.load(std::memory_order_relaxed);
    for (;;) {
      const where w = locate(h);
      const std::uint32_t want = (w.lap2 + 1) & seq_mask;
      // acquire: pairs with the producer's release store of the turn: the element is visible.
      const bool ready = (w.s->turn.load(std::memory_order_acquire) & seq_mask) == want;
      if (!ready) {
        // relaxed: a snapshot; with the head read above it decides whether ticket h is held by
        // a producer (the queue is not empty) or by nobody (it is, at this read).
        const std::uint64_t t = tail_.load(std::memory_order_relaxed);
        if ((t & ~closed_bit) <= h) return (t & closed_bit) ? queue_status::closed : queue_status::empty;
        // acquire: pairs with close()'s release store; a known boundary below h means drained.
        const std::uint64_t closed_at = close_ticket_.load(std::memory_order_acquire);
        if (closed_at != not_closed && h >= closed_at) return queue_status::closed;
      }
      // relaxed: claims ticket h; the slot's turn (acquire) orders the data.
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        if (!ready) {
          // A push holds this ticket: wait for it to finish (or for the close protocol).
          const take r = await_element(*w.s, want, h, w.lap2 >> 1);
          if (r == take::closed) return queue_status::closed;
          if (r == take::hole) {
            h = head_.load(std::memory_order_relaxed);  // relaxed: a fresh guess, as above
            continue;
          }
        }
        take_element(*w.s, want, out);
        return queue_status::success;
      }
    }
  }

  // ---- timed -------------------------------------------------------------------------------

  template <class Rep, class Period>
  queue_status try_push_for(T&& v, const std::chrono::duration<Rep, Period>& d) noexcept {
    return push_timed(v, detail::deadline::after(d));
  }
  template <class Rep, class Period>
  queue_status try_push_for(const T& v, const std::chrono::duration<Rep, Period>& d) noexcept(
      std::is_nothrow_copy_constructible_v<T>) {
    T copy(v);
    return push_timed(copy, detail::deadline::after(d));
  }
  template <class Clock, class Duration>
  queue_status try_push_until(T&& v, const std::chrono::time_point<Clock, Duration>& tp) noexcept {
    return push_timed(v, detail::deadline::at(tp));
  }
  template <class Clock, class Duration>
  queue_status try_push_until(const T& v, const std::chrono::time_point<Clock, Duration>& tp) noexcept(
      std::is_nothrow_copy_constructible_v<T>) {
    T copy(v);
    return push_timed(copy, detail::deadline::at(tp));
  }
  template <class Rep, class Period>
  queue_status try_pop_for(T& out, const std::chrono::duration<Rep, Period>& d) noexcept {
    return pop_timed(out, detail::deadline::after(d));
  }
  template <class Clock, class Duration>
  queue_status try_pop_until(T& out, const std::chrono::time_point<Clock, Duration>& tp) noexcept {
    return pop_timed(out, detail::deadline::at(tp));
  }

  // ---- close and observers -----------------------------------------------------------------

  // Pushes fail with closed from now on; every waiter wakes; pops drain, then report closed.
  void close() noexcept {
    // acq_rel: the linearization point of close; later fetch_adds see the bit.
    const std::uint64_t before = tail_.fetch_or(closed_bit, std::memory_order_acq_rel);
    if (before & closed_bit) return;
    // release: pairs with the acquire loads in closed_at() and the waiters' checks: a waiter that
    // sees the boundary sees the tail it came from. seq_cst keeps it before the flips below for
    // every observer.
    close_ticket_.store(before, std::memory_order_seq_cst);
    for (std::size_t i = 0; i < physical_; ++i) {
      slot& s = slots_[i];
      // acq_rel: changes every turn word, so that a waiter that read the old value and did not
      // see close_ticket_ cannot sleep through this (its futex_wait finds the word changed).
      s.turn.fetch_or(close_flip, std::memory_order_acq_rel);
      detail::notify<Wait>(s.turn, s.sleepers, detail::wake_all_count);
    }
    wake_watchers(pop_watch_, true);
    wake_watchers(push_watch_, true);
  }

  [[nodiscard]] bool is_closed() const noexcept {
    // acquire: pairs with close()'s fetch_or.
    return (tail_.load(std::memory_order_acquire) & closed_bit) != 0;
  }

  // A snapshot within [0, capacity()].
  [[nodiscard]] std::size_t size() const noexcept {
    // relaxed: a snapshot; head first, so a racing pop cannot make the difference negative
    // except through pops that took tickets ahead of pushes (waiting consumers), clamped to 0.
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    std::uint64_t t = tail_.load(std::memory_order_relaxed);
    if (t & closed_bit) {
      // acquire: the boundary, once published; failed pushes after close bump tail_ past it.
      const std::uint64_t c = close_ticket_.load(std::memory_order_acquire);
      t = c != not_closed ? c : (t & ~closed_bit);
    }
    if (t <= h) return 0;
    return static_cast<std::size_t>(std::min<std::uint64_t>(t - h, cap_));
  }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }

 private:
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t not_closed = ~std::uint64_t{0};
  static constexpr std::uint32_t seq_mask = 0x7fffffffu;
  static constexpr std::uint32_t lap_mask = seq_mask >> 1;
  static constexpr std::uint32_t close_flip = 0x80000000u;
  static constexpr std::uint32_t marked = 0x80000000u;  // in `abandoned`: a lap is recorded
  static constexpr std::size_t max_capacity = std::size_t{1} << 40;

  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): `data` is raw storage, built in place
  struct slot_fields {
    detail::atomic<std::uint32_t> turn{0};       // futex word: see the file comment
    detail::atomic<std::uint32_t> sleepers{0};   // waiters asleep on turn
    detail::atomic<std::uint32_t> abandoned{0};  // marked | first lap given up after close
    detail::element_storage<T> data;
  };
  static constexpr std::size_t slot_align =
      std::max(alignof(slot_fields), std::min(std::bit_ceil(sizeof(slot_fields)), detail::pad_size));
  struct alignas(slot_align) slot : slot_fields {};
  // k slots share a 128-byte pair of lines; blocks of k*k slots are remapped (file comment).
  static constexpr std::size_t per_pad = sizeof(slot) >= detail::pad_size ? 1 : detail::pad_size / sizeof(slot);
  static constexpr unsigned digit = static_cast<unsigned>(std::countr_zero(per_pad));
  static constexpr std::size_t block = per_pad * per_pad;
  static_assert(std::has_single_bit(per_pad));

  enum class take { item, hole, closed };
  struct where {
    slot* s;
    std::uint32_t lap2;  // 2 * lap, modulo 2^31
  };
  struct alignas(detail::pad_size) watch {
    detail::atomic<std::uint32_t> generation{0};  // futex word: advanced when watchers may go on
    detail::atomic<std::uint32_t> sleepers{0};
  };

  static std::size_t remap(std::uint64_t i) noexcept {
    if constexpr (per_pad == 1) {
      return static_cast<std::size_t>(i);
    } else {
      const std::uint64_t lo = i & (per_pad - 1);
      const std::uint64_t mid = (i >> digit) & (per_pad - 1);
      return static_cast<std::size_t>((i & ~std::uint64_t{block - 1}) | (lo << digit) | mid);
    }
  }

  [[nodiscard]] where locate(std::uint64_t ticket) const noexcept {
    const std::uint64_t lap = div_.quotient(ticket);
    const std::uint64_t index = ticket - lap * cap_;
    return {&slots_[remap(index)], (static_cast<std::uint32_t>(lap) << 1) & seq_mask};
  }

  // Lap `a` comes strictly before lap `b`; laps are kept modulo 2^30 (they are never 2^29 apart).
  static bool lap_before(std::uint32_t a, std::uint32_t b) noexcept {
    const std::uint32_t d = (b - a) & lap_mask;
    return d != 0 && d < (lap_mask >> 1);
  }

  [[nodiscard]] std::uint64_t closed_at() const noexcept {
    // acquire: pairs with close()'s store, so the boundary is the one close() computed.
    return close_ticket_.load(std::memory_order_acquire);
  }

  template <class V>
  queue_status fill(std::uint64_t t, V& v) noexcept {
    const where w = locate(t);
    // acquire: pairs with the release store of the consumer that emptied this slot last lap, so
    // its reads of the old element happen before our write.
    if (ATOMKIT_UNLIKELY((w.s->turn.load(std::memory_order_acquire) & seq_mask) != w.lap2)) {
      if (!await_space(*w.s, w.lap2)) return queue_status::closed;
    }
    if constexpr (std::is_same_v<V, T>) {
      w.s->data.construct(std::move(v));
    } else {
      w.s->data.construct(v);  // const T&, nothrow copy
    }
    // release: publishes the element to the consumer's acquire load of the turn.
    w.s->turn.store((w.lap2 + 1) & seq_mask, std::memory_order_release);
    detail::notify<Wait>(w.s->turn, w.s->sleepers, detail::wake_all_count);
    wake_watchers(pop_watch_, false);
    return queue_status::success;
  }

  void take_element(slot& s, std::uint32_t want, T& out) noexcept {
    T* p = s.data.get();
    out = std::move(*p);
    p->~T();
    // release: pairs with the next lap's producer's acquire load: our reads happen before its write.
    s.turn.store((want + 1) & seq_mask, std::memory_order_release);
    detail::notify<Wait>(s.turn, s.sleepers, detail::wake_all_count);
    wake_watchers(push_watch_, false);
  }

  void tune_spin(const detail::queue_spin& spin) noexcept {
    const std::uint32_t next = spin.next_limit();
    // relaxed: a tuning hint shared by this queue's waiters; lost updates are harmless, and
    // storing only on change keeps the line quiet once the limit settles.
    if (spin_limit_.load(std::memory_order_relaxed) != next) {
      spin_limit_.store(next, std::memory_order_relaxed);
    }
  }

  // Advances a watch's generation and wakes its sleepers, if there are any (always, on close).
  void wake_watchers(watch& w, bool always) noexcept {
    if (always) {
      // release: a watcher that reads the new generation (acquire) sees the state change.
      w.generation.fetch_add(1, std::memory_order_release);
      detail::notify<Wait>(w.generation, w.sleepers, detail::wake_all_count);
    } else {
      detail::notify_generation<Wait>(w.generation, w.sleepers, detail::wake_all_count);
    }
  }

  // A producer holding a ticket waits for its slot. false: the queue closed first; the slot is
  // marked abandoned from this lap on and the value stays with the caller.
  ATOMKIT_NOINLINE bool await_space(slot& s, std::uint32_t want) noexcept {
    if (await_turn(s, want)) return true;
    abandon(s, want >> 1);
    return false;
  }

  // A ticket holder (producer or consumer) waits until its slot's turn is `want` (true) or the
  // queue closes first (false).
  bool await_turn(slot& s, std::uint32_t want) noexcept {
    bool closed = false;
    // relaxed: a tuning hint shared by this queue's waiters; lost updates are harmless.
    detail::queue_spin spin(spin_limit_.load(std::memory_order_relaxed));
    detail::await<Wait>(
        s.turn, s.sleepers,
        [&] {
          // acquire: pairs with the other side's release store of the turn (see fill()), so the
          // element (or the emptied slot) that store published is visible.
          const std::uint32_t x = s.turn.load(std::memory_order_acquire);
          if ((x & seq_mask) == want) return detail::attempt::success();
          if (closed_at() != not_closed) {
            closed = true;
            return detail::attempt::success();
          }
          return detail::attempt::retry(x, spin.more());
        },
        detail::deadline::never(), false, detail::handshake::asymmetric, detail::spin_then_yield);
    tune_spin(spin);
    return !closed;
  }

  void abandon(slot& s, std::uint32_t lap) noexcept {
    // relaxed: the CAS below decides; a stale value only costs a retry.
    std::uint32_t cur = s.abandoned.load(std::memory_order_relaxed);
    while (!(cur & marked) || lap_before(lap, cur & lap_mask)) {
      // release: pairs with the acquire load in await_element (no data rides on it, but the
      // consumer must see the mark together with the generation bump below).
      if (s.abandoned.compare_exchange_weak(cur, marked | lap, std::memory_order_release,
                                            std::memory_order_relaxed)) {
        break;
      }
    }
    wake_watchers(pop_watch_, true);
  }

  // A consumer holding ticket h waits for its element: item, hole (its producer gave up after
  // close: take another ticket) or closed (no producer ever held h).
  ATOMKIT_NOINLINE take await_element(slot& s, std::uint32_t want, std::uint64_t h,
                                      std::uint32_t lap) noexcept {
    if (await_turn(s, want)) return take::item;
    // Closed: the producer of h (if any) will either publish or mark; both advance pop_watch_.
    const std::uint64_t boundary = closed_at();
    take result = take::item;
    detail::await<Wait>(
        pop_watch_.generation, pop_watch_.sleepers,
        [&] {
          // acquire: pairs with the release bump in fill()/abandon(): their change is visible.
          const std::uint32_t g = pop_watch_.generation.load(std::memory_order_acquire);
          // acquire: as above, the producer's release store of the turn.
          if ((s.turn.load(std::memory_order_acquire) & seq_mask) == want) {
            result = take::item;
            return detail::attempt::success();
          }
          if (h >= boundary) {
            result = take::closed;
            return detail::attempt::success();
          }
          // acquire: pairs with the release CAS in abandon().
          const std::uint32_t a = s.abandoned.load(std::memory_order_acquire);
          if ((a & marked) && !lap_before(lap, a & lap_mask)) {
            result = take::hole;
            return detail::attempt::success();
          }
          return detail::attempt::retry(g);
        },
        detail::deadline::never(), false, detail::handshake::asymmetric, detail::spin_then_yield);
    return result;
  }

  template <class V>
  queue_status try_push_impl(V& v) noexcept {
    // relaxed: a starting guess; the CAS below validates it.
    std::uint64_t t = tail_.load(std::memory_order_relaxed);
    for (;;) {
      if (t & closed_bit) return queue_status::closed;
      const where w = locate(t);
      // relaxed here, acquire in fill(): this load only decides whether to claim.
      if ((w.s->turn.load(std::memory_order_relaxed) & seq_mask) != w.lap2) {
        // relaxed: a snapshot; if no consumer has claimed ticket t - capacity, the queue holds
        // capacity claimed pushes at this read: it really is full.
        const std::uint64_t h = head_.load(std::memory_order_relaxed);
        if (h + cap_ <= t) return queue_status::full;
      }
      // relaxed: claims ticket t; fill() orders the data through the turn.
      if (tail_.compare_exchange_weak(t, t + 1, std::memory_order_relaxed,
                                      std::memory_order_relaxed)) {
        return fill(t, v);
      }
    }
  }

  template <class V>
  queue_status push_timed(V& v, const detail::deadline& dl) noexcept {
    for (;;) {
      const queue_status r = try_push_impl(v);
      if (r != queue_status::full) return r;
      const bool room = detail::await<Wait>(
          push_watch_.generation, push_watch_.sleepers,
          [&] {
            // acquire: pairs with the release bump by a pop (notify_generation) or close().
            const std::uint32_t g = push_watch_.generation.load(std::memory_order_acquire);
            // relaxed: hints; try_push_impl decides.
            const std::uint64_t t = tail_.load(std::memory_order_relaxed);
            const std::uint64_t h = head_.load(std::memory_order_relaxed);
            if ((t & closed_bit) || h + cap_ > t) return detail::attempt::success();
            return detail::attempt::retry(g);
          },
          dl, false, detail::handshake::asymmetric, detail::spin_then_yield);
      if (!room) return queue_status::timeout;
    }
  }

  queue_status pop_timed(T& out, const detail::deadline& dl) noexcept {
    for (;;) {
      const queue_status r = try_pop(out);
      if (r != queue_status::empty) return r;
      const bool some = detail::await<Wait>(
          pop_watch_.generation, pop_watch_.sleepers,
          [&] {
            // acquire: pairs with the release bump by a push (notify_generation) or close().
            const std::uint32_t g = pop_watch_.generation.load(std::memory_order_acquire);
            // relaxed: hints; try_pop decides.
            const std::uint64_t t = tail_.load(std::memory_order_relaxed);
            const std::uint64_t h = head_.load(std::memory_order_relaxed);
            if ((t & closed_bit) || (t & ~closed_bit) > h) return detail::attempt::success();
            return detail::attempt::retry(g);
          },
          dl, false, detail::handshake::asymmetric, detail::spin_then_yield);
      if (!some) return queue_status::timeout;
    }
  }

  alignas(detail::pad_size) detail::atomic<std::uint64_t> tail_{0};  // push tickets | closed_bit
  alignas(detail::pad_size) detail::atomic<std::uint64_t> head_{0};  // pop tickets
  watch pop_watch_;   // timed pops, and consumers of a closed queue
  watch push_watch_;  // timed pushes
  // Spin attempts before a ticket holder parks (detail::queue_spin); written on slow paths only.
  alignas(detail::pad_size) detail::atomic<std::uint32_t> spin_limit_{detail::queue_spin::initial_attempts};
  // Read-mostly from here on.
  alignas(detail::pad_size) detail::atomic<std::uint64_t> close_ticket_{not_closed};
  slot* slots_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t physical_ = 0;
  detail::invariant_divider div_;
};

}  // namespace atomkit
