// Python's multiprocessing guide in C++: Lock, Event, Semaphore(3) and Barrier(4) shared by four
// worker processes made with fork(), then a Queue between a producer and two consumer processes.
//
//   lock = multiprocessing.Lock()              atomkit::ipc::spinlock
//   ready = multiprocessing.Event()            atomkit::ipc::event
//   slots = multiprocessing.Semaphore(3)       atomkit::ipc::counting_semaphore<3>
//   sync = multiprocessing.Barrier(4)          atomkit::ipc::barrier<>
//   jobs = multiprocessing.Queue(64)           atomkit::ipc::mpmc_queue<long>, in a shared_memory
//                                              region (its ring lives in the region too)
//
// Python places these objects in shared memory for you; here they live in one struct constructed
// in a MAP_SHARED|MAP_ANONYMOUS mapping before fork(), so every process sees the same objects.
// The ipc:: forms sleep on futexes that another process can wake (docs/ipc.md); the in-process
// primitives (atomkit::spinlock, ...) must not be used there.
//
// Checks: no increment lost under the lock, never more than 3 workers inside the semaphore,
// every worker passed every barrier phase with the others, every job consumed exactly once;
// exits non-zero otherwise.
#include <atomkit/ipc.hpp>
#include <atomkit/shared_memory.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

namespace {

using namespace std::chrono_literals;

constexpr int workers = 4;
constexpr int increments = 10000;
constexpr int phases = 5;

// (Members in the order that wastes the least padding.)
struct shared_state {
  atomkit::ipc::barrier<> sync{workers};           // multiprocessing.Barrier(4)
  long counter = 0;                                // guarded by lock
  std::atomic<int> inside{0};                      // workers holding a slot now
  std::atomic<int> most_inside{0};                 // the most ever seen at once
  std::atomic<int> out_of_step{0};                 // a worker saw another one phases behind
  atomkit::ipc::event ready;                       // multiprocessing.Event()
  atomkit::ipc::counting_semaphore<3> slots{3};    // multiprocessing.Semaphore(3)
  atomkit::ipc::spinlock lock;                     // multiprocessing.Lock()
  std::array<std::atomic<int>, workers> phase{};   // the phase each worker reached
};

int worker(shared_state& s, int id) {
  // ready.wait(timeout=5): the parent sets it once every worker exists.
  if (!s.ready.wait_for(5s)) return 1;

  for (int i = 0; i < increments; ++i) {  // with lock: counter += 1
    const std::scoped_lock guard(s.lock);
    ++s.counter;
  }

  for (int i = 0; i < 3; ++i) {  // with slots: (at most 3 at a time)
    s.slots.acquire();
    const int now = s.inside.fetch_add(1) + 1;
    int most = s.most_inside.load();
    while (now > most && !s.most_inside.compare_exchange_weak(most, now)) {
    }
    std::this_thread::yield();  // a little "work" while holding the slot
    s.inside.fetch_sub(1);
    s.slots.release();
  }

  for (int p = 1; p <= phases; ++p) {  // sync.wait(), phase after phase
    s.phase[static_cast<std::size_t>(id)].store(p);
    if (!s.sync.arrive_and_wait_for(10s)) return 2;  // a time-out breaks the barrier
    // Past the barrier, every worker has reached phase p.
    for (const auto& other : s.phase) {
      if (other.load() < p) s.out_of_step.fetch_add(1);
    }
  }
  return 0;
}

// p.join() for a child, with a time limit: a child still running then is killed. True if it
// exited with status 0.
bool join(pid_t pid, std::chrono::steady_clock::time_point limit) {
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(1ms);  // how often join() looks, not synchronization
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The Queue part: one producer puts 1..jobs, then closes the queue (instead of a sentinel per
// consumer); two consumers get until it reports closed, summing what they got.
bool queue_part() {
  constexpr long jobs = 20000;
  atomkit::shared_memory region = atomkit::shared_memory::anonymous(1 << 20);
  auto& q = region.construct<atomkit::ipc::mpmc_queue<long>>("jobs", 64);
  auto& sum = region.construct<std::atomic<long>>("sum", 0);
  auto& got = region.construct<std::atomic<long>>("got", 0);

  std::array<pid_t, 3> pids{};
  for (std::size_t i = 0; i < pids.size(); ++i) {
    pids[i] = ::fork();
    if (pids[i] < 0) {
      std::perror("fork");
      return false;
    }
    if (pids[i] == 0) {
      if (i == 0) {  // the producer
        for (long v = 1; v <= jobs; ++v) {
          if (q.push(v) != atomkit::queue_status::success) ::_exit(1);
        }
        q.close();
      } else {  // a consumer
        long v = 0;
        while (q.pop(v) == atomkit::queue_status::success) {
          sum.fetch_add(v);
          got.fetch_add(1);
        }
      }
      ::_exit(0);
    }
  }
  const auto limit = std::chrono::steady_clock::now() + 60s;
  bool ok = true;
  for (const pid_t pid : pids) ok = join(pid, limit) && ok;
  std::printf("queue: %ld jobs consumed by 2 processes, sum %ld (expected %ld)\n", got.load(),
              sum.load(), jobs * (jobs + 1) / 2);
  return ok && got.load() == jobs && sum.load() == jobs * (jobs + 1) / 2;
}

}  // namespace

int main() {
  void* mem = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  auto* s = new (mem) shared_state;  // constructed once, before any fork()

  std::array<pid_t, workers> pids{};
  for (int id = 0; id < workers; ++id) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) ::_exit(worker(*s, id));
    pids[static_cast<std::size_t>(id)] = pid;
  }
  s->ready.set();

  bool ok = true;
  const auto limit = std::chrono::steady_clock::now() + 60s;
  for (const pid_t pid : pids) ok = join(pid, limit) && ok;

  const long expected = long{workers} * increments;
  std::printf("counter = %ld (expected %ld)\n", s->counter, expected);
  std::printf("most workers inside Semaphore(3) at once: %d\n", s->most_inside.load());
  std::printf("barrier phases: %d, out of step: %d\n", phases, s->out_of_step.load());
  ok = ok && s->counter == expected && s->most_inside.load() <= 3 && s->most_inside.load() >= 1 &&
       s->out_of_step.load() == 0 && !s->sync.broken();

  s->~shared_state();
  ::munmap(mem, sizeof(shared_state));
  try {
    ok = queue_part() && ok;
  } catch (const std::exception& e) {  // a region that cannot be mapped, say
    std::fprintf(stderr, "queue part: %s\n", e.what());
    ok = false;
  }
  std::puts(ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
