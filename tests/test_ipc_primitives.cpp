// The ipc:: primitives across processes: objects in a MAP_SHARED|MAP_ANONYMOUS mapping, then
// fork(); children report by exit status and by counters in the mapping, and the parent reaps
// them with a bounded wait (killing them at its deadline), so a hang fails instead of hanging.
// Covers: mutual exclusion of every lock, lost-wake-up ping-pongs with a stall detector, a barrier
// across 4 processes for many phases, seqlock snapshots never torn, timed forms that return when
// another process signals (well before their time-out), the newcomer's experiment of the issue
// that asked for ipc (the default primitives hung or timed out in it), processes killed with
// SIGKILL (a killed sleeper costs nothing but a spare wake-up; timed forms return by their
// deadline when the holder died), and two exec'd programs meeting in a POSIX shm region mapped at
// different addresses.
#include <atomkit/ipc.hpp>

#include <doctest/doctest.h>

#include "ipc_peer.hpp"
#include "ipc_processes.hpp"
#include "stress.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>

extern char** environ;  // NOLINT(readability-redundant-declaration): for posix_spawn

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ipctest::processes;
using ipctest::shared_object;

// A wait that took longer than this is a stall (a lost wake-up: the waiter slept while its
// condition held, and only its time-out woke it). Round trips take microseconds.
constexpr auto stall = 2s;
constexpr auto patience = 5s;  // the time-out of the timed waits in the ping-pongs

// ---- mutual exclusion ----------------------------------------------------------------------------

template <class Lock>
struct counted {
  Lock lock;
  std::uint64_t counter = 0;         // guarded by lock (plain: a lost update shows)
  std::atomic<int> inside{0};        // threads inside the critical section
  std::atomic<int> violations{0};
  std::array<std::atomic<std::uint64_t>, 8> done{};  // iterations made by each process
};

template <class Lock>
void lock_once(Lock& l) {
  l.lock();
  if constexpr (std::is_same_v<Lock, atomkit::ipc::reentrant_lock>) l.lock();  // nested
}
template <class Lock>
void unlock_once(Lock& l) {
  if constexpr (std::is_same_v<Lock, atomkit::ipc::reentrant_lock>) l.unlock();
  l.unlock();
}

template <class Lock>
void mutual_exclusion(int procs, std::uint64_t iterations, std::uint64_t stream) {
  shared_object<counted<Lock>> s;
  processes kids;
  for (int p = 0; p < procs; ++p) {
    kids.spawn([&s, p, iterations, stream] {
      auto rng = stress::rng(stream * 16 + static_cast<std::uint64_t>(p));
      const stress::time_box box(10s);
      std::uint64_t i = 0;
      for (; i < iterations && !box.expired(); ++i) {
        lock_once(s->lock);
        if (s->inside.fetch_add(1, std::memory_order_relaxed) != 0) {
          s->violations.fetch_add(1, std::memory_order_relaxed);
        }
        ++s->counter;
        if ((rng() & 63) == 0) std::this_thread::yield();  // hold it across a yield sometimes
        s->inside.fetch_sub(1, std::memory_order_relaxed);
        unlock_once(s->lock);
      }
      s->done[static_cast<std::size_t>(p)].store(i, std::memory_order_relaxed);
      return 0;
    });
  }
  REQUIRE(kids.reap_all());
  std::uint64_t total = 0;
  for (int p = 0; p < procs; ++p) total += s->done[static_cast<std::size_t>(p)].load();
  CHECK(s->violations.load() == 0);
  CHECK(s->counter == total);
  CHECK(total > 0);
}

TEST_CASE("ipc locks: mutual exclusion across 4 processes") {
  const std::uint64_t n = stress::scaled(20000);
  SUBCASE("spinlock") { mutual_exclusion<atomkit::ipc::spinlock>(4, n, 1); }
  SUBCASE("ticket_lock") { mutual_exclusion<atomkit::ipc::ticket_lock>(4, n, 2); }
  SUBCASE("reentrant_lock") { mutual_exclusion<atomkit::ipc::reentrant_lock>(4, n, 3); }
}

// ---- ping-pongs with a stall detector ------------------------------------------------------------

struct event_pair {
  atomkit::ipc::event ping, pong;
};

