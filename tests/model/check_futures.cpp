// Model checks of the future's state-word protocol (future.hpp): a worker starting and completing
// the task, a canceller, and a waiter that may go to sleep, all at once; and a waiting call's
// completion listener (as_completed) registering against the completion and the cancel, with and
// without a deadline; and a waiting worker's inline claim of the awaited task against the worker
// that pops its handle and a canceller. A plain variable (rl::var) carries the task's side effect: Relacy reports a
// data race when the result is not published; a waiter left asleep is a deadlock; "exactly one of
// start and cancel wins" and "a cancelled task never runs" are RL_ASSERTs.
//
// The states here are not allocated (Relacy's heap and libstdc++'s sized delete do not mix): a
// suite owns one, with a no-op deleter, and hands a reference to a future and to a task handle.
#include <exception>
#include <future>
#include <iterator>
#include <memory>

#include "model.hpp"

#include <atomkit/future.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace {

using namespace std::chrono_literals;
using atomkit::detail::state_base;

// As in check_sync.cpp: while one lives, Relacy's operator new hands out malloc's own blocks (the
// waiting call's node array is allocated and freed inside one).
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

// One task: it writes `effect` and returns 42.
struct model_state final : atomkit::detail::result_state<int> {
  rl::var<int>* effect = nullptr;
  model_state() : result_state<int>(&run_task, &destroy_task) {}
  static void run_task(state_base& b) noexcept {
    auto& s = static_cast<model_state&>(b);
    (*s.effect)($) = 1;
    s.result_.emplace([] { return 42; });
    s.complete(state_base::value);
  }
  static void destroy_task(state_base&) noexcept {}
};

// Thread 0 runs the task, thread 1 cancels it, thread 2 waits (blocking, or timed).
template <bool Timed>
struct cancel_start_suite : model::suite<cancel_start_suite<Timed>, 3> {
  model_state* st = nullptr;
  alignas(model_state) unsigned char buf[sizeof(model_state)];
  atomkit::future<int>* fut = nullptr;
  alignas(atomkit::future<int>) unsigned char fbuf[sizeof(atomkit::future<int>)];
  rl::var<int> effect;
  rl::var<int> won;  // 1 if cancel() returned true
  void before() {
    model::reset_os();
    st = ::new (static_cast<void*>(buf)) model_state();
    st->effect = &effect;
    fut = ::new (static_cast<void*>(fbuf)) atomkit::future<int>(st);
    effect($) = 0;
    won($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      atomkit::detail::task_ref t(st);
      t.run();
    } else if (me == 1) {
      if (fut->cancel()) won($) = 1;
    } else {
      if (Timed) {
        if (fut->wait_for(1ms) != std::future_status::ready) return;
      } else {
        fut->wait();
      }
      RL_ASSERT(fut->done());
      if (!fut->cancelled()) {
        RL_ASSERT(effect($) == 1);  // the result is published with the final status
        RL_ASSERT(static_cast<atomkit::detail::result_state<int>*>(st)->result_.take() == 42);
      }
    }
  }
  void after() {
    RL_ASSERT(fut->done());
    // Exactly one of start and cancel won; a cancelled task never ran.
    RL_ASSERT((won($) == 1) == fut->cancelled());
    RL_ASSERT((effect($) == 1) == !fut->cancelled());
    fut->~future();
    if (st->status() == state_base::value) st->result_.destroy();
    st->~model_state();
  }
};

// Thread 0 is the worker that popped the task's handle, thread 1 a worker of the same pool that
// waits for its future (it claims the task and runs it inline if still pending, else sleeps),
// thread 2 cancels it. The task runs at most once (two runs race on `effect`), a cancelled task
// never runs, and the waiter returns with the task final.
struct inline_claim_suite : model::suite<inline_claim_suite, 3> {
  model_state* st = nullptr;
  alignas(model_state) unsigned char buf[sizeof(model_state)];
  atomkit::future<int>* fut = nullptr;
  alignas(atomkit::future<int>) unsigned char fbuf[sizeof(atomkit::future<int>)];
  atomkit::detail::worker_context pool;  // the pool both workers belong to
  rl::var<int> effect;
  rl::var<int> won;  // 1 if cancel() returned true
  void before() {
    model::reset_os();
    st = ::new (static_cast<void*>(buf)) model_state();
    st->effect = &effect;
    st->set_owner(&pool);
    fut = ::new (static_cast<void*>(fbuf)) atomkit::future<int>(st);
    effect($) = 0;
    won($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      atomkit::detail::task_ref t(st);
      t.run();
    } else if (me == 1) {
      // What future::wait() does on a worker (current_worker() is per OS thread, and Relacy's
      // threads share one).
      RL_ASSERT(atomkit::detail::wait_state_in(*st, &pool, atomkit::detail::deadline::never()));
      RL_ASSERT(fut->done());
      if (!fut->cancelled()) RL_ASSERT(effect($) == 1);
    } else {
      if (fut->cancel()) won($) = 1;
    }
  }
  void after() {
    RL_ASSERT(fut->done());
    RL_ASSERT((won($) == 1) == fut->cancelled());
    RL_ASSERT((effect($) == 1) == !fut->cancelled());
    fut->~future();
    if (st->status() == state_base::value) st->result_.destroy();
    st->~model_state();
  }
};

