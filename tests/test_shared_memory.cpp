// shared_memory: named and anonymous regions, the directory of named objects, every error with
// its code and the region or key in its message, racing construct across forked processes, find
// waiting for a constructor in progress, and atomkit ipc objects placed in a Boost.Interprocess
// managed segment used from two processes.
#include <atomkit/ipc_queue.hpp>
#include <atomkit/shared_memory.hpp>
#include <atomkit/spinlock.hpp>

#include <doctest/doctest.h>

#include "ipc_children.hpp"
#include "stress.hpp"

#include <boost/interprocess/managed_shared_memory.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace std::chrono_literals;
using atomkit::shared_memory;

namespace {

// The message and code of the std::system_error that f() throws ("" / no code if none).
template <class F>
std::pair<std::string, std::error_code> system_error_of(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return {e.what(), e.code()};
  }
  return {};
}

// The message of the std::invalid_argument that f() throws ("" if none).
template <class F>
std::string invalid_argument_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

// prefix and number, built without operator+ on a literal (GCC 12's -Wrestrict misfires there).
std::string key_of(const char* prefix, long n) {
  std::string s = prefix;
  s += std::to_string(n);
  return s;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Removes a named region at the end of a test case, whatever happens.
struct unlink_at_exit {
  std::string name;
  ~unlink_at_exit() { shared_memory::remove(name); }
};

struct point {
  int x = 0;
  int y = 0;
};

// Counts its constructions in a counter that lives in (fork-inherited) shared memory.
struct tally {
  explicit tally(std::atomic<int>* made) { made->fetch_add(1); }
  std::atomic<int> hits{0};
};

// Its constructor announces itself, then waits for the test to let it finish.
struct gated {
  gated(atomkit::ipc::spsc_queue<int>* started, atomkit::ipc::spsc_queue<int>* go)
      : value(announce_and_wait(started, go)) {}
  static int announce_and_wait(atomkit::ipc::spsc_queue<int>* started,
                               atomkit::ipc::spsc_queue<int>* go) {
    (void)started->push(1);
    int v = 0;
    (void)go->try_pop_for(v, 20s);
    return 42;
  }
  int value;
};

struct throws_on_construction {
  explicit throws_on_construction(int) { throw std::runtime_error("no"); }
};

}  // namespace