// Two processes bounce a ball through two events; each wait is timed and measured.
void event_ping_pong(event_pair& e, int rounds) {
  processes kids;
  kids.spawn([&e, rounds] {
    for (int i = 0; i < rounds; ++i) {
      e.ping.set();
      const auto t0 = clock_type::now();
      IPC_CHILD_CHECK(e.pong.wait_for(patience));
      IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
      e.pong.clear();
    }
    return 0;
  });
  kids.spawn([&e, rounds] {
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = clock_type::now();
      IPC_CHILD_CHECK(e.ping.wait_for(patience));
      IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
      e.ping.clear();
      e.pong.set();
    }
    return 0;
  });
  REQUIRE(kids.reap_all());
}

struct semaphore_pair {
  atomkit::ipc::binary_semaphore ping{0};
  atomkit::ipc::counting_semaphore<> pong{0};
};

void semaphore_ping_pong(semaphore_pair& s, int rounds) {
  processes kids;
  kids.spawn([&s, rounds] {
    for (int i = 0; i < rounds; ++i) {
      s.ping.release();
      const auto t0 = clock_type::now();
      IPC_CHILD_CHECK(s.pong.try_acquire_for(patience));
      IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
    }
    return 0;
  });
  kids.spawn([&s, rounds] {
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = clock_type::now();
      IPC_CHILD_CHECK(s.ping.try_acquire_for(patience));
      IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
      s.pong.release();
    }
    return 0;
  });
  REQUIRE(kids.reap_all());
}

// A lock handed back and forth: in round r the holder waits until the other process announced
// it is about to wait (and, most rounds, until it sleeps in the kernel), then unlocks; the other
// must get the lock at once, not at its time-out.
template <class Lock>
struct handoff {
  Lock lock;
  std::atomic<int> waiting{-1};  // the round whose waiter is about to wait
  std::atomic<int> got{-1};      // the round whose waiter got the lock
  std::atomic<int> started{0};
  std::array<std::atomic<pid_t>, 2> pid{};
};

template <class Lock>
void lock_handoff(handoff<Lock>& h, int rounds) {
  h.waiting.store(-1);
  h.got.store(-1);
  h.started.store(0);
  processes kids;
  for (int p = 0; p < 2; ++p) {
    kids.spawn([&h, p, rounds] {
      h.pid[static_cast<std::size_t>(p)].store(::getpid());
      auto rng = stress::rng(100 + static_cast<std::uint64_t>(p));
      const stress::time_box box(20s);
      if (p == 0) {
        h.lock.lock();
        h.started.store(1);
      } else {
        IPC_CHILD_CHECK(ipctest::spin_until([&] { return h.started.load() == 1; }, box));
      }
      const pid_t peer_pid = [&] {
        ipctest::spin_until([&] { return h.pid[1 - static_cast<std::size_t>(p)].load() != 0; },
                            box);
        return h.pid[1 - static_cast<std::size_t>(p)].load();
      }();
      for (int r = 0; r < rounds; ++r) {
        if (r % 2 == p) {  // holder this round
          IPC_CHILD_CHECK(ipctest::spin_until([&] { return h.waiting.load() == r; }, box));
          if ((rng() & 3) != 0) {  // most rounds: let it fall asleep first (bounded)
            for (int k = 0; k < 200 && ipctest::process_state(peer_pid) != 'S'; ++k) {
              std::this_thread::yield();
            }
          }
          h.lock.unlock();
          // The lock is not fair: wait until the other process has it, or this one could take it
          // back in the next round.
          IPC_CHILD_CHECK(ipctest::spin_until([&] { return h.got.load() == r; }, box));
        } else {
          h.waiting.store(r);
          const auto t0 = clock_type::now();
          IPC_CHILD_CHECK(h.lock.try_lock_for(patience));
          IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
          h.got.store(r);
        }
      }
      if ((rounds - 1) % 2 != p) h.lock.unlock();  // the last waiter holds it
      return 0;
    });
  }
  REQUIRE(kids.reap_all());
}

