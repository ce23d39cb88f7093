// Python:
//     with ThreadPoolExecutor(max_workers=5) as pool:
//         futures = {pool.submit(fetch, src): src for src in SOURCES}
//         for f in as_completed(futures):          # fastest first
//             print(futures[f], f.result())
//
// Five "sources" answer after different delays (sleeps stand in for the network: they are the
// work, not synchronization). as_completed hands back the index of each future as it finishes;
// the program prints the answers in that order and checks what does not depend on timing: every
// source appears exactly once, each answer is right, the one source that fails reports its
// exception through get(), and each index was done when it was handed out.
#include <atomkit/future.hpp>
#include <atomkit/thread_pool.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct source {
  const char* name;
  int delay_ms;
};

constexpr std::array<source, 5> sources{{{"alpha", 30}, {"bravo", 5}, {"charlie", 20},
                                         {"delta", 10}, {"echo", 1}}};

std::string fetch(const source& s) {
  std::this_thread::sleep_for(std::chrono::milliseconds(s.delay_ms));
  if (std::string(s.name) == "charlie") throw std::runtime_error("charlie: connection reset");
  return std::string(s.name) + ": " + std::to_string(s.delay_ms * 100) + " bytes";
}

}  // namespace

int main() try {
  atomkit::thread_pool pool(5);
  std::vector<atomkit::future<std::string>> futures;
  futures.reserve(sources.size());
  for (const source& s : sources) futures.push_back(pool.submit(fetch, s));

  std::array<int, sources.size()> seen{};
  int answers = 0;
  int failures = 0;
  bool ok = true;
  for (std::size_t i : atomkit::as_completed(futures)) {
    ++seen.at(i);
    ok = ok && futures[i].done();
    try {
      const std::string answer = futures[i].get();
      ok = ok && answer == std::string(sources[i].name) + ": " +
                               std::to_string(sources[i].delay_ms * 100) + " bytes";
      std::printf("%s\n", answer.c_str());
      ++answers;
    } catch (const std::runtime_error& e) {
      std::printf("failed: %s\n", e.what());
      ok = ok && std::string(sources[i].name) == "charlie";
      ++failures;
    }
  }
  for (int n : seen) ok = ok && n == 1;
  ok = ok && answers == 4 && failures == 1;
  std::printf("%d answers, %d failure\n", answers, failures);
  if (!ok) {
    std::printf("FAILED\n");
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::printf("FAILED: %s\n", e.what());
  return 1;
}
