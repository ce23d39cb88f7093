// The lock-order checker: inversions between threads that never overlapped, across lock types;
// longer cycles; silence on consistent orders, reentrant re-acquisition and group scopes; ranks;
// full tables; symbolized reports; destroyed locks forgotten; the abort action.
//
// The checker's state is global: every test case starts from fresh tables (a test-only reset) and
// uses locks of its own. Under TSan, the second lock of each deliberately inverted pair is taken
// with try_lock, which TSan's own deadlock detector does not count as an order (a try-lock cannot
// block) while the checker does: TSan then stays silent and the checker is what is tested.
#include <atomkit/lock_all.hpp>
#include <atomkit/lock_order.hpp>
#include <atomkit/reentrant_lock.hpp>
#include <atomkit/spinlock.hpp>
#include <atomkit/ticket_lock.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lo = atomkit::lock_order;
namespace hook = atomkit::detail::lock_order_hook;

namespace {

std::mutex g_seen_mutex;
std::vector<lo::inversion> g_seen;

void record(const lo::inversion& inv) {
  const std::lock_guard<std::mutex> g(g_seen_mutex);
  g_seen.push_back(inv);
}

std::vector<lo::inversion> seen() {
  const std::lock_guard<std::mutex> g(g_seen_mutex);
  return g_seen;
}

// Fresh tables, reports captured, checker on; off again at the end.
struct checker {
  explicit checker(std::size_t locks = 256, std::size_t orders = 1024) {
    hook::reset_for_tests(locks, orders);
    {
      const std::lock_guard<std::mutex> g(g_seen_mutex);
      g_seen.clear();
    }
    lo::set_handler(&record);
    lo::enable();
  }
  ~checker() {
    lo::disable();
    lo::set_handler(nullptr);
  }
  checker(const checker&) = delete;
  checker& operator=(const checker&) = delete;
  checker(checker&&) = delete;
  checker& operator=(checker&&) = delete;
};

// The inner acquisition of an order: a blocking lock(), or under TSan a try_lock (see above).
template <class L>
void take(L& l) {
  if constexpr (ATOMKIT_TSAN != 0) {
    REQUIRE(l.try_lock());
  } else {
    l.lock();
  }
}

// first, then second, released; on a thread of its own that ends before the caller goes on.
template <class A, class B>
void ordered_on_new_thread(A& first, B& second) {
  std::thread t([&] {
    first.lock();
    take(second);
    second.unlock();
    first.unlock();
  });
  t.join();
}

// Named frames for the symbolization test: the report must show both.
template <class A, class B>
ATOMKIT_NOINLINE void lo_test_takes_a_then_b(A& a, B& b) {
  a.lock();
  take(b);
  b.unlock();
  a.unlock();
}
template <class A, class B>
ATOMKIT_NOINLINE void lo_test_takes_b_then_a(A& a, B& b) {
  b.lock();
  take(a);
  a.unlock();
  b.unlock();
}

// Captures what the checker writes to stderr while alive.
class stderr_capture {
 public:
  stderr_capture() : file_(std::tmpfile()), saved_(::dup(2)) {
    std::fflush(stderr);
    ::dup2(::fileno(file_), 2);
  }
  ~stderr_capture() {
    restore();
    std::fclose(file_);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  stderr_capture(stderr_capture&&) = delete;
  stderr_capture& operator=(stderr_capture&&) = delete;

  std::string text() {
    restore();
    std::string s;
    std::rewind(file_);
    char buf[512];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) s.append(buf, n);
    return s;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_;
};

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

template <class A, class B>
void inversion_between_sequential_threads() {
  const checker c;
  A a;
  B b;
  lo::set_name(&a, "first lock");
  lo::set_name(&b, "second lock");
  const std::size_t before = lo::inversions();
  ordered_on_new_thread(a, b);  // a then b; this thread has ended before the next one starts
  CHECK(seen().empty());
  ordered_on_new_thread(b, a);  // b then a: the inversion, though the two never overlapped
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == &b);
  CHECK(reports[0].second == &a);
  CHECK(reports[0].text.find("\"first lock\"") != std::string::npos);
  CHECK(reports[0].text.find("\"second lock\"") != std::string::npos);
  CHECK(lo::inversions() == before + 1);
  // Each pair is reported once.
  ordered_on_new_thread(b, a);
  ordered_on_new_thread(a, b);
  CHECK(seen().size() == 1);
}

}  // namespace