TEST_CASE("ipc ping-pongs across processes lose no wake-up") {
  const int rounds = static_cast<int>(stress::scaled(2000));
  stress::seed();
  SUBCASE("event") {
    shared_object<event_pair> e;
    event_ping_pong(*e, rounds);
  }
  SUBCASE("semaphores") {
    shared_object<semaphore_pair> s;
    semaphore_ping_pong(*s, rounds);
  }
  const int handoffs = static_cast<int>(stress::scaled(600));
  SUBCASE("spinlock hand-off") {
    shared_object<handoff<atomkit::ipc::spinlock>> h;
    lock_handoff(*h, handoffs);
  }
  SUBCASE("reentrant_lock hand-off") {
    shared_object<handoff<atomkit::ipc::reentrant_lock>> h;
    lock_handoff(*h, handoffs);
  }
  SUBCASE("ticket_lock hand-off") {
    shared_object<handoff<atomkit::ipc::ticket_lock>> h;
    lock_handoff(*h, handoffs);
  }
}

// ---- barrier -------------------------------------------------------------------------------------

struct barrier_region;

// The completion: it runs in whichever process arrives last, so it refers only to the shared
// mapping (which fork() leaves at the same address in every process).
struct phase_check {
  barrier_region* region;
  void operator()() noexcept;
};

struct barrier_region {
  static constexpr int parties = 4;
  atomkit::ipc::barrier<phase_check> sync{parties, phase_check{this}};
  std::array<std::uint64_t, parties> arrived_in{};  // phase each process last arrived in
  std::uint64_t phases = 0;                         // completed phases (written by completions)
  std::atomic<int> mismatches{0};
};

void phase_check::operator()() noexcept {
  for (const std::uint64_t a : region->arrived_in) {
    if (a != region->phases) region->mismatches.fetch_add(1, std::memory_order_relaxed);
  }
  ++region->phases;
}

TEST_CASE("ipc barrier: 4 processes, many phases, completion in whichever arrives last") {
  shared_object<barrier_region> b;
  const auto phases = static_cast<std::uint64_t>(stress::scaled(800));
  processes kids;
  for (int p = 0; p < barrier_region::parties; ++p) {
    kids.spawn([&b, p, phases] {
      for (std::uint64_t ph = 0; ph < phases; ++ph) {
        b->arrived_in[static_cast<std::size_t>(p)] = ph;
        if (ph % 2 == 0) {
          b->sync.arrive_and_wait();
        } else {
          const auto t0 = clock_type::now();
          IPC_CHILD_CHECK(b->sync.arrive_and_wait_for(patience));
          IPC_CHILD_CHECK(clock_type::now() - t0 < stall);
        }
      }
      return 0;
    });
  }
  REQUIRE(kids.reap_all());
  CHECK(b->phases == phases);
  CHECK(b->mismatches.load() == 0);
  CHECK_FALSE(b->sync.broken());
}

// ---- seqlock -------------------------------------------------------------------------------------

struct wide_value {
  std::array<std::uint64_t, 6> w;
};

struct seqlock_region {
  atomkit::ipc::seqlock<wide_value> value{wide_value{}};
  std::atomic<int> writing{1};
  std::array<std::atomic<std::uint64_t>, 4> reads{};
};

TEST_CASE("ipc seqlock: snapshots across processes are never torn") {
  shared_object<seqlock_region> s;
  const std::uint64_t writes = stress::scaled(40000);
  processes kids;
  kids.spawn([&s, writes] {
    const stress::time_box box(10s);
    for (std::uint64_t v = 1; v <= writes && !box.expired(); ++v) {
      if (v % 8 == 0) {
        s->value.update([v](wide_value& x) { x.w.fill(v); });
      } else {
        wide_value x{};
        x.w.fill(v);
        s->value.store(x);
      }
    }
    s->writing.store(0);
    return 0;
  });
  for (int p = 0; p < 3; ++p) {
    kids.spawn([&s, p] {
      std::uint64_t last = 0;
      std::uint64_t n = 0;
      for (bool more = true; more;) {
        more = s->writing.load() != 0;  // one last read after the writer finished
        wide_value x{};
        if (p == 2) {
          const auto o = s->value.try_load();
          if (!o) continue;
          x = *o;
        } else {
          x = s->value.load();
        }
        for (const std::uint64_t w : x.w) IPC_CHILD_CHECK(w == x.w[0]);  // not torn
        IPC_CHILD_CHECK(x.w[0] >= last);                                 // never goes back
        last = x.w[0];
        ++n;
      }
      s->reads[static_cast<std::size_t>(p)].store(n);
      return 0;
    });
  }
  REQUIRE(kids.reap_all());
  CHECK(s->value.load().w[0] > 0);
  for (int p = 0; p < 3; ++p) CHECK(s->reads[static_cast<std::size_t>(p)].load() > 0);
}

