// atomkit/ticket_lock.hpp: a FIFO ticket lock that survives oversubscription.
//
// Usage: atomkit::ticket_lock m; { std::scoped_lock g(m); /* served in arrival order */ }
// Reference: docs/locks.md
//
// lock() takes a ticket with one fetch_add and is served strictly in ticket order. Only the next
// thread in line spins; every waiter then yields for up to 20 us and sleeps on a slot of its own
// (ticket modulo slot_count: detail::ticket_wait), so the cores are not burnt by waiters whose
// turn is far off. Each unlock wakes the new owner, and only if it sleeps.
//
// More threads than cores. A FIFO lock is fair to the threads in its queue only: a thread that
// released the lock and has not yet taken its next ticket gets no turns while it is away, and a
// futex wake in unlock() is where a releaser is most often descheduled (the woken thread may take
// its CPU on the way out of the system call). unlock() therefore wakes nobody but a sleeping new
// owner: it no longer wakes the thread after it ahead of time (that wake, made after the release,
// cost the releaser its place, and the woken thread spun on a core the holder needed; the
// measurements are in bench/RESULTS.md). Waiters yield before they sleep: a holder they wait
// for is often runnable on their own CPU, and a sleep there cost a futex round trip per
// hand-off while the two threads still running took turns alone (fairness 0.78-0.82 at 4 threads
// on two cores; with the yields 1.00, and 10x the hand-offs). What the lock cannot prevent is in
// docs/locks.md ("Fairness with more threads than cores").
//
// Progress: lock blocks; try_lock and unlock are wait-free (unlock may make futex calls when
// waiters sleep). try_lock succeeds only when the lock is free and nobody is queued.
// try_lock_for/until do not join the queue (an abandoned ticket would stall everyone behind it):
// they wait, asleep, until the lock is free with nobody queued, or the deadline passes; under
// continuous contention they can time out while queued lock() calls are served.
//
// Misuse it detects: unlock of a lock that is not held (std::system_error, operation_not_permitted;
// the lock is left as it was). It records no owner, so an unlock by a thread other than the holder
// is not detected.
//
// Between processes: ipc::ticket_lock (basic_ticket_lock<process_shared>, ipc.hpp) in shared
// memory. A `park` or `busy` ticket lock placed in memory shared between processes is the
// caller's bug (docs/ipc.md). A process that dies holding the lock, or queued in lock() (its
// ticket's turn never ends), stalls the queue for good; try_lock_for/until, which hold no ticket,
// still return by their deadline.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/lock_order_hook.hpp>
#include <atomkit/detail/tsan.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>

namespace atomkit {

template <class Wait = park>
class basic_ticket_lock {
 public:
  static constexpr std::uint32_t slot_count = 32;

  constexpr basic_ticket_lock() noexcept {
    if (!std::is_constant_evaluated()) detail::tsan::mutex_create(this, 0);
  }
  ~basic_ticket_lock() {
    detail::on_destroy(this);
    detail::tsan::mutex_destroy(this);
  }
  basic_ticket_lock(const basic_ticket_lock&) = delete;
  basic_ticket_lock& operator=(const basic_ticket_lock&) = delete;
  basic_ticket_lock(basic_ticket_lock&&) = delete;
  basic_ticket_lock& operator=(basic_ticket_lock&&) = delete;

  void lock() noexcept {
    detail::on_acquire(this);  // before blocking: an inversion is reported before it can hang
    detail::tsan::pre_lock(this, 0);
    // relaxed: the RMW alone makes tickets unique; ordering comes from serving_ below.
    const std::uint32_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
    // acquire: pairs with the release store of serving_ in unlock() by the previous holder.
    if (ATOMKIT_UNLIKELY(serving_.load(std::memory_order_acquire) != ticket)) wait_turn(ticket);
    detail::tsan::post_lock(this, 0);
  }

  bool try_lock() noexcept {
    const bool ok = detail::tsan::try_lock_bracket(this, [this] { return try_acquire(); });
    if (ok) detail::on_acquire(this);
    return ok;
  }

  ATOMKIT_DETAIL_TIMED_FORMS(bool, try_lock, try_lock_timed, noexcept)