TEST_CASE("shared_memory: create, open at another address, find, data, size, move, remove") {
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory a = shared_memory::create(name.substr(1), 1 << 16);  // the '/' is added
  CHECK(a.size() == (1u << 16));
  REQUIRE(a.data() != nullptr);
  auto& p = a.construct<point>("p", point{3, 4});
  CHECK(reinterpret_cast<unsigned char*>(&p) > static_cast<unsigned char*>(a.data()));

  shared_memory b = shared_memory::open(name);
  CHECK(b.data() != a.data());  // a second mapping: another address
  auto& q = b.find<point>("p");
  CHECK(&q != &p);
  CHECK(q.x == 3);
  CHECK(q.y == 4);
  q.x = 7;
  CHECK(p.x == 7);
  CHECK(&b.find_or_construct<point>("p") == &q);  // found, not constructed again

  shared_memory c = std::move(b);
  CHECK(b.data() == nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state
  CHECK(c.find<point>("p").x == 7);
  b = std::move(c);
  CHECK(b.find<point>("p").x == 7);

  CHECK(shared_memory::remove(name));
  CHECK_FALSE(shared_memory::remove(name));
  CHECK(a.find<point>("p").x == 7);  // mappings outlive the name
  CHECK_FALSE(shared_memory::remove(""));
}

TEST_CASE("shared_memory: anonymous regions are kept across fork()") {
  shared_memory r = shared_memory::anonymous(1 << 16);
  auto& n = r.construct<std::atomic<int>>("n", 5);
  const pid_t pid = ipc_test::spawn([&] {
    auto& m = r.find<std::atomic<int>>("n");
    if (&m != &n || m.load() != 5) return 1;
    m.store(6);
    r.construct<point>("from child", point{1, 2});
    return 0;
  });
  CHECK(ipc_test::reap(pid) == 0);
  CHECK(n.load() == 6);
  CHECK(r.find<point>("from child").y == 2);
}

TEST_CASE("shared_memory: bad names and sizes are invalid_argument naming them") {
  CHECK(contains(invalid_argument_of([] { (void)shared_memory::create("", 1 << 16); }),
                 "empty region name"));
  CHECK(contains(invalid_argument_of([] { (void)shared_memory::create("/", 1 << 16); }), "\"/\""));
  CHECK(contains(invalid_argument_of([] { (void)shared_memory::create("/a/b", 1 << 16); }),
                 "\"/a/b\""));
  CHECK(contains(invalid_argument_of([] { (void)shared_memory::open("a/b"); }), "\"a/b\""));
  const std::string too_long(300, 'x');
  CHECK(contains(invalid_argument_of([&] { (void)shared_memory::create(too_long, 1 << 16); }),
                 "NAME_MAX"));
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  CHECK(contains(invalid_argument_of([&] { (void)shared_memory::create(name, 0); }),
                 name + ": size 0"));
  CHECK(contains(invalid_argument_of([&] { (void)shared_memory::create(name, 100); }),
                 name + ": size 100"));
  CHECK(contains(invalid_argument_of([] { (void)shared_memory::anonymous(0); }), "size 0"));
  CHECK_FALSE(shared_memory::remove(name));  // nothing was created by the failed calls
}

TEST_CASE("shared_memory: create of a taken name, open of a missing one") {
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory a = shared_memory::create(name, 1 << 16);
  auto [what, code] = system_error_of([&] { (void)shared_memory::create(name, 1 << 16); });
  CHECK(code == std::errc::file_exists);
  CHECK(contains(what, name));
  CHECK(shared_memory::remove(name));
  std::tie(what, code) = system_error_of([&] { (void)shared_memory::open(name); });
  CHECK(code == std::errc::no_such_file_or_directory);
  CHECK(contains(what, name));
}

TEST_CASE("shared_memory: key errors: empty, too long, taken, absent, another type, region full") {
  shared_memory r = shared_memory::anonymous(32 << 10);
  CHECK(contains(invalid_argument_of([&] { r.construct<int>(""); }), "empty key"));
  const std::string long_key(64, 'k');
  CHECK(contains(invalid_argument_of([&] { r.construct<int>(long_key); }), long_key));
  CHECK(contains(invalid_argument_of([&] { (void)r.find<int>(long_key); }), long_key));

  r.construct<int>("answer", 42);
  auto [what, code] = system_error_of([&] { r.construct<int>("answer", 1); });
  CHECK(code == std::errc::file_exists);
  CHECK(contains(what, "\"answer\""));
  CHECK(r.find<int>("answer") == 42);

  std::tie(what, code) = system_error_of([&] { (void)r.find<int>("question"); });
  CHECK(code == std::errc::no_such_file_or_directory);
  CHECK(contains(what, "\"question\""));

  CHECK(contains(invalid_argument_of([&] { (void)r.find<long>("answer"); }), "\"answer\""));
  CHECK(contains(invalid_argument_of([&] { (void)r.find<unsigned>("answer"); }), "another type"));
  CHECK(contains(invalid_argument_of([&] { (void)r.find_or_construct<point>("answer"); }),
                 "\"answer\""));

  std::tie(what, code) = system_error_of([&] { r.construct<std::array<char, 64 << 10>>("big"); });
  CHECK(code == std::errc::not_enough_memory);
  CHECK(contains(what, "\"big\""));
  // What is left still serves smaller objects, aligned.
  auto& d = r.construct<double>("small", 1.5);
  CHECK(reinterpret_cast<std::uintptr_t>(&d) % alignof(double) == 0);
  CHECK(r.find<double>("small") == 1.5);
}

TEST_CASE("shared_memory: a full directory is not_enough_memory naming the key") {
  shared_memory r = shared_memory::anonymous(1 << 16);
  int made = 0;
  for (;;) {
    auto [what, code] = system_error_of([&] { r.construct<int>(key_of("k", made), made); });
    if (code) {
      CHECK(code == std::errc::not_enough_memory);
      CHECK(contains(what, key_of("\"k", made) + "\""));
      CHECK(contains(what, "directory"));
      break;
    }
    REQUIRE(++made < 1000);
  }
  CHECK(made >= 32);
  CHECK(r.find<int>("k0") == 0);
}

TEST_CASE("shared_memory: a constructor that throws leaves the key free") {
  shared_memory r = shared_memory::anonymous(1 << 16);
  CHECK_THROWS_AS(r.construct<throws_on_construction>("t", 1), std::runtime_error);
  auto [what, code] = system_error_of([&] { (void)r.find<throws_on_construction>("t"); });
  CHECK(code == std::errc::no_such_file_or_directory);
  CHECK(r.construct<int>("t", 9) == 9);
}

TEST_CASE("shared_memory: a directory lock left held (its holder died) is timed_out, not a hang") {
  shared_memory r = shared_memory::anonymous(1 << 16);
  r.construct<int>("there", 7);
  // As a process killed inside construct() would leave it: the directory lock held for good.
  auto* h = static_cast<atomkit::detail::shm::header*>(r.data());
  h->lock.lock();
  const auto t0 = std::chrono::steady_clock::now();
  auto [what, code] = system_error_of([&] { (void)r.find<int>("there"); });
  CHECK(code == std::errc::timed_out);
  CHECK(contains(what, "directory lock"));
  std::tie(what, code) = system_error_of([&] { r.construct<int>("new", 1); });
  CHECK(code == std::errc::timed_out);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  h->lock.unlock();
  CHECK(r.find<int>("there") == 7);
}

TEST_CASE("shared_memory: racing construct and find_or_construct across processes") {
  constexpr int processes = 4;
  constexpr int rounds = 24;
  shared_memory counters = shared_memory::anonymous(1 << 16);
  using table = std::array<std::atomic<int>, rounds>;
  auto& made_c = counters.construct<table>("made_c");
  auto& wins = counters.construct<table>("wins");
  auto& made_d = counters.construct<table>("made_d");

  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory region = shared_memory::create(name, 1 << 16);
  pid_t pids[processes];
  for (pid_t& pid : pids) {
    pid = ipc_test::spawn([&] {
      shared_memory mine = shared_memory::open(name);  // each at its own address
      for (int r = 0; r < rounds; ++r) {
        try {
          mine.construct<tally>(key_of("c", r), &made_c[static_cast<std::size_t>(r)]);
          wins[static_cast<std::size_t>(r)].fetch_add(1);
        } catch (const std::system_error& e) {
          if (e.code() != std::errc::file_exists) return 1;
          (void)mine.find<tally>(key_of("c", r));  // waits for the winner if need be
        }
        auto& d =
            mine.find_or_construct<tally>(key_of("d", r), &made_d[static_cast<std::size_t>(r)]);
        d.hits.fetch_add(1);
      }
      return 0;
    });
  }
  for (pid_t pid : pids) CHECK(ipc_test::reap(pid) == 0);
  for (std::size_t r = 0; r < rounds; ++r) {
    CHECK(made_c[r].load() == 1);
    CHECK(wins[r].load() == 1);
    CHECK(made_d[r].load() == 1);
    CHECK(region.find<tally>(key_of("d", r)).hits.load() == processes);
  }
}

TEST_CASE("shared_memory: find waits for a constructor in progress in another process") {
  shared_memory gates = shared_memory::anonymous(1 << 16);
  auto& started = gates.construct<atomkit::ipc::spsc_queue<int>>("started", 4);
  auto& go = gates.construct<atomkit::ipc::spsc_queue<int>>("go", 4);
  auto& seen = gates.construct<std::atomic<int>>("seen", 0);

  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  shared_memory region = shared_memory::create(name, 1 << 16);
  const pid_t builder = ipc_test::spawn([&] {
    region.construct<gated>("g", &started, &go);
    return 0;
  });
  int v = 0;
  REQUIRE(started.try_pop_for(v, 20s) == atomkit::queue_status::success);
  // The constructor is running: find waits its second, then reports timed_out naming the key.
  const auto t0 = std::chrono::steady_clock::now();
  auto [what, code] = system_error_of([&] { (void)region.find<gated>("g"); });
  CHECK(code == std::errc::timed_out);
  CHECK(contains(what, "\"g\""));
  CHECK(std::chrono::steady_clock::now() - t0 >= 900ms);

  // A finder in another process, waiting (or about to) while the constructor still runs.
  const pid_t finder = ipc_test::spawn([&] {
    shared_memory mine = shared_memory::open(name);
    seen.store(mine.find<gated>("g").value);
    return 0;
  });
  (void)go.push(1);
  CHECK(ipc_test::reap(builder) == 0);
  CHECK(ipc_test::reap(finder) == 0);
  CHECK(seen.load() == 42);
  CHECK(region.find<gated>("g").value == 42);
}

TEST_CASE("shared_memory: open waits for the header and refuses what is not an atomkit region") {
  const std::string name = ipc_test::unique_name();
  unlink_at_exit cleanup{name};
  {
    // A foreign region: sized, zero-filled, never initialized.
    const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 1 << 16) == 0);
    ::close(fd);
  }
  auto [what, code] = system_error_of([&] { (void)shared_memory::open(name); });
  CHECK(code == std::errc::timed_out);
  CHECK(contains(what, name));
}

