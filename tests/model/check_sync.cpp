// Model checks of the synchronization primitives: seqlock, counting and bounded semaphores, event,
// barrier. Plain variables (rl::var) carry the data each primitive must publish: Relacy reports a
// data race when a release/acquire pairing is missing; a thread left asleep is a deadlock; the
// invariants of each primitive are RL_ASSERTs.
#include "model.hpp"

#include <atomkit/barrier.hpp>
#include <atomkit/event.hpp>
#include <atomkit/semaphore.hpp>
#include <atomkit/seqlock.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <type_traits>
#include <utility>

namespace {

using namespace std::chrono_literals;

// While one lives, Relacy's operator new hands out malloc's own blocks. Relacy replaces operator
// new (this program exports it, so libstdc++'s allocations get it too) with its own heap, whose
// blocks are offset into malloc's, but not the sized operator delete, which stays libstdc++'s and
// calls free(): the message strings of a thrown std::system_error or broken_barrier (built here or
// inside libstdc++) end in "free(): invalid pointer". Relacy serves plain malloc while its
// disable_alloc_ count is positive; the count is protected, hence the derived opener. Every throw
// a check expects runs under one (throws_broken, bounded_refusal_suite).
class plain_heap {
 public:
  plain_heap() : c_(rl::ctx()) { count(c_) += 1; }
  ~plain_heap() { count(c_) -= 1; }
  plain_heap(const plain_heap&) = delete;
  plain_heap& operator=(const plain_heap&) = delete;

