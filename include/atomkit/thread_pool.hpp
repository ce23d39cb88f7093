// atomkit/thread_pool.hpp: a fixed pool of worker threads that run submitted callables and hand
// back futures (Python's concurrent.futures.ThreadPoolExecutor).
//
// Usage: atomkit::thread_pool pool(4); auto f = pool.submit([](int x) { return x * 2; }, 21);
//        int v = f.get();
// Reference: docs/futures.md
//
// Design. Tasks are 8-byte handles (detail::task_ref) on their shared state (future.hpp), carried
// by an atomkit::mpmc_queue of `queue_capacity` slots. Each worker loops on the queue's blocking
// pop, so an idle worker parks through the waiting engine (a brief spin, then a futex sleep on its
// slot) and burns no CPU. submit() allocates the shared state once (the callable inside it),
// pushes the handle (blocking while the queue is full: backpressure). A worker that waits for a
// task of this pool that is still queued may claim it and run it inline (future.hpp); the handle
// stays queued (it still takes its slot until popped) and the worker that pops it finds the task
// started and drops it. So every task runs on one of this pool's workers, either way.
//
// Rules.
//  - The default worker count is std::thread::hardware_concurrency(), or 1 if that is unknown; an
//    explicit 0 workers or 0 capacity throws std::invalid_argument.
//  - submit() after shutdown() throws std::system_error(operation_not_permitted).
//  - submit() from one of this pool's own workers never blocks: when the queue is full, the task
//    runs at once on the submitting worker (so a full queue cannot deadlock the pool).
//  - A task that throws: the exception reaches get(); the worker goes on.
//  - shutdown(wait, cancel_pending): closes the queue (submit throws from then on); with
//    cancel_pending, every task no worker has started yet is cancelled (its future reports
//    cancelled, get() throws cancelled_error); queued tasks not cancelled still run; with wait,
//    it returns when every task has finished and every worker has exited. Idempotent; callable
//    from any thread.
//  - From inside a task, shutdown(true) cannot wait for its own worker (whose task is the
//    caller): it waits until every worker that has not itself called shutdown(true) from a task
//    has exited, so two tasks that both call it do not wait for each other. Tasks still queued
//    then run once the calling tasks return; a shutdown(true) from outside the pool (and the
//    destructor) still waits for all of them.
//  - The destructor calls shutdown(true) and joins the workers. Destroying the pool from one of its
//    own tasks is a caller bug and ends the program.
//
// Progress: submit blocks while the queue is full (from outside the pool); shutdown(true) blocks;
// size is wait-free.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/wait_engine.hpp>
#include <atomkit/future.hpp>
#include <atomkit/mpmc_queue.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace atomkit {