TEST_CASE("shared_memory: ipc objects in a Boost.Interprocess managed segment, two processes") {
  namespace bip = boost::interprocess;
  using queue = atomkit::ipc::mpmc_queue<std::uint32_t>;
  using lock = atomkit::basic_spinlock<atomkit::process_shared>;
  const std::string name = ipc_test::unique_name().substr(1);
  struct remover {
    std::string n;
    ~remover() { bip::shared_memory_object::remove(n.c_str()); }
  } cleanup{name};

  bip::managed_shared_memory segment(bip::create_only, name.c_str(), 1 << 20);
  void* raw = segment.allocate_aligned(queue::bytes_for(64), alignof(queue));
  queue* q = queue::create_at(raw, 64);
  const auto handle = segment.get_handle_from_address(q);
  lock* l = segment.construct<lock>("lock")();
  std::uint64_t* counter = segment.construct<std::uint64_t>("counter")(0);

  const std::uint32_t n = stress::sanitized ? 2000 : 20000;
  const pid_t child = ipc_test::spawn([&] {
    bip::managed_shared_memory mine(bip::open_only, name.c_str());  // mapped anew: another address
    auto* cq = static_cast<queue*>(mine.get_address_from_handle(handle));
    if (cq == q) return 1;
    lock* cl = mine.find<lock>("lock").first;
    std::uint64_t* cc = mine.find<std::uint64_t>("counter").first;
    if (cl == nullptr || cc == nullptr || cl == l) return 2;
    for (std::uint32_t i = 1; i <= n; ++i) {
      if (cq->push(i) != atomkit::queue_status::success) return 3;
      cl->lock();
      ++*cc;
      cl->unlock();
    }
    return 0;
  });
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t v = 0;
    REQUIRE(q->try_pop_for(v, 20s) == atomkit::queue_status::success);
    sum += v;
    l->lock();
    ++*counter;
    l->unlock();
  }
  CHECK(ipc_test::reap(child) == 0);
  CHECK(sum == std::uint64_t{n} * (n + 1) / 2);
  CHECK(*counter == 2 * std::uint64_t{n});
}