// ---- timed forms return when another process signals ---------------------------------------------

struct signalled {
  atomkit::ipc::barrier<> meet{2};
  atomkit::ipc::ticket_lock ticket;
  atomkit::ipc::reentrant_lock reentrant;
  std::atomic<int> held{0};
  std::atomic<int> waiters_ready{0};
  atomkit::ipc::event ev;
  atomkit::ipc::counting_semaphore<3> sem{0};
  atomkit::ipc::spinlock spin;
};

// The newcomer's timing: the other process signals at `delay`; each timed form waits up to 3 s
// and must return true well before its time-out.
void timed_forms_return_on_signal(std::chrono::milliseconds delay) {
  shared_object<signalled> s;
  processes kids;
  constexpr int waiter_count = 6;
  kids.spawn([&s, delay] {
    s->spin.lock();
    s->ticket.lock();
    s->reentrant.lock();
    s->held.store(1);
    const stress::time_box box(10s);
    IPC_CHILD_CHECK(ipctest::spin_until([&] { return s->waiters_ready.load() == waiter_count; },
                                        box));
    // The scenario's delay before the signals (what is tested is how soon the waiters see them).
    std::this_thread::sleep_for(delay);
    s->ev.set();
    s->sem.release();
    s->spin.unlock();
    s->ticket.unlock();
    s->reentrant.unlock();
    s->meet.arrive_and_wait();
    return 0;
  });
  const auto waiter = [&s](auto wait) {
    return [&s, wait] {
      const stress::time_box box(10s);
      IPC_CHILD_CHECK(ipctest::spin_until([&] { return s->held.load() == 1; }, box));
      s->waiters_ready.fetch_add(1);
      const auto t0 = clock_type::now();
      IPC_CHILD_CHECK(wait(*s));
      // The signal comes at `delay`; 3 s is the time-out. Returning only at the time-out was the
      // newcomer's failure.
      IPC_CHILD_CHECK(clock_type::now() - t0 < 1500ms);
      return 0;
    };
  };
  kids.spawn(waiter([](signalled& x) { return x.ev.wait_for(3s); }));
  kids.spawn(waiter([](signalled& x) { return x.sem.try_acquire_for(3s); }));
  kids.spawn(waiter([](signalled& x) {
    const bool ok = x.spin.try_lock_for(3s);
    if (ok) x.spin.unlock();
    return ok;
  }));
  kids.spawn(waiter([](signalled& x) {
    const bool ok = x.ticket.try_lock_for(3s);
    if (ok) x.ticket.unlock();
    return ok;
  }));
  kids.spawn(waiter([](signalled& x) {
    const bool ok = x.reentrant.try_lock_for(3s);
    if (ok) x.reentrant.unlock();
    return ok;
  }));
  kids.spawn(waiter([](signalled& x) { return x.meet.arrive_and_wait_for(3s); }));
  REQUIRE(kids.reap_all());
}

TEST_CASE("ipc timed forms return when another process signals, not at their time-out") {
  timed_forms_return_on_signal(200ms);
}

// The experiment of the issue that asked for ipc, as a newcomer ran it: objects constructed in a
// MAP_SHARED|MAP_ANONYMOUS mapping, then fork(); 8 runs. With the default (private) primitives
// the locks hung in some runs with the lock free and its waiters asleep, the timed waits returned
// only at their time-out, and a 4-process barrier broke. With the ipc:: types all of it passes.
TEST_CASE("the newcomer's fork() experiment passes with the ipc:: types") {
  stress::seed();
  for (int run = 0; run < 8; ++run) {
    CAPTURE(run);
    const auto stream = static_cast<std::uint64_t>(run);
    mutual_exclusion<atomkit::ipc::spinlock>(4, stress::scaled(1000), 10 + stream);
    mutual_exclusion<atomkit::ipc::ticket_lock>(4, stress::scaled(1000), 20 + stream);
    timed_forms_return_on_signal(20ms);
    shared_object<barrier_region> b;
    processes kids;
    for (int p = 0; p < barrier_region::parties; ++p) {
      kids.spawn([&b, p] {
        for (std::uint64_t ph = 0; ph < 20; ++ph) {
          b->arrived_in[static_cast<std::size_t>(p)] = ph;
          IPC_CHILD_CHECK(b->sync.arrive_and_wait_for(3s));
        }
        return 0;
      });
    }
    REQUIRE(kids.reap_all());
    CHECK_FALSE(b->sync.broken());
    CHECK(b->mismatches.load() == 0);
  }
}

