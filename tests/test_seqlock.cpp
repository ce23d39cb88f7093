// seqlock<T>: values of awkward sizes, layout, try_load against an open write section, update()
// semantics, and torn-read detection under 1 and several writers with up to 16 readers.
#include <atomkit/seqlock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct three_bytes {
  unsigned char a, b, c;
  bool operator==(const three_bytes&) const = default;
};
struct twelve_bytes {
  std::uint32_t x, y, z;
  bool operator==(const twelve_bytes&) const = default;
};
struct alignas(32) wide {
  double d[5];
  bool operator==(const wide&) const = default;
};

// A payload of many words that must always agree: word i of value v is mix(v, i).
constexpr std::size_t torn_words = 16;  // 128 bytes: several cache lines of payload
using torn_payload = std::array<std::uint64_t, torn_words>;

std::uint64_t mix(std::uint64_t v, std::size_t i) { return v * 0x9E3779B97F4A7C15ull + i * 0x51ull; }

// The value v rides in the last word; every other word is derived from it.
torn_payload make(std::uint64_t v) {
  torn_payload p{};
  for (std::size_t i = 0; i + 1 < torn_words; ++i) p[i] = mix(v, i);
  p[torn_words - 1] = v;
  return p;
}
bool consistent(const torn_payload& p) {
  const std::uint64_t v = p[torn_words - 1];
  for (std::size_t i = 0; i + 1 < torn_words; ++i) {
    if (p[i] != mix(v, i)) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("construction, load, store and try_load for payloads of awkward sizes") {
  atomkit::seqlock<int> i;
  CHECK(i.load() == 0);  // value-initialized
  i.store(42);
  CHECK(i.load() == 42);
  REQUIRE(i.try_load().has_value());
  CHECK(*i.try_load() == 42);

  atomkit::seqlock<three_bytes> t(three_bytes{1, 2, 3});
  CHECK(t.load() == three_bytes{1, 2, 3});
  t.store({7, 8, 9});
  CHECK(t.load() == three_bytes{7, 8, 9});

  atomkit::seqlock<twelve_bytes> tw(twelve_bytes{1, 2, 3});
  CHECK(tw.load() == twelve_bytes{1, 2, 3});
  tw.update([](twelve_bytes& v) { v.z += 10; });
  CHECK(tw.load() == twelve_bytes{1, 2, 13});

  atomkit::seqlock<wide> w(wide{{1.5, 2.5, 3.5, 4.5, 5.5}});
  CHECK(w.load() == wide{{1.5, 2.5, 3.5, 4.5, 5.5}});
  CHECK(w.try_load() == wide{{1.5, 2.5, 3.5, 4.5, 5.5}});
}

TEST_CASE("layout: padded so that neighbours share no cache line pair") {
  static_assert(alignof(atomkit::seqlock<char>) >= atomkit::detail::pad_size);
  static_assert(sizeof(atomkit::seqlock<char>) % atomkit::detail::pad_size == 0);
  static_assert(sizeof(atomkit::seqlock<torn_payload>) % atomkit::detail::pad_size == 0);
  static_assert(!std::is_copy_constructible_v<atomkit::seqlock<int>>);
  static_assert(!std::is_move_constructible_v<atomkit::seqlock<int>>);
  static_assert(!std::is_copy_assignable_v<atomkit::seqlock<int>>);
  std::vector<atomkit::seqlock<int>> many(3);  // over-aligned allocation works
  for (auto& s : many) {
    CHECK(reinterpret_cast<std::uintptr_t>(&s) % atomkit::detail::pad_size == 0);
  }
}

TEST_CASE("try_load fails, deterministically, while a write section is open") {
  using access = atomkit::detail::seqlock_access<atomkit::seqlock<torn_payload>>;
  atomkit::seqlock<torn_payload> s(make(1));
  REQUIRE(s.try_load().has_value());

  // Open a section and publish only some words: every attempt meanwhile must fail.
  const std::uint64_t seq = access::begin_write(s);
  CHECK_FALSE(s.try_load().has_value());
  access::write(s, make(2));
  CHECK_FALSE(s.try_load().has_value());
  bool other = true;
  std::thread([&] { other = s.try_load().has_value(); }).join();
  CHECK_FALSE(other);

  // load() in another thread waits for the section to close and then sees the new value.
  std::atomic<bool> started{false};
  std::atomic<bool> returned{false};
  torn_payload seen{};
  std::thread reader([&] {
    started.store(true);
    seen = s.load();
    returned.store(true);
  });
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);  // let it reach the wait (not synchronization: see below)
  CHECK_FALSE(returned.load());       // it cannot have returned while the section is open
  access::end_write(s, seq);
  reader.join();
  CHECK(seen == make(2));
  CHECK(s.try_load() == make(2));
}

TEST_CASE("try_load during a write that overlaps the copy fails; between writes it succeeds") {
  // A continuous writer: every try_load either fails or returns a consistent value, and both
  // outcomes occur (the run stops when both were seen, or at its bound).
  atomkit::seqlock<torn_payload> s(make(0));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (std::uint64_t v = 1; !stop.load(std::memory_order_relaxed); ++v) s.store(make(v));
  });
  std::size_t failed = 0;
  std::size_t succeeded = 0;
  std::size_t torn = 0;
  stress::time_box box(10s);
  for (std::size_t i = 0; i < 50'000'000 && !box.expired() && (failed < 100 || succeeded < 100);
       ++i) {
    if (const auto v = s.try_load()) {
      ++succeeded;
      torn += consistent(*v) ? 0 : 1;
    } else {
      ++failed;
    }
  }
  stop.store(true);
  writer.join();
  MESSAGE("try_load under a continuous writer: " << succeeded << " clean, " << failed << " failed");
  CHECK(torn == 0);
  CHECK(failed > 0);
  CHECK(succeeded > 0);
}

