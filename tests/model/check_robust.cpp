// Model checks of ipc::robust_lock's state-word protocol: mutual exclusion and wake-ups among
// live threads, and recovery from a holder that dies. A death is a thread that takes the lock,
// makes the first step of a two-step update (or both), sets its dead flag and stops, never
// unlocking (model_robust_owner.hpp); the waiters must see exactly one owner_died among them,
// find the update torn by at most one step, repair it, and lose nothing. Controls: the recovery
// compare-and-swap split into a load and a store (two recoverers), a liveness check that reports
// a live holder dead, and unlock's release made relaxed.
#define ATOMKIT_ROBUST_OWNER_HEADER "model_robust_owner.hpp"
// Misuse detected by the lock (an unlock by a thread that lost it to a second recoverer, in a
// control) fails the execution: no check here expects a throw, and a throw inside Relacy's
// threads would free its message through the wrong heap (see check_sync.cpp's plain_heap).
#define ATOMKIT_MISUSE_HOOK(primitive, rule) RL_ASSERT(!"atomkit misuse detected")
#include "model.hpp"
#include "model_robust_owner.hpp"

#include <atomkit/robust_lock.hpp>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using atomkit::ipc::lock_result;
using atomkit::ipc::robust_lock;

template <class Derived, int Threads>
struct robust_suite : model::suite<Derived, Threads> {
  model::atomic<int> dead[model::robust_max_threads + 1];
  void before() {
    model::reset_os();
    model::robust_dead = dead;
  }
};

// Live threads only: each takes the lock a few times (blocking, timed or try) and updates a plain
// variable under it.
template <int Threads, int Rounds>
struct exclusion_suite : robust_suite<exclusion_suite<Threads, Rounds>, Threads> {
  robust_lock lock;
  rl::var<int> counter;
  rl::var<int> taken[Threads];
  void before() {
    robust_suite<exclusion_suite, Threads>::before();
    counter($) = 0;
    for (auto& t : taken) t($) = 0;
  }
  void thread(unsigned me) {
    for (int i = 0; i < Rounds; ++i) {
      bool got = true;
      if (me == 1 && i == 1) {
        got = lock.try_lock_for(300us);
      } else if (me == 2 && i == 0) {
        got = lock.try_lock();
      } else {
        got = lock.lock() == lock_result::acquired;
        RL_ASSERT(got);
      }
      if (got) {
        RL_ASSERT(!lock.owner_died());
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

// Thread 0 dies holding the lock, after one or both steps of its update; the others (blocking,
// or one timed) each add one update. Exactly one of them is told owner_died and repairs.
template <int Threads, bool TimedWaiter>
struct death_suite : robust_suite<death_suite<Threads, TimedWaiter>, Threads> {
  robust_lock lock;
  rl::var<int> first;
  rl::var<int> second;
  rl::var<int> repairs;
  rl::var<int> updates;
  rl::var<int> updates_before_death;  // how many waiters got the lock before thread 0 did
  void before() {
    robust_suite<death_suite, Threads>::before();
    updates_before_death($) = 0;
    first($) = 0;
    second($) = 0;
    repairs($) = 0;
    updates($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      RL_ASSERT(lock.lock() == lock_result::acquired);
      updates_before_death($) = updates($);
      first($) = first($) + 1;
      if (rl::rand(2) == 1) second($) = first($);  // dies after the first step, or after both
      this->dead[atomkit::detail::this_thread_id()].store(1, std::memory_order_release);
      return;  // never unlocks
    }
    lock_result r = lock_result::acquired;
    if (TimedWaiter && me == 1) {
      while (!lock.try_lock_for(500us)) {
      }
      r = lock.owner_died() ? lock_result::owner_died : lock_result::acquired;
    } else {
      r = lock.lock();
    }
    if (r == lock_result::owner_died) {
      RL_ASSERT(lock.owner_died());
      const int gap = first($) - second($);
      RL_ASSERT(gap == 0 || gap == 1);
      second($) = first($);  // the repair: complete the interrupted update
      repairs($) = repairs($) + 1;
      lock.mark_consistent();
    }
    RL_ASSERT(first($) == second($));
    first($) = first($) + 1;
    second($) = first($);
    updates($) = updates($) + 1;
    lock.unlock();
  }
  void after() {
    RL_ASSERT(updates($) == Threads - 1);
    RL_ASSERT(first($) == 1 + updates($));
    if (updates_before_death($) == Threads - 1) {  // it died last: nobody came to repair
      RL_ASSERT(repairs($) == 0);
    } else {
      RL_ASSERT(repairs($) == 1);
      RL_ASSERT(second($) == first($));
    }
  }
};

// A recoverer that dies too: thread 0 dies holding; thread 1 recovers and dies before repairing;
// thread 2 must be told owner_died in turn (whichever order they run in).
struct double_death_suite : robust_suite<double_death_suite, 3> {
  robust_lock lock;
  rl::var<int> told;
  void before() {
    robust_suite<double_death_suite, 3>::before();
    told($) = 0;
  }
  void thread(unsigned me) {
    const lock_result r = lock.lock();
    if (r == lock_result::owner_died) told($) = told($) + 1;
    if (me == 2) {  // the survivor repairs whenever it is told
      if (r == lock_result::owner_died) lock.mark_consistent();
      lock.unlock();
      return;
    }
    this->dead[atomkit::detail::this_thread_id()].store(1, std::memory_order_release);
  }
  void after() { RL_ASSERT(told($) >= 1); }
};

const bool registered = [] {
  model::check<exclusion_suite<2, 3>>("robust_lock: 2 live threads x 3");
  model::check<exclusion_suite<3, 2>>("robust_lock: 3 live threads x 2, try and timed", 1,
                                      model::random_only);
  model::check<death_suite<3, false>>("robust_lock: holder dies, 2 blocking waiters");
  model::check<death_suite<3, true>>("robust_lock: holder dies, a blocking and a timed waiter", 1,
                                     model::random_only);
  model::check<death_suite<2, false>>("robust_lock: holder dies, 1 waiter", 1, model::bound_only);
  model::check<double_death_suite>("robust_lock: the recoverer dies too", 1, model::random_only);

  model::injection two_recoverers;
  two_recoverers.split_cas = "check_holder";
  model::control<death_suite<3, false>>("control robust_lock: recovery CAS split (two recoverers)",
                                        two_recoverers);
  model::injection relaxed_unlock;
  relaxed_unlock.function = "robust_lock::release";
  relaxed_unlock.from = std::memory_order_release;
  relaxed_unlock.to = std::memory_order_relaxed;
  model::control<exclusion_suite<2, 2>>("control robust_lock: unlock's release made relaxed",
                                        relaxed_unlock);
  return true;
}();

// The lying liveness check is a control of its own: armed through model_robust_owner.hpp.
const bool lying = [] {
  model::registry().push_back(
      {"control robust_lock: a live holder reported dead",
       [](rl::test_params& p) {
         model::robust_mutation::always_dead = true;
         const bool clean = rl::simulate<exclusion_suite<2, 2>>(p);
         model::robust_mutation::always_dead = false;
         return clean;
       },
       true, {}, 1, model::both_modes});
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
