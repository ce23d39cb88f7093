// atomkit/spsc_queue.hpp: a bounded single-producer single-consumer FIFO (Lamport's ring) with the
// same backpressure, close and timed semantics as mpmc_queue.
//
// Usage: atomkit::spsc_queue<sample> q(1024);
//        producer: (void)q.try_push(s);   consumer: (void)q.pop(s);
// Reference: docs/queues.md
//
// Algorithm. 32-bit positions tail_ (written only by the producer) and head_ (only by the
// consumer), on their own padded lines; slot index kept incrementally, so any capacity works with
// no division. Each side keeps a private copy of the other side's position and re-reads the shared
// one only when its copy says full (empty): in steady state a push or pop touches one shared line.
// A push publishes with a release store of tail_, a pop frees with a release store of head_.
//
// Waiting. A producer on a full ring sleeps on the producers' watch word (a generation that a pop
// advances only when somebody sleeps there), a consumer on an empty ring on the consumers' one;
// both through the waiting engine (brief spin, then futex), so a push or pop makes no system call
// when the other side is awake. Each side adapts its spin (detail::queue_spin): a wait that ended
// while spinning lengthens the next spin, a wait that had to yield or sleep halves it, so a
// producer and consumer that share one core (as the scheduler often places them) hand it over
// after a few pauses instead of spinning out the engine's whole budget.
//
// close() may be called from any thread, so a push racing with it must either fail or be seen by
// the consumer before the consumer reports `closed`. The producer marks itself in_push_ (a plain
// store), then (compiler barrier) reads closed_; a consumer that finds the ring empty and closed
// issues the engine's heavy barrier (membarrier) and then reads in_push_: by the asymmetric
// Dekker argument of detail/store_load.hpp, either that producer saw closed_ and fails, or the
// consumer sees its in_push_ mark and waits for the push to land (pop), until its deadline (timed
// pops: timeout), or not at all (try_pop: busy, since that push may still land or give up). The
// consumer remembers that it issued the barrier, and the verdict, so the barrier is paid once per
// queue.
//
// In-flight operations. Otherwise neither side ever waits for the other's operation in flight: a
// push takes effect at its store of tail_, a pop at its store of head_, so a try_push that finds
// the ring full while the consumer is still moving an element out (or a try_pop that finds it
// empty while the producer is still moving one in) answers full (empty), which is linearizable.
//
// Task accounting (Python's Queue.task_done()/join()). The pushed count is tail_ itself, which
// only successful pushes advance: a push pays nothing for it. task_done() (from any thread)
// increments a done count on its own line; join() sleeps through the engine until done == pushed.
// Positions are 32-bit, so fewer than 2^31 tasks may be unfinished at any time. The protocol and
// its proof: detail/task_count.hpp.
//
// Progress: try_push and try_pop are wait-free (a bounded number of steps, no RMW; a success may
// make one futex wake call, and the first try_pop that finds the queue closed and empty makes a
// membarrier system call); try_pop answers busy on a closed, empty queue while a push caught by
// the close is in flight. push and pop are wait-free when they do not block, and block while the
// ring is full (empty), or (pop) for such a push. Timed forms block, bounded by their deadline,
// and never answer busy. close, size, empty, is_closed, capacity and unfinished_tasks are
// wait-free; task_done is lock-free; join blocks (join_for/join_until: until their deadline). Exactly one
// thread may push and one may pop at any time (not checked).
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/queue_common.hpp>
#include <atomkit/detail/store_load.hpp>
#include <atomkit/detail/task_count.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace atomkit {

