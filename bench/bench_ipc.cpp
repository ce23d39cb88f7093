// The ipc family: atomkit's process-shared queues and lock between processes, against the same
// queue between threads, the in-process queues, and the OS's and Boost's process channels.
//   ipc/rtt/<impl>/2            round trips per second between two processes (or threads): one
//                               side sends a number, the other sends it back
//   ipc/throughput_1p1c/<impl>/2, ipc/throughput_2p2c/<impl>/4
//                               items popped per second, producers and consumers in separate
//                               processes ("(processes)") or threads of one ("(threads)")
//   ipc/lock/<impl>/<N>         lock/increment/unlock per second, N processes on one lock
// Peers: a pair of pipes, POSIX message queues (mq_send/mq_receive),
// boost::interprocess::message_queue, boost::interprocess::interprocess_mutex.
// Processes are fork()ed children that meet in MAP_SHARED|MAP_ANONYMOUS memory (a named region
// would change nothing once mapped); the measuring side is the parent, and every child is reaped.
#include <atomkit/ipc_queue.hpp>
#include <atomkit/mpmc_queue.hpp>
#include <atomkit/shared_memory.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/spsc_queue.hpp>

#include "harness.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <fcntl.h>
#include <mqueue.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace atomkit_bench;
using item = std::uint64_t;
using clock_type = std::chrono::steady_clock;

// ---- running sides in processes or threads ---------------------------------------------------

// Shared control block: a start flag, a stop flag and each side's progress counter.
struct alignas(128) control {
  std::atomic<int> go{0};
  std::atomic<int> stop{0};
  progress counts[16];
};

// Runs body(i, control&) on n sides (processes or threads) that start together, measures the sum
// of counts[] over a window after a warm-up, then sets stop and calls finish() (which must make
// every side return, e.g. by closing queues) and waits for the sides.
result run_sides(bool processes, int n, control& c, const std::function<void(int, control&)>& body,
                 const std::function<void()>& finish) {
  std::vector<pid_t> pids;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    auto side = [&c, &body, i] {
      while (c.go.load(std::memory_order_acquire) == 0) std::this_thread::yield();
      body(i, c);
    };
    if (processes) {
      std::fflush(nullptr);
      const pid_t pid = ::fork();
      if (pid == 0) {
        side();
        ::_exit(0);
      }
      pids.push_back(pid);
    } else {
      threads.emplace_back(side);
    }
  }
  c.go.store(1, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  result r;
  r.per_thread.assign(static_cast<std::size_t>(n), 0);
  std::vector<std::uint64_t> start(static_cast<std::size_t>(n));
  const auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) start[static_cast<std::size_t>(i)] = c.counts[i].count.load();
  std::this_thread::sleep_for(run_time());
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    r.per_thread[k] = c.counts[i].count.load() - start[k];
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  c.stop.store(1);
  finish();
  for (auto& t : threads) t.join();
  for (pid_t p : pids) {
    int st = 0;
    ::waitpid(p, &st, 0);
  }
  return r;
}

// MAP_SHARED|MAP_ANONYMOUS memory for one benchmark, holding the control block and the objects.
struct arena {
  atomkit::shared_memory region = atomkit::shared_memory::anonymous(8 << 20);
  control& c = region.construct<control>("control");
};

// ---- round trips ------------------------------------------------------------------------------

// Round trips through two atomkit queues (Q: ipc queue placed in the arena, or in-process queue).
template <class Q>
void rtt_queue(benchmark::State& st, bool processes) {
  arena a;
  Q* there = nullptr;
  Q* back = nullptr;
  std::unique_ptr<Q> own_there, own_back;
  if constexpr (requires { Q::bytes_for(std::size_t{1}); }) {
    there = &a.region.construct<Q>("there", 1024);
    back = &a.region.construct<Q>("back", 1024);
  } else {
    own_there = std::make_unique<Q>(1024);
    own_back = std::make_unique<Q>(1024);
    there = own_there.get();
    back = own_back.get();
  }
  auto r = run_sides(
      processes, 2, a.c,
      [&](int id, control& c) {
        item v = 0;
        if (id == 1) {  // the echo
          while (there->pop(v) == atomkit::queue_status::success &&
                 back->push(v) == atomkit::queue_status::success) {
          }
          return;
        }
        std::uint64_t n = 0;
        while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
          if (there->push(n) != atomkit::queue_status::success ||
              back->pop(v) != atomkit::queue_status::success) {
            break;
          }
          c.counts[0].add();
          ++n;
        }
      },
      [&] {
        there->close();
        back->close();
      });
  r.per_thread.resize(1);
  report(st, r, false);
}

