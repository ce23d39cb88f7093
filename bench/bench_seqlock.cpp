// Benchmarks for seqlock<T> (family "seqlock") and reentrant_lock (family "reentrant").
//
// seqlock/reads_<N>B_writer/<impl>/<readers>: reads per second by <readers> threads while one more
//   thread stores continuously (its stores are not counted), for 16- and 64-byte payloads, against
//   std::shared_mutex and std::mutex guarding a plain struct.
// seqlock/load_32B_uncontended/<impl>/1: loads per second of a 32-byte payload with no writer,
//   against a plain copy plus two atomic loads (the floor any seqlock read can reach).
// reentrant/uncontended_pair/<impl>/1: outermost lock+unlock pairs per second, one thread.
// reentrant/nested_pair/<impl>/1: lock+unlock pairs per second nested inside a held lock.
// reentrant/contended/<impl>/<threads>: sections per second (lock, nested lock, increment, two
//   unlocks) by <threads> threads.
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/seqlock.hpp>

#include "harness.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>

namespace {

using atomkit_bench::add;
using atomkit_bench::report;
using atomkit_bench::result;
using atomkit_bench::run_timed;

constexpr int batch = 16;  // operations per check of the stop flag

template <std::size_t Bytes>
struct payload {
  std::uint64_t w[Bytes / 8];
};

template <std::size_t Bytes>
payload<Bytes> make(std::uint64_t v) {
  payload<Bytes> p{};
  for (auto& x : p.w) x = v;
  return p;
}

// Runs `readers` reader threads and one writer thread; reports the readers' rate as "rate", and
// the writer's stores per second as "writer_rate" (a lock that starves its writer reads fast).
template <class Read, class Write>
void with_writer(benchmark::State& state, int readers, Read read, Write write) {
  result r = run_timed(readers + 1, [&](int i, std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    if (i == 0) {
      for (; !stop.load(std::memory_order_relaxed); ++n) write(n);
      return n;
    }
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < batch; ++k) read();
      n += batch;
    }
    return n;
  });
  const double writes = static_cast<double>(r.per_thread.front());
  r.per_thread.erase(r.per_thread.begin());  // the writer
  report(state, r);
  state.counters["writer_rate"] = benchmark::Counter(writes / r.seconds);
}

template <std::size_t Bytes>
void register_reads(const std::vector<int>& readers) {
  const std::string variant = "reads_" + std::to_string(Bytes) + "B_writer";
  using P = payload<Bytes>;
  add("seqlock", variant, "atomkit::seqlock", readers, [](benchmark::State& st, int n) {
    atomkit::seqlock<P> s(make<Bytes>(0));
    with_writer(
        st, n,
        [&] {
          P v = s.load();
          benchmark::DoNotOptimize(v);
        },
        [&](std::uint64_t v) { s.store(make<Bytes>(v)); });
  });
  add("seqlock", variant, "std::shared_mutex", readers, [](benchmark::State& st, int n) {
    struct alignas(128) guarded {
      std::shared_mutex m;
      P data{};
    } g;
    with_writer(
        st, n,
        [&] {
          std::shared_lock lock(g.m);
          P v = g.data;
          benchmark::DoNotOptimize(v);
        },
        [&](std::uint64_t v) {
          std::unique_lock lock(g.m);
          g.data = make<Bytes>(v);
        });
  });
  add("seqlock", variant, "std::mutex", readers, [](benchmark::State& st, int n) {
    struct alignas(128) guarded {
      std::mutex m;
      P data{};
    } g;
    with_writer(
        st, n,
        [&] {
          std::lock_guard lock(g.m);
          P v = g.data;
          benchmark::DoNotOptimize(v);
        },
        [&](std::uint64_t v) {
          std::lock_guard lock(g.m);
          g.data = make<Bytes>(v);
        });
  });
}

template <class Op>
void single_thread(benchmark::State& state, Op op) {
  const result r = run_timed(1, [&](int, std::atomic<bool>& stop) -> std::uint64_t {
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < batch; ++k) op();
      n += batch;
    }
    return n;
  });
  report(state, r, false);
}

void register_uncontended_load() {
  using P = payload<32>;
  add("seqlock", "load_32B_uncontended", "atomkit::seqlock", {1}, [](benchmark::State& st, int) {
    atomkit::seqlock<P> s(make<32>(7));
    single_thread(st, [&] {
      P v = s.load();
      benchmark::DoNotOptimize(v);
    });
  });
  add("seqlock", "load_32B_uncontended", "plain_copy+2_loads", {1},
      [](benchmark::State& st, int) {
        struct alignas(128) plain {
          std::atomic<std::uint64_t> seq{0};
          P data = make<32>(7);
        } p;
        single_thread(st, [&] {
          const std::uint64_t s1 = p.seq.load(std::memory_order_acquire);
          P v = p.data;
          const std::uint64_t s2 = p.seq.load(std::memory_order_relaxed);
          benchmark::DoNotOptimize(v);
          bool same = s1 == s2;
          benchmark::DoNotOptimize(same);
        });
      });
}

template <class Lock>
void register_reentrant(const std::string& impl) {
  add("reentrant", "uncontended_pair", impl, {1}, [](benchmark::State& st, int) {
    Lock lock;
    single_thread(st, [&] {
      lock.lock();
      lock.unlock();
    });
  });
  add("reentrant", "nested_pair", impl, {1}, [](benchmark::State& st, int) {
    Lock lock;
    const result r = run_timed(1, [&](int, std::atomic<bool>& stop) -> std::uint64_t {
      std::uint64_t n = 0;
      lock.lock();  // the outer level, held by the benchmark thread throughout
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < batch; ++k) {
          lock.lock();
          lock.unlock();
        }
        n += batch;
      }
      lock.unlock();
      return n;
    });
    report(st, r, false);
  });
  add("reentrant", "contended", impl, {2, 4, 8}, [](benchmark::State& st, int threads) {
    struct alignas(128) guarded {
      Lock lock;
      std::uint64_t counter = 0;
    } g;
    const result r = run_timed(threads, [&](int, std::atomic<bool>& stop) -> std::uint64_t {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        g.lock.lock();
        g.lock.lock();
        ++g.counter;
        g.lock.unlock();
        g.lock.unlock();
        ++n;
      }
      return n;
    });
    benchmark::DoNotOptimize(g.counter);
    report(st, r);
  });
}

const atomkit_bench::registrar reg([] {
  register_reads<16>({1, 2, 3, 4, 8});
  register_reads<64>({1, 2, 3, 4, 8});
  register_uncontended_load();
  register_reentrant<atomkit::reentrant_lock>("atomkit::reentrant_lock");
  register_reentrant<std::recursive_mutex>("std::recursive_mutex");
});

}  // namespace
