// Model checks of the queues: mpmc_queue and spsc_queue, with blocking, try and timed forms, and
// close().
//
// Elements live in raw storage that Relacy cannot see, so the values carry the information: value
// v indexes a plain variable (rl::var) payload[v] that the producer writes before it pushes v and
// the consumer reads after it pops v (a missing release/acquire pairing is a DATA RACE), and
// counts of what was accepted and popped give exactly-once delivery. Values encode their producer
// and rank, so each consumer checks per-producer FIFO order. Some checks use an element type whose
// moves into and out of a slot write and read a shadow of that slot (rl::var), so that the slot
// reuse (a consumer's read of the element before the next lap's producer's write) is seen too.
// Every try and timed result is checked against the statuses its situation allows; where the
// answer is determined (a push or pop known to have completed, or one thread alone on the queue),
// the exact answer is checked.
//
// Sizes are what the context-bounded scheduler (bound 2) explores in seconds: its search grows
// with every relaxed load and every sleeping waiter (spurious and timed wake-ups are choices at
// each step), so most checks have two threads and capacity 1 or 2.
#include "model.hpp"

#include <atomkit/mpmc_queue.hpp>
#include <atomkit/spsc_queue.hpp>

#include <chrono>

namespace {

using namespace std::chrono_literals;
using atomkit::queue_status;
using st = queue_status;

constexpr int payload_base = 1000;
constexpr int close_delay = 24;  // steps before a close meant to find its consumer asleep

// What happened to each value: written before the push, accepted by the queue, popped.
template <int N>
struct ledger {
  rl::var<int> payload[N];
  rl::var<int> accepted[N];  // written by the value's producer only
  rl::var<int> popped[N];    // any consumer: exactly-once delivery keeps these race-free

