// atomkit/mpmc_queue.hpp: a bounded, linearizable MPMC FIFO with backpressure that parks
// (Python's queue.Queue(maxsize=N) as a ticket ring).
//
// Usage: atomkit::mpmc_queue<job> q(64); (void)q.push(j);
//        job out; while (q.pop(out) == atomkit::queue_status::success) { ... }
// Reference: docs/queues.md
//
// Algorithm. Two 64-bit ticket counters, tail_ (pushes) and head_ (pops), each on its own padded
// line; tickets never wrap. Ticket t belongs to slot t mod capacity in lap t / capacity
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
// Layout. Slots are padded to a power of two (up to 128 bytes: a small one never straddles a line);
// consecutive tickets use adjacent slots: a consumer trailing its producer finds several elements
// per cache line it fetches. Spreading consecutive tickets over different lines (as this queue
// once did) cost half of 1P1C throughput on an idle 16-core host and up to a sixth on a 2-core
// one, and gained nothing at 2P2C-8P8C on either (bench/RESULTS.md).
//
// Spinning. A ticket holder spins a few microseconds before it parks, for a length adapted to
// whether recent waits were satisfied while spinning (detail::queue_spin).
//
// Oversubscription. A ticket holder the scheduler leaves off the CPU stalls its slot, and one lap
// later every thread waits for it: with more threads than cores, throughput is set by how promptly
// each holder runs (docs/queues.md). Waiters that yielded up to 1 ms before sleeping, rather than
// 20 us, made that convoy more frequent in the benchmark (bench/RESULTS.md), so they do not.
//
// try_push/try_pop. They look at the slot of the current tail (head) ticket and claim the ticket
// with a CAS only when that slot is ready, so they never hold a ticket they would have to wait on.
// If it is not ready, they report full (empty) only when no consumer (producer) has claimed the
// ticket that would free (fill) it, i.e. head + capacity <= tail (tail <= head) at that moment:
// the queue really was full (empty) then. Otherwise an operation on that slot is in flight (a pop
// that took its ticket but has not finished reading, or a push not finished writing); reporting
// full/empty then would not be linearizable (a later push may already have completed), and
// success would mean waiting for that operation, which may be preempted for as long as the
// scheduler likes. They answer busy instead (P0260's name): at one moment, checked by reading their
// own counter before and after the slot, the ticket they need was theirs to take and its slot was
// held by an operation that had begun and not finished. (After close(), a pop also skips, by CAS,
// a ticket whose producer gave up: a hole, see below.)
// Timed forms claim tickets the same way, so they never hold one while they wait: while the answer
// is full/empty or busy they sleep (engine, caller's deadline) on a per-side generation word that
// completed pops (pushes), abandonments and close() advance when someone watches, and try again.
// Such a sleeper wakes when an operation completes, not when another thread merely claims a ticket
// (that path stays free of extra work), so it may sleep past a ready slot uncovered by such a claim
// until the next completion or its deadline.
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
// Task accounting (Python's Queue.task_done()/join()). The pushed count is the tail ticket itself
// (without the closed bit): a push pays nothing for it. A ticket counts from the moment it is
// taken; a push that then fails (closed) counts its ticket done before it returns. task_done()
// increments a done count on its own line; join() sleeps through the engine until done == pushed.
// The protocol and its proof: detail/task_count.hpp.
//
// Progress: push and pop block (backpressure; a ticket holder waits for the operation ahead of it
// on its slot). try_push and try_pop are lock-free: they never wait for another thread (busy
// instead), and their CAS loop retries only when another operation claimed the ticket first; a
// success may make futex wake calls. Timed forms block, bounded by their deadline whatever
// other threads do (they give up at it between CAS attempts too), and never answer busy. size,
// empty, is_closed, capacity and unfinished_tasks are wait-free; task_done is lock-free; join
// blocks (join_for/join_until: until their deadline). close() is wait-free apart from its O(capacity)
// wake-up sweep and futex calls.
//
// Elements live in raw storage constructed in place: move-only and non-default-constructible T
// work; T's move constructor must be noexcept (checked at compile time). Elements still inside
// are destroyed with the queue. The ring is allocated once, in the constructor (or, for the ipc
// queue, lies right behind the object: Ring, detail/queue_common.hpp).
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/queue_common.hpp>
#include <atomkit/detail/task_count.hpp>
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

