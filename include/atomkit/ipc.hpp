// atomkit/ipc.hpp: every primitive, for memory shared between processes (Python's multiprocessing).
//
// Usage: auto* m = new (mapping) atomkit::ipc::spinlock; /* fork() */ std::scoped_lock g(*m);
// Reference: docs/ipc.md
//
// Each name is the primitive of the same name with the `process_shared` waiting policy: it spins
// briefly, then sleeps on a futex without the private flag, which any process that maps the word
// can wake, and closes the store/load window with the symmetric handshake (a fence on both sides;
// membarrier reaches the calling process only). Same API, same guarantees, same misuse reports as
// the in-process primitive.
//
// Placing the objects: construct each one once, by placement new (or shared_memory's construct)
// in a MAP_SHARED mapping, before any other process uses it; the mapping may sit at a different
// address in each process: the objects hold no pointers, no thread-local registration, and keep
// their sleeper counts inside themselves. Destroy it (or just unmap) once no process uses it.
// An in-process primitive (`park` or `busy` policy) placed in shared memory is the caller's bug:
// a private futex wake never reaches another process's sleeper.
//
// Limits (docs/ipc.md has the whole crash table):
//  - reentrant_lock records its owner as a kernel thread id: all processes using one must share
//    a pid namespace.
//  - barrier's completion runs in whichever process arrives last: it must be valid in every
//    process (captureless, or referring only to shared memory).
//  - A process killed while it holds a lock leaves it held: the timed forms of the others return
//    by their deadline; use ipc::robust_lock where a holder may die.
#pragma once

#include <atomkit/barrier.hpp>
#include <atomkit/condition_variable.hpp>
#include <atomkit/detail/wait_engine.hpp>
#include <atomkit/event.hpp>
#include <atomkit/ipc_queue.hpp>
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/robust_lock.hpp>
#include <atomkit/semaphore.hpp>
#include <atomkit/seqlock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <cstddef>

namespace atomkit::ipc {

using spinlock = basic_spinlock<process_shared>;
using ticket_lock = basic_ticket_lock<process_shared>;
using reentrant_lock = basic_reentrant_lock<process_shared>;

template <class T>
using seqlock = atomkit::seqlock<T, process_shared>;

template <std::ptrdiff_t Max = semaphore_max>
using counting_semaphore = atomkit::counting_semaphore<Max, process_shared>;
using binary_semaphore = counting_semaphore<1>;
using bounded_semaphore = basic_bounded_semaphore<process_shared>;

using event = basic_event<process_shared>;

template <class Completion = detail::barrier_noop>
using barrier = atomkit::barrier<Completion, process_shared>;

using condition_variable = basic_condition_variable<process_shared>;

}  // namespace atomkit::ipc
