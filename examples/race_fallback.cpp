// Python:
//     primary = pool.submit(query, PRIMARY); fallback = pool.submit(query, FALLBACK)
//     done, not_done = wait([primary, fallback], return_when=FIRST_COMPLETED)
//     for f in not_done: f.cancel()
//
// Ask a primary and a fallback service the same question and take the first answer. The pool has
// one worker busy with other work (a "warm-up" task holding it until the race is set up), so the
// second query is still pending when the first answer arrives: cancel() then succeeds and that
// query never runs. With two workers both may run; cancel() then fails (a running task is not
// cancelled) and its answer is simply dropped. The checks hold either way: the winner is done
// and its answer right; a cancelled loser never ran and its get() throws cancelled_error.
#include <atomkit/event.hpp>
#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <exception>
#include <string>

namespace {

std::atomic<int> queries_run{0};

std::string query(const char* service) {
  queries_run.fetch_add(1);
  return std::string(service) + " says 42";
}

bool race(atomkit::thread_pool& pool, atomkit::event* hold) {
  queries_run.store(0);
  atomkit::future<void> warm_up;
  if (hold != nullptr) warm_up = pool.submit([hold] { hold->wait(); });
  std::array<atomkit::future<std::string>, 2> both{pool.submit(query, "primary"),
                                                   pool.submit(query, "fallback")};
  if (hold != nullptr) hold->set();
  const auto r = atomkit::wait_futures(both, atomkit::return_when::first_completed);
  bool ok = !r.done.empty();
  const std::size_t winner = r.done.front();
  ok = ok && both[winner].done();
  int cancelled = 0;
  for (std::size_t loser : r.not_done) {
    if (both[loser].cancel()) {
      ++cancelled;
      try {
        (void)both[loser].get();
        ok = false;
      } catch (const atomkit::cancelled_error&) {
        std::printf("  %s cancelled before it ran\n", loser == 0 ? "primary" : "fallback");
      }
    }
  }
  const std::string answer = both[winner].get();
  ok = ok && answer == (winner == 0 ? "primary says 42" : "fallback says 42");
  if (warm_up.valid()) warm_up.get();
  pool.shutdown();  // every task that will run has run
  ok = ok && queries_run.load() == 2 - cancelled;
  std::printf("  answer: %s (queries run: %d)\n", answer.c_str(), queries_run.load());
  return ok;
}

}  // namespace

int main() try {
  bool ok = true;
  {
    std::printf("one worker:\n");
    atomkit::thread_pool pool(1);
    atomkit::event hold;
    ok = race(pool, &hold) && ok;
  }
  {
    std::printf("two workers:\n");
    atomkit::thread_pool pool(2);
    ok = race(pool, nullptr) && ok;
  }
  if (!ok) {
    std::printf("FAILED\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::printf("FAILED: %s\n", e.what());
  return 1;
}
