// Queue families.
//   queue/<cap>_balanced/<impl>/<N>   N threads: N/2 producers, N/2 consumers (1P1C ... 8P8C)
//   queue/<cap>_1p4c, queue/<cap>_4p1c  5 threads
//   spsc/<cap>/<impl>/2                one producer, one consumer
//   ping_pong/rtt/<impl>/2             round trips per second between two threads through two
//                                      queues; "bare atomic" is one word bounced by pure spinning;
//                                      p50_ns .. max_ns: the round trip's time (harness.hpp)
//   join/cap1024/<impl>/<N>            what task accounting costs: mpmc_queue with task_done()
//                                      after every pop, against the same queue without it (named
//                                      as a peer, so the summary prints the ratio); N/2 producers,
//                                      N/2 consumers
// rate = items popped per second (round trips per second for ping_pong); capacities 1024, 65536.
// Peers: atomic_queue's AtomicQueueB2, moodycamel's ConcurrentQueue and BlockingConcurrentQueue
// (unbounded), boost::lockfree::queue (bounded: capacity<>) and spsc_queue, oneTBB's
// concurrent_bounded_queue, libcds's VyukovMPMCCycleQueue (bounded), and a std::mutex +
// std::condition_variable ring written here.
// Peers that only spin (no blocking call) retry with std::this_thread::yield() between attempts
// and carry "(yield)" in their names: a pure spin loop collapses when threads outnumber cores.
// moodycamel's ReaderWriterQueue is not packaged in Debian (libconcurrentqueue-dev ships only
// concurrentqueue.h, blockingconcurrentqueue.h, lightweightsemaphore.h), so it is absent.
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/spsc_queue.hpp>

#include "harness.hpp"

#include <atomic_queue/atomic_queue.h>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <cds/container/vyukov_mpmc_cycle_queue.h>
#include <concurrentqueue/blockingconcurrentqueue.h>
#include <concurrentqueue/concurrentqueue.h>
#include <tbb/concurrent_queue.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace atomkit_bench;
using item = std::uint64_t;

