// atomkit/ipc_queue.hpp: the bounded queues for memory shared between processes:
// ipc::mpmc_queue<T> and ipc::spsc_queue<T> (Python's multiprocessing.Queue, bounded).
//
// Usage: auto& q = region.construct<atomkit::ipc::mpmc_queue<job>>("jobs", 64);   // one process
//        auto& q = region.find<atomkit::ipc::mpmc_queue<job>>("jobs");            // the others
//        (void)q.push(j);   job out; while (q.pop(out) == atomkit::queue_status::success) { ... }
// Reference: docs/shared_memory.md
//
// Same algorithms, API and guarantees as atomkit::mpmc_queue and atomkit::spsc_queue
// (mpmc_queue.hpp, spsc_queue.hpp: push/pop, try_ and timed forms, close, size, empty, capacity,
// task_done/join),
// with two differences:
//   - waiting uses the process_shared policy: shared futexes, which a push or pop in any process
//     that maps the queue wakes, and the symmetric store/load handshake;
//   - the ring lies right behind the object, found at a fixed offset from it, never through a
//     pointer, so each process may map the queue at a different address. Whoever places a queue
//     reserves bytes_for(capacity) bytes: shared_memory::construct does
//     (region.construct<ipc::mpmc_queue<T>>(key, capacity)), and create_at places one in any
//     MAP_SHARED mapping or any other shared segment (a Boost.Interprocess managed segment, say).
// T must be trivially copyable: elements are bytes in shared memory that another process copies
// out at another address. A queue is never destroyed by shared_memory; elements need no
// destruction.
//
// A crashed process. A producer killed after it took its ticket and before it published leaves a
// hole: the consumer that draws that ticket waits for an element that never comes (a blocking pop
// hangs; try_pop answers busy; timed pops return timeout at their deadline), and every later
// ticket of that slot waits behind it. Likewise a consumer killed holding a ticket blocks the
// producers of that slot's next lap. close() still wakes every waiter in every process, and pops
// still drain what is reachable, but the hole is not repaired: survivors get out with timed forms
// and close(). A process killed while it waits holds no ticket in a timed or try form, and costs a
// blocking waiter's peers nothing but, possibly, one spare wake-up. docs/shared_memory.md.
#pragma once

#include <atomkit/detail/error.hpp>
#include <atomkit/detail/queue_common.hpp>
#include <atomkit/detail/wait_engine.hpp>
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/spsc_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace atomkit::ipc {

namespace detail_ipc {

// object + ring, refused (invalid_argument) when the sum is not representable.
inline std::size_t queue_bytes(const char* primitive, std::size_t object, std::size_t ring) {
  constexpr auto max_object = static_cast<std::size_t>(PTRDIFF_MAX);
  if (ring > max_object - object) {
    detail::invalid_argument(primitive, "capacity too large for the element size");
  }
  return object + ring;
}

inline void check_placement(const char* primitive, const void* where, std::size_t alignment) {
  if (where == nullptr) detail::invalid_argument(primitive, "create_at: null address");
  if (reinterpret_cast<std::uintptr_t>(where) % alignment != 0) {
    detail::invalid_argument(primitive, "create_at: address not aligned to alignof(queue)");
  }
}

}  // namespace detail_ipc

// A bounded MPMC FIFO in shared memory. Any number of processes push and pop.
template <class T>
class mpmc_queue : public atomkit::mpmc_queue<T, process_shared, detail::trailing_ring> {
  static_assert(std::is_trivially_copyable_v<T>,
                "atomkit::ipc::mpmc_queue<T>: T must be trivially copyable (the ring is shared "
                "memory, copied between processes that each see it at a different address: no "
                "pointers, no destructors)");
  using base = atomkit::mpmc_queue<T, process_shared, detail::trailing_ring>;

 public:
  // The bytes to reserve for a queue of `capacity` elements: the object, then its ring.
  // invalid_argument: capacity 0, or too large (the size overflows).
  static std::size_t bytes_for(std::size_t capacity) {
    return detail_ipc::queue_bytes("ipc::mpmc_queue", base::ring_offset(),
                                   base::ring_bytes_for(capacity));
  }
  // Places a queue and its ring at `where`, which must hold bytes_for(capacity) bytes aligned to
  // alignof(mpmc_queue) (invalid_argument otherwise, as far as it can tell: null or misaligned).
  static mpmc_queue* create_at(void* where, std::size_t capacity) {
    static_assert(sizeof(mpmc_queue) == sizeof(base), "the ring offset is the base's");
    (void)bytes_for(capacity);  // validates capacity before anything is written
    detail_ipc::check_placement("ipc::mpmc_queue", where, alignof(mpmc_queue));
    return ::new (where) mpmc_queue(capacity);
  }

  mpmc_queue(const mpmc_queue&) = delete;
  mpmc_queue& operator=(const mpmc_queue&) = delete;
  ~mpmc_queue() = default;

 private:
  explicit mpmc_queue(std::size_t capacity) : base(capacity) {}
};

// A bounded SPSC FIFO in shared memory: one process (thread) pushes and one pops at any time.
template <class T>
class spsc_queue : public atomkit::spsc_queue<T, process_shared, detail::trailing_ring> {
  static_assert(std::is_trivially_copyable_v<T>,
                "atomkit::ipc::spsc_queue<T>: T must be trivially copyable (the ring is shared "
                "memory, copied between processes that each see it at a different address: no "
                "pointers, no destructors)");
  using base = atomkit::spsc_queue<T, process_shared, detail::trailing_ring>;

 public:
  // As mpmc_queue::bytes_for.
  static std::size_t bytes_for(std::size_t capacity) {
    return detail_ipc::queue_bytes("ipc::spsc_queue", base::ring_offset(),
                                   base::ring_bytes_for(capacity));
  }
  // As mpmc_queue::create_at.
  static spsc_queue* create_at(void* where, std::size_t capacity) {
    static_assert(sizeof(spsc_queue) == sizeof(base), "the ring offset is the base's");
    (void)bytes_for(capacity);
    detail_ipc::check_placement("ipc::spsc_queue", where, alignof(spsc_queue));
    return ::new (where) spsc_queue(capacity);
  }

  spsc_queue(const spsc_queue&) = delete;
  spsc_queue& operator=(const spsc_queue&) = delete;
  ~spsc_queue() = default;

 private:
  explicit spsc_queue(std::size_t capacity) : base(capacity) {}
};

}  // namespace atomkit::ipc