  void reset() {
    for (int v = 0; v < N; ++v) {
      payload[v]($) = 0;
      accepted[v]($) = 0;
      popped[v]($) = 0;
    }
  }
  void produce(int v) {
    RL_ASSERT(0 <= v && v < N);
    payload[v]($) = payload_base + v;
  }
  void accept(int v) { accepted[v]($) = 1; }
  void consume(int v) {
    RL_ASSERT(0 <= v && v < N);
    RL_ASSERT(payload[v]($) == payload_base + v);
    popped[v]($) = popped[v]($) + 1;
  }
  // In after(): every accepted value popped once, nothing else popped.
  void check() {
    for (int v = 0; v < N; ++v) RL_ASSERT(popped[v]($) == accepted[v]($));
  }
  void check_all_accepted() {
    for (int v = 0; v < N; ++v) RL_ASSERT(accepted[v]($) == 1);
    check();
  }
};

// Per-producer FIFO as one consumer sees it: values are producer * Items + rank.
template <int Producers, int Items>
struct fifo {
  int last[Producers];
  fifo() {
    for (int& l : last) l = -1;
  }
  void see(int v) {
    const int p = v / Items;
    RL_ASSERT(0 <= p && p < Producers);
    RL_ASSERT(v % Items > last[p]);
    last[p] = v % Items;
  }
};

// Alone on an empty queue of capacity Cap: empty, Cap successes, full (value kept), timeouts, the
// values back in order, empty again.
template <class Q, int Cap>
void sequential_try_checks(Q& q) {
  int x = -1;
  RL_ASSERT(q.try_pop(x) == st::empty);
  for (int i = 0; i < Cap; ++i) {
    int v = 100 + i;
    RL_ASSERT(q.try_push(std::move(v)) == st::success);
  }
  int w = 200;
  RL_ASSERT(q.try_push(std::move(w)) == st::full);
  RL_ASSERT(w == 200);
  RL_ASSERT(q.try_push_for(std::move(w), 1ms) == st::timeout);
  RL_ASSERT(w == 200);
  for (int i = 0; i < Cap; ++i) {
    x = -1;
    RL_ASSERT(q.try_pop(x) == st::success);
    RL_ASSERT(x == 100 + i);
  }
  RL_ASSERT(q.try_pop(x) == st::empty);
  RL_ASSERT(q.try_pop_for(x, 1ms) == st::timeout);
}

// One thread alone: the exact answers of sequential_try_checks over three laps of the ring, then
// close() with one element left: pops drain it, then every form answers closed.
template <class Q, int Cap>
struct alone : model::suite<alone<Q, Cap>, 1> {
  Q q{Cap};
  void thread(unsigned) {
    for (int lap = 0; lap < 3; ++lap) sequential_try_checks<Q, Cap>(q);
    int v = 300;
    RL_ASSERT(q.try_push(std::move(v)) == st::success);
    RL_ASSERT(!q.is_closed());
    q.close();
    RL_ASSERT(q.is_closed());
    int w = 400;
    RL_ASSERT(q.try_push(std::move(w)) == st::closed);
    RL_ASSERT(q.push(std::move(w)) == st::closed);
    RL_ASSERT(w == 400);
    int x = -1;
    RL_ASSERT(q.try_pop(x) == st::success);
    RL_ASSERT(x == 300);
    RL_ASSERT(q.try_pop(x) == st::closed);
    RL_ASSERT(q.try_pop_for(x, 1ms) == st::closed);
    RL_ASSERT(q.pop(x) == st::closed);
  }
};

// ---- an element that shows its slot to Relacy ----------------------------------------------------

// With a single producer, value v is pushed with ticket (position) v, so it occupies slot v % Cap:
// moving it into the slot writes shadow[v % Cap], moving it out reads it. A pop's move out must
// happen before the next lap's push moves in (the freeing release store), and a push's move in
// before the pop's move out (the publishing one). The element's construction is also the only
// write that only the publishing store orders: a payload written before push() is ordered by the
// push's own barrier too (a seq_cst fence in the model), as in spsc_queue's close handshake.
struct shadow {
  static inline rl::var<int>* cells = nullptr;  // the running suite's, set in before()
  static inline int cap = 1;
};

struct shadowed {
  int v = -1;
  shadowed() = default;
  explicit shadowed(int x) noexcept : v(x) {}
  shadowed(shadowed&& o) noexcept : v(o.v) { shadow::cells[v % shadow::cap]($) = v; }  // into a slot
  shadowed& operator=(shadowed&& o) noexcept {  // out of a slot (pop)
    v = o.v;
    RL_ASSERT(shadow::cells[v % shadow::cap]($) == v);
    return *this;
  }
  ~shadowed() = default;
};

// ---- mpmc_queue ------------------------------------------------------------------------------

// Blocking push and pop: Producers x Items, Consumers sharing the pops evenly. A consumer blocked
// on an empty queue (or a producer on a full one) that is never woken is a DEADLOCK.
template <int Cap, int Producers, int Consumers, int Items>
struct mpmc_blocking : model::suite<mpmc_blocking<Cap, Producers, Consumers, Items>,
                                    Producers + Consumers> {
  static constexpr int N = Producers * Items;
  static_assert(N % Consumers == 0);
  atomkit::mpmc_queue<int> q{Cap};
  ledger<N> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me < Producers) {
      for (int i = 0; i < Items; ++i) {
        const int v = static_cast<int>(me) * Items + i;
        book.produce(v);
        int x = v;
        RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
    } else {
      fifo<Producers, Items> order;
      for (int i = 0; i < N / Consumers; ++i) {
        int x = -1;
        RL_ASSERT(q.pop(x) == st::success);
        book.consume(x);
        order.see(x);
      }
    }
  }
  void after() { book.check_all_accepted(); }
};

// Two threads, each a producer and a consumer: each pushes its value, then pops one (Try: one
// try_push/try_pop first, then the blocking form). Both pushes compete for the tail, both pops
// for the head; with capacity 1 the second push waits for the first pop.
template <int Cap, bool Try>
struct mpmc_symmetric : model::suite<mpmc_symmetric<Cap, Try>, 2> {
  atomkit::mpmc_queue<int> q{Cap};
  ledger<2> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    const int v = static_cast<int>(me);
    book.produce(v);
    int x = v;
    queue_status r = st::full;
    if (Try) {
      r = q.try_push(std::move(x));
      RL_ASSERT(r == st::success || r == st::full || r == st::busy);
      if (r != st::success) RL_ASSERT(x == v);
    }
    if (r != st::success) RL_ASSERT(q.push(std::move(x)) == st::success);
    book.accept(v);
    int y = -1;
    r = st::empty;
    if (Try) {
      r = q.try_pop(y);
      RL_ASSERT(r == st::success || r == st::empty || r == st::busy);
    }
    if (r != st::success) RL_ASSERT(q.pop(y) == st::success);
    book.consume(y);
  }
  void after() { book.check_all_accepted(); }
};

