// The waiting engine: wake wakes, time-outs are honoured, no wake-up is lost in a long ping-pong.
#include <atomkit/wait.hpp>

#include <doctest/doctest.h>

#include "stress.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;

TEST_CASE("wait returns at once when the word already differs") {
  std::atomic<std::uint32_t> word{1};
  atomkit::wait(word, 0);  // must not block
  CHECK(atomkit::wait_for(word, 0, 10s) == atomkit::wait_status::woken);
}

TEST_CASE("a time-out is honoured") {
  std::atomic<std::uint32_t> word{0};
  auto t0 = std::chrono::steady_clock::now();
  atomkit::wait_status st = atomkit::wait_status::woken;
  // Spurious returns are allowed, so loop until the deadline reports.
  const auto dl = t0 + 40ms;
  while ((st = atomkit::wait_until(word, 0, dl)) == atomkit::wait_status::woken) {
  }
  CHECK(st == atomkit::wait_status::timed_out);
  CHECK(std::chrono::steady_clock::now() - t0 >= 40ms);
  CHECK(atomkit::wait_until(word, 0, std::chrono::system_clock::now() - 1s) ==
        atomkit::wait_status::timed_out);
  CHECK(atomkit::wait_for(word, 0, -1ms) == atomkit::wait_status::timed_out);
}

TEST_CASE("wake_one wakes a sleeper; wake_all wakes them all") {
  constexpr int n = 4;
  std::atomic<std::uint32_t> word{0};
  std::atomic<int> awake{0};
  std::atomic<int> timed_out{0};
  std::atomic<long> tids[n] = {};
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (auto& tid : tids) {
    threads.emplace_back([&] {
      tid.store(stress::current_tid());
      // acquire: pairs with the release store below.
      while (word.load(std::memory_order_acquire) == 0) {
        if (atomkit::wait_for(word, 0, 30s) == atomkit::wait_status::timed_out) {
          timed_out.fetch_add(1);
          return;
        }
      }
      awake.fetch_add(1);
    });
  }
  // Every waiter is asleep in the kernel before the store, so only the wake can release them.
  stress::time_box box(std::chrono::seconds(20));
  for (auto& t : tids) {
    while (t.load() == 0) std::this_thread::yield();
    CHECK(stress::wait_until_asleep(t.load(), box));
  }
  const auto t0 = std::chrono::steady_clock::now();
  word.store(1, std::memory_order_release);  // pairs with the waiters' acquire loads
  atomkit::wake_all(word);
  for (auto& t : threads) t.join();
  CHECK(timed_out.load() == 0);
  CHECK(awake.load() == n);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE("wake_one wakes exactly the sleeper that is there") {
  std::atomic<std::uint32_t> word{0};
  std::atomic<long> tid{0};
  std::atomic<bool> woken{false};
  std::thread waiter([&] {
    tid.store(stress::current_tid());
    // acquire: pairs with the release store below.
    while (word.load(std::memory_order_acquire) == 0) {
      if (atomkit::wait_for(word, 0, 30s) == atomkit::wait_status::timed_out) return;
    }
    woken.store(true);
  });
  stress::time_box box(std::chrono::seconds(20));
  while (tid.load() == 0) std::this_thread::yield();
  CHECK(stress::wait_until_asleep(tid.load(), box));
  const auto t0 = std::chrono::steady_clock::now();
  word.store(1, std::memory_order_release);  // pairs with the waiter's acquire load
  atomkit::wake_one(word);
  waiter.join();
  CHECK(woken.load());
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE("no lost wake-up in a long ping-pong") {
  stress::seed();
  std::atomic<std::uint32_t> turn{0};  // even: ping's turn, odd: pong's turn
  const auto rounds = static_cast<std::uint32_t>(stress::scaled(50000));
  std::atomic<int> lost{0};
  stress::time_box box(std::chrono::seconds(60));
  stress::run_threads(2, [&](int id) {
    for (std::uint32_t r = 0; r < rounds; ++r) {
      const std::uint32_t mine = 2 * r + static_cast<std::uint32_t>(id);
      std::uint32_t v = 0;
      // acquire: pairs with the other side's release store of the turn.
      while ((v = turn.load(std::memory_order_acquire)) != mine) {
        // A sleep that times out while the word still shows the other side's turn is a lost wake.
        if (atomkit::wait_for(turn, v, 5s) == atomkit::wait_status::timed_out &&
            turn.load() == v) {
          lost.fetch_add(1);
          return;
        }
        if (box.expired()) return;
      }
      turn.store(mine + 1, std::memory_order_release);  // pairs with the acquire loads above
      atomkit::wake_one(turn);
    }
  });
  CHECK(lost.load() == 0);
  CHECK((turn.load() == 2 * rounds || box.expired()));
}