  void unlock() {
    // relaxed: only the holder writes serving_, so this reads our own last value.
    const std::uint32_t owner = serving_.load(std::memory_order_relaxed);
    // relaxed: a misuse check; if nobody holds a ticket the counters are equal and stay so.
    // Without it, an unlock of a free lock would move serving_ past next_ and break the lock.
    if (ATOMKIT_UNLIKELY(next_.load(std::memory_order_relaxed) == owner)) {
      detail::misuse("ticket_lock", "unlock() of a lock that is not held");
    }
    detail::on_release(this);
    detail::tsan::pre_unlock(this, 0);
    const std::uint32_t next = owner + 1;
    // release: pairs with the acquire loads of serving_ by the next holder (lock, wait_turn,
    // try_acquire): publishes the critical section.
    serving_.store(next, std::memory_order_release);
    if constexpr (Wait::sleeps) {
      detail::light_barrier(handshake == detail::handshake::symmetric);  // one for both checks
      wake_slot(next);  // the new owner, if it went to sleep (nobody else: see the top)
      detail::wake_generation(watchers_.generation, watchers_.sleepers, detail::wake_all_count,
                              detail::sharing_of<Wait>);
    }
    detail::tsan::post_unlock(this, 0);
  }

  // A snapshot, for tests and diagnostics: threads holding or waiting for a ticket.
  [[nodiscard]] std::uint32_t queue_length() const noexcept {
    // relaxed: a snapshot only.
    return next_.load(std::memory_order_relaxed) - serving_.load(std::memory_order_relaxed);
  }

 private:
  // Under contention nearly every waiter sleeps, so the sleeper's membarrier (which interrupts the
  // running holder) would cost more than a fence in unlock.
  static constexpr auto handshake = detail::handshake::symmetric;

  struct slot {
    detail::atomic<std::uint32_t> generation{0};  // futex word, advanced before each wake
    detail::atomic<std::uint32_t> sleepers{0};
  };

  // After the light barrier in unlock().
  void wake_slot(std::uint32_t ticket) noexcept {
    slot& s = slots_[ticket % slot_count];
    detail::wake_generation(s.generation, s.sleepers, detail::wake_all_count,
                            detail::sharing_of<Wait>);
  }

  bool try_acquire() noexcept {
    // acquire: pairs with the release store in unlock(), making the last holder's writes visible.
    std::uint32_t serving = serving_.load(std::memory_order_acquire);
    // relaxed: if next_ still equals serving at the CAS, no ticket was taken since and serving
    // cannot have moved (it never passes next_), so the lock was free and is now ours.
    std::uint32_t expected = next_.load(std::memory_order_relaxed);
    if (expected != serving) return false;
    return next_.compare_exchange_strong(expected, serving + 1, std::memory_order_relaxed,
                                         std::memory_order_relaxed);
  }

  ATOMKIT_NOINLINE void wait_turn(std::uint32_t ticket) noexcept {
    slot& s = slots_[ticket % slot_count];
    detail::await<Wait>(
        s.generation, s.sleepers,
        [this, &s, ticket] {
          // acquire (generation): pairs with the release bump in notify_generation, so a waiter
          // that sees the new generation also sees the serving_ store that preceded it.
          const std::uint32_t gen = s.generation.load(std::memory_order_acquire);
          // acquire: pairs with the release store of serving_ in unlock().
          const std::uint32_t serving = serving_.load(std::memory_order_acquire);
          if (serving == ticket) return detail::attempt::success();
          return detail::attempt::retry(gen, /*spin=*/ticket - serving == 1);
        },
        detail::deadline::never(), detail::sharing_of<Wait>, handshake, detail::ticket_wait);
  }

  bool try_lock_timed(const detail::deadline& dl) noexcept {
    const bool ok = detail::tsan::try_lock_bracket(this, [&] {
      return try_acquire() ||
        detail::await<Wait>(
            watchers_.generation, watchers_.sleepers,
            [this] {
              // acquire: as in wait_turn.
              const std::uint32_t gen = watchers_.generation.load(std::memory_order_acquire);
              return try_acquire() ? detail::attempt::success() : detail::attempt::retry(gen);
            },
            dl, detail::sharing_of<Wait>, handshake);
    });
    if (ok) detail::on_acquire(this);
    return ok;
  }

  alignas(detail::pad_size) detail::atomic<std::uint32_t> next_{0};     // ticket dispenser
  alignas(detail::pad_size) detail::atomic<std::uint32_t> serving_{0};  // ticket now served
  alignas(detail::pad_size) slot watchers_;  // try_lock_for/until waiters, who hold no ticket
  slot slots_[slot_count];  // lock() waiters park on slots_[ticket % slot_count]
};

using ticket_lock = basic_ticket_lock<park>;

}  // namespace atomkit