TEST_CASE("an inversion between two threads that never overlapped is caught, across lock types") {
  SUBCASE("spinlock, ticket_lock") {
    inversion_between_sequential_threads<atomkit::spinlock, atomkit::ticket_lock>();
  }
  SUBCASE("ticket_lock, reentrant_lock") {
    inversion_between_sequential_threads<atomkit::ticket_lock, atomkit::reentrant_lock>();
  }
  SUBCASE("reentrant_lock, spinlock") {
    inversion_between_sequential_threads<atomkit::reentrant_lock, atomkit::spinlock>();
  }
  SUBCASE("busy_spinlock, busy_spinlock") {
    inversion_between_sequential_threads<atomkit::busy_spinlock, atomkit::busy_spinlock>();
  }
}

TEST_CASE("try_lock and the timed forms count as acquisitions") {
  const checker c;
  atomkit::spinlock a;
  atomkit::reentrant_lock b;
  REQUIRE(a.try_lock_for(std::chrono::milliseconds(10)));
  REQUIRE(b.try_lock());
  b.unlock();
  a.unlock();
  REQUIRE(b.try_lock_for(std::chrono::milliseconds(10)));
  REQUIRE(a.try_lock());
  a.unlock();
  b.unlock();
  CHECK(seen().size() == 1);
}

TEST_CASE("a cycle through three locks is caught when its last order is taken") {
  const checker c;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  atomkit::reentrant_lock d;
  lo::set_name(&a, "A");
  lo::set_name(&b, "B");
  lo::set_name(&d, "C");
  ordered_on_new_thread(a, b);
  ordered_on_new_thread(b, d);
  CHECK(seen().empty());
  ordered_on_new_thread(d, a);  // closes A -> B -> C -> A
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == &d);
  CHECK(reports[0].second == &a);
  // The current order and both earlier ones, each with its path.
  CHECK(reports[0].text.find("\"B\" (") != std::string::npos);
  CHECK(count_of(reports[0].text, "earlier:") == 2);
  CHECK(count_of(reports[0].text, "now:") == 1);
}

TEST_CASE("consistent orders from several threads and reentrant re-acquisition stay silent") {
  const checker c;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  atomkit::reentrant_lock r;
  const int rounds = static_cast<int>(stress::scaled(2000));
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        const std::scoped_lock outer(r);  // r, a, b: always this order
        {
          const std::scoped_lock first(a);
          const std::scoped_lock second(b);
          // Re-taking r while holding a and b is no order (r is already held).
          r.lock();
          CHECK(r.try_lock());
          r.unlock();
          r.unlock();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(seen().empty());
}

TEST_CASE("new orders recorded by several threads at once, read meanwhile: consistent, silent") {
  // Every thread takes random pairs of a shared set of locks, always lower index first: many new
  // orders are recorded concurrently while other threads look them up; none may be reported.
  const checker c;
  constexpr std::size_t lock_count = 24;
  std::vector<std::unique_ptr<atomkit::spinlock>> locks;
  locks.reserve(lock_count);
  for (std::size_t i = 0; i < lock_count; ++i) locks.push_back(std::make_unique<atomkit::spinlock>());
  const std::size_t rounds = stress::scaled(20000);
  stress::time_box box(std::chrono::seconds(20));
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto rng = stress::rng(t);
      for (std::size_t i = 0; i < rounds && !box.expired(); ++i) {
        std::size_t x = rng() % lock_count;
        std::size_t y = rng() % lock_count;
        if (x == y) continue;
        if (x > y) std::swap(x, y);
        const std::scoped_lock first(*locks[x]);
        const std::scoped_lock second(*locks[y]);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(seen().empty());
}

TEST_CASE("a group scope forms no orders among its locks, only after the locks held before it") {
  const checker c;
  atomkit::spinlock outer;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  std::thread([&] {
    const std::scoped_lock held(outer);
    {
      const atomkit::detail::lock_order_group group;
      a.lock();
      take(b);
    }
    b.unlock();
    a.unlock();
  }).join();
  std::thread([&] {
    const atomkit::detail::lock_order_group group;
    b.lock();
    take(a);  // the reverse of the first group: no order among group members either way
    a.unlock();
    b.unlock();
  }).join();
  CHECK(seen().empty());
  // ...but outer was held before the first group: outer -> a is an order, and a -> outer inverts it.
  ordered_on_new_thread(a, outer);
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == &a);
  CHECK(reports[0].second == &outer);
}

TEST_CASE("lock_all, try_lock_all_for and multi_lock form no orders among their locks") {
  const checker c;
  atomkit::spinlock outer;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  atomkit::reentrant_lock r;
  std::thread([&] {
    const std::scoped_lock held(outer);
    atomkit::lock_all(a, b, r);
    r.unlock();
    b.unlock();
    a.unlock();
  }).join();
  std::thread([&] {
    const atomkit::multi_lock g(r, b, a);  // every order reversed: still no report
  }).join();
  std::thread([&] {
    REQUIRE(atomkit::try_lock_all_for(std::chrono::milliseconds(100), b, a));
    a.unlock();
    b.unlock();
  }).join();
  CHECK(seen().empty());
  // outer was held before the first call: outer -> b is an order, and b -> outer inverts it.
  ordered_on_new_thread(b, outer);
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == &b);
  CHECK(reports[0].second == &outer);
}