// ---- processes killed with SIGKILL ---------------------------------------------------------------

// A process killed while asleep in a wait stays counted among the sleepers: later releases may
// make a futex wake that finds nobody, and that is all. The same objects keep working.
TEST_CASE("a process killed while it sleeps costs the others nothing but a spare wake-up") {
  stress::seed();
  const int rounds = static_cast<int>(stress::scaled(400));
  const stress::time_box box(10s);
  SUBCASE("event") {
    shared_object<event_pair> e;
    processes kids;
    const pid_t sleeper = kids.spawn([&e] {
      e->ping.wait();
      return 0;
    });
    REQUIRE(ipctest::wait_until_asleep(sleeper, box));
    kids.kill(sleeper);
    event_ping_pong(*e, rounds);
  }
  SUBCASE("semaphore") {
    shared_object<semaphore_pair> s;
    processes kids;
    const pid_t sleeper = kids.spawn([&s] {
      s->ping.acquire();
      return 0;
    });
    REQUIRE(ipctest::wait_until_asleep(sleeper, box));
    kids.kill(sleeper);
    semaphore_ping_pong(*s, rounds);
    CHECK(s->ping.available() == 0);  // the dead waiter took nothing
  }
  SUBCASE("spinlock and reentrant_lock") {
    shared_object<handoff<atomkit::ipc::spinlock>> h1;
    shared_object<handoff<atomkit::ipc::reentrant_lock>> h2;
    std::atomic<int>& release = h1->started;  // tells the holder to unlock
    processes kids;
    kids.spawn([&h1, &h2, &release] {
      h1->lock.lock();
      h2->lock.lock();
      h1->waiting.store(1);
      const stress::time_box hold(10s);
      IPC_CHILD_CHECK(ipctest::spin_until([&] { return release.load() == 1; }, hold));
      h2->lock.unlock();
      h1->lock.unlock();
      return 0;
    });
    REQUIRE(ipctest::spin_until([&] { return h1->waiting.load() == 1; }, box));
    const pid_t s1 = kids.spawn([&h1] {
      h1->lock.lock();
      return 0;
    });
    const pid_t s2 = kids.spawn([&h2] {
      h2->lock.lock();
      return 0;
    });
    REQUIRE(ipctest::wait_until_asleep(s1, box));
    REQUIRE(ipctest::wait_until_asleep(s2, box));
    kids.kill(s1);
    kids.kill(s2);
    release.store(1);
    REQUIRE(kids.reap_all());
    CHECK_FALSE(h1->lock.is_locked());
    lock_handoff(*h1, rounds);
    lock_handoff(*h2, rounds);
  }
}

// What a dead holder leaves: the lock stays held (or the units stay taken, or the party never
// arrives), and the timed forms of the others return false by their deadline.
TEST_CASE("timed forms return by their deadline when the holder was killed") {
  const stress::time_box box(10s);
  constexpr auto deadline = 100ms;
  // The timed form fails, and returns at its deadline, not long after.
  const auto check_timed = [&](auto&& try_for) {
    const auto t0 = clock_type::now();
    CHECK_FALSE(try_for(deadline));
    const auto waited = clock_type::now() - t0;
    CHECK(waited >= deadline);
    CHECK(waited < deadline + 2s);
  };
  struct held_objects {
    atomkit::ipc::barrier<> three{3};
    atomkit::ipc::ticket_lock ticket;
    atomkit::ipc::ticket_lock queue;
    atomkit::ipc::reentrant_lock reentrant;
    std::atomic<int> holding{0};
    atomkit::ipc::counting_semaphore<3> units{3};
    atomkit::ipc::spinlock spin;
  };
  shared_object<held_objects> s;
  processes kids;
  const pid_t holder = kids.spawn([&s]() -> int {
    s->spin.lock();
    s->ticket.lock();
    s->queue.lock();
    s->reentrant.lock();
    s->reentrant.lock();
    for (int i = 0; i < 3; ++i) s->units.acquire();
    s->holding.store(1);
    for (;;) ::pause();  // until killed
  });
  REQUIRE(ipctest::spin_until([&] { return s->holding.load() == 1; }, box));
  // A process queued in the ticket lock, killed there: its turn never ends.
  const pid_t queued = kids.spawn([&s] {
    s->queue.lock();
    return 0;
  });
  REQUIRE(ipctest::wait_until_asleep(queued, box));
  kids.kill(queued);
  kids.kill(holder);

  check_timed([&](auto d) { return s->spin.try_lock_for(d); });
  check_timed([&](auto d) { return s->ticket.try_lock_for(d); });
  check_timed([&](auto d) { return s->reentrant.try_lock_for(d); });
  check_timed([&](auto d) { return s->units.try_acquire_for(d); });
  CHECK(s->units.available() == 0);  // the dead holder's units are lost
  CHECK(s->spin.is_locked());
  CHECK(s->ticket.queue_length() == 1);  // the dead holder's ticket
  check_timed([&](auto d) { return s->queue.try_lock_for(d); });
  CHECK(s->queue.queue_length() == 2);  // and here the killed waiter's ticket too, for good

  // A party that died before arriving: a timed arrival breaks the barrier at its deadline, and
  // an untimed waiter of the phase is released with broken_barrier.
  const pid_t untimed = kids.spawn([&s] {
    try {
      s->three.arrive_and_wait();
    } catch (const atomkit::broken_barrier&) {
      return 0;
    }
    return 1;
  });
  const auto t0 = clock_type::now();
  CHECK_FALSE(s->three.arrive_and_wait_for(deadline));
  CHECK(clock_type::now() - t0 < deadline + 2s);
  CHECK(s->three.broken());
  static_cast<void>(untimed);
  CHECK(kids.reap_all());
}

