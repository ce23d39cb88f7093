// ipc::mpmc_queue and ipc::spsc_queue across processes: exactly-once delivery between 2 producer
// and 2 consumer processes (a seen-bitmap in shared memory), close() waking waiters in other
// processes, a timed pop returning by its deadline when its producer was killed holding a ticket
// (the hole the docs describe), spsc order across processes, one queue mapped at two addresses,
// bytes_for/create_at argument checks, and task_done/join across processes.
#include <atomkit/ipc_queue.hpp>
#include <atomkit/shared_memory.hpp>

#include <doctest/doctest.h>

#include "ipc_children.hpp"
#include "stress.hpp"

#include <sys/mman.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace std::chrono_literals;
using atomkit::queue_status;
using atomkit::shared_memory;

namespace {

struct unlink_at_exit {
  std::string name;
  ~unlink_at_exit() { shared_memory::remove(name); }
};

constexpr std::uint32_t per_producer = stress::sanitized ? 5000 : 50000;
constexpr std::uint32_t total = 2 * per_producer;
using seen_map = std::array<std::atomic<std::uint8_t>, total>;

}  // namespace

TEST_CASE("ipc::mpmc_queue: exactly-once delivery, 2 producer and 2 consumer processes") {
  std::printf("ipc queue: %u items per producer\n", per_producer);
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory region = shared_memory::create(name, 1 << 20);
  using queue = atomkit::ipc::mpmc_queue<std::uint32_t>;
  auto& q = region.construct<queue>("jobs", 64);
  auto& seen = region.construct<seen_map>("seen");
  auto& duplicates = region.construct<std::atomic<int>>("duplicates", 0);

  pid_t producers[2];
  pid_t consumers[2];
  for (std::uint32_t p = 0; p < 2; ++p) {
    producers[p] = ipc_test::spawn([&, p] {
      shared_memory mine = shared_memory::open(name);  // another mapping, at another address
      auto& mq = mine.find<queue>("jobs");
      if (&mq == &q) return 1;
      for (std::uint32_t i = 0; i < per_producer; ++i) {
        if (mq.push(p * per_producer + i) != queue_status::success) return 2;
      }
      return 0;
    });
  }
  for (pid_t& c : consumers) {
    c = ipc_test::spawn([&] {
      shared_memory mine = shared_memory::open(name);
      auto& mq = mine.find<queue>("jobs");
      auto& ms = mine.find<seen_map>("seen");
      auto& md = mine.find<std::atomic<int>>("duplicates");
      std::uint32_t v = 0;
      while (mq.pop(v) == queue_status::success) {
        if (v >= total || ms[v].fetch_add(1) != 0) md.fetch_add(1);
      }
      return 0;
    });
  }
  for (pid_t p : producers) CHECK(ipc_test::reap(p) == 0);
  q.close();  // the consumers drain, then see closed
  for (pid_t c : consumers) CHECK(ipc_test::reap(c) == 0);
  CHECK(duplicates.load() == 0);
  std::uint32_t delivered = 0;
  for (auto& s : seen) delivered += s.load() == 1 ? 1 : 0;
  CHECK(delivered == total);
  CHECK(q.empty());
}

