// Model checks of the locks: spinlock (and through it the engine's wake-claim protocol), ticket
// lock, reentrant lock. Each thread takes the lock a few times and updates a plain variable under
// it (rl::var: Relacy reports a data race if mutual exclusion or the release/acquire pairing
// fails); a thread that sleeps forever is reported as a deadlock.
#include "model.hpp"

#include <atomkit/reentrant_lock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <chrono>

namespace {

using namespace std::chrono_literals;

template <class Lock, int Threads, int Rounds>
struct lock_suite : model::suite<lock_suite<Lock, Threads, Rounds>, Threads> {
  Lock lock;
  rl::var<int> counter;
  void before() {
    model::reset_os();
    counter($) = 0;
  }
  void thread(unsigned) {
    for (int i = 0; i < Rounds; ++i) {
      lock.lock();
      counter($) = counter($) + 1;
      lock.unlock();
    }
  }
  void after() { RL_ASSERT(counter($) == Threads * Rounds); }
};

// Timed and try forms mixed with blocking ones: a time-out must never strand another waiter.
template <class Lock, int Threads>
struct timed_lock_suite : model::suite<timed_lock_suite<Lock, Threads>, Threads> {
  Lock lock;
  rl::var<int> counter;
  rl::var<int> taken[Threads];
  void before() {
    model::reset_os();
    counter($) = 0;
    for (auto& t : taken) t($) = 0;
  }
  void thread(unsigned me) {
    for (int i = 0; i < 2; ++i) {
      bool got = false;
      if (me == 0) {
        got = lock.try_lock_for(1ms);
      } else if (me == 1 && i == 1) {
        got = lock.try_lock();
      } else {
        lock.lock();
        got = true;
      }
      if (got) {
        counter($) = counter($) + 1;
        taken[me]($) = taken[me]($) + 1;
        lock.unlock();
      }
    }
  }
  void after() {
    int sum = 0;
    for (auto& t : taken) sum += t($);
    RL_ASSERT(counter($) == sum);
  }
};

// The reentrant lock: nesting, and optimistic reads validated against writers.
template <int Threads>
struct reentrant_suite : model::suite<reentrant_suite<Threads>, Threads> {
  atomkit::reentrant_lock lock;
  model::atomic<int> a{0};  // written under the lock, read optimistically (relaxed) by readers
  model::atomic<int> b{0};  // invariant under the lock: a == b
  rl::var<int> counter;
  void before() {
    model::reset_os();
    counter($) = 0;
  }
  void thread(unsigned me) {
    if (me == Threads - 1) {
      // An optimistic reader: a validated read sees a == b.
      const int diff = lock.read([&] {
        return a.load(std::memory_order_relaxed) - b.load(std::memory_order_relaxed);
      });
      RL_ASSERT(diff == 0);
      return;
    }
    for (int i = 0; i < 2; ++i) {
      lock.lock();
      lock.lock();  // nested
      RL_ASSERT(lock.depth() == 2);
      a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      counter($) = counter($) + 1;
      b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      lock.unlock();
      lock.unlock();
    }
  }
  void after() { RL_ASSERT(counter($) == 2 * (Threads - 1)); }
};

const bool registered = [] {
  using spin = atomkit::spinlock;
  using ticket = atomkit::ticket_lock;
  model::check<lock_suite<spin, 2, 3>>("spinlock: 2 threads x 3");
  model::check<lock_suite<spin, 3, 2>>("spinlock: 3 threads x 2");
  model::check<timed_lock_suite<spin, 3>>("spinlock: timed, try and blocking, 3 threads");
  model::check<timed_lock_suite<spin, 2>>("spinlock: timed, try and blocking, 2 threads", 1,
                                          model::bound_only);
  model::check<lock_suite<atomkit::busy_spinlock, 2, 2>>("busy_spinlock: 2 threads x 2");
  model::check<lock_suite<ticket, 2, 3>>("ticket_lock: 2 threads x 3");
  model::check<lock_suite<ticket, 3, 2>>("ticket_lock: 3 threads x 2", 1, model::random_only);
  model::check<lock_suite<ticket, 3, 1>>("ticket_lock: 3 threads x 1", 1, model::bound_only);
  model::check<timed_lock_suite<ticket, 3>>("ticket_lock: timed, try and blocking, 3 threads", 1,
                                            model::random_only);
  model::check<timed_lock_suite<ticket, 2>>("ticket_lock: timed, try and blocking, 2 threads", 1,
                                            model::bound_only);
  model::check<reentrant_suite<3>>("reentrant_lock: nesting, 2 writers, optimistic reader", 1,
                                   model::random_only);
  model::check<reentrant_suite<2>>("reentrant_lock: nesting, writer, optimistic reader", 1,
                                   model::bound_only);
  model::check<timed_lock_suite<atomkit::reentrant_lock, 3>>(
      "reentrant_lock: timed, try and blocking, 3 threads", 1, model::random_only);
  model::check<timed_lock_suite<atomkit::reentrant_lock, 2>>(
      "reentrant_lock: timed, try and blocking, 2 threads", 1, model::bound_only);

  model::injection relaxed_unlock;
  relaxed_unlock.function = "unlock";
  relaxed_unlock.from = std::memory_order_release;
  relaxed_unlock.to = std::memory_order_relaxed;
  model::control<lock_suite<spin, 2, 2>>("control spinlock: unlock's release made relaxed",
                                         relaxed_unlock);
  model::control<lock_suite<ticket, 2, 2>>("control ticket_lock: unlock's release made relaxed",
                                           relaxed_unlock);
  model::injection no_wake;
  no_wake.drop_wake = true;
  model::control<lock_suite<spin, 2, 3>>("control spinlock: wake dropped", no_wake);
  model::control<lock_suite<ticket, 3, 2>>("control ticket_lock: wake dropped", no_wake);
  model::control<lock_suite<atomkit::reentrant_lock, 2, 3>>("control reentrant_lock: wake dropped",
                                                             no_wake);
  model::injection no_heavy;
  no_heavy.no_heavy_barrier = true;
  model::control<lock_suite<spin, 2, 3>>("control spinlock: sleeper's barrier removed", no_heavy);
  model::injection no_light;
  no_light.no_light_barrier = true;
  model::control<lock_suite<spin, 2, 3>>("control spinlock: releaser's barrier removed", no_light);
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
