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
// pushes the handle (blocking while the queue is full: backpressure), then wakes workers that wait
// inside get()/wait_futures (they run pending tasks while they wait), with no system call when
// none sleeps.
//
// Rules.
//  - The default worker count is std::thread::hardware_concurrency(), or 1 if that is unknown; an
//    explicit 0 workers or 0 capacity throws std::invalid_argument.
//  - submit() after shutdown() throws std::system_error(operation_not_permitted).
//  - submit() from one of this pool's own workers never blocks: when the queue is full, the task
//    runs at once on the submitting worker (so a full queue cannot deadlock the pool).
//  - A task that throws: the exception reaches get(); the worker goes on.
//  - shutdown(wait, cancel_pending): closes the queue (submit throws from then on); with
//    cancel_pending, every task no worker has taken yet is cancelled (its future reports
//    cancelled, get() throws cancelled_error); queued tasks not cancelled still run; with wait,
//    it returns when every worker has finished every task. Idempotent; callable from any thread.
//    From inside a task, shutdown(true) waits for every other worker to finish, not for the task
//    that called it (which could never finish while it waits): no deadlock.
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
    // Workers waiting inside get()/wait_futures may take it.
    core_.help.wake();
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
    if (detail::current_worker() == &core_ && !counted_out()) {
      // From inside a task: this worker stops counting as live, so that the wait below does not
      // wait for the very task that is waiting.
      counted_out() = true;
      leave();
    }
    (void)detail::await<park>(
        live_, live_sleepers_,
        [this] {
          // acquire: pairs with leave()'s release decrement: every task a worker ran happens
          // before this returns.
          const std::uint32_t n = live_.load(std::memory_order_acquire);
          return n == 0 ? detail::attempt::success() : detail::attempt::retry(n);
        },
        detail::deadline::never(), detail::sharing::process_private,
        detail::handshake::asymmetric, detail::short_spin_then_yield);
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
    core_.take = &take_task;
    // relaxed: no worker runs yet; thread creation orders it before them.
    live_.store(static_cast<std::uint32_t>(workers), std::memory_order_relaxed);
    threads_.reserve(workers);
#if ATOMKIT_EXCEPTIONS
    try {
      for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
    } catch (...) {
      // The workers never started count as gone; those started end once the queue is closed.
      const auto missing = static_cast<std::uint32_t>(workers - threads_.size());
      live_.fetch_sub(missing, std::memory_order_release);
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
    while (queue_.pop(t) == queue_status::success) t.run();
    detail::current_worker() = nullptr;
    if (!counted_out()) leave();
  }

  void leave() noexcept {
    // release: pairs with shutdown()'s acquire load (everything this worker ran is visible).
    if (live_.fetch_sub(1, std::memory_order_release) == 1) {
      detail::notify<park>(live_, live_sleepers_, detail::wake_all_count);
    }
  }

  static bool take_task(detail::worker_context& ctx, detail::task_ref& out) noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): only core_ is handed out
    auto& core = static_cast<core_type&>(ctx);
    return core.pool->queue_.try_pop(out) == queue_status::success;
  }

  struct core_type : detail::worker_context {
    thread_pool* pool = nullptr;
  };

  core_type core_{{}, this};
  detail::atomic<std::uint32_t> live_{0};          // workers that may still run tasks; futex word
  detail::atomic<std::uint32_t> live_sleepers_{0};  // shutdown(true) callers asleep on live_
  std::vector<std::thread> threads_;
  mpmc_queue<detail::task_ref> queue_;  // last: its counters are aligned to 128 bytes
};

}  // namespace atomkit
