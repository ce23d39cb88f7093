// The layout two unrelated (exec'd) processes share in test_ipc_primitives: the test process and
// atomkit_ipc_peer meet in a POSIX shared-memory region (shm_open + mmap) holding one of these.
#pragma once

#include <atomkit/ipc.hpp>

#include <atomic>
#include <cstdint>

namespace ipctest {

struct peer_region {
  std::atomic<std::uintptr_t> creator_address{0};  // where the creator mapped the region
  std::atomic<std::uintptr_t> peer_address{0};     // where the peer mapped it (must differ)
  std::atomic<std::uint32_t> peer_ready{0};        // the peer mapped the region and found it
  atomkit::ipc::spinlock lock;
  atomkit::ipc::ticket_lock fifo;
  std::uint64_t counter = 0;        // guarded by lock
  std::uint64_t fifo_counter = 0;   // guarded by fifo
  atomkit::ipc::event ping;         // creator -> peer
  atomkit::ipc::event pong;         // peer -> creator
  atomkit::ipc::binary_semaphore token{0};
};

// Both sides: this many increments under each lock, then this many event round trips.
inline constexpr std::uint64_t peer_increments = 20000;
inline constexpr int peer_round_trips = 500;

}  // namespace ipctest