// try_push/try_pop, tried up to Retries times while full/empty/busy, then the blocking form (so
// the model stays finite).
template <int Cap, int Producers, int Consumers, int Items, int Retries>
struct mpmc_try : model::suite<mpmc_try<Cap, Producers, Consumers, Items, Retries>,
                               Producers + Consumers> {
  static constexpr int N = Producers * Items;
  static_assert(N % Consumers == 0);
  atomkit::mpmc_queue<int> q{Cap};
  ledger<N> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me < Producers) {
      for (int i = 0; i < Items; ++i) {
        const int v = static_cast<int>(me) * Items + i;
        book.produce(v);
        int x = v;
        queue_status r = st::full;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_push(std::move(x));
          RL_ASSERT(r == st::success || r == st::full || r == st::busy);
          if (r != st::success) RL_ASSERT(x == v);  // kept on failure
        }
        if (r != st::success) RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
    } else {
      fifo<Producers, Items> order;
      for (int i = 0; i < N / Consumers; ++i) {
        int x = -1;
        queue_status r = st::empty;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_pop(x);
          RL_ASSERT(r == st::success || r == st::empty || r == st::busy);
        }
        if (r != st::success) RL_ASSERT(q.pop(x) == st::success);
        book.consume(x);
        order.see(x);
      }
    }
  }
  void after() { book.check_all_accepted(); }
};

// The try forms' answers where they are determined: once the consumer knows (through a flag set
// after push returned) that an element is in, try_pop succeeds; once the producer knows that a pop
// of a full queue completed, try_push succeeds. Otherwise full/empty/busy are all allowed.
template <class Q, int Cap>
struct try_answers : model::suite<try_answers<Q, Cap>, 2> {
  static constexpr int N = Cap + 1;
  Q q{Cap};
  ledger<N> book;
  model::atomic<int> pushed{0};  // the producer's first Cap pushes returned
  model::atomic<int> popped{0};  // the consumer's first pop returned
  static constexpr bool spsc = !std::is_same_v<Q, atomkit::mpmc_queue<int>>;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me == 0) {
      for (int v = 0; v < Cap; ++v) {
        book.produce(v);
        int x = v;
        RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
      pushed.store(1, std::memory_order_release);
      const bool room = popped.load(std::memory_order_acquire) != 0;
      book.produce(Cap);
      int x = Cap;
      const queue_status r = q.try_push(std::move(x));
      if (room) {
        RL_ASSERT(r == st::success);
      } else if (spsc) {
        RL_ASSERT(r == st::success || r == st::full);  // spsc never answers busy while open
      } else {
        RL_ASSERT(r == st::success || r == st::full || r == st::busy);
      }
      if (r != st::success) {
        RL_ASSERT(x == Cap);
        RL_ASSERT(q.push(std::move(x)) == st::success);
      }
      book.accept(Cap);
    } else {
      const bool in = pushed.load(std::memory_order_acquire) != 0;
      int x = -1;
      const queue_status r = q.try_pop(x);
      if (in) {
        RL_ASSERT(r == st::success);
      } else if (spsc) {
        RL_ASSERT(r == st::success || r == st::empty);
      } else {
        RL_ASSERT(r == st::success || r == st::empty || r == st::busy);
      }
      if (r != st::success) RL_ASSERT(q.pop(x) == st::success);
      RL_ASSERT(x == 0);
      book.consume(x);
      popped.store(1, std::memory_order_release);
      for (int v = 1; v < N; ++v) {
        RL_ASSERT(q.pop(x) == st::success);
        RL_ASSERT(x == v);
        book.consume(x);
      }
    }
  }
  void after() { book.check_all_accepted(); }
};