// Round trips through a pair of pipes.
void rtt_pipe(benchmark::State& st, int) {
  int ab[2];
  int ba[2];
  if (::pipe(ab) != 0 || ::pipe(ba) != 0) {
    st.SkipWithError("pipe");
    return;
  }
  arena a;
  auto r = run_sides(
      true, 2, a.c,
      [&](int id, control& c) {
        item v = 0;
        if (id == 1) {
          ::close(ab[1]);
          ::close(ba[0]);
          while (::read(ab[0], &v, sizeof v) == sizeof v &&
                 ::write(ba[1], &v, sizeof v) == sizeof v) {
          }
          return;
        }
        while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
          if (::write(ab[1], &v, sizeof v) != sizeof v || ::read(ba[0], &v, sizeof v) != sizeof v) {
            break;
          }
          c.counts[0].add();
          ++v;
        }
      },
      [&] {
        ::close(ab[1]);  // the echo's read sees end of file
        ::close(ba[1]);
      });
  ::close(ab[0]);
  ::close(ba[0]);
  r.per_thread.resize(1);
  report(st, r, false);
}

constexpr item stop_message = ~item{0};

// Round trips through two POSIX message queues.
void rtt_posix_mq(benchmark::State& st, int) {
  const std::string na = "/atomkit_bench_mq_a_" + std::to_string(::getpid());
  const std::string nb = "/atomkit_bench_mq_b_" + std::to_string(::getpid());
  mq_attr attr{};
  attr.mq_maxmsg = 8;
  attr.mq_msgsize = sizeof(item);
  const mqd_t qa = ::mq_open(na.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  const mqd_t qb = ::mq_open(nb.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  ::mq_unlink(na.c_str());
  ::mq_unlink(nb.c_str());
  if (qa == static_cast<mqd_t>(-1) || qb == static_cast<mqd_t>(-1)) {
    st.SkipWithError("mq_open (is /dev/mqueue mounted?)");
    return;
  }
  arena a;
  auto r = run_sides(
      true, 2, a.c,
      [&](int id, control& c) {
        item v = 0;
        const auto send = [](mqd_t q, item x) {
          return ::mq_send(q, reinterpret_cast<const char*>(&x), sizeof x, 0) == 0;
        };
        const auto receive = [](mqd_t q, item& x) {
          return ::mq_receive(q, reinterpret_cast<char*>(&x), sizeof x, nullptr) == sizeof x;
        };
        if (id == 1) {
          while (receive(qa, v) && v != stop_message && send(qb, v)) {
          }
          return;
        }
        while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
          if (!send(qa, v) || !receive(qb, v)) break;
          c.counts[0].add();
          ++v;
        }
        (void)send(qa, stop_message);  // after its last round trip: the echo then returns
      },
      [] {});
  ::mq_close(qa);
  ::mq_close(qb);
  r.per_thread.resize(1);
  report(st, r, false);
}

// Round trips through two boost::interprocess::message_queue.
void rtt_boost_mq(benchmark::State& st, int) {
  namespace bip = boost::interprocess;
  const std::string na = "atomkit_bench_bmq_a_" + std::to_string(::getpid());
  const std::string nb = "atomkit_bench_bmq_b_" + std::to_string(::getpid());
  bip::message_queue::remove(na.c_str());
  bip::message_queue::remove(nb.c_str());
  arena a;
  {
    bip::message_queue qa(bip::create_only, na.c_str(), 8, sizeof(item));
    bip::message_queue qb(bip::create_only, nb.c_str(), 8, sizeof(item));
    auto r = run_sides(
        true, 2, a.c,
        [&](int id, control& c) {
          item v = 0;
          std::size_t got = 0;
          unsigned prio = 0;
          if (id == 1) {
            bip::message_queue ca(bip::open_only, na.c_str());
            bip::message_queue cb(bip::open_only, nb.c_str());
            for (;;) {
              ca.receive(&v, sizeof v, got, prio);
              if (v == stop_message) return;
              cb.send(&v, sizeof v, 0);
            }
          }
          while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
            qa.send(&v, sizeof v, 0);
            qb.receive(&v, sizeof v, got, prio);
            c.counts[0].add();
            ++v;
          }
          const item s = stop_message;  // after its last round trip: the echo then returns
          qa.send(&s, sizeof s, 0);
        },
        [] {});
    r.per_thread.resize(1);
    report(st, r, false);
  }
  bip::message_queue::remove(na.c_str());
  bip::message_queue::remove(nb.c_str());
}

// ---- throughput -------------------------------------------------------------------------------