template <class T, class Wait = park, class Ring = detail::heap_ring>
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

  explicit mpmc_queue(std::size_t capacity)
      : cap_(checked_capacity(capacity)), div_(detail::invariant_divider(capacity)) {
    ring_.allocate(ring_offset(), ring_bytes_for(capacity));
    slot* const ring = slots();
    for (std::size_t i = 0; i < cap_; ++i) ::new (static_cast<void*>(&ring[i])) slot();
  }

  ~mpmc_queue() {
    slot* const ring = slots();
    for (std::size_t i = 0; i < cap_; ++i) {
      // relaxed: the destructor runs after every other use of the queue (the caller's duty).
      if (ring[i].turn.load(std::memory_order_relaxed) & 1u) ring[i].data.destroy();
      ring[i].~slot();
    }
    ring_.release();
  }

  mpmc_queue(const mpmc_queue&) = delete;
  mpmc_queue& operator=(const mpmc_queue&) = delete;

  // ---- blocking ----------------------------------------------------------------------------

  // Waits while the queue is full. success, or closed (the value is left with the caller).
  queue_status push(T&& v) noexcept {
    // relaxed: the RMW alone makes tickets unique; the slot's turn orders the data.
    const std::uint64_t t = tail_.fetch_add(1, std::memory_order_relaxed);
    if (ATOMKIT_UNLIKELY(t & closed_bit)) return refuse();
    return fill(t, v);
  }
  queue_status push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      const std::uint64_t t = tail_.fetch_add(1, std::memory_order_relaxed);  // as in push(T&&)
      if (ATOMKIT_UNLIKELY(t & closed_bit)) return refuse();
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
      const std::uint32_t want = (w.empty_turn + 1) & seq_mask;
      // acquire: pairs with the producer's release store of the turn: the element is visible.
      if (ATOMKIT_UNLIKELY((w.s->turn.load(std::memory_order_acquire) & seq_mask) != want)) {
        const take r = await_element(*w.s, want, h, w.empty_turn >> 1);
        if (r == take::hole) continue;
        if (r == take::closed) return queue_status::closed;
      }
      take_element(*w.s, want, out);
      return queue_status::success;
    }
  }

  // ---- non-blocking ------------------------------------------------------------------------

  // Never waits for another thread. success; full only when the queue really was full; busy when
  // the slot it needs is still held by an operation in flight (file comment); closed. The value is
  // moved from only on success.
  queue_status try_push(T&& v) noexcept { return try_push_impl(v, detail::deadline::never()); }
  queue_status try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      return try_push_impl(v, detail::deadline::never());
    } else {
      T copy(v);
      return try_push_impl(copy, detail::deadline::never());
    }
  }

  // Never waits for another thread. success; empty only when the queue really was empty; busy
  // when the element it needs is still being pushed (file comment); closed once closed and drained.
  queue_status try_pop(T& out) noexcept { return try_pop_impl(out, detail::deadline::never()); }

  // ---- timed -------------------------------------------------------------------------------
  // Wait for space (an element), or for an operation in flight on the slot they need, until the
  // deadline, holding no ticket meanwhile: success, closed, or timeout; never busy. A push keeps
  // the value unless it returns success.

  ATOMKIT_DETAIL_TIMED_PUSH_FORMS(try_push, push_timed)
  ATOMKIT_DETAIL_TIMED_POP_FORMS(try_pop, pop_timed)

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
    for (std::size_t i = 0; i < cap_; ++i) {
      slot& s = slots()[i];
      // acq_rel: changes every turn word, so that a waiter that read the old value and did not
      // see close_ticket_ cannot sleep through this (its futex_wait finds the word changed).
      s.turn.fetch_or(closed_turn_bit, std::memory_order_acq_rel);
      detail::notify<Wait>(s.turn, s.sleepers, detail::wake_all_count,
                          detail::sharing_of<Wait>);
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

  // ---- task accounting (Python's Queue.task_done / join) -----------------------------------
  // Every successful push counts one unfinished task (file comment).

  // One item is finished. A call while unfinished_tasks() is 0 throws
  // system_error(operation_not_permitted) and leaves the count unchanged.
  void task_done() { tasks_.done_one(pushed_count(), "mpmc_queue"); }
  // Waits until every pushed item has had its task_done() (timed forms: false at the deadline).
  void join() const noexcept { (void)join_impl(detail::deadline::never()); }
  ATOMKIT_DETAIL_TIMED_FORMS(bool, join, join_impl, const noexcept)
  // Pushed and not yet task_done(): a snapshot.
  [[nodiscard]] std::size_t unfinished_tasks() const noexcept {
    return tasks_.unfinished(pushed_count());
  }

 protected:
  // The ring's size in bytes for `capacity` elements (invalid_argument when capacity is 0, too
  // large, or the size overflows), and where a trailing ring starts, from the object: for the
  // ipc queue, which places object and ring together (ipc_queue.hpp).
  static std::size_t ring_bytes_for(std::size_t capacity) {
    if (capacity == 0) detail::invalid_argument("mpmc_queue", "capacity must be at least 1");
    if (capacity > max_capacity) detail::invalid_argument("mpmc_queue", "capacity too large");
    // The product with the slot size can wrap (a slot is as large as T): ring_bytes refuses that.
    return detail::ring_bytes("mpmc_queue", capacity, sizeof(slot));
  }
  static constexpr std::size_t ring_offset() noexcept {
    return detail::trailing_offset<slot>(sizeof(mpmc_queue));
  }
  static std::size_t checked_capacity(std::size_t capacity) {
    (void)ring_bytes_for(capacity);  // refuses what it cannot hold, before anything is built
    return capacity;
  }
  static constexpr std::size_t ring_alignment() noexcept { return alignof(slot); }

 private:
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t not_closed = ~std::uint64_t{0};
  static constexpr std::uint32_t seq_mask = 0x7fffffffu;
  static constexpr std::uint32_t lap_mask = seq_mask >> 1;
  static constexpr std::uint32_t closed_turn_bit = 0x80000000u;
  static constexpr std::uint32_t abandoned_set = 0x80000000u;  // in `abandoned`: a lap is recorded
  static constexpr std::size_t max_capacity = std::size_t{1} << 40;

  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): `data` is raw storage, built in place
  struct slot_fields {
    detail::atomic<std::uint32_t> turn{0};       // futex word: see the file comment
    detail::atomic<std::uint32_t> sleepers{0};   // waiters asleep on turn
    detail::atomic<std::uint32_t> abandoned{0};  // abandoned_set | first lap given up after close
    detail::element_storage<T> data;
  };
  static constexpr std::size_t slot_align =
      std::max(alignof(slot_fields), std::min(std::bit_ceil(sizeof(slot_fields)), detail::pad_size));
  struct alignas(slot_align) slot : slot_fields {};

  enum class take { item, hole, closed };
  // What a try or timed form finds at the next ticket, without claiming it (probe_push/probe_pop).
  enum class probe {
    ready,   // the slot is free (push) or holds the element (pop): claim the ticket
    hole,    // pop: the ticket's producer gave up after close(); claim it and skip it
    none,    // the queue really is full (push) or empty (pop)
    busy,    // an operation on that slot is in flight
    closed,  // push: closed; pop: closed and drained
  };
  struct where {
    slot* s;
    // The slot's turn while it waits for this lap's push: 2 * lap, modulo 2^31.
    std::uint32_t empty_turn;
  };
  struct alignas(detail::pad_size) watch {
    detail::atomic<std::uint32_t> generation{0};  // futex word: advanced when watchers may go on
    detail::atomic<std::uint32_t> sleepers{0};
  };

  [[nodiscard]] slot* slots() const noexcept { return ring_.get(this); }

  [[nodiscard]] where locate(std::uint64_t ticket) const noexcept {
    const std::uint64_t lap = div_.quotient(ticket);
    const std::uint64_t index = ticket - lap * cap_;
    return {&slots()[index], (static_cast<std::uint32_t>(lap) << 1) & seq_mask};
  }

  // Lap `a` comes strictly before lap `b`; laps are kept modulo 2^30 (they are never 2^29 apart).
  static bool lap_before(std::uint32_t a, std::uint32_t b) noexcept {
    const std::uint32_t d = (b - a) & lap_mask;
    return d != 0 && d < (lap_mask >> 1);
  }

  // The task count's `pushed`: tickets handed out, never decreasing (detail/task_count.hpp).
  auto pushed_count() const noexcept {
    return [this] {
      // relaxed: task_count reads it after its acquire load of its done count, which orders it.
      return tail_.load(std::memory_order_relaxed) & ~closed_bit;
    };
  }
  [[nodiscard]] bool join_impl(const detail::deadline& dl) const noexcept {
    return tasks_.wait(pushed_count(), dl);
  }
  // A blocking push fetched a ticket after close(): that ticket never becomes an item.
  ATOMKIT_NOINLINE queue_status refuse() noexcept {
    tasks_.void_ticket(pushed_count());
    return queue_status::closed;
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
    if (ATOMKIT_UNLIKELY((w.s->turn.load(std::memory_order_acquire) & seq_mask) != w.empty_turn)) {
      if (!await_space(*w.s, w.empty_turn)) return queue_status::closed;
    }
    if constexpr (std::is_same_v<V, T>) {
      w.s->data.construct(std::move(v));
    } else {
      w.s->data.construct(v);  // const T&, nothrow copy
    }
    // release: publishes the element to the consumer's acquire load of the turn.
    w.s->turn.store((w.empty_turn + 1) & seq_mask, std::memory_order_release);
    wake_after_turn(*w.s, pop_watch_);
    return queue_status::success;
  }

  void take_element(slot& s, std::uint32_t want, T& out) noexcept {
    T* p = s.data.get();
    out = std::move(*p);
    p->~T();
    // release: pairs with the next lap's producer's acquire load: our reads happen before its write.
    s.turn.store((want + 1) & seq_mask, std::memory_order_release);
    wake_after_turn(s, push_watch_);
  }

  // After storing a slot's turn: wake that slot's sleepers and the other side's watchers, if any
  // sleep, behind ONE light barrier (notify's): it orders the turn store before both sleeper
  // loads, which is all the handshake needs (store_load.hpp). The symmetric handshake of the
  // process_shared policy pays a fence per barrier, so sharing it matters there.
  void wake_after_turn(slot& s, watch& w) noexcept {
    detail::notify<Wait>(s.turn, s.sleepers, detail::wake_all_count, detail::sharing_of<Wait>);
    if constexpr (Wait::sleeps) {
      detail::wake_generation(w.generation, w.sleepers, detail::wake_all_count,
                              detail::sharing_of<Wait>);
    }
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
      detail::notify<Wait>(w.generation, w.sleepers, detail::wake_all_count,
                          detail::sharing_of<Wait>);
    } else {
      detail::notify_generation<Wait>(w.generation, w.sleepers, detail::wake_all_count,
                          detail::sharing_of<Wait>);
    }
  }

  // A producer holding a ticket waits for its slot. false: the queue closed first; the slot is
  // marked abandoned from this lap on and the value stays with the caller.
  ATOMKIT_NOINLINE bool await_space(slot& s, std::uint32_t want) noexcept {
    if (await_turn(s, want)) return true;
    abandon(s, want >> 1);
    tasks_.void_ticket(pushed_count());  // the ticket never becomes an item
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
        [&](detail::wait_phase phase) {
          spin.saw(phase);
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
        detail::deadline::never(),
        detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
    tune_spin(spin);
    return !closed;
  }

  void abandon(slot& s, std::uint32_t lap) noexcept {
    // relaxed: the CAS below decides; a stale value only costs a retry.
    std::uint32_t cur = s.abandoned.load(std::memory_order_relaxed);
    while (!(cur & abandoned_set) || lap_before(lap, cur & lap_mask)) {
      // release: pairs with the acquire load in await_element (no data rides on it, but the
      // consumer must see the mark together with the generation bump below).
      if (s.abandoned.compare_exchange_weak(cur, abandoned_set | lap, std::memory_order_release,
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
          if ((a & abandoned_set) && !lap_before(lap, a & lap_mask)) {
            result = take::hole;
            return detail::attempt::success();
          }
          return detail::attempt::retry(g);
        },
        detail::deadline::never(),
        detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
    return result;
  }

  // Classifies push ticket t, a guess of tail_ that is advanced here while it is stale; claims
  // nothing. ready: ticket t's slot was free (the caller's CAS on tail_ validates t).
  //   none (full): tail_ >= t and head_ + capacity <= t at the read of head_.
  //   busy: at the second read of the turn, tail_ was t (read t before and after it, and it only
  //   grows), head_ > t - capacity (read before it), and the slot was not yet free: the pop of
  //   ticket t - capacity (or the push it waits for) had begun and not finished.
  probe probe_push(std::uint64_t& t) const noexcept {
    if (t & closed_bit) return probe::closed;
    const where first = locate(t);
    // relaxed here, acquire in fill(): this load only decides whether to claim.
    if ((first.s->turn.load(std::memory_order_relaxed) & seq_mask) == first.empty_turn) {
      return probe::ready;
    }
    // Slow path. acquire on each load below: keeps the loads after it in program order, which the
    // snapshot argument above needs (no data is read through them).
    t = tail_.load(std::memory_order_acquire);
    for (;;) {
      if (t & closed_bit) return probe::closed;
      const where w = locate(t);
      const std::uint64_t h = head_.load(std::memory_order_acquire);  // acquire: as above
      if (h + cap_ <= t) return probe::none;
      // acquire: as above (fill() reloads it with acquire before it writes).
      const std::uint32_t x = w.s->turn.load(std::memory_order_acquire) & seq_mask;
      if (x == w.empty_turn) return probe::ready;
      const std::uint64_t now = tail_.load(std::memory_order_acquire);  // acquire: as above
      if (now == t) return probe::busy;
      t = now;  // ticket t was claimed meanwhile: classify the next one
    }
  }

  // Classifies pop ticket h, a guess of head_ that is advanced here while it is stale; claims
  // nothing. ready: ticket h's element was there (the caller's CAS on head_ validates h).
  //   none (empty): head_ >= h >= tail_ at the read of tail_ (head_ read before it).
  //   closed: everything pushed before close() has been handed out (h >= the close boundary).
  //   hole: ticket h's producer gave up after close(): no element will ever come for it.
  //   busy: at the second read of the turn, head_ was h (read before and after it), tail_ > h
  //   (read before it; below the close boundary, so a producer really holds ticket h), and the
  //   element was not there: that push had begun and not finished. Also while close() itself is
  //   in flight (tail_ marked closed, boundary not yet published), when no other answer is sure.
  probe probe_pop(std::uint64_t& h, where& w) const noexcept {
    w = locate(h);
    // acquire: pairs with the producer's release store of the turn: the element is visible.
    if ((w.s->turn.load(std::memory_order_acquire) & seq_mask) == ((w.empty_turn + 1) & seq_mask)) {
      return probe::ready;
    }
    // Slow path. acquire on each load below: keeps the loads after it in program order, which the
    // snapshot argument above needs.
    h = head_.load(std::memory_order_acquire);
    for (;;) {
      w = locate(h);
      const std::uint32_t want = (w.empty_turn + 1) & seq_mask;
      const std::uint64_t t = tail_.load(std::memory_order_acquire);  // acquire: as above
      if ((t & ~closed_bit) <= h) return (t & closed_bit) ? probe::closed : probe::none;
      // acquire: pairs with close()'s release store; a known boundary at or below h means drained.
      const std::uint64_t boundary = closed_at();
      if (boundary != not_closed && h >= boundary) return probe::closed;
      if (t & closed_bit) {
        // acquire: pairs with the release CAS in abandon().
        const std::uint32_t a = w.s->abandoned.load(std::memory_order_acquire);
        if ((a & abandoned_set) && !lap_before(w.empty_turn >> 1, a & lap_mask)) return probe::hole;
      }
      // acquire: pairs with the producer's release store of the turn, as above.
      const std::uint32_t x = w.s->turn.load(std::memory_order_acquire) & seq_mask;
      if (x == want) return probe::ready;
      const std::uint64_t now = head_.load(std::memory_order_acquire);  // acquire: as above
      if (now == h) return probe::busy;
      h = now;  // ticket h was claimed meanwhile: classify the next one
    }
  }

  // Claims a ticket only by CAS, and only when its slot is ready (or a hole), so it never holds a
  // ticket it would have to wait on; it gives up at the deadline when CASes keep losing.
  template <class V>
  queue_status try_push_impl(V& v, const detail::deadline& dl) noexcept {
    // relaxed: a starting guess; probe_push and the CAS validate it.
    std::uint64_t t = tail_.load(std::memory_order_relaxed);
    for (;;) {
      switch (probe_push(t)) {
        case probe::ready:
        case probe::hole:  // (pops only)
          break;
        case probe::none:
          return queue_status::full;
        case probe::busy:
          return queue_status::busy;
        case probe::closed:
          return queue_status::closed;
      }
      // relaxed: claims ticket t, whose slot is free (only ticket t's holder fills it next);
      // fill() orders the data through the turn.
      if (tail_.compare_exchange_strong(t, t + 1, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
        return fill(t, v);
      }
      if (dl.passed()) return queue_status::timeout;  // another producer won the ticket
    }
  }

  queue_status try_pop_impl(T& out, const detail::deadline& dl) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "atomkit::mpmc_queue<T>::try_pop: T's move assignment must be noexcept");
    // relaxed: a starting guess; probe_pop and the CAS validate it.
    std::uint64_t h = head_.load(std::memory_order_relaxed);
    for (;;) {
      where w{};
      const probe p = probe_pop(h, w);
      switch (p) {
        case probe::ready:
        case probe::hole:
          break;
        case probe::none:
          return queue_status::empty;
        case probe::busy:
          return queue_status::busy;
        case probe::closed:
          return queue_status::closed;
      }
      // relaxed: claims ticket h, whose element is there (only ticket h's holder takes it) or
      // will never come; the turn, read with acquire in probe_pop, ordered the data.
      if (head_.compare_exchange_strong(h, h + 1, std::memory_order_relaxed,
                                        std::memory_order_relaxed)) {
        if (p == probe::ready) {
          take_element(*w.s, (w.empty_turn + 1) & seq_mask, out);
          return queue_status::success;
        }
        ++h;  // a hole, now skipped: on to the next ticket
        continue;
      }
      if (dl.passed()) return queue_status::timeout;  // another consumer won the ticket
    }
  }

  // Timed forms: try, and while the answer is full/empty or busy, sleep (through the engine, until
  // the deadline) on the side's watch, which every completed pop (push), abandonment and close()
  // advances when someone sleeps there; then try again. They never hold a ticket while waiting.
  template <class V>
  queue_status push_timed(V& v, const detail::deadline& dl) noexcept {
    for (;;) {
      const queue_status r = try_push_impl(v, dl);
      if (r != queue_status::full && r != queue_status::busy) return r;
      const bool go = detail::await<Wait>(
          push_watch_.generation, push_watch_.sleepers,
          [&] {
            // acquire: pairs with the release bump by a pop (notify_generation) or close().
            const std::uint32_t g = push_watch_.generation.load(std::memory_order_acquire);
            // relaxed: a guess; probe_push validates it.
            std::uint64_t t = tail_.load(std::memory_order_relaxed);
            const probe p = probe_push(t);
            if (p == probe::ready || p == probe::closed) return detail::attempt::success();
            return detail::attempt::retry(g);
          },
          dl,
          detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
      if (!go) return queue_status::timeout;
    }
  }

  queue_status pop_timed(T& out, const detail::deadline& dl) noexcept {
    for (;;) {
      const queue_status r = try_pop_impl(out, dl);
      if (r != queue_status::empty && r != queue_status::busy) return r;
      const bool go = detail::await<Wait>(
          pop_watch_.generation, pop_watch_.sleepers,
          [&] {
            // acquire: pairs with the release bump by a push (notify_generation), abandon() or
            // close().
            const std::uint32_t g = pop_watch_.generation.load(std::memory_order_acquire);
            // relaxed: a guess; probe_pop validates it.
            std::uint64_t h = head_.load(std::memory_order_relaxed);
            where w{};
            const probe p = probe_pop(h, w);
            if (p != probe::none && p != probe::busy) return detail::attempt::success();
            return detail::attempt::retry(g);
          },
          dl,
          detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
      if (!go) return queue_status::timeout;
    }
  }

  alignas(detail::pad_size) detail::atomic<std::uint64_t> tail_{0};  // push tickets | closed_bit
  alignas(detail::pad_size) detail::atomic<std::uint64_t> head_{0};  // pop tickets
  watch pop_watch_;   // timed pops, and consumers of a closed queue
  watch push_watch_;  // timed pushes
  // Spin attempts before a ticket holder parks (detail::queue_spin); written on slow paths only.
  alignas(detail::pad_size) detail::atomic<std::uint32_t> spin_limit_{detail::queue_spin::initial_attempts};
  detail::task_count<Wait, std::uint64_t> tasks_;  // task_done()/join(): on its own line
  // Read-mostly from here on.
  alignas(detail::pad_size) detail::atomic<std::uint64_t> close_ticket_{not_closed};
  detail::ring_storage<slot, Ring> ring_;  // heap, or right behind the object (queue_common.hpp)
  std::size_t cap_ = 0;
  detail::invariant_divider div_;
};

}  // namespace atomkit