// try_push_for/try_pop_for(1ms): with the model clock they time out after a few steps. A result
// is success or timeout (never busy, full or empty); on timeout the value is kept and retried up
// to Retries times, then the blocking form.
template <class Q, int Cap, int Producers, int Consumers, int Items, int Retries>
struct timed : model::suite<timed<Q, Cap, Producers, Consumers, Items, Retries>,
                            Producers + Consumers> {
  static constexpr int N = Producers * Items;
  static_assert(N % Consumers == 0);
  Q q{Cap};
  ledger<N> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me < Producers) {
      for (int i = 0; i < Items; ++i) {
        const int v = static_cast<int>(me) * Items + i;
        book.produce(v);
        int x = v;
        queue_status r = st::timeout;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_push_for(std::move(x), 1ms);
          RL_ASSERT(r == st::success || r == st::timeout);
          if (r != st::success) RL_ASSERT(x == v);
        }
        if (r != st::success) RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
    } else {
      fifo<Producers, Items> order;
      for (int i = 0; i < N / Consumers; ++i) {
        int x = -1;
        queue_status r = st::timeout;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_pop_for(x, 1ms);
          RL_ASSERT(r == st::success || r == st::timeout);
        }
        if (r != st::success) RL_ASSERT(q.pop(x) == st::success);
        book.consume(x);
        order.see(x);
      }
    }
  }
  void after() { book.check_all_accepted(); }
};

// Pops until closed: every result success (a new value, in FIFO order) until the first closed;
// then (if `after`) every form answers closed.
template <class Q, int Producers, int Items, int N>
void drain_until_closed(Q& q, ledger<N>& book, bool after = true) {
  fifo<Producers, Items> order;
  for (;;) {
    int x = -1;
    const queue_status r = q.pop(x);
    if (r == st::closed) break;
    RL_ASSERT(r == st::success);
    book.consume(x);
    order.see(x);
  }
  if (!after) return;
  int x = -1;
  RL_ASSERT(q.try_pop(x) == st::closed);
  RL_ASSERT(q.pop(x) == st::closed);
}

// After close: every push form answers closed and leaves the value with the caller.
template <class Q>
void pushes_after_close(Q& q) {
  RL_ASSERT(q.is_closed());
  int v = 77;
  RL_ASSERT(q.push(std::move(v)) == st::closed);
  RL_ASSERT(v == 77);
  RL_ASSERT(q.try_push(std::move(v)) == st::closed);
  RL_ASSERT(v == 77);
  RL_ASSERT(q.try_push_for(std::move(v), 1ms) == st::closed);
  RL_ASSERT(v == 77);
}

// One producer pushes Items (blocking, so with Items > Cap it waits for room), then closes, then
// checks that pushes fail; Consumers pop until closed and together see every item, each once.
template <class Q, int Cap, int Consumers, int Items>
struct close_drain : model::suite<close_drain<Q, Cap, Consumers, Items>, 1 + Consumers> {
  Q q{Cap};
  ledger<Items> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me == 0) {
      for (int v = 0; v < Items; ++v) {
        book.produce(v);
        int x = v;
        RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
      q.close();
      pushes_after_close(q);
    } else {
      drain_until_closed<Q, 1, Items>(q, book);
    }
  }
  void after() { book.check_all_accepted(); }
};

// close() races with pushes and pops: a producer (if Items > 0) pushes Items (blocking), the
// next thread pops until closed, the last thread closes (and, if CloserPops, then pops until
// closed too). A push answers success or closed (the value kept), and once closed every later
// push does; the values popped are exactly those accepted. With Items == 0 this is a consumer
// blocked on an empty queue, woken by close.
template <class Q, int Cap, int Items, bool CloserPops>
struct close_race : model::suite<close_race<Q, Cap, Items, CloserPops>, (Items > 0) + 2> {
  static constexpr int Threads = (Items > 0) + 2;
  static constexpr int N = Items > 0 ? Items : 1;
  static constexpr bool spsc = !std::is_same_v<Q, atomkit::mpmc_queue<int>>;
  static_assert(!(spsc && CloserPops), "an spsc_queue has one consumer");
  Q q{Cap};
  ledger<N> book;
  model::atomic<int> delay{0};
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me == Threads - 1) {
      if (Items == 0) {
        // Give the consumer steps to fall asleep first: under the random scheduler it otherwise
        // rarely does before the close. (Plain loads: yields would multiply the bounded search.)
        for (int i = 0; i < close_delay; ++i) (void)delay.load(std::memory_order_relaxed);
      }
      q.close();
      // The after-close checks once per suite (a third thread's would multiply the search).
      if (CloserPops) {
        drain_until_closed<Q, 1, N>(q, book, false);
      } else if (!spsc) {
        pushes_after_close(q);  // (an spsc_queue's only producer is thread 0)
      }
    } else if (me == 0 && Items > 0) {
      bool closed = false;
      for (int v = 0; v < Items; ++v) {
        book.produce(v);
        int x = v;
        const queue_status r = q.push(std::move(x));
        if (closed) RL_ASSERT(r == st::closed);
        if (r == st::success) {
          book.accept(v);
        } else {
          RL_ASSERT(r == st::closed);
          RL_ASSERT(x == v);
          closed = true;
        }
      }
      if (closed || q.is_closed()) pushes_after_close(q);
    } else {
      drain_until_closed<Q, 1, N>(q, book);
    }
  }
  void after() { book.check(); }
};