TEST_CASE("a lock held before a group and released inside it leaves the group's locks unordered") {
  const checker c;
  atomkit::spinlock x;
  atomkit::spinlock a;
  atomkit::spinlock b;
  std::thread([&] {
    x.lock();
    {
      const atomkit::detail::lock_order_group group;
      x.unlock();
      a.lock();
      take(b);  // a and b are both group members: no a -> b
    }
    b.unlock();
    a.unlock();
  }).join();
  ordered_on_new_thread(b, a);
  CHECK(seen().empty());
}

TEST_CASE("a lock taken after the group ends is ordered after the group's locks") {
  const checker c;
  atomkit::spinlock a;
  atomkit::spinlock b;
  std::thread([&] {
    {
      const atomkit::detail::lock_order_group group;
      a.lock();
    }
    take(b);  // a -> b
    b.unlock();
    a.unlock();
  }).join();
  ordered_on_new_thread(b, a);
  CHECK(seen().size() == 1);
}

TEST_CASE("ranks: taking a lock whose rank is <= a held lock's rank is reported at once") {
  const checker c;
  atomkit::spinlock low;
  atomkit::ticket_lock high;
  atomkit::spinlock same;
  lo::set_rank(&low, 1);
  lo::set_rank(&high, 2);
  lo::set_rank(&same, 2);
  lo::set_name(&low, "low");
  lo::set_name(&high, "high");
  const std::size_t before = lo::inversions();
  ordered_on_new_thread(low, high);  // ascending: fine
  CHECK(seen().empty());
  ordered_on_new_thread(high, low);  // descending: reported now (it is also an inversion)
  auto reports = seen();
  REQUIRE(!reports.empty());
  CHECK(reports[0].text.find("rank violation") != std::string::npos);
  CHECK(reports[0].text.find("\"low\" (") != std::string::npos);
  CHECK(reports[0].text.find("(rank 2)") != std::string::npos);
  CHECK(lo::inversions() == before + reports.size());
  const std::size_t after_first = reports.size();
  ordered_on_new_thread(high, low);  // the pair is reported once
  CHECK(seen().size() == after_first);
  // Equal ranks: a rank violation alone, no cycle needed.
  ordered_on_new_thread(high, same);
  reports = seen();
  REQUIRE(reports.size() == after_first + 1);
  CHECK(reports.back().first == &high);
  CHECK(reports.back().second == &same);
  CHECK(reports.back().text.find("rank violation") != std::string::npos);
}

TEST_CASE("full tables: said once on stderr, and the known orders are still checked") {
  const checker c(/*locks=*/16, /*orders=*/4);
  std::vector<std::unique_ptr<atomkit::spinlock>> locks;
  locks.reserve(8);
  for (int i = 0; i < 8; ++i) locks.push_back(std::make_unique<atomkit::spinlock>());
  stderr_capture err;
  // 0 -> 1 .. 0 -> 4 fill the order table; 0 -> 5 .. 0 -> 7 find it full.
  for (std::size_t i = 1; i < 8; ++i) ordered_on_new_thread(*locks[0], *locks[i]);
  for (std::size_t i = 1; i < 8; ++i) ordered_on_new_thread(*locks[0], *locks[i]);
  CHECK(seen().empty());
  ordered_on_new_thread(*locks[2], *locks[0]);  // inverts a known order
  const std::string said = err.text();
  CHECK(count_of(said, "order table is full") == 1);
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].first == locks[2].get());
  CHECK(reports[0].second == locks[0].get());
}