// ---- two exec'd programs ------------------------------------------------------------------------

// Removes a POSIX shm name at scope exit.
class shm_name {
 public:
  explicit shm_name(std::string name) : name_(std::move(name)) {}
  ~shm_name() { ::shm_unlink(name_.c_str()); }
  shm_name(const shm_name&) = delete;
  shm_name& operator=(const shm_name&) = delete;
  shm_name(shm_name&&) = delete;
  shm_name& operator=(shm_name&&) = delete;
  [[nodiscard]] const std::string& str() const noexcept { return name_; }

 private:
  std::string name_;
};

TEST_CASE("two exec'd programs meet in a POSIX shm region at different addresses") {
  const shm_name name("/atomkit-test-ipc-" + std::to_string(::getpid()) + "-" +
                      std::to_string(stress::seed() % 1000000));
  const int fd = ::shm_open(name.str().c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  REQUIRE(fd >= 0);
  const std::size_t bytes = sizeof(ipctest::peer_region);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes)) == 0);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  REQUIRE(mem != MAP_FAILED);
  auto* r = new (mem) ipctest::peer_region;
  r->creator_address.store(reinterpret_cast<std::uintptr_t>(r), std::memory_order_release);

  std::string path = ATOMKIT_IPC_PEER_PATH;
  std::string arg = name.str();
  char* argv[] = {path.data(), arg.data(), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, environ) == 0);

  bool ok = true;
  const stress::time_box box(20s);
  ok = ipctest::spin_until([&] { return r->peer_ready.load(std::memory_order_acquire) == 1; }, box);
  CHECK(ok);
  if (ok) {
    CHECK(r->peer_address.load() != r->creator_address.load());
    for (std::uint64_t i = 0; i < ipctest::peer_increments; ++i) {
      {
        std::scoped_lock g(r->lock);
        ++r->counter;
      }
      std::scoped_lock g(r->fifo);
      ++r->fifo_counter;
    }
    for (int i = 0; i < ipctest::peer_round_trips && ok; ++i) {
      r->ping.set();
      const auto t0 = clock_type::now();
      ok = r->pong.wait_for(patience) && clock_type::now() - t0 < stall;
      r->pong.clear();
      r->token.release();
    }
    CHECK(ok);
  }
  // Bounded reap: the peer is killed if it has not exited by the deadline.
  int status = -1;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (box.expired()) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      FAIL("atomkit_ipc_peer still running at the deadline: killed");
    }
    std::this_thread::sleep_for(1ms);  // the reaper's polling interval, not synchronization
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  {
    std::scoped_lock g(r->lock, r->fifo);
    CHECK(r->counter == 2 * ipctest::peer_increments);
    CHECK(r->fifo_counter == 2 * ipctest::peer_increments);
  }
  r->~peer_region();
  ::munmap(mem, bytes);
}

}  // namespace