TEST_CASE("ipc queues: close() wakes waiters blocked in other processes") {
  shared_memory region = shared_memory::anonymous(1 << 16);
  auto& empty = region.construct<atomkit::ipc::mpmc_queue<int>>("empty", 4);
  auto& full = region.construct<atomkit::ipc::mpmc_queue<int>>("full", 2);
  auto& sp = region.construct<atomkit::ipc::spsc_queue<int>>("spsc", 2);
  auto& ready = region.construct<atomkit::ipc::mpmc_queue<int>>("ready", 8);
  REQUIRE(full.push(1) == queue_status::success);
  REQUIRE(full.push(2) == queue_status::success);

  pid_t waiters[4];
  waiters[0] = ipc_test::spawn([&] {
    (void)ready.push(0);
    int v = 0;
    return empty.pop(v) == queue_status::closed ? 0 : 1;
  });
  waiters[1] = ipc_test::spawn([&] {
    (void)ready.push(1);
    int v = 0;
    return empty.try_pop_for(v, 60s) == queue_status::closed ? 0 : 1;
  });
  waiters[2] = ipc_test::spawn([&] {
    (void)ready.push(2);
    return full.push(3) == queue_status::closed ? 0 : 1;
  });
  waiters[3] = ipc_test::spawn([&] {
    (void)ready.push(3);
    int v = 0;
    return sp.pop(v) == queue_status::closed ? 0 : 1;
  });
  for (int i = 0; i < 4; ++i) {
    int v = 0;
    REQUIRE(ready.try_pop_for(v, 20s) == queue_status::success);
  }
  // Let them reach their waits (not needed for correctness: a waiter that arrives after close()
  // returns closed at once).
  for (pid_t w : waiters) (void)ipc_test::await_asleep(w, 2s);
  empty.close();
  full.close();
  sp.close();
  for (pid_t w : waiters) CHECK(ipc_test::reap(w, 20s) == 0);
}

TEST_CASE("ipc::mpmc_queue: a producer killed holding a ticket leaves a hole; timed pops return") {
  shared_memory region = shared_memory::anonymous(1 << 16);
  auto& q = region.construct<atomkit::ipc::mpmc_queue<int>>("q", 4);
  for (int i = 0; i < 4; ++i) REQUIRE(q.push(i) == queue_status::success);
  // The child's push takes ticket 4 and waits for space: kill it there.
  const pid_t producer =
      ipc_test::spawn([&] { return q.push(4) == queue_status::success ? 0 : 1; });
  REQUIRE(ipc_test::await_asleep(producer));
  REQUIRE(::kill(producer, SIGKILL) == 0);
  CHECK(ipc_test::reap(producer) == 128 + SIGKILL);

  int v = -1;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(q.try_pop(v) == queue_status::success);
    CHECK(v == i);
  }
  // Ticket 4 was handed out and will never be filled: try_pop says busy, timed pops time out.
  CHECK(q.try_pop(v) == queue_status::busy);
  auto t0 = std::chrono::steady_clock::now();
  CHECK(q.try_pop_for(v, 50ms) == queue_status::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  // close() does not repair the hole: pops still time out (and a blocking pop would wait).
  q.close();
  t0 = std::chrono::steady_clock::now();
  CHECK(q.try_pop_for(v, 50ms) == queue_status::timeout);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  CHECK(q.try_push(5) == queue_status::closed);
}

TEST_CASE("ipc::spsc_queue: order across processes, then closed") {
  const std::uint32_t n = stress::sanitized ? 20000 : 200000;
  shared_memory region = shared_memory::anonymous(1 << 16);
  auto& q = region.construct<atomkit::ipc::spsc_queue<std::uint32_t>>("q", 128);
  const pid_t producer = ipc_test::spawn([&] {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (q.push(i) != queue_status::success) return 1;
    }
    q.close();
    return 0;
  });
  std::uint32_t expected = 0;
  std::uint32_t v = 0;
  bool in_order = true;
  queue_status st{};
  while ((st = q.try_pop_for(v, 20s)) == queue_status::success) {
    in_order = in_order && v == expected;
    ++expected;
  }
  CHECK(st == queue_status::closed);
  CHECK(in_order);
  CHECK(expected == n);
  CHECK(ipc_test::reap(producer) == 0);
}