TEST_CASE("a full lock table is said once; the locks it knows are still checked") {
  const checker c(/*locks=*/3, /*orders=*/64);
  atomkit::spinlock a;
  atomkit::spinlock b;
  std::vector<std::unique_ptr<atomkit::ticket_lock>> others;
  others.reserve(4);
  for (int i = 0; i < 4; ++i) others.push_back(std::make_unique<atomkit::ticket_lock>());
  stderr_capture err;
  ordered_on_new_thread(a, b);
  for (auto& o : others) ordered_on_new_thread(a, *o);  // the third lock fills the table
  ordered_on_new_thread(b, a);
  const std::string said = err.text();
  CHECK(count_of(said, "lock table is full") == 1);
  CHECK(seen().size() == 1);
}

TEST_CASE("reports give both acquisition paths, symbolized with function names") {
  const checker c;
  atomkit::spinlock a;
  atomkit::ticket_lock b;
  std::thread([&] { lo_test_takes_a_then_b(a, b); }).join();
  std::thread([&] { lo_test_takes_b_then_a(a, b); }).join();
  const auto reports = seen();
  REQUIRE(reports.size() == 1);
  const std::string& text = reports[0].text;
  INFO(text);
  CHECK(text.find("lo_test_takes_a_then_b") != std::string::npos);  // the earlier path
  CHECK(text.find("lo_test_takes_b_then_a") != std::string::npos);  // the current one
  CHECK(text.find("lo_test_takes_b_then_a") < text.find("lo_test_takes_a_then_b"));
}

TEST_CASE("a destroyed lock is forgotten: a new lock at its address starts with no order") {
  const checker c;
  atomkit::spinlock a;
  alignas(atomkit::spinlock) unsigned char storage[sizeof(atomkit::spinlock)];
  auto* b = new (storage) atomkit::spinlock;
  ordered_on_new_thread(a, *b);
  b->~basic_spinlock();
  auto* b2 = new (storage) atomkit::spinlock;  // same address, a new lock
  ordered_on_new_thread(*b2, a);
  CHECK(seen().empty());
  b2->~basic_spinlock();
}

TEST_CASE("disabled, nothing is recorded or reported; orders recorded before are kept") {
  const checker c;
  atomkit::spinlock a;
  atomkit::spinlock b;
  atomkit::spinlock d;
  ordered_on_new_thread(a, b);
  lo::disable();
  ordered_on_new_thread(b, a);  // not checked
  ordered_on_new_thread(b, d);  // not recorded
  lo::enable();
  CHECK(seen().empty());
  ordered_on_new_thread(d, b);  // b -> d was never recorded
  CHECK(seen().empty());
  ordered_on_new_thread(b, a);  // a -> b was
  CHECK(seen().size() == 1);
}

TEST_CASE("locks released while the checker was off are not left on the held stack") {
  const checker c;
  atomkit::spinlock a;
  atomkit::spinlock b;
  std::thread([&] {
    a.lock();
    lo::disable();
    a.unlock();  // not seen by the checker
    lo::enable();
    take(b);  // must not form a -> b
    b.unlock();
  }).join();
  ordered_on_new_thread(b, a);
  CHECK(seen().empty());
}

#if !ATOMKIT_TSAN  // TSan does not follow a forked child's threads well; the report path is shared
TEST_CASE("action::abort reports, then ends the program") {
  const checker c;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Keep the child's report and doctest's crash message out of the test log; die of SIGABRT.
    std::signal(SIGABRT, SIG_DFL);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    lo::enable(lo::action::abort);
    atomkit::spinlock a;
    atomkit::spinlock b;
    lo_test_takes_a_then_b(a, b);
    lo_test_takes_b_then_a(a, b);
    ::_exit(0);  // not reached when the checker aborts
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}
#endif
