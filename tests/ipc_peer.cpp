// atomkit_ipc_peer: the second, exec'd process of test_ipc_primitives' two-program test. It opens
// the POSIX shared-memory region named on its command line, maps it at an address different from
// the creator's, and then takes its half of the work in ipc_peer.hpp. Exit status 0: success.
#include "ipc_peer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "atomkit_ipc_peer: %s\n", what);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 2) fail("usage: atomkit_ipc_peer /shm-name");
  const int fd = ::shm_open(argv[1], O_RDWR, 0);
  if (fd < 0) fail("shm_open");
  const std::size_t bytes = sizeof(ipctest::peer_region);
  void* first = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (first == MAP_FAILED) fail("mmap");
  auto* r = static_cast<ipctest::peer_region*>(first);
  // Make sure the objects sit at another address than in the creator: map the region a second
  // time (at a new address; the first mapping stays in place) if the first mapping coincides.
  if (reinterpret_cast<std::uintptr_t>(first) ==
      r->creator_address.load(std::memory_order_acquire)) {
    void* second = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (second == MAP_FAILED) fail("mmap (second)");
    r = static_cast<ipctest::peer_region*>(second);
  }
  ::close(fd);
  r->peer_address.store(reinterpret_cast<std::uintptr_t>(r), std::memory_order_relaxed);
  // release: the creator reads peer_address after it sees peer_ready.
  r->peer_ready.store(1, std::memory_order_release);

  for (std::uint64_t i = 0; i < ipctest::peer_increments; ++i) {
    {
      std::scoped_lock g(r->lock);
      ++r->counter;
    }
    std::scoped_lock g(r->fifo);
    ++r->fifo_counter;
  }
  for (int i = 0; i < ipctest::peer_round_trips; ++i) {
    if (!r->ping.wait_for(10s)) fail("ping not seen within 10 s");
    r->ping.clear();
    r->pong.set();
    if (!r->token.try_acquire_for(10s)) fail("token not seen within 10 s");
  }
  return 0;
}