// The std ring: a mutex, two condition variables, a vector used as a circular buffer.
class std_ring {
 public:
  explicit std_ring(std::size_t cap) : buf_(cap) {}
  bool push(item v) {
    std::unique_lock<std::mutex> l(m_);
    not_full_.wait(l, [&] { return n_ < buf_.size() || closed_; });
    if (closed_) return false;
    buf_[(head_ + n_) % buf_.size()] = v;
    ++n_;
    l.unlock();
    not_empty_.notify_one();
    return true;
  }
  bool pop(item& v) {
    std::unique_lock<std::mutex> l(m_);
    not_empty_.wait(l, [&] { return n_ > 0 || closed_; });
    if (n_ == 0) return false;
    v = buf_[head_];
    head_ = (head_ + 1) % buf_.size();
    --n_;
    l.unlock();
    not_full_.notify_one();
    return true;
  }
  void close() {
    {
      std::lock_guard<std::mutex> l(m_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::vector<item> buf_;
  std::size_t head_ = 0, n_ = 0;
  bool closed_ = false;
};

// Every queue behind one face: push/pop return false once the run is over (closed or stopped).
// Blocking queues are closed by the first thread that sees the stop flag, which wakes the rest.
template <class Q>
struct adapter;

template <class W>
struct adapter<atomkit::mpmc_queue<item, W>> {
  atomkit::mpmc_queue<item, W> q;
  explicit adapter(std::size_t cap) : q(cap) {}
  bool push(item v, const std::atomic<bool>&) { return q.push(v) == atomkit::queue_status::success; }
  bool pop(item& v, const std::atomic<bool>&) { return q.pop(v) == atomkit::queue_status::success; }
  void stop() { q.close(); }
};
template <class W>
struct adapter<atomkit::spsc_queue<item, W>> {
  atomkit::spsc_queue<item, W> q;
  explicit adapter(std::size_t cap) : q(cap) {}
  bool push(item v, const std::atomic<bool>&) { return q.push(v) == atomkit::queue_status::success; }
  bool pop(item& v, const std::atomic<bool>&) { return q.pop(v) == atomkit::queue_status::success; }
  void stop() { q.close(); }
};
// The join family: the same queue, and task_done() after every successful pop.
template <class W>
struct task_done_adapter : adapter<atomkit::mpmc_queue<item, W>> {
  using base = adapter<atomkit::mpmc_queue<item, W>>;
  using base::base;
  bool pop(item& v, const std::atomic<bool>& stop) {
    if (!base::pop(v, stop)) return false;
    this->q.task_done();
    return true;
  }
};
template <>
struct adapter<std_ring> {
  std_ring q;
  explicit adapter(std::size_t cap) : q(cap) {}
  bool push(item v, const std::atomic<bool>&) { return q.push(v); }
  bool pop(item& v, const std::atomic<bool>&) { return q.pop(v); }
  void stop() { q.close(); }
};
template <>
struct adapter<tbb::concurrent_bounded_queue<item>> {
  tbb::concurrent_bounded_queue<item> q;
  explicit adapter(std::size_t cap) { q.set_capacity(static_cast<std::ptrdiff_t>(cap)); }
  bool push(item v, const std::atomic<bool>&) {
    try {
      q.push(v);
      return true;
    } catch (...) {  // tbb::user_abort after abort()
      return false;
    }
  }
  bool pop(item& v, const std::atomic<bool>&) {
    try {
      q.pop(v);
      return true;
    } catch (...) {
      return false;
    }
  }
  void stop() { q.abort(); }  // wakes current waiters only: see throughput<> below
};
// Unbounded and blocking on the consumer side only; the timed wait lets consumers see the stop.
template <>
struct adapter<moodycamel::BlockingConcurrentQueue<item>> {
  moodycamel::BlockingConcurrentQueue<item> q;
  explicit adapter(std::size_t cap) : q(cap) {}
  bool push(item v, const std::atomic<bool>&) { return q.enqueue(v); }
  bool pop(item& v, const std::atomic<bool>& stop) {
    while (!q.wait_dequeue_timed(v, std::chrono::milliseconds(5))) {
      if (stop.load(std::memory_order_relaxed)) return false;  // relaxed: a stop flag only
    }
    return true;
  }
  void stop() {}
};
// Spin-only peers: retry with a yield.
template <class Q, class Push, class Pop>
struct yield_adapter {
  Q q;
  template <class... A>
  explicit yield_adapter(A&&... a) : q(std::forward<A>(a)...) {}
  bool push(item v, const std::atomic<bool>& stop) {
    while (!Push{}(q, v)) {
      if (stop.load(std::memory_order_relaxed)) return false;  // relaxed: a stop flag only
      std::this_thread::yield();
    }
    return true;
  }
  bool pop(item& v, const std::atomic<bool>& stop) {
    while (!Pop{}(q, v)) {
      if (stop.load(std::memory_order_relaxed)) return false;  // relaxed: a stop flag only
      std::this_thread::yield();
    }
    return true;
  }
  void stop() {}
};
struct push_try {
  template <class Q>
  bool operator()(Q& q, item v) const { return q.try_push(v); }
};
struct pop_try {
  template <class Q>
  bool operator()(Q& q, item& v) const { return q.try_pop(v); }
};
struct push_bounded {  // boost: bounded_push never allocates
  template <class Q>
  bool operator()(Q& q, item v) const { return q.bounded_push(v); }
};
struct push_plain {
  template <class Q>
  bool operator()(Q& q, item v) const { return q.push(v); }
};
struct pop_plain {
  template <class Q>
  bool operator()(Q& q, item& v) const { return q.pop(v); }
};
struct push_enqueue {
  template <class Q>
  bool operator()(Q& q, item v) const { return q.enqueue(v); }
};
struct pop_dequeue {
  template <class Q>
  bool operator()(Q& q, item& v) const { return q.try_dequeue(v); }
};

using aq_yield = yield_adapter<atomic_queue::AtomicQueueB2<item>, push_try, pop_try>;
using aq_spsc_yield = yield_adapter<
    atomic_queue::AtomicQueueB2<item, std::allocator<item>, true, false, true>, push_try, pop_try>;
using mc_yield = yield_adapter<moodycamel::ConcurrentQueue<item>, push_enqueue, pop_dequeue>;
// Bounded (the capacity, a power of two, is allocated up front); push/pop fail when full/empty.
using cds_yield = yield_adapter<cds::container::VyukovMPMCCycleQueue<item>, push_plain, pop_plain>;
template <std::size_t Cap>
using boost_q = boost::lockfree::queue<item, boost::lockfree::capacity<Cap>>;
template <std::size_t Cap>
struct boost_yield : yield_adapter<boost_q<Cap>, push_bounded, pop_plain> {
  explicit boost_yield(std::size_t) {}
};
template <std::size_t Cap>
using boost_spsc = boost::lockfree::spsc_queue<item, boost::lockfree::capacity<Cap>>;
template <std::size_t Cap>
struct boost_spsc_yield : yield_adapter<boost_spsc<Cap>, push_plain, pop_plain> {
  explicit boost_spsc_yield(std::size_t) {}
};

// Throughput: `producers` push distinct items, `consumers` pop them; rate counts pops.
template <class A>
void throughput(benchmark::State& st, int producers, int consumers, std::size_t cap) {
  auto q = std::make_unique<A>(cap);
  std::atomic<bool> stopped{false};
  auto stop_all = [&] {
    if (!stopped.exchange(true)) q->stop();
  };
  auto r = run_timed(producers + consumers, [&](int id, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    if (id < producers) {
      item v = static_cast<item>(id) << 48;
      while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
        if (!q->push(v++, stop)) break;
      }
      stop_all();
      return std::uint64_t{0};
    }
    item v = 0;
    while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
      if (!q->pop(v, stop)) break;
      ++n;
    }
    stop_all();
    return n;
  });
  result consumers_only;
  consumers_only.seconds = r.seconds;
  consumers_only.per_thread.assign(r.per_thread.begin() + producers, r.per_thread.end());
  report(st, consumers_only);
  benchmark::DoNotOptimize(q);
}

// TBB's abort() throws in the threads waiting at that moment only: a thread that starts waiting
// later would sleep forever, so a watchdog aborts repeatedly until the run is over.
template <>
void throughput<adapter<tbb::concurrent_bounded_queue<item>>>(benchmark::State& st, int producers,
                                                              int consumers, std::size_t cap) {
  using A = adapter<tbb::concurrent_bounded_queue<item>>;
  A q(cap);
  std::atomic<int> left{producers + consumers};
  std::atomic<bool> over{false};  // some thread saw the stop flag
  std::thread watchdog([&] {
    while (!over.load() && left.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    while (left.load() != 0) {
      q.q.abort();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  auto r = run_timed(producers + consumers, [&](int id, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    item v = static_cast<item>(id) << 48;
    if (id < producers) {
      while (!stop.load(std::memory_order_relaxed) && q.push(v++, stop)) {  // relaxed: stop flag
      }
    } else {
      while (!stop.load(std::memory_order_relaxed) && q.pop(v, stop)) ++n;  // relaxed: stop flag
    }
    over.store(true);
    left.fetch_sub(1);
    return n;
  });
  watchdog.join();
  result consumers_only;
  consumers_only.seconds = r.seconds;
  consumers_only.per_thread.assign(r.per_thread.begin() + producers, r.per_thread.end());
  report(st, consumers_only);
}

// Round trips between two threads through two queues of capacity 1024.
template <class A>
void ping_pong(benchmark::State& st, int) {
  auto there = std::make_unique<A>(1024);
  auto back = std::make_unique<A>(1024);
  latencies lat(1);
  auto r = run_timed(2, [&](int id, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    item v = 0;
    if (id == 0) {
      latency_histogram& h = lat[0];
      while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
        const op_clock::ticks t0 = op_clock::now();
        if (!there->push(n, stop) || !back->pop(v, stop)) break;
        h.record(op_clock::since_ns(t0));
        ++n;
      }
      there->stop();
      back->stop();
      return n;
    }
    while (there->pop(v, stop) && back->push(v, stop)) {
    }
    there->stop();
    back->stop();
    return std::uint64_t{0};
  });
  r.per_thread.resize(1);
  report(st, r, false);
  report_latency(st, lat.merged());
}

// The floor: one word bounced between the two threads by pure spinning (2 threads, 2 cores).
void bare_ping_pong(benchmark::State& st, int) {
  alignas(128) std::atomic<std::uint64_t> word{0};
  latencies lat(1);
  auto r = run_timed(2, [&](int id, const std::atomic<bool>& stop) {
    std::uint64_t n = 0;
    if (id == 0) {
      latency_histogram& h = lat[0];
      while (!stop.load(std::memory_order_relaxed)) {  // relaxed: a stop flag only
        const op_clock::ticks t0 = op_clock::now();
        const std::uint64_t mine = 2 * n + 1;
        word.store(mine, std::memory_order_release);  // pairs with the acquire load in thread 1
        while (word.load(std::memory_order_acquire) != mine + 1) {  // pairs with thread 1's store
          if (stop.load(std::memory_order_relaxed)) break;
        }
        h.record(op_clock::since_ns(t0));
        ++n;
      }
      return n;
    }
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t w;
      // acquire: pairs with thread 0's release store.
      while ((w = word.load(std::memory_order_acquire)) == seen || (w & 1) == 0) {
        if (stop.load(std::memory_order_relaxed)) return std::uint64_t{0};  // relaxed: stop flag
      }
      word.store(w + 1, std::memory_order_release);  // pairs with thread 0's acquire load
      seen = w + 1;
    }
  });
  r.per_thread.resize(1);
  report(st, r, false);
  report_latency(st, lat.merged());
}

template <class A>
void add_mpmc(const std::string& name, std::size_t cap, const std::string& cap_name) {
  add("queue", cap_name + "_balanced", name, {2, 4, 8, 16},
      [cap](benchmark::State& s, int n) { throughput<A>(s, n / 2, n / 2, cap); });
  add("queue", cap_name + "_1p4c", name, {5},
      [cap](benchmark::State& s, int) { throughput<A>(s, 1, 4, cap); });
  add("queue", cap_name + "_4p1c", name, {5},
      [cap](benchmark::State& s, int) { throughput<A>(s, 4, 1, cap); });
}

template <class A>
void add_spsc(const std::string& name, std::size_t cap, const std::string& cap_name) {
  add("spsc", cap_name, name, {2}, [cap](benchmark::State& s, int) { throughput<A>(s, 1, 1, cap); });
}

template <std::size_t Cap, std::size_t BoostCap>
void register_capacity(const std::string& cap_name) {
  add_mpmc<adapter<atomkit::mpmc_queue<item>>>("atomkit::mpmc_queue", Cap, cap_name);
  add_mpmc<adapter<atomkit::mpmc_queue<item, atomkit::busy>>>("atomkit::mpmc_queue<busy>", Cap, cap_name);
  add_mpmc<aq_yield>("atomic_queue::AtomicQueueB2(yield)", Cap, cap_name);
  add_mpmc<boost_yield<BoostCap>>("boost::lockfree::queue(yield)", Cap, cap_name);
  add_mpmc<adapter<tbb::concurrent_bounded_queue<item>>>("tbb::concurrent_bounded_queue", Cap, cap_name);
  add_mpmc<adapter<std_ring>>("std::mutex+condvar ring", Cap, cap_name);
  add_mpmc<adapter<moodycamel::BlockingConcurrentQueue<item>>>(
      "moodycamel::BlockingConcurrentQueue(unbounded)", Cap, cap_name);
  add_mpmc<mc_yield>("moodycamel::ConcurrentQueue(unbounded,yield)", Cap, cap_name);
  add_mpmc<cds_yield>("cds::VyukovMPMCCycleQueue(yield)", Cap, cap_name);

  add_spsc<adapter<atomkit::spsc_queue<item>>>("atomkit::spsc_queue", Cap, cap_name);
  add_spsc<adapter<atomkit::mpmc_queue<item>>>("atomkit::mpmc_queue", Cap, cap_name);
  add_spsc<boost_spsc_yield<Cap>>("boost::lockfree::spsc_queue(yield)", Cap, cap_name);
  add_spsc<aq_spsc_yield>("atomic_queue::AtomicQueueB2<spsc>(yield)", Cap, cap_name);
  add_spsc<adapter<moodycamel::BlockingConcurrentQueue<item>>>(
      "moodycamel::BlockingConcurrentQueue(unbounded)", Cap, cap_name);
}

const registrar reg([] {
  // boost::lockfree::queue indexes its node pool with 16 bits: 65534 is its largest capacity.
  register_capacity<1024, 1024>("cap1024");
  register_capacity<65536, 65534>("cap65536");

  // Interleaved by thread count, so that both sides of each ratio run close together in time.
  for (int n : {2, 4, 8}) {
    add("join", "cap1024", "atomkit::mpmc_queue+task_done", {n}, [](benchmark::State& s, int t) {
      throughput<task_done_adapter<atomkit::park>>(s, t / 2, t / 2, 1024);
    });
    add("join", "cap1024", "mpmc_queue without task_done", {n}, [](benchmark::State& s, int t) {
      throughput<adapter<atomkit::mpmc_queue<item>>>(s, t / 2, t / 2, 1024);
    });
  }

  add("ping_pong", "rtt", "bare atomic", {2}, bare_ping_pong);
  add("ping_pong", "rtt", "atomkit::mpmc_queue", {2}, ping_pong<adapter<atomkit::mpmc_queue<item>>>);
  add("ping_pong", "rtt", "atomkit::spsc_queue", {2}, ping_pong<adapter<atomkit::spsc_queue<item>>>);
  add("ping_pong", "rtt", "boost::lockfree::spsc_queue(yield)", {2}, ping_pong<boost_spsc_yield<1024>>);
  add("ping_pong", "rtt", "atomic_queue::AtomicQueueB2(yield)", {2}, ping_pong<aq_yield>);
  add("ping_pong", "rtt", "cds::VyukovMPMCCycleQueue(yield)", {2}, ping_pong<cds_yield>);
  add("ping_pong", "rtt", "moodycamel::BlockingConcurrentQueue(unbounded)", {2},
      ping_pong<adapter<moodycamel::BlockingConcurrentQueue<item>>>);
  add("ping_pong", "rtt", "std::mutex+condvar ring", {2}, ping_pong<adapter<std_ring>>);
});

}  // namespace