// close() wakes producers blocked on a full queue that nobody pops: Producers push Items each
// into a ring of Cap (blocking), the last thread closes. At most Cap pushes succeed; the others
// answer closed and keep their value. A producer left asleep is a DEADLOCK.
template <class Q, int Cap, int Producers, int Items>
struct close_full : model::suite<close_full<Q, Cap, Producers, Items>, Producers + 1> {
  Q q{Cap};
  model::atomic<int> accepted{0};
  model::atomic<int> delay{0};
  void thread(unsigned me) {
    if (me == Producers) {
      // Give the producers steps to fall asleep first (see close_race).
      for (int i = 0; i < close_delay; ++i) (void)delay.load(std::memory_order_relaxed);
      q.close();
      return;
    }
    for (int i = 0; i < Items; ++i) {
      const int v = static_cast<int>(me) * Items + i;
      int x = v;
      const queue_status r = q.push(std::move(x));
      if (r == st::success) {
        accepted.fetch_add(1, std::memory_order_relaxed);
      } else {
        RL_ASSERT(r == st::closed);
        RL_ASSERT(x == v);
      }
    }
  }
  void after() { RL_ASSERT(accepted.load(std::memory_order_relaxed) <= Cap); }
};

// The slot-reuse check: one producer pushes Items shadowed elements through a ring of Cap slots,
// one consumer pops them (blocking forms), so every slot is reused.
template <class Q, int Cap, int Items>
struct slot_reuse : model::suite<slot_reuse<Q, Cap, Items>, 2> {
  Q q{Cap};
  rl::var<int> cells[Cap];
  void before() {
    model::reset_os();
    for (auto& c : cells) c($) = -1;
    shadow::cells = cells;
    shadow::cap = Cap;
  }
  void thread(unsigned me) {
    if (me == 0) {
      for (int v = 0; v < Items; ++v) RL_ASSERT(q.push(shadowed(v)) == st::success);
    } else {
      for (int v = 0; v < Items; ++v) {
        shadowed out;
        RL_ASSERT(q.pop(out) == st::success);
        RL_ASSERT(out.v == v);
      }
    }
  }
};

using mpmc = atomkit::mpmc_queue<int>;
using spsc = atomkit::spsc_queue<int>;

// ---- spsc_queue ------------------------------------------------------------------------------

// Blocking push and pop, one producer, one consumer.
template <int Cap, int Items>
using spsc_blocking = timed<spsc, Cap, 1, 1, Items, 0>;  // no timed attempt: the blocking forms

// try forms with retries, then blocking.
template <int Cap, int Items, int Retries>
struct spsc_try : model::suite<spsc_try<Cap, Items, Retries>, 2> {
  spsc q{Cap};
  ledger<Items> book;
  void before() {
    model::reset_os();
    book.reset();
  }
  void thread(unsigned me) {
    if (me == 0) {
      for (int v = 0; v < Items; ++v) {
        book.produce(v);
        int x = v;
        queue_status r = st::full;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_push(std::move(x));
          RL_ASSERT(r == st::success || r == st::full);
          if (r != st::success) RL_ASSERT(x == v);
        }
        if (r != st::success) RL_ASSERT(q.push(std::move(x)) == st::success);
        book.accept(v);
      }
    } else {
      for (int v = 0; v < Items; ++v) {
        int x = -1;
        queue_status r = st::empty;
        for (int k = 0; k < Retries && r != st::success; ++k) {
          r = q.try_pop(x);
          RL_ASSERT(r == st::success || r == st::empty);
        }
        if (r != st::success) RL_ASSERT(q.pop(x) == st::success);
        RL_ASSERT(x == v);
        book.consume(x);
      }
    }
  }
  void after() { book.check_all_accepted(); }
};