TEST_CASE("ipc queues: one queue mapped at two addresses in one process") {
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory a = shared_memory::create(name, 1 << 16);
  shared_memory b = shared_memory::open(name);
  auto& qa = a.construct<atomkit::ipc::mpmc_queue<std::uint64_t>>("m", 8);
  auto& qb = b.find<atomkit::ipc::mpmc_queue<std::uint64_t>>("m");
  auto& sa = a.construct<atomkit::ipc::spsc_queue<std::uint64_t>>("s", 8);
  auto& sb = b.find<atomkit::ipc::spsc_queue<std::uint64_t>>("s");
  CHECK(static_cast<void*>(&qa) != static_cast<void*>(&qb));
  for (std::uint64_t round = 0; round < 5; ++round) {  // several laps of the ring
    for (std::uint64_t i = 0; i < 8; ++i) {
      REQUIRE(qa.try_push(round * 8 + i) == queue_status::success);
      REQUIRE(sa.try_push(round * 8 + i) == queue_status::success);
    }
    CHECK(qb.size() == 8);
    CHECK(qa.try_push(0) == queue_status::full);
    CHECK(sa.try_push(0) == queue_status::full);
    for (std::uint64_t i = 0; i < 8; ++i) {
      std::uint64_t v = 0;
      REQUIRE(qb.try_pop(v) == queue_status::success);
      CHECK(v == round * 8 + i);
      REQUIRE(sb.try_pop(v) == queue_status::success);
      CHECK(v == round * 8 + i);
    }
  }
  CHECK(qa.empty());
  CHECK(qb.capacity() == 8);
  CHECK(sb.capacity() == 8);
}

TEST_CASE("ipc queues: bytes_for and create_at check their arguments") {
  using mq = atomkit::ipc::mpmc_queue<int>;
  using sq = atomkit::ipc::spsc_queue<int>;
  CHECK_THROWS_AS((void)mq::bytes_for(0), std::invalid_argument);
  CHECK_THROWS_AS((void)sq::bytes_for(0), std::invalid_argument);
  CHECK_THROWS_AS((void)mq::bytes_for(std::size_t{1} << 62), std::invalid_argument);
  CHECK_THROWS_AS((void)sq::bytes_for(std::size_t{1} << 40), std::invalid_argument);
  CHECK(mq::bytes_for(100) > 100 * sizeof(int));
  CHECK(sq::bytes_for(100) >= sizeof(sq) + 100 * sizeof(int));
  CHECK_THROWS_AS((void)mq::create_at(nullptr, 4), std::invalid_argument);

  const std::size_t bytes = mq::bytes_for(4) + alignof(mq);
  void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  CHECK_THROWS_AS((void)mq::create_at(static_cast<char*>(m) + 8, 4), std::invalid_argument);
  mq* q = mq::create_at(m, 4);
  CHECK(static_cast<void*>(q) == m);
  CHECK(q->capacity() == 4);
  CHECK(q->try_push(1) == queue_status::success);
  ::munmap(m, bytes);

  // A region too small for the ring: not_enough_memory naming the key.
  shared_memory small = shared_memory::anonymous(32 << 10);
  try {
    (void)small.construct<mq>("too big", 100000);
    CHECK(false);
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::not_enough_memory);
    CHECK(std::string(e.what()).find("\"too big\"") != std::string::npos);
  }
}

TEST_CASE("ipc queues: task_done in a consumer process, join in the producer") {
  shared_memory region = shared_memory::anonymous(1 << 16);
  auto& mq = region.construct<atomkit::ipc::mpmc_queue<int>>("m", 8);
  auto& sq = region.construct<atomkit::ipc::spsc_queue<int>>("s", 8);
  constexpr int n = 200;
  const pid_t consumer = ipc_test::spawn([&] {
    int v = 0;
    for (int i = 0; i < n; ++i) {
      if (mq.pop(v) != queue_status::success || sq.pop(v) != queue_status::success) return 1;
      mq.task_done();
      sq.task_done();
    }
    return 0;
  });
  for (int i = 0; i < n; ++i) {
    REQUIRE(mq.push(i) == queue_status::success);
    REQUIRE(sq.push(i) == queue_status::success);
  }
  CHECK(mq.join_for(20s));
  CHECK(sq.join_for(20s));
  CHECK(mq.unfinished_tasks() == 0);
  CHECK(sq.unfinished_tasks() == 0);
  CHECK(ipc_test::reap(consumer) == 0);
}
