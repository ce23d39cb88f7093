// Model checks of the condition variable's protocol: tickets, the wake on each released ticket's
// slot, the notify_all baton chain (and the process-shared form's release of all at once), and
// time-outs that withdraw a ticket (newest, oldest, or leaving a ghost). Waiters wait for a
// condition on plain variables (rl::var) under a spinlock; a waiter left asleep with its condition
// true is a deadlock that Relacy reports, and each suite's after() checks that every waiter got
// through.
#include "model.hpp"

#include <atomkit/condition_variable.hpp>
#include <atomkit/spinlock.hpp>

#include <chrono>

namespace {

using namespace std::chrono_literals;

// One waiter, one notifier: the notify comes under the lock or after it.
template <bool UnderLock>
struct handoff_suite : model::suite<handoff_suite<UnderLock>, 2> {
  atomkit::spinlock m;
  atomkit::condition_variable cv;
  rl::var<int> ready;
  rl::var<int> seen;
  void before() {
    model::reset_os();
    ready($) = 0;
    seen($) = 0;
  }
  void thread(unsigned me) {
    m.lock();
    if (me == 0) {
      ready($) = 1;
      if (UnderLock) cv.notify_one();
      m.unlock();
      if (!UnderLock) cv.notify_one();
      return;
    }
    while (ready($) == 0) cv.wait(m);
    seen($) = 1;
    m.unlock();
  }
  void after() { RL_ASSERT(seen($) == 1); }
};

// notify_all to Waiters waiters: the first is released at once, each next one by the baton of the
// one before it (process_shared: all of them at once, no chain).
template <int Waiters, class Wait = atomkit::park>
struct broadcast_suite : model::suite<broadcast_suite<Waiters, Wait>, Waiters + 1> {
  atomkit::spinlock m;
  atomkit::basic_condition_variable<Wait> cv;
  rl::var<int> go;
  rl::var<int> woke;
  void before() {
    model::reset_os();
    go($) = 0;
    woke($) = 0;
  }
  void thread(unsigned me) {
    m.lock();
    if (me == 0) {
      go($) = 1;
      cv.notify_all();
      m.unlock();
      return;
    }
    while (go($) == 0) cv.wait(m);
    woke($) = woke($) + 1;
    m.unlock();
  }
  void after() { RL_ASSERT(woke($) == Waiters); }
};

// A consumer that waits without a time-out, a timed waiter that passes on a notify it was given
// but cannot use, and a producer whose one notify_one (or notify_all) must reach the consumer.
template <bool All>
struct timed_suite : model::suite<timed_suite<All>, 3> {
  atomkit::spinlock m;
  atomkit::condition_variable cv;
  rl::var<int> items;
  rl::var<int> taken;
  void before() {
    model::reset_os();
    items($) = 0;
    taken($) = 0;
  }
  void thread(unsigned me) {
    m.lock();
    if (me == 0) {
      items($) = items($) + 1;
      if (All) {
        cv.notify_all();
      } else {
        cv.notify_one();
      }
    } else if (me == 1) {
      while (items($) == 0) cv.wait(m);
      items($) = items($) - 1;
      taken($) = 1;
    } else {
      if (cv.wait_for(m, 200us) == std::cv_status::no_timeout && items($) > 0) cv.notify_one();
    }
    m.unlock();
  }
  void after() { RL_ASSERT(taken($) == 1); }
};

// Two timed waiters and an untimed one, then notify_all: withdrawals at every place in the line
// (newest, oldest, middle: a ghost) racing the chain.
struct chain_timeout_suite : model::suite<chain_timeout_suite, 4> {
  atomkit::spinlock m;
  atomkit::condition_variable cv;
  rl::var<int> go;
  rl::var<int> woke;
  void before() {
    model::reset_os();
    go($) = 0;
    woke($) = 0;
  }
  void thread(unsigned me) {
    m.lock();
    if (me == 0) {
      go($) = 1;
      cv.notify_all();
    } else if (me == 1) {
      while (go($) == 0) cv.wait(m);
      woke($) = 1;
    } else {
      (void)cv.wait_for(m, 100us);
    }
    m.unlock();
  }
  void after() { RL_ASSERT(woke($) == 1); }
};

const bool registered = [] {
  using model::random_only;
  model::check<handoff_suite<true>>("condition_variable: notify_one under the lock");
  model::check<handoff_suite<false>>("condition_variable: notify_one after the unlock");
  // The context-bounded search of the baton chain (three threads) does not finish in minutes: the
  // chain runs under the random scheduler; the two-thread hand-offs under both.
  model::check<broadcast_suite<2>>("condition_variable: notify_all to 2 waiters (baton)", 1,
                                   random_only);
  model::check<broadcast_suite<3>>("condition_variable: notify_all to 3 waiters (baton)", 4,
                                   random_only);
  model::check<broadcast_suite<3, atomkit::process_shared>>(
      "condition_variable: process-shared notify_all to 3 waiters (all at once)", 4, random_only);
  model::check<timed_suite<false>>("condition_variable: notify_one, a timed waiter passes it on",
                                   2, random_only);
  model::check<timed_suite<true>>("condition_variable: notify_all with a timed waiter", 2,
                                  random_only);
  model::check<chain_timeout_suite>("condition_variable: notify_all chain with 2 timed waiters", 4,
                                    random_only);

  model::injection no_wake;
  no_wake.drop_wake = true;
  model::injection no_light;
  no_light.no_light_barrier = true;
  model::injection no_heavy;
  no_heavy.no_heavy_barrier = true;
  model::control<handoff_suite<false>>("control condition_variable: wake dropped", no_wake);
  model::control<broadcast_suite<2>>("control condition_variable: baton's wake dropped", no_wake,
                                     1, random_only);
  model::control<broadcast_suite<2, atomkit::process_shared>>(
      "control condition_variable: process-shared notify_all's wake dropped", no_wake, 1,
      random_only);
  model::control<handoff_suite<false>>("control condition_variable: notifier's barrier removed",
                                       no_light);
  model::control<handoff_suite<false>>("control condition_variable: sleeper's barrier removed",
                                       no_heavy);
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