// Task accounting (task_done/join): thread 0 pushes Items (blocking), then joins, then reads
// every item's processed flag, which the consumers (threads 1..Consumers) write after their pop
// and before their task_done: a join that returns early fails the assertion, and one that does
// not happen after the task_done calls is a DATA RACE on the flag. With Close, the last consumer
// pops one item, then closes the queue (the producer's later pushes fail, or give up while they
// wait for room: tickets that never become items) and drains; join must still return.
template <class Q, int Cap, int Consumers, int Items, bool Close>
struct join_protocol : model::suite<join_protocol<Q, Cap, Consumers, Items, Close>, 1 + Consumers> {
  Q q{Cap};
  rl::var<int> processed[Items];
  rl::var<int> accepted[Items];  // written by the producer only
  void before() {
    model::reset_os();
    for (int v = 0; v < Items; ++v) {
      processed[v]($) = 0;
      accepted[v]($) = 0;
    }
  }
  void finish(int x) {
    RL_ASSERT(0 <= x && x < Items);
    processed[x]($) = 1;
    q.task_done();
  }
  void thread(unsigned me) {
    if (me == 0) {
      for (int v = 0; v < Items; ++v) {
        int x = v;
        const queue_status r = q.push(std::move(x));
        RL_ASSERT(r == st::success || (Close && r == st::closed));
        if (r == st::success) accepted[v]($) = 1;
      }
      q.join();
      for (int v = 0; v < Items; ++v) RL_ASSERT(processed[v]($) == accepted[v]($));
      RL_ASSERT(q.unfinished_tasks() == 0);
    } else if (Close && me == Consumers) {
      int x = -1;
      RL_ASSERT(q.pop(x) == st::success);
      finish(x);
      q.close();
      while (q.pop(x) == st::success) finish(x);
    } else {
      int x = -1;
      while (q.pop(x) == st::success) {
        finish(x);
        if (!Close && x == Items - 1) {
          q.close();  // the last item: let the other consumers go
          break;
        }
      }
    }
  }
};