class thread_pool {
 public:
  // hardware_concurrency() workers (1 if unknown), 1024 queue slots.
  thread_pool() : thread_pool(default_workers(), 1024, 0) {}
  explicit thread_pool(std::size_t workers, std::size_t queue_capacity = 1024)
      : thread_pool(checked(workers, queue_capacity), queue_capacity, 0) {}

  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  ~thread_pool() {
    if (detail::current_worker() == &core_) {
      std::fprintf(stderr, "atomkit::thread_pool: misuse: destroyed from one of its own tasks\n");
      std::abort();
    }
    shutdown(true);
    for (auto& t : threads_) t.join();
  }

  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) -> future<std::invoke_result_t<F, Args...>> {
    using R = std::invoke_result_t<F, Args...>;
    if (ATOMKIT_UNLIKELY(queue_.is_closed())) refuse();
    auto call = [fn = std::forward<F>(f), ... as = std::forward<Args>(args)]() mutable -> R {
      return std::invoke(std::move(fn), std::move(as)...);
    };
    using Fn = decltype(call);
    auto* state = new detail::task_state<R, Fn>(std::in_place, std::move(call));  // references: 2
    state->set_owner(&core_);  // before the push publishes it: our workers may claim it inline
    future<R> fut(state);
    detail::task_ref task(state);
    if (detail::current_worker() == &core_) {
      const queue_status s = queue_.try_push(std::move(task));
      if (s == queue_status::closed) refuse();
      if (s != queue_status::success) {
        // NOLINTNEXTLINE(bugprone-use-after-move): a failed push leaves the value with the caller
        task.run();  // full (or busy): run it here rather than wait for ourselves
        return fut;
      }
    } else if (queue_.push(std::move(task)) == queue_status::closed) {
      refuse();  // task and fut release the state
    }
    return fut;
  }

  void shutdown(bool wait = true, bool cancel_pending = false) {
    queue_.close();
    if (cancel_pending) {
      // After close(), pop() never waits for a push that will not come: it returns every task
      // still queued (racing the workers for them), then closed.
      detail::task_ref t;
      while (queue_.pop(t) == queue_status::success) t.cancel();
    }
    if (!wait) return;
    if (detail::current_worker() == &core_) {
      // From inside a task: wait for the workers that are not themselves inside a shutdown(true)
      // from a task. This worker stops counting among them (for good: it may wait again later),
      // but stays live until it exits, so that waiters from outside still wait for it.
      if (!counted_out()) {
        counted_out() = true;
        leave(others_, others_sleepers_);
      }
      wait_zero(others_, others_sleepers_);
      return;
    }
    wait_zero(live_, live_sleepers_);
  }

  [[nodiscard]] std::size_t size() const noexcept { return threads_.size(); }

 private:
  static std::size_t default_workers() noexcept {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
  }
  static constexpr std::size_t max_workers = 1U << 16;
  static std::size_t checked(std::size_t workers, std::size_t capacity) {
    if (workers == 0) detail::invalid_argument("thread_pool", "workers must be at least 1");
    if (workers > max_workers) detail::invalid_argument("thread_pool", "too many workers");
    if (capacity == 0) detail::invalid_argument("thread_pool", "queue_capacity must be at least 1");
    return workers;
  }
  static_assert(max_workers <= 0xFFFF'FFFFU, "live_ counts workers in 32 bits");

  thread_pool(std::size_t workers, std::size_t capacity, int /*tag*/) : queue_(capacity) {
    // queue_ is built before any worker starts (it is the last member, but the first thing a
    // worker touches comes after this body creates the threads).
    // relaxed: no worker runs yet; thread creation orders it before them.
    live_.store(static_cast<std::uint32_t>(workers), std::memory_order_relaxed);
    others_.store(static_cast<std::uint32_t>(workers), std::memory_order_relaxed);
    threads_.reserve(workers);
#if ATOMKIT_EXCEPTIONS
    try {
      for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    } catch (...) {
      // The workers never started count as gone; those started end once the queue is closed.
      const auto missing = static_cast<std::uint32_t>(workers - threads_.size());
      // release: as in leave().
      live_.fetch_sub(missing, std::memory_order_release);
      others_.fetch_sub(missing, std::memory_order_release);
      shutdown(true);
      for (auto& t : threads_) t.join();
      throw;
    }
#else
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
#endif
  }

  [[noreturn]] static void refuse() {
    detail::misuse("thread_pool", "submit() after shutdown()");
  }

  static bool& counted_out() noexcept {
    static thread_local bool c = false;
    return c;
  }

  void work() noexcept {
    detail::current_worker() = &core_;
    detail::task_ref t;
    // A handle whose task a waiting worker already claimed (or that was cancelled) is dropped by
    // run(); the pop freed its slot all the same.
    while (queue_.pop(t) == queue_status::success) t.run();
    detail::current_worker() = nullptr;
    // This worker really exits now: nothing it runs comes after these.
    if (!counted_out()) leave(others_, others_sleepers_);
    leave(live_, live_sleepers_);
  }

  static void leave(detail::atomic<std::uint32_t>& count,
                    detail::atomic<std::uint32_t>& sleepers) noexcept {
    // release: pairs with wait_zero()'s acquire load (everything this worker ran is visible).
    if (count.fetch_sub(1, std::memory_order_release) == 1) {
      detail::notify<park>(count, sleepers, detail::wake_all_count);
    }
  }

  static void wait_zero(detail::atomic<std::uint32_t>& count,
                        detail::atomic<std::uint32_t>& sleepers) noexcept {
    (void)detail::await<park>(
        count, sleepers,
        [&count] {
          // acquire: pairs with leave()'s release decrement: every task a counted worker ran
          // happens before this returns.
          const std::uint32_t n = count.load(std::memory_order_acquire);
          return n == 0 ? detail::attempt::success() : detail::attempt::retry(n);
        },
        detail::deadline::never(), detail::sharing::process_private,
        detail::handshake::asymmetric, detail::short_spin_then_yield);
  }

  detail::worker_context core_;  // this pool's identity: its workers' context, its tasks' owner
  // Workers not yet exited (a worker decrements it only as it exits, after its last task); futex
  // word of shutdown(true) from outside the pool.
  detail::atomic<std::uint32_t> live_{0};
  detail::atomic<std::uint32_t> live_sleepers_{0};  // shutdown(true) callers asleep on live_
  // Workers not yet exited that never called shutdown(true) from one of their tasks; futex word
  // of shutdown(true) from inside a task. Invariant: others_ <= live_.
  detail::atomic<std::uint32_t> others_{0};
  detail::atomic<std::uint32_t> others_sleepers_{0};  // in-task shutdown(true) callers asleep
  std::vector<std::thread> threads_;
  mpmc_queue<detail::task_ref> queue_;  // last: its counters are aligned to 128 bytes
};

}  // namespace atomkit
