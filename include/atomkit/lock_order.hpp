// atomkit/lock_order.hpp: a lock-order checker in the manner of Linux's lockdep, off until enabled.
//
// Usage: atomkit::lock_order::enable(); /* run the program's tests; inversions are reported */
// Reference: docs/lock_order.md
//
// When enabled, every atomkit lock (spinlock, ticket_lock, reentrant_lock, and their ipc:: forms)
// tells the checker what it acquires and releases (per process). The checker keeps each thread's held locks and one global graph of
// the orders seen ("B was taken while A was held"). The first acquisition that closes a cycle in
// that graph (A before B seen earlier, by any thread at any time, and now B before A; or through
// longer paths, A before B before C and now C before A) is reported: no deadlock and no
// concurrency is needed to see it. Each pair of locks is reported once. A report names both
// locks (set_name, else their addresses) and gives both acquisition paths as symbolized stack
// traces: where the earlier order was taken and where the reverse one is taken now.
//
// Ranks (optional): set_rank gives locks a hierarchy; taking a lock whose rank is <= the rank of
// a lock this thread holds is reported at once (the pair once), and counts in inversions().
//
// What is an acquisition: lock(), and try_lock()/try_lock_for/until when they succeed. A
// reentrant lock's re-acquisition by its owner is not. The locks taken inside one lock_all call
// are not ordered among themselves, only after the locks held before the call. A lock is known by
// its address; a destroyed lock is forgotten, so a new lock at the same address starts afresh.
//
// Cost: off, one predictable branch per lock and unlock; compiled with -DATOMKIT_LOCK_ORDER=0,
// nothing. On, an acquisition in an order already seen costs a lock-free lookup of each (held,
// new) pair; a new order takes the checker's internal mutex and records a stack trace.
//
// Limits: the tables are fixed in size and allocated once (at the first enable, set_name or
// set_rank). When one is full the checker says so once on stderr and keeps checking the orders it
// knows. A thread holds at most 64 checked locks at once (beyond that, says so once).
//
// Stack traces are symbolized when a report is made, by running addr2line over the program's
// debug information: build with -g (no -rdynamic needed). Without addr2line, dladdr names what it
// can and raw addresses are given otherwise.
//
// The handler runs on the thread that made the inverted acquisition, before that acquisition
// blocks, with the checker's internal lock released; the thread's lock operations inside the
// handler are not checked. It must not throw.
#pragma once

#include <atomkit/detail/lock_order_hook.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace atomkit::lock_order {

enum class action {
  report,  // call the handler and go on
  abort    // call the handler, then std::abort()
};

// Starts checking (allocating the tables the first time). Locks already held when it is called
// are not known to be held. May be called again to change the action.
void enable(action a = action::report) noexcept;
// Stops checking. Orders already recorded are kept for the next enable().
void disable() noexcept;

struct inversion {
  const void* first;   // the two locks, in the order this acquisition took them:
  const void* second;  // first is held, second is being taken
  std::string text;    // both locks' names or addresses, and both acquisition paths
};

using handler = void (*)(const inversion&);
// Installs h (nullptr: the default, which prints the text to stderr); returns the previous one.
handler set_handler(handler h) noexcept;

// The label used for lock in reports (kept until the lock is destroyed).
void set_name(const void* lock, std::string_view name);
// An optional hierarchy: taking a lock whose rank is <= a held lock's rank is reported at once.
void set_rank(const void* lock, unsigned rank);

// How many inversions and rank violations have been reported since the program started.
std::size_t inversions() noexcept;

}  // namespace atomkit::lock_order