template <class Q>
void throughput(benchmark::State& st, bool processes, int producers, int consumers) {
  arena a;
  Q* q = nullptr;
  std::unique_ptr<Q> own;
  if constexpr (requires { Q::bytes_for(std::size_t{1}); }) {
    q = &a.region.construct<Q>("q", 1024);
  } else {
    own = std::make_unique<Q>(1024);
    q = own.get();
  }
  auto r = run_sides(
      processes, producers + consumers, a.c,
      [&](int id, control& c) {
        if (id < producers) {
          item v = static_cast<item>(id) << 48;
          while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
            if (q->push(v++) != atomkit::queue_status::success) break;
          }
          return;
        }
        item v = 0;
        while (q->pop(v) == atomkit::queue_status::success) c.counts[id].add();
      },
      [&] { q->close(); });
  result consumers_only;
  consumers_only.seconds = r.seconds;
  consumers_only.per_thread.assign(r.per_thread.begin() + producers, r.per_thread.end());
  report(st, consumers_only);
}

// ---- locks -------------------------------------------------------------------------------------

template <class Lock>
void lock_processes(benchmark::State& st, int n) {
  arena a;
  auto& l = a.region.construct<Lock>("lock");
  auto& counter = a.region.construct<std::uint64_t>("counter", 0);
  auto r = run_sides(
      true, n, a.c,
      [&](int id, control& c) {
        while (c.stop.load(std::memory_order_relaxed) == 0) {  // relaxed: a stop flag only
          l.lock();
          ++counter;
          l.unlock();
          c.counts[id].add();
        }
      },
      [] {});
  report(st, r);
}

const registrar reg([] {
  using ipc_mpmc = atomkit::ipc::mpmc_queue<item>;
  using ipc_spsc = atomkit::ipc::spsc_queue<item>;
  add("ipc", "rtt", "atomkit::ipc::mpmc_queue(processes)", {2},
      [](benchmark::State& s, int) { rtt_queue<ipc_mpmc>(s, true); });
  add("ipc", "rtt", "atomkit::ipc::mpmc_queue(threads)", {2},
      [](benchmark::State& s, int) { rtt_queue<ipc_mpmc>(s, false); });
  add("ipc", "rtt", "atomkit::ipc::spsc_queue(processes)", {2},
      [](benchmark::State& s, int) { rtt_queue<ipc_spsc>(s, true); });
  add("ipc", "rtt", "atomkit::ipc::spsc_queue(threads)", {2},
      [](benchmark::State& s, int) { rtt_queue<ipc_spsc>(s, false); });
  add("ipc", "rtt", "atomkit::mpmc_queue(threads)", {2},
      [](benchmark::State& s, int) { rtt_queue<atomkit::mpmc_queue<item>>(s, false); });
  add("ipc", "rtt", "atomkit::spsc_queue(threads)", {2},
      [](benchmark::State& s, int) { rtt_queue<atomkit::spsc_queue<item>>(s, false); });
  add("ipc", "rtt", "pipe(processes)", {2}, rtt_pipe);
  add("ipc", "rtt", "posix mq(processes)", {2}, rtt_posix_mq);
  add("ipc", "rtt", "boost::interprocess::message_queue(processes)", {2}, rtt_boost_mq);

  for (const auto& [variant, p, c] :
       {std::tuple{"throughput_1p1c", 1, 1}, std::tuple{"throughput_2p2c", 2, 2}}) {
    const int n = p + c;
    const int prod = p;
    const int cons = c;
    add("ipc", variant, "atomkit::ipc::mpmc_queue(processes)", {n},
        [prod, cons](benchmark::State& s, int) { throughput<ipc_mpmc>(s, true, prod, cons); });
    add("ipc", variant, "atomkit::ipc::mpmc_queue(threads)", {n},
        [prod, cons](benchmark::State& s, int) { throughput<ipc_mpmc>(s, false, prod, cons); });
    add("ipc", variant, "atomkit::mpmc_queue(threads)", {n},
        [prod, cons](benchmark::State& s, int) {
          throughput<atomkit::mpmc_queue<item>>(s, false, prod, cons);
        });
  }
  add("ipc", "throughput_1p1c", "atomkit::ipc::spsc_queue(processes)", {2},
      [](benchmark::State& s, int) { throughput<ipc_spsc>(s, true, 1, 1); });
  add("ipc", "throughput_1p1c", "atomkit::spsc_queue(threads)", {2},
      [](benchmark::State& s, int) { throughput<atomkit::spsc_queue<item>>(s, false, 1, 1); });

  add("ipc", "lock", "atomkit::ipc::spinlock", {1, 2, 4},
      lock_processes<atomkit::basic_spinlock<atomkit::process_shared>>);
  add("ipc", "lock", "boost::interprocess::interprocess_mutex", {1, 2, 4},
      lock_processes<boost::interprocess::interprocess_mutex>);
});

}  // namespace