const bool registered = [] {
  using mpmc_shadowed = atomkit::mpmc_queue<shadowed>;
  using spsc_shadowed = atomkit::spsc_queue<shadowed>;
  // One thread: the only choices are timed and spurious wake-ups (bound 2 sees 16 executions), and
  // each execution is long: a tenth of the random iterations.
  constexpr unsigned alone_divisor = 10;

  // mpmc_queue
  model::check<mpmc_blocking<2, 2, 1, 1>>("mpmc cap 2: 2 producers x 1, 1 consumer, blocking");
  model::check<mpmc_blocking<2, 1, 2, 2>>("mpmc cap 2: 1 producer x 2, 2 consumers, blocking");
  model::check<slot_reuse<mpmc_shadowed, 1, 2>>("mpmc cap 1: slot reuse, 2 items, blocking");
  model::check<slot_reuse<mpmc_shadowed, 2, 3>>("mpmc cap 2: slot reuse, 3 items, blocking");
  model::check<mpmc_symmetric<1, false>>("mpmc cap 1: 2 threads push then pop, blocking");
  model::check<mpmc_symmetric<1, true>>("mpmc cap 1: 2 threads push then pop, try");
  model::check<mpmc_symmetric<2, true>>("mpmc cap 2: 2 threads push then pop, try");
  model::check<mpmc_try<1, 1, 1, 2, 1>>("mpmc cap 1: 1 producer x 2, 1 consumer, try");
  model::check<mpmc_try<2, 1, 1, 3, 1>>("mpmc cap 2: 1 producer x 3, 1 consumer, try");
  model::check<try_answers<mpmc, 1>>("mpmc cap 1: try answers after known completions");
  model::check<try_answers<mpmc, 2>>("mpmc cap 2: try answers after known completions");
  model::check<timed<mpmc, 1, 1, 1, 1, 1>>("mpmc cap 1: 1 producer x 1, 1 consumer, timed");
  model::check<timed<mpmc, 2, 1, 1, 2, 1>>("mpmc cap 2: 1 producer x 2, 1 consumer, timed");
  model::check<timed<mpmc, 2, 2, 1, 1, 1>>("mpmc cap 2: 2 producers x 1, 1 consumer, timed");
  model::check<close_drain<mpmc, 1, 1, 2>>("mpmc cap 1: push 2, close; consumer drains");
  model::check<close_race<mpmc, 1, 0, false>>("mpmc cap 1: consumer asleep on empty, closed");
  model::check<close_race<mpmc, 1, 1, false>>("mpmc cap 1: close races a push and a pop");
  model::check<close_race<mpmc, 2, 2, false>>("mpmc cap 2: close races 2 pushes and pops");
  model::check<close_race<mpmc, 1, 1, true>>("mpmc cap 1: close races a push, 2 consumers");
  model::check<close_full<mpmc, 1, 2, 1>>("mpmc cap 1: 2 producers, full, closed");
  model::check<alone<mpmc, 1>>("mpmc cap 1: alone, exact try answers, close", alone_divisor);
  model::check<alone<mpmc, 2>>("mpmc cap 2: alone, exact try answers, close", alone_divisor);
  // The join checks' sleeping joiner multiplies the bounded search: the larger ones run random.
  model::check<join_protocol<mpmc, 1, 1, 1, false>>("mpmc cap 1: join after 1 item, 1 consumer");
  model::check<join_protocol<mpmc, 1, 1, 2, false>>("mpmc cap 1: join after 2 items, 1 consumer",
                                                    1, model::random_only);
  model::check<join_protocol<mpmc, 2, 2, 2, false>>("mpmc cap 2: join after 2 items, 2 consumers",
                                                    1, model::random_only);
  model::check<join_protocol<mpmc, 1, 1, 3, true>>("mpmc cap 1: join, close gives up pushes", 1,
                                                   model::random_only);

  // spsc_queue
  model::check<spsc_blocking<1, 2>>("spsc cap 1: 2 items, blocking");
  model::check<slot_reuse<spsc_shadowed, 1, 2>>("spsc cap 1: slot reuse, 2 items, blocking");
  model::check<slot_reuse<spsc_shadowed, 2, 3>>("spsc cap 2: slot reuse, 3 items, blocking");
  model::check<spsc_try<1, 2, 1>>("spsc cap 1: 2 items, try");
  model::check<spsc_try<2, 3, 1>>("spsc cap 2: 3 items, try");
  model::check<try_answers<spsc, 1>>("spsc cap 1: try answers after known completions");
  model::check<try_answers<spsc, 2>>("spsc cap 2: try answers after known completions");
  model::check<timed<spsc, 1, 1, 1, 2, 1>>("spsc cap 1: 2 items, timed");
  model::check<timed<spsc, 2, 1, 1, 2, 1>>("spsc cap 2: 2 items, timed");
  model::check<close_drain<spsc, 1, 1, 2>>("spsc cap 1: push 2, close; consumer drains");
  model::check<close_drain<spsc, 2, 1, 2>>("spsc cap 2: push 2, close; consumer drains");
  model::check<close_race<spsc, 1, 0, false>>("spsc cap 1: consumer asleep on empty, closed");
  model::check<close_race<spsc, 1, 1, false>>("spsc cap 1: close races a push and a pop");
  model::check<close_race<spsc, 2, 2, false>>("spsc cap 2: close races 2 pushes and pops");
  model::check<close_full<spsc, 1, 1, 2>>("spsc cap 1: producer asleep on full, closed");
  model::check<alone<spsc, 1>>("spsc cap 1: alone, exact try answers, close", alone_divisor);
  model::check<alone<spsc, 2>>("spsc cap 2: alone, exact try answers, close", alone_divisor);
  model::check<join_protocol<spsc, 1, 1, 1, false>>("spsc cap 1: join after 1 item");
  model::check<join_protocol<spsc, 1, 1, 2, false>>("spsc cap 1: join after 2 items", 1,
                                                    model::random_only);
  model::check<join_protocol<spsc, 1, 1, 3, true>>("spsc cap 1: join, close refuses pushes", 1,
                                                   model::random_only);

  // Controls: a release made relaxed (a DATA RACE on the payload or the slot's shadow), a dropped
  // futex wake, a removed barrier of the store/load handshake (a DEADLOCK).
  model::injection relaxed_fill;
  relaxed_fill.function = "mpmc_queue<T, Wait, Ring>::fill";
  relaxed_fill.from = std::memory_order_release;
  relaxed_fill.to = std::memory_order_relaxed;
  model::control<mpmc_blocking<2, 1, 2, 2>>("control mpmc: fill's publishing release relaxed",
                                            relaxed_fill);
  model::injection relaxed_take;
  relaxed_take.function = "mpmc_queue<T, Wait, Ring>::take_element";
  relaxed_take.from = std::memory_order_release;
  relaxed_take.to = std::memory_order_relaxed;
  model::control<slot_reuse<mpmc_shadowed, 1, 2>>(
      "control mpmc: take_element's freeing release relaxed", relaxed_take);
  model::injection relaxed_push;
  relaxed_push.function = "spsc_queue<T, Wait, Ring>::push_impl";
  relaxed_push.from = std::memory_order_release;
  relaxed_push.to = std::memory_order_relaxed;
  model::control<slot_reuse<spsc_shadowed, 2, 3>>("control spsc: push's publishing release relaxed",
                                                  relaxed_push);
  model::injection relaxed_pop;
  relaxed_pop.function = "spsc_queue<T, Wait, Ring>::pop_impl";
  relaxed_pop.from = std::memory_order_release;
  relaxed_pop.to = std::memory_order_relaxed;
  model::control<slot_reuse<spsc_shadowed, 1, 2>>("control spsc: pop's freeing release relaxed",
                                                  relaxed_pop);

  model::injection no_wake;
  no_wake.drop_wake = true;
  model::control<slot_reuse<mpmc_shadowed, 1, 2>>("control mpmc: wake dropped", no_wake);
  model::control<close_race<mpmc, 1, 0, false>>("control mpmc: close's wake dropped", no_wake);
  model::control<spsc_blocking<1, 2>>("control spsc: wake dropped", no_wake);
  model::control<close_race<spsc, 1, 0, false>>("control spsc: close's wake dropped", no_wake);

  // Task accounting: task_done's increment made relaxed (the joiner no longer happens after it: a
  // DATA RACE on the processed flag; or a missed zero, a DEADLOCK), join's acquire load made
  // relaxed (a DATA RACE), the joiner's wake dropped (a DEADLOCK).
  model::injection relaxed_done;
  relaxed_done.function = "task_count<Wait, Count>::done_one";
  relaxed_done.from = std::memory_order_acq_rel;
  relaxed_done.to = std::memory_order_relaxed;
  model::control<join_protocol<mpmc, 2, 2, 2, false>>("control mpmc: task_done's acq_rel relaxed",
                                                      relaxed_done, 1, model::random_only);
  model::control<join_protocol<spsc, 1, 1, 1, false>>("control spsc: task_done's acq_rel relaxed",
                                                      relaxed_done);
  model::injection relaxed_join;
  relaxed_join.function = "task_count<Wait, Count>::finished";
  relaxed_join.from = std::memory_order_acquire;
  relaxed_join.to = std::memory_order_relaxed;
  model::control<join_protocol<mpmc, 1, 1, 1, false>>("control mpmc: join's acquire relaxed",
                                                      relaxed_join);
  model::control<join_protocol<mpmc, 1, 1, 1, false>>("control mpmc: joiner's wake dropped",
                                                      no_wake);

  model::injection no_heavy;
  no_heavy.no_heavy_barrier = true;
  model::control<close_race<mpmc, 1, 1, false>>("control mpmc: sleeper's barrier removed",
                                                no_heavy);
  model::control<spsc_blocking<1, 2>>("control spsc: sleeper's barrier removed", no_heavy);
  model::injection no_light;
  no_light.no_light_barrier = true;
  model::control<slot_reuse<mpmc_shadowed, 1, 2>>("control mpmc: releaser's barrier removed",
                                                  no_light);
  model::control<spsc_blocking<1, 2>>("control spsc: releaser's barrier removed", no_light);
  return true;
}();

}  // namespace

int main(int argc, char** argv) { return model::run_all(argc, argv); }