 private:
  struct opener : rl::context {
    static int& count(rl::context& c) { return c.*(&opener::disable_alloc_); }
  };
  static int& count(rl::context& c) { return opener::count(c); }
  rl::context& c_;
};

// ------------------------------------------------------------------------------------------------
// seqlock: a two-word value whose words are always stored equal. A reader never sees them differ
// (load and try_load), sees the writes made before the store of the value it read, and (one
// writer) never goes back to an older value.

struct two_words {
  std::uint64_t a;
  std::uint64_t b;
};

template <int Writers, int Readers>
struct seqlock_suite : model::suite<seqlock_suite<Writers, Readers>, Writers + Readers> {
  atomkit::seqlock<two_words> lock;
  rl::var<int> note;  // written by writer 0 before it stores anything
  void before() {
    model::reset_os();
    note($) = 0;
  }
  // Values stored by writer 0 (1, then update's +1: 2, or 11 after writer 1's 10).
  static bool from_writer0(std::uint64_t a) { return a == 1 || a == 2 || a == 11; }
  void thread(unsigned me) {
    if (me == 0) {
      note($) = 1;
      lock.store({1, 1});
      lock.update([](two_words& v) {
        v.a += 1;
        v.b += 1;
      });
      return;
    }
    if (static_cast<int>(me) < Writers) {
      lock.store({10, 10});
      return;
    }
    const two_words x = lock.load();
    RL_ASSERT(x.a == x.b);
    if (from_writer0(x.a)) RL_ASSERT(note($) == 1);
    if (const auto y = lock.try_load()) {
      RL_ASSERT(y->a == y->b);
      if (from_writer0(y->a)) RL_ASSERT(note($) == 1);
      if (Writers == 1) RL_ASSERT(y->a >= x.a);
    }
  }
  void after() {
    const two_words x = lock.load();
    RL_ASSERT(x.a == x.b);
    if (Writers == 1) {
      RL_ASSERT(x.a == 2);
    } else {
      RL_ASSERT(x.a == 2 || x.a == 10 || x.a == 11);
    }
  }
};

// ------------------------------------------------------------------------------------------------
// Semaphores. make_sem builds either kind: counting_semaphore(initial) or
// bounded_semaphore(initial, bound).

template <class Sem>
Sem make_sem(std::ptrdiff_t initial, std::ptrdiff_t bound) {
  if constexpr (std::is_same_v<Sem, atomkit::bounded_semaphore>) {
    return Sem(initial, bound);
  } else {
    return Sem(initial);
  }
}

// One permit: a lock. The counter is a plain variable, updated only by the permit's holder.
template <class Sem, int Threads, int Rounds>
struct sem_lock_suite : model::suite<sem_lock_suite<Sem, Threads, Rounds>, Threads> {
  Sem sem = make_sem<Sem>(1, 1);
  rl::var<int> counter;
  void before() {
    model::reset_os();
    counter($) = 0;
  }
  void thread(unsigned) {
    for (int i = 0; i < Rounds; ++i) {
      sem.acquire();
      counter($) = counter($) + 1;
      sem.release();
    }
  }
  void after() {
    RL_ASSERT(counter($) == Threads * Rounds);
    RL_ASSERT(sem.available() == 1);
  }
};

// Two permits, three threads taking them by acquire, try_acquire (then acquire if it failed) and
// try_acquire_for: never more than two holders; every permit comes back.
template <class Sem>
struct sem_count_suite : model::suite<sem_count_suite<Sem>, 3> {
  Sem sem = make_sem<Sem>(2, 2);
  model::atomic<int> holders{0};
  rl::var<int> taken[3];
  void before() {
    model::reset_os();
    for (auto& t : taken) t($) = 0;
  }
  void thread(unsigned me) {
    for (int i = 0; i < 2; ++i) {
      bool got = true;
      if (me == 0) {
        if (!sem.try_acquire()) sem.acquire();
      } else if (me == 1) {
        got = sem.try_acquire_for(1ms);
      } else {
        sem.acquire();
      }
      if (!got) continue;
      // relaxed: the count of holders is ordered by the semaphore itself (a permit's release
      // happens before its next acquire), which is what this checks.
      const int before_me = holders.fetch_add(1, std::memory_order_relaxed);
      RL_ASSERT(before_me < 2);
      taken[me]($) = taken[me]($) + 1;
      holders.fetch_sub(1, std::memory_order_relaxed);
      sem.release();
    }
  }
  void after() {
    RL_ASSERT(sem.available() == 2);
    RL_ASSERT(taken[0]($) == 2 && taken[2]($) == 2);
  }
};

// One permit, timed, try and blocking acquires mixed (thread 0 timed, thread 1 a try and then
// blocking, thread 2 blocking): a time-out must never strand a sleeper, and a failed try or
// time-out must take nothing.
template <class Sem, int Rounds>
struct sem_timed_suite : model::suite<sem_timed_suite<Sem, Rounds>, 3> {
  Sem sem = make_sem<Sem>(1, 1);
  rl::var<int> counter;
  rl::var<int> taken[3];
  void before() {
    model::reset_os();
    counter($) = 0;
    for (auto& t : taken) t($) = 0;
  }
  void thread(unsigned me) {
    for (int i = 0; i < Rounds; ++i) {
      bool got = false;
      if (me == 0) {
        got = sem.try_acquire_for(1ms);
      } else if (me == 1 && i == 0) {
        got = sem.try_acquire();
      } else {
        sem.acquire();
        got = true;
      }
      if (got) {
        counter($) = counter($) + 1;
        taken[me]($) = taken[me]($) + 1;
        sem.release();
      }
    }
  }
  void after() {
    RL_ASSERT(counter($) == taken[0]($) + taken[1]($) + taken[2]($));
    RL_ASSERT(sem.available() == 1);
  }
};

// Hand-off from zero permits: a producer publishes data and releases two permits; a blocking
// acquirer must be woken (or the model reports a deadlock) and sees the data; a timed acquirer
// either gets the other permit (and sees the data) or leaves it in the count.
template <class Sem>
struct sem_handoff_suite : model::suite<sem_handoff_suite<Sem>, 3> {
  Sem sem = make_sem<Sem>(0, 2);
  rl::var<int> data;
  rl::var<int> timed_got;
  void before() {
    model::reset_os();
    data($) = 0;
    timed_got($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      data($) = 42;
      sem.release(2);
    } else if (me == 1) {
      sem.acquire();
      RL_ASSERT(data($) == 42);
    } else if (sem.try_acquire_for(200us)) {
      RL_ASSERT(data($) == 42);
      timed_got($) = 1;
    }
  }
  void after() { RL_ASSERT(sem.available() == 1 - timed_got($)); }
};

// A bounded semaphore at its bound (2 of 2): two threads acquire and release, a third releases
// once more. A release is refused (system_error, count unchanged) exactly when the count is at
// the bound; with 3 releases and 2 acquires exactly one is refused, and the count ends at 2.
struct bounded_refusal_suite : model::suite<bounded_refusal_suite, 3> {
  atomkit::bounded_semaphore sem{2, 2};
  rl::var<int> refused[3];
  void before() {
    model::reset_os();
    for (auto& r : refused) r($) = 0;
  }
  void release_counting_refusal(unsigned me) {
    plain_heap heap;  // the exception's message strings
    try {
      sem.release();
    } catch (const std::system_error& e) {
      RL_ASSERT(e.code() == std::errc::operation_not_permitted);
      refused[me]($) = refused[me]($) + 1;
    }
  }
  void thread(unsigned me) {
    if (me < 2) {
      sem.acquire();
      RL_ASSERT(sem.available() <= 2);
    }
    release_counting_refusal(me);
  }
  void after() {
    RL_ASSERT(refused[0]($) + refused[1]($) + refused[2]($) == 1);
    RL_ASSERT(sem.available() == 2);
    RL_ASSERT(sem.bound() == 2);
  }
};

// ------------------------------------------------------------------------------------------------
// event

// A setter publishes data; a blocking waiter (possibly asleep before the set) must be woken and
// sees the data; a timed waiter that returns true sees it too.
struct event_wake_suite : model::suite<event_wake_suite, 3> {
  atomkit::event ev;
  rl::var<int> data;
  void before() {
    model::reset_os();
    data($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      data($) = 42;
      ev.set();
    } else if (me == 1) {
      ev.wait();
      RL_ASSERT(data($) == 42);
      RL_ASSERT(ev.is_set());  // nobody clears
    } else if (ev.wait_for(1ms)) {
      RL_ASSERT(data($) == 42);
    }
  }
  void after() { RL_ASSERT(ev.is_set()); }
};

// set, clear, set by one thread: a waiter returns whenever it began (its start word changes with
// every later set or clear), and sees the data written before the first set.
struct event_set_clear_suite : model::suite<event_set_clear_suite, 2> {
  atomkit::event ev;
  rl::var<int> data;
  void before() {
    model::reset_os();
    data($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      data($) = 42;
      ev.set();
      ev.clear();
      ev.set();
    } else {
      ev.wait();
      RL_ASSERT(data($) == 42);
    }
  }
  void after() { RL_ASSERT(ev.is_set()); }
};

// clear() racing set() and a timed waiter: whatever the waiter reads (the set, or the clear that
// continues the set's release sequence), a true return sees the setter's data; is_set() too.
struct event_clear_race_suite : model::suite<event_clear_race_suite, 3> {
  atomkit::event ev;
  rl::var<int> data;
  void before() {
    model::reset_os();
    data($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      data($) = 42;
      ev.set();
    } else if (me == 1) {
      ev.clear();
    } else {
      if (ev.wait_for(1ms)) RL_ASSERT(data($) == 42);
      if (ev.is_set()) RL_ASSERT(data($) == 42);
    }
  }
};

// ------------------------------------------------------------------------------------------------
// barrier. The completion sums what every party wrote before arriving (the arrivals' release,
// the last arrival's acquire) and writes the sum, which every party reads after its wait (the
// phase word's release/acquire).

// Runs f; true if it threw broken_barrier (under plain_heap: see there).
template <class F>
bool throws_broken(F&& f) {
  plain_heap heap;
  try {
    f();
    return false;
  } catch (const atomkit::broken_barrier&) {
    return true;
  }
}

template <class Suite>
struct completion {
  Suite* s;
  void operator()() noexcept { s->complete(); }
};

// Parties threads, two phases of arrive_and_wait (thread 0 uses arrive + wait in phase 1).
template <int Parties, int Phases>
struct barrier_phases_suite : model::suite<barrier_phases_suite<Parties, Phases>, Parties> {
  atomkit::barrier<completion<barrier_phases_suite>> bar{Parties, {this}};
  rl::var<int> slot[Phases][Parties];
  rl::var<int> sum[Phases];
  rl::var<int> phases;
  static constexpr int expected_sum = Parties * (Parties + 1) / 2;
  void before() {
    model::reset_os();
    phases($) = 0;
  }
  void complete() {
    const int p = phases($);
    RL_ASSERT(p < Phases);
    int total = 0;
    for (auto& s : slot[p]) total += s($);
    sum[p]($) = total;
    phases($) = p + 1;
  }
  void thread(unsigned me) {
    for (int p = 0; p < Phases; ++p) {
      slot[p][me]($) = static_cast<int>(me) + 1;
      if (me == 0 && p == Phases - 1) {
        bar.wait(bar.arrive());
      } else {
        bar.arrive_and_wait();
      }
      RL_ASSERT(sum[p]($) == expected_sum);
    }
  }
  void after() {
    RL_ASSERT(phases($) == Phases);
    RL_ASSERT(!bar.broken());
  }
};

// Two parties; the second arrives in phase 0 and drops: phase 1 expects one arrival, so the first
// party's own arrival completes it (and runs the completion).
struct barrier_drop_suite : model::suite<barrier_drop_suite, 2> {
  atomkit::barrier<completion<barrier_drop_suite>> bar{2, {this}};
  rl::var<int> slot[2][2];
  rl::var<int> sum[2];
  rl::var<int> phases;
  void before() {
    model::reset_os();
    phases($) = 0;
    slot[1][1]($) = 0;  // the dropped party writes nothing in phase 1
  }
  void complete() {
    const int p = phases($);
    RL_ASSERT(p < 2);
    sum[p]($) = slot[p][0]($) + slot[p][1]($);
    phases($) = p + 1;
  }
  void thread(unsigned me) {
    slot[0][me]($) = static_cast<int>(me) + 1;
    if (me == 1) {
      bar.arrive_and_drop();
      return;
    }
    bar.arrive_and_wait();
    RL_ASSERT(sum[0]($) == 3);
    slot[1][0]($) = 10;
    bar.arrive_and_wait();
    RL_ASSERT(sum[1]($) == 10);
    RL_ASSERT(phases($) == 2);
  }
  void after() {
    RL_ASSERT(phases($) == 2);
    RL_ASSERT(!bar.broken());
  }
};

// Two parties, one waiting with a deadline, one without. Either the phase completes (both pass,
// the completion ran once) or the timed party times out and breaks the barrier: it returns false
// and the other throws broken_barrier (from its wait, or from its arrival if it came later).
struct barrier_timeout_suite : model::suite<barrier_timeout_suite, 2> {
  atomkit::barrier<completion<barrier_timeout_suite>> bar{2, {this}};
  rl::var<int> slot[2];
  rl::var<int> sum;
  rl::var<int> phases;
  rl::var<int> timed_result;  // 1 passed, 0 timed out, -1 threw
  rl::var<int> other_threw;
  void before() {
    model::reset_os();
    phases($) = 0;
    sum($) = 0;
    timed_result($) = -2;
    other_threw($) = 0;
  }
  void complete() {
    sum($) = slot[0]($) + slot[1]($);
    phases($) = phases($) + 1;
  }
  void thread(unsigned me) {
    slot[me]($) = static_cast<int>(me) + 1;
    if (me == 0) {
      bool passed = false;
      if (throws_broken([&] { passed = bar.arrive_and_wait_for(1ms); })) {
        timed_result($) = -1;
      } else {
        timed_result($) = passed ? 1 : 0;
        if (passed) RL_ASSERT(sum($) == 3);
      }
    } else if (throws_broken([&] { bar.arrive_and_wait(); })) {
      other_threw($) = 1;
    } else {
      RL_ASSERT(sum($) == 3);
    }
  }
  void after() {
    RL_ASSERT(timed_result($) == 0 || timed_result($) == 1);  // it never throws: only it breaks
    const bool passed = timed_result($) == 1;
    RL_ASSERT(other_threw($) == (passed ? 0 : 1));
    RL_ASSERT(bar.broken() == !passed);
    RL_ASSERT(phases($) == (passed ? 1 : 0));
  }
};

// The process_shared barrier (ipc::barrier): a timed arrival whose deadline passes while the other
// party's completion runs does not wait for it (that process may have died): it breaks the barrier
// and returns false. Two parties, one timed. Either the phase completes before the deadline (both
// pass), or the timed party breaks it: then the other throws broken_barrier if the break came
// before its arrival, and passes (the completion ran, the phase completed) if it came during its
// completion. The timed party never throws: only it breaks the barrier.
struct barrier_shared_timeout_suite : model::suite<barrier_shared_timeout_suite, 2> {
  atomkit::barrier<completion<barrier_shared_timeout_suite>, atomkit::process_shared> bar{2,
                                                                                          {this}};
  rl::var<int> slot[2];
  rl::var<int> sum;
  rl::var<int> phases;
  rl::var<int> timed_result;  // 1 passed, 0 timed out, -1 threw
  rl::var<int> other_threw;
  void before() {
    model::reset_os();
    phases($) = 0;
    sum($) = 0;
    timed_result($) = -2;
    other_threw($) = 0;
  }
  void complete() {
    sum($) = slot[0]($) + slot[1]($);
    phases($) = phases($) + 1;
  }
  void thread(unsigned me) {
    slot[me]($) = static_cast<int>(me) + 1;
    if (me == 0) {
      bool passed = false;
      if (throws_broken([&] { passed = bar.arrive_and_wait_for(1ms); })) {
        timed_result($) = -1;
      } else {
        timed_result($) = passed ? 1 : 0;
        if (passed) RL_ASSERT(sum($) == 3);
      }
    } else if (throws_broken([&] { bar.arrive_and_wait(); })) {
      other_threw($) = 1;
    } else {
      RL_ASSERT(sum($) == 3);
    }
  }
  void after() {
    RL_ASSERT(timed_result($) == 0 || timed_result($) == 1);
    const bool passed = timed_result($) == 1;
    RL_ASSERT(bar.broken() == !passed);
    if (passed) RL_ASSERT(phases($) == 1 && other_threw($) == 0);
    if (!passed) RL_ASSERT(other_threw($) == (phases($) == 0 ? 1 : 0));
  }
};

// Three parties, only two of which arrive in phase 0, in two threads: the timed one must time
// out and break the barrier (false), the other must throw broken_barrier (from its wait, or from
// its arrival if the break came first). Once the timed one is done (a semaphore tells), the other
// resets the barrier and runs a whole phase alone with arrive(3): the fresh phase expects the full
// count, is not broken, and runs the completion. DeadlineUs: with 0 the time-out comes at the
// first look at the clock; with 200 (two model clock steps) the timed waiter may also sleep first,
// which multiplies the context-bounded search (about 95 s), so that instance runs random only.
template <int DeadlineUs>
struct barrier_timeout_reset_suite : model::suite<barrier_timeout_reset_suite<DeadlineUs>, 2> {
  atomkit::barrier<completion<barrier_timeout_reset_suite>> bar{3, {this}};
  atomkit::counting_semaphore<> done{0};
  rl::var<int> phases;
  void before() {
    model::reset_os();
    phases($) = 0;
  }
  void complete() { phases($) = phases($) + 1; }
  void thread(unsigned me) {
    if (me == 0) {
      bool passed = true;
      const bool threw = throws_broken(
          [&] { passed = bar.arrive_and_wait_for(std::chrono::microseconds(DeadlineUs)); });
      RL_ASSERT(!threw && !passed);
      done.release();
    } else {
      RL_ASSERT(throws_broken([&] { bar.arrive_and_wait(); }));
      done.acquire();
      RL_ASSERT(bar.broken());
      bar.reset();
      RL_ASSERT(!bar.broken());
      bar.wait(bar.arrive(3));
      RL_ASSERT(phases($) == 1);
    }
  }
  void after() {
    RL_ASSERT(phases($) == 1);
    RL_ASSERT(!bar.broken());
  }
};

// Three parties, two threads: one arrives and waits, the other arrives, aborts and waits on its
// token. The phase cannot complete (the third party never arrives), so both throw broken_barrier
// (the first woken by the abort, or at its arrival if the abort came first).
struct barrier_abort_suite : model::suite<barrier_abort_suite, 2> {
  atomkit::barrier<completion<barrier_abort_suite>> bar{3, {this}};
  rl::var<int> phases;
  rl::var<int> threw[2];
  void before() {
    model::reset_os();
    phases($) = 0;
    threw[0]($) = 0;
    threw[1]($) = 0;
  }
  void complete() { phases($) = phases($) + 1; }
  void thread(unsigned me) {
    if (me == 1) {
      auto token = bar.arrive();
      bar.abort();
      if (throws_broken([&] { bar.wait(std::move(token)); })) threw[me]($) = 1;
      return;
    }
    if (throws_broken([&] { bar.arrive_and_wait(); })) threw[me]($) = 1;
  }
  void after() {
    RL_ASSERT(threw[0]($) == 1 && threw[1]($) == 1);
    RL_ASSERT(phases($) == 0);
    RL_ASSERT(bar.broken());
  }
};

// reset() of a broken barrier while a waiter of the broken phase is still inside wait(): two
// parties; thread 0 arrives, tells thread 1, and waits on its token; thread 1 aborts and resets,
// which lets thread 0 leave first (it throws broken_barrier, or its token is spent by the reset:
// either is allowed), then runs a whole fresh phase alone with arrive(2).
struct barrier_abort_reset_suite : model::suite<barrier_abort_reset_suite, 2> {
  atomkit::barrier<completion<barrier_abort_reset_suite>> bar{2, {this}};
  atomkit::counting_semaphore<> arrived{0};
  rl::var<int> phases;
  void before() {
    model::reset_os();
    phases($) = 0;
  }
  void complete() { phases($) = phases($) + 1; }
  void thread(unsigned me) {
    if (me == 0) {
      auto token = bar.arrive();
      arrived.release();
      (void)throws_broken([&] { bar.wait(std::move(token)); });
    } else {
      arrived.acquire();
      bar.abort();
      RL_ASSERT(bar.broken());
      bar.reset();
      RL_ASSERT(!bar.broken());
      bar.wait(bar.arrive(2));
      RL_ASSERT(phases($) == 1);
    }
  }
  void after() {
    RL_ASSERT(phases($) == 1);
    RL_ASSERT(!bar.broken());
  }
};

// Two parties and an aborter racing the last arrival. A phase whose last arrival came before the
// break completes (the completion runs, the last arrival passes); its other waiter must pass too,
// and if the break came first both throw. (It found that judge() reported broken to a waiter
// woken by the break while the completion was still running, although the phase completed.)
struct barrier_abort_race_suite : model::suite<barrier_abort_race_suite, 3> {
  atomkit::barrier<completion<barrier_abort_race_suite>> bar{2, {this}};
  rl::var<int> phases;
  rl::var<int> threw[2];
  void before() {
    model::reset_os();
    phases($) = 0;
    threw[0]($) = 0;
    threw[1]($) = 0;
  }
  void complete() { phases($) = phases($) + 1; }
  void thread(unsigned me) {
    if (me == 2) {
      bar.abort();
      return;
    }
    if (throws_broken([&] { bar.arrive_and_wait(); })) threw[me]($) = 1;
  }
  void after() {
    RL_ASSERT(threw[0]($) == threw[1]($));
    RL_ASSERT(phases($) == 1 - threw[0]($));
    RL_ASSERT(bar.broken());
  }
};

// ------------------------------------------------------------------------------------------------

model::injection relaxed(const char* function, std::memory_order from) {
  model::injection bug;
  bug.function = function;
  bug.from = from;
  bug.to = std::memory_order_relaxed;
  return bug;
}

const bool registered = [] {
  using counting = atomkit::counting_semaphore<>;
  using bounded = atomkit::bounded_semaphore;

  using model::random_only;

  model::check<seqlock_suite<1, 2>>("seqlock: 1 writer, 2 readers");
  model::check<seqlock_suite<2, 1>>("seqlock: 2 writers, 1 reader");

  // The larger instances run under the random scheduler only (the context-bounded search of
  // three threads x two rounds takes about a minute each); the smaller ones under both.
  model::check<sem_lock_suite<counting, 3, 2>>("counting_semaphore: 1 permit, 3 threads x 2", 1,
                                               random_only);
  model::check<sem_lock_suite<counting, 3, 1>>("counting_semaphore: 1 permit, 3 threads x 1");
  model::check<sem_lock_suite<counting, 2, 3>>("counting_semaphore: 1 permit, 2 threads x 3");
  model::check<sem_count_suite<counting>>("counting_semaphore: 2 permits, 3 threads, mixed");
  model::check<sem_timed_suite<counting, 2>>("counting_semaphore: timed, try, blocking x 2", 1,
                                             random_only);
  model::check<sem_timed_suite<counting, 1>>("counting_semaphore: timed, try, blocking x 1");
  model::check<sem_handoff_suite<counting>>("counting_semaphore: hand-off from 0 permits");
  // Past INT32_MAX the count is 64-bit and waiters sleep on a separate generation word.
  using wide = atomkit::counting_semaphore<PTRDIFF_MAX>;
  model::check<sem_lock_suite<wide, 2, 3>>("counting_semaphore<PTRDIFF_MAX>: 2 threads x 3");
  model::check<sem_timed_suite<wide, 1>>("counting_semaphore<PTRDIFF_MAX>: timed, try, blocking");
  model::check<sem_handoff_suite<wide>>("counting_semaphore<PTRDIFF_MAX>: hand-off from 0");
  model::injection wide_no_heavy;
  wide_no_heavy.no_heavy_barrier = true;
  model::control<sem_handoff_suite<wide>>(
      "control counting_semaphore<PTRDIFF_MAX>: sleeper's barrier removed", wide_no_heavy);

  // bounded_semaphore shares the counting semaphore's core (semaphore_core); its own code is the
  // bound check.
  model::check<sem_lock_suite<bounded, 2, 2>>("bounded_semaphore: 1 of 1, 2 threads x 2");
  model::check<sem_count_suite<bounded>>("bounded_semaphore: 2 of 2, 3 threads, mixed");
  model::check<sem_timed_suite<bounded, 1>>("bounded_semaphore: timed, try, blocking x 1");
  model::check<sem_handoff_suite<bounded>>("bounded_semaphore: hand-off from 0 of 2");
  model::check<bounded_refusal_suite>("bounded_semaphore: release past the bound refused");

  model::check<event_wake_suite>("event: set wakes wait and wait_for");
  model::check<event_set_clear_suite>("event: set, clear, set against a waiter");
  model::check<event_clear_race_suite>("event: clear racing set and a timed waiter");

  // Three-party barriers run under the random scheduler only: their context-bounded search does
  // not finish in minutes (each arrive_and_wait is some twenty atomic operations).
  model::check<barrier_phases_suite<2, 2>>("barrier: 2 parties x 2 phases");
  model::check<barrier_phases_suite<3, 2>>("barrier: 3 parties x 2 phases", 1, random_only);
  model::check<barrier_drop_suite>("barrier: arrive_and_drop");
  model::check<barrier_timeout_suite>("barrier: arrive_and_wait_for against arrive_and_wait");
  model::check<barrier_shared_timeout_suite>(
      "ipc barrier: arrive_and_wait_for breaks it during another's completion");
  model::check<barrier_timeout_reset_suite<200>>("barrier: time-out (200 us) breaks it, then reset",
                                                 1, random_only);
  model::check<barrier_timeout_reset_suite<0>>("barrier: time-out (0) breaks it, then reset");
  model::check<barrier_abort_suite>("barrier: abort wakes the waiters");
  model::check<barrier_abort_reset_suite>("barrier: abort, reset with a waiter inside");
  model::check<barrier_abort_race_suite>("barrier: abort racing the last arrival");

  // Controls. The sleeper's barrier (no_heavy_barrier) is removed for the seqlock only: its
  // readers sleep on a generation word apart from the sequence they check, as the spinlock's do.
  // The semaphore, event and barrier sleep on the very word they check, and the model futex_wait's
  // own seq_cst fence and re-read of that word close the window without the heavy barrier (such
  // controls stay uncaught at 10^6 random iterations).
  model::injection no_wake;
  no_wake.drop_wake = true;
  model::injection no_light;
  no_light.no_light_barrier = true;
  model::injection no_heavy;
  no_heavy.no_heavy_barrier = true;

  model::control<seqlock_suite<1, 2>>("control seqlock: word stores' release made relaxed",
                                      relaxed("write_words", std::memory_order_release));
  model::control<seqlock_suite<1, 2>>("control seqlock: closing release made relaxed",
                                      relaxed("close_write", std::memory_order_release));
  model::control<seqlock_suite<1, 2>>("control seqlock: word loads' acquire made relaxed",
                                      relaxed("read_words", std::memory_order_acquire));
  model::control<seqlock_suite<1, 2>>("control seqlock: wake dropped", no_wake);
  model::control<seqlock_suite<1, 2>>("control seqlock: sleeper's barrier removed", no_heavy);
  model::control<seqlock_suite<1, 2>>("control seqlock: releaser's barrier removed", no_light);

  model::control<sem_lock_suite<counting, 2, 2>>(
      "control counting_semaphore: release made relaxed",
      relaxed("semaphore_core<Wait, Count>::release", std::memory_order_release));
  model::control<sem_lock_suite<counting, 2, 2>>(
      "control counting_semaphore: try_acquire's CAS made relaxed",
      relaxed("semaphore_core<Wait, Count>::try_acquire", std::memory_order_acquire));
  model::control<sem_handoff_suite<counting>>("control counting_semaphore: wake dropped", no_wake);
  model::control<sem_handoff_suite<counting>>("control counting_semaphore: releaser's barrier removed",
                                              no_light);
  model::control<sem_lock_suite<bounded, 2, 2>>(
      "control bounded_semaphore: release made relaxed",
      relaxed("semaphore_core<Wait, Count>::release", std::memory_order_release));
  model::control<sem_handoff_suite<bounded>>("control bounded_semaphore: wake dropped", no_wake);

  model::control<event_wake_suite>("control event: set's release made relaxed",
                                   relaxed("basic_event<Wait>::set()", std::memory_order_release));
  model::control<event_wake_suite>("control event: waiter's acquire made relaxed",
                                   relaxed("wait_slow", std::memory_order_acquire));
  model::control<event_wake_suite>("control event: wake dropped", no_wake);
  model::control<event_wake_suite>("control event: releaser's barrier removed", no_light);

  model::control<barrier_phases_suite<2, 2>>("control barrier: completion's release made relaxed",
                                             relaxed("complete_phase", std::memory_order_release));
  model::control<barrier_phases_suite<2, 2>>("control barrier: arrival's acq_rel made relaxed",
                                             relaxed("arrive_impl", std::memory_order_acq_rel));
  model::control<barrier_phases_suite<2, 2>>("control barrier: wake dropped", no_wake);
  model::control<barrier_phases_suite<2, 2>>("control barrier: releaser's barrier removed", no_light);
  model::control<barrier_abort_suite>("control barrier: abort's wake dropped", no_wake);
  model::control<barrier_shared_timeout_suite>("control ipc barrier: wake dropped", no_wake);
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