template <class T, class Wait = park, class Ring = detail::heap_ring>
class spsc_queue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "atomkit::spsc_queue<T>: T's move constructor must be noexcept (an element moved "
                "into or out of a slot cannot be half-done)");
  static_assert(std::is_nothrow_destructible_v<T>,
                "atomkit::spsc_queue<T>: T's destructor must be noexcept");
  static_assert(!std::is_reference_v<T> && !std::is_const_v<T>,
                "atomkit::spsc_queue<T>: T must be a non-const object type");

 public:
  using value_type = T;

  explicit spsc_queue(std::size_t capacity)
      : cap_(static_cast<std::uint32_t>(checked_capacity(capacity))) {
    ring_.allocate(ring_offset(), ring_bytes_for(capacity));
  }

  ~spsc_queue() {
    // relaxed: the destructor runs after every other use of the queue (the caller's duty).
    std::uint32_t h = head_.load(std::memory_order_relaxed);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t i = c_.index;
    cell* const cells = ring_.get(this);
    for (; h != t; ++h) {
      cells[i].destroy();
      i = i + 1 == cap_ ? 0 : i + 1;
    }
    ring_.release();
  }

  spsc_queue(const spsc_queue&) = delete;
  spsc_queue& operator=(const spsc_queue&) = delete;

  // ---- producer ----------------------------------------------------------------------------

  queue_status push(T&& v) noexcept { return push_impl(v, detail::deadline::never(), true); }
  queue_status push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      return push_impl(v, detail::deadline::never(), true);
    } else {
      T copy(v);  // may throw: before anything changes
      return push_impl(copy, detail::deadline::never(), true);
    }
  }
  queue_status try_push(T&& v) noexcept { return push_impl(v, detail::deadline::never(), false); }
  queue_status try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    if constexpr (std::is_nothrow_copy_constructible_v<T>) {
      return push_impl(v, detail::deadline::never(), false);
    } else {
      T copy(v);
      return push_impl(copy, detail::deadline::never(), false);
    }
  }
  ATOMKIT_DETAIL_TIMED_PUSH_FORMS(try_push, push_timed)

  // ---- consumer ----------------------------------------------------------------------------

  queue_status pop(T& out) noexcept { return pop_impl(out, detail::deadline::never(), true); }
  queue_status try_pop(T& out) noexcept { return pop_impl(out, detail::deadline::never(), false); }
  ATOMKIT_DETAIL_TIMED_POP_FORMS(try_pop, pop_timed)

  // ---- any thread --------------------------------------------------------------------------

  void close() noexcept {
    // seq_cst: the closer's store in the handshake with in_push_ (file comment); the acquire
    // loads of closed_ pair with it.
    closed_.store(1, std::memory_order_seq_cst);
    wake_all(prod_watch_);
    wake_all(cons_watch_);
  }
  [[nodiscard]] bool is_closed() const noexcept {
    // acquire: pairs with close()'s store.
    return closed_.load(std::memory_order_acquire) != 0;
  }
  // A snapshot within [0, capacity()].
  [[nodiscard]] std::size_t size() const noexcept {
    // acquire/relaxed: a snapshot; head first, so the tail read later is never behind it.
    const std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    const std::uint32_t n = t - h;
    return n > cap_ ? cap_ : n;
  }
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }

  // ---- task accounting (Python's Queue.task_done / join), any thread -----------------------
  // Every successful push counts one unfinished task (file comment).

  // One item is finished. A call while unfinished_tasks() is 0 throws
  // system_error(operation_not_permitted) and leaves the count unchanged.
  void task_done() { tasks_.done_one(pushed_count(), "spsc_queue"); }
  // Waits until every pushed item has had its task_done() (timed forms: false at the deadline).
  void join() const noexcept { (void)join_impl(detail::deadline::never()); }
  ATOMKIT_DETAIL_TIMED_FORMS(bool, join, join_impl, const noexcept)
  // Pushed and not yet task_done(): a snapshot.
  [[nodiscard]] std::size_t unfinished_tasks() const noexcept {
    return tasks_.unfinished(pushed_count());
  }

 private:
  static constexpr std::size_t max_capacity = std::size_t{1} << 31;
  using cell = detail::element_storage<T>;

 protected:
  // The ring's size in bytes for `capacity` elements (invalid_argument when capacity is 0, too
  // large, or the size overflows), and where a trailing ring starts, from the object: for the
  // ipc queue, which places object and ring together (ipc_queue.hpp).
  static std::size_t ring_bytes_for(std::size_t capacity) {
    if (capacity == 0) detail::invalid_argument("spsc_queue", "capacity must be at least 1");
    if (capacity > max_capacity) detail::invalid_argument("spsc_queue", "capacity too large");
    return detail::ring_bytes("spsc_queue", capacity, sizeof(cell));
  }
  static constexpr std::size_t ring_offset() noexcept {
    return detail::trailing_offset<cell>(sizeof(spsc_queue));
  }
  static std::size_t checked_capacity(std::size_t capacity) {
    (void)ring_bytes_for(capacity);  // refuses what it cannot hold, before anything is built
    return capacity;
  }
  static constexpr std::size_t ring_alignment() noexcept { return alignof(cell); }

 private:
  // The task count's `pushed`: successful pushes, modulo 2^32 (detail/task_count.hpp).
  auto pushed_count() const noexcept {
    return [this] {
      // relaxed: task_count reads it after its acquire load of its done count, which orders it.
      return tail_.load(std::memory_order_relaxed);
    };
  }
  [[nodiscard]] bool join_impl(const detail::deadline& dl) const noexcept {
    return tasks_.wait(pushed_count(), dl);
  }

  struct alignas(detail::pad_size) watch {
    detail::atomic<std::uint32_t> generation{0};  // futex word: advanced when watchers may go on
    detail::atomic<std::uint32_t> sleepers{0};
    detail::atomic<std::uint32_t> observed{0};    // the generation the watcher last checked against
  };

  // The watcher's side of wake suppression (see wake_partner): record the generation it checks
  // against. A change recorded in an attempt of the engine's sleep phase (registered, after the
  // engine's heavy barrier: the engine says so, detail::wait_phase) is followed by a heavy barrier
  // of its own before the condition is read. (This once inferred the phase from queue_spin's
  // attempt count, on the premise that the engine's spin budget outlasts it; with a budget of 256
  // pauses against queue_spin's up to 1535, a watcher could sleep after a recording with no
  // barrier, and its partner could skip the wake: a lost wake-up.)
  static void record(watch& w, std::uint32_t g, bool sleeping) noexcept {
    if constexpr (Wait::sleeps) {
      // relaxed: read by the partner after its light barrier; the barriers order it.
      if (w.observed.load(std::memory_order_relaxed) != g) {
        w.observed.store(g, std::memory_order_relaxed);
        if (sleeping) detail::heavy_barrier(detail::symmetric_handshake<Wait>);
      }
    }
  }

  // After a push (pop): wake the consumer (producer) if it sleeps, at most once per generation it
  // has checked. Without this, every operation between a wake-up and the moment the woken thread
  // runs made a futex system call (bench/RESULTS.md). Skipping
  // when observed != generation is safe: the watcher has not yet checked against the current
  // generation, so its futex wait returns at once and it checks again, after recording the new
  // generation and (sleeping) a heavy barrier. By the asymmetric Dekker argument on
  // (our state change, its `observed` store), that check sees our change, since our load of
  // `observed` did not see its store. Every await on a watch must therefore record().
  static void wake_partner(watch& w) noexcept {
    if constexpr (Wait::sleeps) {
      detail::light_barrier(detail::symmetric_handshake<Wait>);
      // relaxed: ordered after the caller's state change by the light barrier (store_load.hpp).
      if (ATOMKIT_UNLIKELY(w.sleepers.load(std::memory_order_relaxed) != 0)) {
        // relaxed: both are only compared; the watcher's record() and heavy barriers order them.
        const std::uint32_t g = w.generation.load(std::memory_order_relaxed);
        if (w.observed.load(std::memory_order_relaxed) == g) {
          // release: a watcher that reads the new generation (acquire) sees the state change.
          w.generation.fetch_add(1, std::memory_order_release);
          detail::notify<Wait>(w.generation, w.sleepers, 1, detail::sharing_of<Wait>);
        }
      }
    }
  }
  struct alignas(detail::pad_size) side {  // one side's private state
    std::uint32_t pos = 0;                 // its own position (mirrors tail_ or head_)
    std::uint32_t index = 0;               // pos modulo capacity
    std::uint32_t other = 0;               // last value read of the other side's position
    bool drained = false;                  // consumer: closed and nothing more can come
    bool fenced = false;  // consumer: issued the close handshake's heavy barrier (after closed_)
    std::uint32_t spin_limit = detail::queue_spin::initial_attempts;  // see detail::queue_spin
  };

  static void wake_all(watch& w) noexcept {
    // release: a watcher that reads the new generation (acquire) sees the state change.
    w.generation.fetch_add(1, std::memory_order_release);
    detail::notify<Wait>(w.generation, w.sleepers, detail::wake_all_count,
                          detail::sharing_of<Wait>);
  }

  template <class V>
  queue_status push_timed(V& v, const detail::deadline& dl) noexcept {
    return push_impl(v, dl, true);
  }
  queue_status pop_timed(T& out, const detail::deadline& dl) noexcept {
    return pop_impl(out, dl, true);
  }

  template <class V>
  queue_status push_impl(V& v, const detail::deadline& dl, bool may_wait) noexcept {
    // The members the fast path uses are read once, before the handshake's compiler barrier.
    const std::uint32_t t = p_.pos;
    const std::uint32_t i = p_.index;
    const std::uint32_t cap = cap_;
    cell* const cells = ring_.get(this);
    if (ATOMKIT_UNLIKELY(t - p_.other == cap)) {
      // acquire: pairs with the consumer's release store of head_: its reads of the cell are done.
      p_.other = head_.load(std::memory_order_acquire);
      if (t - p_.other == cap) {
        // acquire: pairs with close(); a closed queue reports closed rather than full.
        if (closed_.load(std::memory_order_acquire)) return queue_status::closed;
        if (!may_wait) return queue_status::full;
        const queue_status r = wait_room(t, dl);
        if (r != queue_status::success) return r;
      }
    }
    // relaxed: ordered before the load of closed_ by the barrier (file comment); the consumer
    // reads it after a heavy barrier.
    in_push_.store(1, std::memory_order_relaxed);
    detail::light_barrier(detail::symmetric_handshake<Wait>);
    // relaxed: the handshake above orders it; a push that misses a racing close is waited for.
    if (ATOMKIT_UNLIKELY(closed_.load(std::memory_order_relaxed) != 0)) return push_closed();
    if constexpr (std::is_same_v<V, T>) {
      cells[i].construct(std::move(v));
    } else {
      cells[i].construct(v);  // const T&, nothrow copy
    }
    // release: publishes the element to the consumer's acquire load of tail_.
    tail_.store(t + 1, std::memory_order_release);
    // release: the consumer that reads 0 here (acquire) also sees the tail_ store above.
    in_push_.store(0, std::memory_order_release);
    p_.pos = t + 1;
    p_.index = i + 1 == cap ? 0 : i + 1;
    wake_partner(cons_watch_);
    return queue_status::success;
  }

  // A push that found the queue closed after marking itself: withdraw the mark, and wake a
  // consumer that may be waiting for this push to land or give up (drained_or_element).
  ATOMKIT_NOINLINE queue_status push_closed() noexcept {
    // release: the consumer's acquire load of in_push_ sees nothing more will come.
    in_push_.store(0, std::memory_order_release);
    detail::notify_generation<Wait>(cons_watch_.generation, cons_watch_.sleepers,
                                    detail::wake_all_count, detail::sharing_of<Wait>);
    return queue_status::closed;
  }

  ATOMKIT_NOINLINE queue_status wait_room(std::uint32_t t, const detail::deadline& dl) noexcept {
    bool closed = false;
    detail::queue_spin spin(p_.spin_limit);
    const bool ok = detail::await<Wait>(
        prod_watch_.generation, prod_watch_.sleepers,
        [&](detail::wait_phase phase) {
          spin.saw(phase);
          // acquire: pairs with the release bump in wake_partner / wake_all.
          const std::uint32_t g = prod_watch_.generation.load(std::memory_order_acquire);
          record(prod_watch_, g, phase == detail::wait_phase::sleep);
          // acquire: as in push_impl.
          p_.other = head_.load(std::memory_order_acquire);
          if (t - p_.other != cap_) return detail::attempt::success();
          // acquire: pairs with close().
          if (closed_.load(std::memory_order_acquire)) {
            closed = true;
            return detail::attempt::success();
          }
          return detail::attempt::retry(g, spin.more());
        },
        dl,
        detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
    p_.spin_limit = spin.next_limit();
    if (!ok) return queue_status::timeout;
    return closed ? queue_status::closed : queue_status::success;
  }

  queue_status pop_impl(T& out, const detail::deadline& dl, bool may_wait) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "atomkit::spsc_queue<T>::pop: T's move assignment must be noexcept");
    const std::uint32_t h = c_.pos;
    const std::uint32_t i = c_.index;
    const std::uint32_t cap = cap_;
    cell* const cells = ring_.get(this);
    if (ATOMKIT_UNLIKELY(h == c_.other)) {
      // acquire: pairs with the producer's release store of tail_: the element is visible.
      c_.other = tail_.load(std::memory_order_acquire);
      if (h == c_.other) {
        const queue_status r = wait_element(h, dl, may_wait);
        if (r != queue_status::success) return r;
      }
    }
    T* p = cells[i].get();
    out = std::move(*p);
    p->~T();
    // release: pairs with the producer's acquire load of head_: our reads happen before its write.
    head_.store(h + 1, std::memory_order_release);
    c_.pos = h + 1;
    c_.index = i + 1 == cap ? 0 : i + 1;
    wake_partner(prod_watch_);
    return queue_status::success;
  }

  // The ring looked empty at position h. success: an element is there now (c_.other updated).
  ATOMKIT_NOINLINE queue_status wait_element(std::uint32_t h, const detail::deadline& dl,
                                             bool may_wait) noexcept {
    for (;;) {
      // acquire: pairs with close().
      if (closed_.load(std::memory_order_acquire)) return drained_or_element(h, dl, may_wait);
      if (!may_wait) return queue_status::empty;
      bool closed = false;
      detail::queue_spin spin(c_.spin_limit);
      const bool ok = detail::await<Wait>(
          cons_watch_.generation, cons_watch_.sleepers,
          [&](detail::wait_phase phase) {
            spin.saw(phase);
            // acquire: pairs with the release bump in wake_partner / wake_all.
            const std::uint32_t g = cons_watch_.generation.load(std::memory_order_acquire);
            record(cons_watch_, g, phase == detail::wait_phase::sleep);
            // acquire: pairs with the producer's release store of tail_.
            c_.other = tail_.load(std::memory_order_acquire);
            if (c_.other != h) return detail::attempt::success();
            // acquire: pairs with close().
            if (closed_.load(std::memory_order_acquire)) {
              closed = true;
              return detail::attempt::success();
            }
            return detail::attempt::retry(g, spin.more());
          },
          dl,
          detail::sharing_of<Wait>, detail::handshake::asymmetric, detail::spin_then_yield);
      c_.spin_limit = spin.next_limit();
      if (!ok) return queue_status::timeout;
      if (!closed) return queue_status::success;
    }
  }

  // Closed and looked empty at h: decide, once, whether a push caught by the close can still land.
  // While one is in flight: busy for try_pop (it never waits for the producer), else wait for it
  // until the deadline (timeout).
  queue_status drained_or_element(std::uint32_t h, const detail::deadline& dl,
                                  bool may_wait) noexcept {
    if (!c_.drained) {
      if (!c_.fenced) {
        // The consumer's side of the handshake (file comment), once: it follows a read of
        // closed_ == 1, so every later read of in_push_ is after it too.
        detail::heavy_barrier(detail::symmetric_handshake<Wait>);
        c_.fenced = true;
      }
      // A push is in flight while in_push_ is set and tail_ has not moved.
      const auto landed_or_gave_up = [&] {
        // acquire: pairs with the producer's release stores of in_push_ and tail_.
        return in_push_.load(std::memory_order_acquire) == 0 ||
               tail_.load(std::memory_order_acquire) != h;
      };
      if (!landed_or_gave_up()) {
        if (!may_wait) return queue_status::busy;
        detail::queue_spin spin(detail::queue_spin::min_attempts);
        const bool ok = detail::await<Wait>(
            cons_watch_.generation, cons_watch_.sleepers,
            [&](detail::wait_phase phase) {
              // acquire: pairs with the release bump by the producer's notify.
              const std::uint32_t g = cons_watch_.generation.load(std::memory_order_acquire);
              // every watcher records (see wake_partner)
              record(cons_watch_, g, phase == detail::wait_phase::sleep);
              if (landed_or_gave_up()) return detail::attempt::success();
              return detail::attempt::retry(g, spin.more());
            },
            dl,
            detail::sharing_of<Wait>, detail::handshake::asymmetric,
            detail::spin_then_yield);
        if (!ok) return queue_status::timeout;
      }
      // acquire: pairs with the producer's release store of tail_.
      c_.other = tail_.load(std::memory_order_acquire);
      if (c_.other != h) return queue_status::success;
      c_.drained = true;
    }
    return queue_status::closed;
  }

  alignas(detail::pad_size) detail::atomic<std::uint32_t> tail_{0};  // written by the producer
  side p_;                                                            // producer-private
  // Producer: in the close handshake. Its own line: written twice per push, read by the consumer
  // only after a close (sharing tail_'s line cost 1P1C about a third of its throughput).
  alignas(detail::pad_size) detail::atomic<std::uint32_t> in_push_{0};
  alignas(detail::pad_size) detail::atomic<std::uint32_t> head_{0};  // written by the consumer
  side c_;                                                            // consumer-private
  watch cons_watch_;  // the consumer sleeps here
  watch prod_watch_;  // the producer sleeps here
  detail::task_count<Wait, std::uint32_t> tasks_;  // task_done()/join(): on its own line
  // Read-mostly from here on.
  alignas(detail::pad_size) detail::atomic<std::uint32_t> closed_{0};
  detail::ring_storage<cell, Ring> ring_;  // heap, or right behind the object (queue_common.hpp)
  std::uint32_t cap_ = 0;
};

}  // namespace atomkit
