// Python (the queue module's own example):
//     q = queue.Queue()
//     def worker():
//         while True:
//             item = q.get()
//             handle(item)
//             q.task_done()              # this item is finished
//     threading.Thread(target=worker, daemon=True).start()
//     for item in range(30):
//         q.put(item)
//     q.join()                           # blocks until every item put has had its task_done()
//     print('All work completed')
//
// Workers take jobs from a queue and call task_done() when each job is finished; the producer
// waits with join() until all of them are, without knowing which worker did what, then submits
// the next batch. join() returns only after the last task_done(), and everything the workers
// wrote before their task_done() is visible to the joiner: the program reads the results with
// plain loads and checks them. C++ has no daemon threads, so the workers end when the queue is
// closed (pop reports `closed` once it is drained).
#include <atomkit/mpmc_queue.hpp>

#include <cstddef>
#include <cstdio>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace {

int run() {
  constexpr int workers = 4;
  constexpr int batches = 50;
  constexpr int per_batch = 30;

  atomkit::mpmc_queue<int> q(8);
  std::vector<long> result(static_cast<std::size_t>(batches * per_batch), 0);  // one per job

  std::vector<std::thread> pool;
  pool.reserve(workers);
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      int job = 0;
      while (q.pop(job) == atomkit::queue_status::success) {
        result[static_cast<std::size_t>(job)] = static_cast<long>(job) * job;  // the work
        q.task_done();
      }
    });
  }

  int wrong = 0;
  for (int b = 0; b < batches; ++b) {
    for (int i = 0; i < per_batch; ++i) {
      if (q.push(b * per_batch + i) != atomkit::queue_status::success) ++wrong;
    }
    q.join();  // every job of this batch (and of the ones before) is finished
    for (int i = 0; i < per_batch; ++i) {
      const int job = b * per_batch + i;
      if (result[static_cast<std::size_t>(job)] != static_cast<long>(job) * job) ++wrong;
    }
    if (q.unfinished_tasks() != 0) ++wrong;
  }
  q.close();
  for (auto& t : pool) t.join();

  // One task_done() too many is a bug in the caller, reported rather than ignored.
  bool refused = false;
  try {
    q.task_done();
  } catch (const std::system_error&) {
    refused = true;
  }

  std::printf("%d batches of %d jobs: all work completed after each join; %d wrong; extra "
              "task_done() %s\n",
              batches, per_batch, wrong, refused ? "refused" : "NOT refused");
  return wrong == 0 && refused ? 0 : 1;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