TEST_CASE("update runs f on a copy under the writer lock: readers never wait for f") {
  atomkit::seqlock<twelve_bytes> s(twelve_bytes{1, 1, 1});
  std::latch in_f(1);
  std::latch reader_done(1);
  std::thread writer([&] {
    s.update([&](twelve_bytes& v) {
      v = {2, 2, 2};
      in_f.count_down();
      reader_done.wait();  // f blocks until the reader has tried
    });
  });
  in_f.wait();
  // f is running: the published value is still the old one, and reading it does not block.
  CHECK(s.try_load() == twelve_bytes{1, 1, 1});
  CHECK(s.load() == twelve_bytes{1, 1, 1});
  reader_done.count_down();
  writer.join();
  CHECK(s.load() == twelve_bytes{2, 2, 2});
}

TEST_CASE("update whose f throws publishes nothing and releases the writer lock") {
  atomkit::seqlock<int> s(5);
  CHECK_THROWS_AS(s.update([](int& v) {
    v = 99;
    throw std::runtime_error("no");
  }),
                  std::runtime_error);
  CHECK(s.load() == 5);
  s.store(6);  // the writer lock was released
  CHECK(s.load() == 6);
}

TEST_CASE("writers are serialized: concurrent update() increments are never lost") {
  stress::seed();
  for (int threads : {2, 8, 16}) {
    CAPTURE(threads);
    atomkit::seqlock<twelve_bytes> s(twelve_bytes{0, 0, 0});
    const std::size_t per_thread = stress::scaled(40000) / static_cast<std::size_t>(threads) + 1;
    std::atomic<std::uint32_t> done{0};
    stress::time_box box;
    stress::run_threads(threads, [&](int) {
      for (std::size_t i = 0; i < per_thread && !box.expired(); ++i) {
        s.update([](twelve_bytes& v) {
          ++v.x;
          v.y += 2;
          v.z += 3;
        });
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
    const auto v = s.load();
    CHECK(v.x == done.load());
    CHECK(v.y == 2 * done.load());
    CHECK(v.z == 3 * done.load());
  }
}

// Readers check every snapshot for tearing, and that successive snapshots never go back in any
// one writer's order (snapshots are linearizable).
static void torn_read_stress(int writers, int readers, bool use_try_load) {
  CAPTURE(writers);
  CAPTURE(readers);
  CAPTURE(use_try_load);
  stress::seed();
  atomkit::seqlock<torn_payload> s(make(0));
  const std::size_t writes = stress::scaled(800000) / static_cast<std::size_t>(writers) + 1;
  const std::size_t reads = stress::scaled(1600000) / static_cast<std::size_t>(readers) + 1;
  std::atomic<int> writers_left{writers};
  std::atomic<std::size_t> torn{0};
  std::atomic<std::size_t> backwards{0};
  std::atomic<std::size_t> clean_reads{0};
  stress::time_box box(std::chrono::seconds(stress::sanitized ? 40 : 10));
  stress::run_threads(writers + readers, [&](int id) {
    if (id < writers) {
      // Writer w stores values (counter << 8 | w): its own counter increases.
      auto rng = stress::rng(static_cast<std::uint64_t>(id));
      for (std::size_t i = 1; i <= writes && !box.expired(); ++i) {
        const std::uint64_t v = (static_cast<std::uint64_t>(i) << 8) | static_cast<std::uint64_t>(id);
        if (rng() & 1) {
          s.store(make(v));
        } else {
          s.update([&](torn_payload& p) { p = make(v); });
        }
      }
      writers_left.fetch_sub(1);
      return;
    }
    std::vector<std::uint64_t> last(static_cast<std::size_t>(writers), 0);
    // Read until our count is done and the writers are finished (or the time box ends).
    for (std::size_t i = 0; !box.expired() && (i < reads || writers_left.load() != 0); ++i) {
      torn_payload p;
      if (use_try_load) {
        const auto v = s.try_load();
        if (!v) continue;
        p = *v;
      } else {
        p = s.load();
      }
      if (!consistent(p)) {
        torn.fetch_add(1);
        continue;
      }
      clean_reads.fetch_add(1, std::memory_order_relaxed);
      const std::uint64_t v = p[torn_words - 1];
      if (v == 0) continue;
      const auto w = static_cast<std::size_t>(v & 0xff);
      const std::uint64_t counter = v >> 8;
      if (counter < last[w]) backwards.fetch_add(1);
      last[w] = counter;
    }
  });
  CHECK(torn.load() == 0);
  CHECK(backwards.load() == 0);
  CHECK(clean_reads.load() > 0);
}

TEST_CASE("torn reads: one writer, readers from 1 to 16 (more threads than cores)") {
  for (int readers : {1, 3, 8, 16}) torn_read_stress(1, readers, false);
  torn_read_stress(1, 8, true);
}

TEST_CASE("torn reads: several writers and readers") {
  for (auto [w, r] : {std::pair{2, 2}, std::pair{4, 8}, std::pair{8, 8}}) {
    torn_read_stress(w, r, false);
  }
  torn_read_stress(3, 6, true);
}