// Thread 0 runs the task, thread 1 cancels it, thread 2 iterates as_completed over it (with a
// deadline when Timed): registration against completion and cancel; the index comes exactly once
// unless the deadline passes first, and the listener is off the list when the call returns.
template <bool Timed>
struct listener_suite : model::suite<listener_suite<Timed>, 3> {
  model_state* st = nullptr;
  alignas(model_state) unsigned char buf[sizeof(model_state)];
  std::array<atomkit::future<int>, 1>* fs = nullptr;
  alignas(std::array<atomkit::future<int>, 1>) unsigned char fbuf[sizeof(std::array<atomkit::future<int>, 1>)];
  rl::var<int> effect;
  void before() {
    model::reset_os();
    st = ::new (static_cast<void*>(buf)) model_state();
    st->effect = &effect;
    fs = ::new (static_cast<void*>(fbuf)) std::array<atomkit::future<int>, 1>{atomkit::future<int>(st)};
    effect($) = 0;
  }
  void thread(unsigned me) {
    if (me == 0) {
      atomkit::detail::task_ref t(st);
      t.run();
    } else if (me == 1) {
      (void)(*fs)[0].cancel();
    } else {
      plain_heap heap;
      int seen = 0;
      bool timed_out = false;
      {
        auto range = Timed ? atomkit::as_completed_for(*fs, 1ms) : atomkit::as_completed(*fs);
        for (std::size_t i : range) {
          RL_ASSERT(i == 0);
          ++seen;
          RL_ASSERT((*fs)[0].done());
          if (!(*fs)[0].cancelled()) RL_ASSERT(effect($) == 1);
        }
        timed_out = range.timed_out();
      }
      RL_ASSERT(seen == (timed_out ? 0 : 1));
      if (!Timed) RL_ASSERT(!timed_out);
    }
  }
  void after() {
    RL_ASSERT((*fs)[0].done());
    fs->~array();
    if (st->status() == state_base::value) st->result_.destroy();
    st->~model_state();
  }
};

model::injection relaxed(const char* function, std::memory_order from) {
  model::injection bug;
  bug.function = function;
  bug.from = from;
  bug.to = std::memory_order_relaxed;
  return bug;
}

const bool registered = [] {
  model::check<cancel_start_suite<false>>("future: start vs cancel vs a waiter");
  model::check<cancel_start_suite<true>>("future: start vs cancel vs a timed waiter");
  model::check<inline_claim_suite>("future: a waiting worker's inline claim vs start vs cancel");
  // The listener suites run under the random scheduler only: their context-bounded search does
  // not finish in ten minutes (registration, firing and unregistration are some thirty atomic
  // operations).
  model::check<listener_suite<false>>("future: as_completed registration vs completion and cancel",
                                      1, model::random_only);
  model::check<listener_suite<true>>("future: as_completed_for (deadline) vs completion and cancel",
                                     1, model::random_only);

  model::injection no_wake;
  no_wake.drop_wake = true;
  // The final CAS no longer publishes the result: the waiter's read of the effect races.
  model::control<cancel_start_suite<false>>("control future: completion CAS made relaxed",
                                            relaxed("finish", std::memory_order_acq_rel));
  // A waiter asleep on the state word is never woken.
  model::control<cancel_start_suite<false>>("control future: wake dropped", no_wake);
  // The claim (pending -> running) no longer one atomic step: the popping worker and the inline
  // claimer both start the task, and their runs race.
  model::injection split_start;
  split_start.split_cas = "try_start";
  model::control<inline_claim_suite>("control future: the start CAS split (two claimers)",
                                     split_start);
  // The registrar's unlock no longer publishes its list entry: the completer may walk a stale
  // (empty) list and never fire the listener, so as_completed sleeps forever.
  model::control<listener_suite<false>>("control future: listener unlock made relaxed",
                                        relaxed("unlock", std::memory_order_release), 1,
                                        model::random_only);
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
