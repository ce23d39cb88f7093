// atomkit/future.hpp: the result of a task submitted to a thread_pool, and the calls that wait for
// many of them (Python's concurrent.futures Future, wait() and as_completed()).
//
// Usage: auto f = pool.submit(fetch, url); for (std::size_t i : atomkit::as_completed(fs)) ...
// Reference: docs/futures.md
//
// A future<T> (T may be void, a reference, or move-only) is a move-only handle on a shared state,
// allocated once at submit (the callable lives inside it: no second allocation, whatever its
// size). The state is reference-counted (the future, the queued task, and any waiting call hold
// references) and carries one 32-bit state word, which is also the futex word its waiters sleep on:
//   pending -> running -> value | error     (a worker starts the task with one CAS, ends it with one)
//   pending -> cancelled                    (cancel(): one CAS; a cancelled task never runs)
// A running or finished task cannot be cancelled. get() waits, then moves the value out, rethrows
// the task's exception, or throws cancelled_error; it consumes the future (valid() is false after).
//
// Waiting for many futures (wait_futures, as_completed) registers one completion listener per
// future, held in the waiting call's own storage and unregistered before it returns. A listener
// is a node on the state's list, guarded by the state word's lock bit; the thread that moves a
// state to a final status fires its listeners under that lock, and a registration that finds the
// state already final fires at once. Each completion therefore costs the waiter O(1): the total is
// linear in the number of futures, with no rescan and no polling. A fired listener pushes its
// index onto the waiting call's lock-free stack, in the order completions happen.
//
// A worker thread that waits without a deadline (get, wait, wait_futures, as_completed) for a
// task of its own pool that no worker has started yet claims that very task (pending -> running,
// the same CAS a worker makes when it pops it) and runs it inline; the queued handle, popped
// later, finds it started and is dropped. It never runs an unrelated task while it waits, and when
// the awaited task is running elsewhere (or belongs to another pool) it sleeps. So a task that
// waits for another task's future never deadlocks the pool, even with one worker (there the
// awaited task is pending or finished, never running elsewhere), and the stack grows only with
// the program's own chain of waits. The timed forms never run a task: they sleep until completion
// or the deadline (docs/futures.md).
//
// Progress: valid, done, running and cancelled are wait-free. cancel is a CAS loop that repeats
// only when another thread changed the state word (lock-free), except that it waits while a
// waiting call holds that state's listener lock (a few instructions), and it fires the registered
// listeners; get, wait and the waiting calls block (the timed forms at most until their deadline).
//
// Misuse: get/wait on an invalid (moved-from or consumed) future throws
// std::system_error(operation_not_permitted); under -fno-exceptions it ends the program, and so
// does get() on a cancelled future (cancelled_error cannot be thrown).
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/error.hpp>
#include <atomkit/detail/timed.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <future>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace atomkit {

// Thrown by future::get() when the task was cancelled before it started.
struct cancelled_error : std::runtime_error {
  using runtime_error::runtime_error;
};

enum class return_when { first_completed, first_exception, all_completed };

// Indices into the range given to wait_futures, each in increasing order.
struct wait_result {
  std::vector<std::size_t> done, not_done;
};

template <class T>
class future;

namespace detail {

// A thread that sleeps on a generation word and is woken by notify_generation.
struct wake_target {
  atomic<std::uint32_t> gen{0};       // futex word: advanced by wake() when someone sleeps
  atomic<std::uint32_t> sleepers{0};  // threads asleep on gen
  void wake() noexcept { notify_generation<park>(gen, sleepers, wake_all_count); }
};

class state_base;

// A completion listener: a node in a state's list (guarded by the state's lock bit), fired once
// by whoever moves the state to a final status (or by the registration, if it already was final).
struct listener {
  listener* next = nullptr;                    // in the state's list; under the state's lock
  void (*fire)(listener&) noexcept = nullptr;  // runs under the state's lock (or by the registrar)
};

// The identity of a pool, set by thread_pool as the worker context of its workers and as the
// owner of its tasks: a waiting worker claims only tasks whose owner is its own context.
struct worker_context {};

// The shared state of one task. The bit map of `word_` (also the futex word):
//   bits 0-2  status: pending 0, running 1, value 2, error 3, cancelled 4 (>= value: final)
//   bit 3     locked: the listener list is being changed or fired
//   bit 4     listened: a listener was registered once (the final transition then takes the lock)
// Final transitions (to value, error, cancelled) require the lock bit clear, and take it in the
// same CAS when `listened` is set; pending -> running ignores it (registration only cares whether
// the state is final). Invariant: once final, the status never changes again.
class state_base {
 public:
  static constexpr std::uint32_t pending = 0;
  static constexpr std::uint32_t running = 1;
  static constexpr std::uint32_t value = 2;
  static constexpr std::uint32_t error = 3;
  static constexpr std::uint32_t cancelled = 4;
  static constexpr std::uint32_t status_mask = 7;
  static constexpr std::uint32_t locked = 8;
  static constexpr std::uint32_t listened = 16;
  static_assert(cancelled <= status_mask && (status_mask & (locked | listened)) == 0);

  using run_fn = void (*)(state_base&) noexcept;      // invokes the task, stores, completes
  using destroy_fn = void (*)(state_base&) noexcept;  // deletes the whole state

  state_base(run_fn run, destroy_fn destroy) noexcept : run_(run), destroy_(destroy) {}
  state_base(const state_base&) = delete;
  state_base& operator=(const state_base&) = delete;

  static bool final_status(std::uint32_t w) noexcept { return (w & status_mask) >= value; }
  [[nodiscard]] std::uint32_t status() const noexcept {
    // acquire: pairs with the release CAS of complete()/cancel(): a caller that sees a final
    // status sees the value or exception stored before it.
    return word_.load(std::memory_order_acquire) & status_mask;
  }

  void add_ref() noexcept {
    // relaxed: the caller already holds a reference, so the state cannot go away meanwhile.
    refs_.fetch_add(1, std::memory_order_relaxed);
  }
  void release() noexcept {
    // acq_rel: release publishes this holder's uses of the state; the last holder's acquire sees
    // every other holder's before it deletes.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy_(*this);
  }

  // pending -> running; false if it was cancelled or already started (the caller must not run
  // it). The one claim on a task: a worker that popped its handle and a worker that waits for its
  // future both make this CAS, and cancel() makes pending -> cancelled on the same word, so
  // exactly one of them wins.
  bool try_start() noexcept {
    // relaxed: a guess for the CAS.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    while ((w & status_mask) == pending) {
      // acquire: pairs with nothing the task needs (the submitter's writes reach a popping worker
      // through the queue, and an inline claimer through however it got the future); relaxed
      // would do, acquire keeps the order obvious. Keeps the lock and listened bits: registration
      // does not care about pending vs running. Strong: it repeats only when the word changed.
      if (word_.compare_exchange_strong(w, (w & ~status_mask) | running,
                                        std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  // The pool whose workers may claim this task inline (null: none). Set by the pool before the
  // state is published; read only by holders of a reference.
  void set_owner(const worker_context* o) noexcept { owner_ = o; }
  [[nodiscard]] const worker_context* owner() const noexcept { return owner_; }

  // pending -> cancelled, in one CAS (when no listener lock is held). True if it was pending.
  bool cancel() noexcept { return finish(pending, cancelled); }

  // running -> value | error, called by the worker once the result is stored.
  void complete(std::uint32_t final_status) noexcept { (void)finish(running, final_status); }

  // Blocks until final or the deadline; true if final.
  bool wait_final(const deadline& dl) const noexcept;

  // Registers `l` unless the state is already final; false (not registered) then.
  bool add_listener(listener& l) noexcept {
    std::uint32_t w = lock_unless_final();
    if (final_status(w)) return false;
    // relaxed (both): the list is guarded by the lock bit, whose acquire/release order it.
    l.next = head_.load(std::memory_order_relaxed);
    head_.store(&l, std::memory_order_relaxed);
    unlock();
    return true;
  }

  // Unregisters `l` if it is still on the list. After this returns, `l` is not being fired (a
  // firing runs under the lock), so the caller may free it.
  void remove_listener(listener& l) noexcept {
    (void)lock_always();
    // relaxed (all): under the lock bit, as in add_listener.
    listener* prev = nullptr;
    for (listener* p = head_.load(std::memory_order_relaxed); p != nullptr; p = p->next) {
      if (p == &l) {
        if (prev == nullptr) {
          head_.store(l.next, std::memory_order_relaxed);
        } else {
          prev->next = l.next;
        }
        break;
      }
      prev = p;
    }
    unlock();
  }

  void run() noexcept { run_(*this); }

  // The exception of a task that failed (status error).
  std::exception_ptr error_;

 protected:
  ~state_base() = default;

 private:
  // from -> to (to is final). True if the status was `from`. Fires the listeners when any were
  // registered, then wakes every waiter.
  bool finish(std::uint32_t from, std::uint32_t to) noexcept {
    // relaxed: a guess for the CAS.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if ((w & status_mask) != from) return false;
      if ((w & locked) != 0) {
        wait_unlocked(w);
        w = word_.load(std::memory_order_relaxed);
        continue;
      }
      const bool fire = (w & listened) != 0;
      const std::uint32_t next = fire ? (to | locked | listened) : to;
      // release: publishes the result (or the cancellation) to whoever reads the final status
      // (acquire in status(), wait_final); acquire: when it takes the lock, pairs with the
      // registrar's release unlock, so the listener list it walks is complete.
      if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
        if (fire) {
          // relaxed: under the lock bit this CAS just took (a load, not an RMW, so that only the
          // lock orders it).
          listener* l = head_.load(std::memory_order_relaxed);
          head_.store(nullptr, std::memory_order_relaxed);
          while (l != nullptr) {
            listener* n = l->next;  // read first: firing may let the listener's owner move on
            l->fire(*l);
            l = n;
          }
          // release: pairs with the acquire of the next lock taker (a remove_listener waiting
          // for the firing to end). Nothing changes the word while it is locked and final.
          word_.store(to | listened, std::memory_order_release);
        }
        notify<park>(word_, sleepers_, wake_all_count);
        return true;
      }
    }
  }

  // Takes the lock bit unless the state is final; returns the word seen (final: not locked).
  std::uint32_t lock_unless_final() noexcept {
    // relaxed: a guess for the CAS.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if (final_status(w)) {
        // acquire: the registrar then treats the state as finished; pairs with finish()'s
        // release CAS like status().
        return word_.load(std::memory_order_acquire);
      }
      if ((w & locked) != 0) {
        wait_unlocked(w);
        w = word_.load(std::memory_order_relaxed);
        continue;
      }
      // acquire: pairs with the previous holder's release unlock (the list it left).
      if (word_.compare_exchange_weak(w, w | locked | listened, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return w;
      }
    }
  }

  std::uint32_t lock_always() noexcept {
    // relaxed: a guess for the CAS.
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      if ((w & locked) != 0) {
        wait_unlocked(w);
        w = word_.load(std::memory_order_relaxed);
        continue;
      }
      // acquire: pairs with the previous holder's release unlock or finish()'s release store
      // after firing: the list, and the end of every firing, are seen.
      if (word_.compare_exchange_weak(w, w | locked, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return w;
      }
    }
  }

  void unlock() noexcept {
    // release: pairs with the next lock taker's acquire. fetch_and, not a store: a worker may
    // move pending -> running meanwhile.
    word_.fetch_and(~locked, std::memory_order_release);
    notify<park>(word_, sleepers_, wake_all_count);
  }

  // Sleeps through the engine until the lock bit is clear (held for O(listeners) steps).
  void wait_unlocked(std::uint32_t seen) const noexcept {
    (void)seen;
    (void)await<park>(
        word_, sleepers_,
        [this] {
          // relaxed: only whether the bit is clear; the CAS that follows orders what matters.
          const std::uint32_t w = word_.load(std::memory_order_relaxed);
          return (w & locked) == 0 ? attempt::success() : attempt::retry(w);
        },
        deadline::never());
  }

  atomic<std::uint32_t> word_{pending};             // the bit map above; futex word
  mutable atomic<std::uint32_t> sleepers_{0};       // waiters asleep on word_
  atomic<std::uint32_t> refs_{2};                   // the future and the queued task at first
  // Registered listeners, guarded by the lock bit (an atomic only so that a model check sees a
  // list read without the lock's ordering as the stale value it may be).
  atomic<listener*> head_{nullptr};
  const worker_context* owner_ = nullptr;  // written once, before the state is shared
  run_fn run_;
  destroy_fn destroy_;
};

inline bool state_base::wait_final(const deadline& dl) const noexcept {
  // acquire: as status().
  if (final_status(word_.load(std::memory_order_acquire))) return true;
  return await<park>(
      word_, sleepers_,
      [this] {
        // acquire: pairs with finish()'s release CAS (the result is visible on success).
        const std::uint32_t w = word_.load(std::memory_order_acquire);
        return final_status(w) ? attempt::success() : attempt::retry(w);
      },
      dl, sharing::process_private, handshake::asymmetric, short_spin_then_yield);
}

// Where a result lives: T, a pointer for T&, nothing for void.
template <class T>
struct result_slot {
  alignas(T) unsigned char bytes[sizeof(T)];
  template <class F>
  void emplace(F&& f) {
    ::new (static_cast<void*>(bytes)) T(std::forward<F>(f)());
  }
  T* get() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  T take() { return std::move(*get()); }
  void destroy() noexcept { get()->~T(); }
};
template <class T>
struct result_slot<T&> {
  T* ptr = nullptr;
  template <class F>
  void emplace(F&& f) {
    ptr = std::addressof(std::forward<F>(f)());
  }
  T& take() noexcept { return *ptr; }
  void destroy() noexcept {}
};
template <>
struct result_slot<void> {
  template <class F>
  void emplace(F&& f) {
    std::forward<F>(f)();
  }
  void take() noexcept {}
  void destroy() noexcept {}
};

// The state with the result's storage.
template <class R>
class result_state : public state_base {
 public:
  using state_base::state_base;
  result_slot<R> result_;

 protected:
  ~result_state() = default;
};

// The whole allocation: state, result storage, and the callable, constructed in place.
template <class R, class Fn>
class task_state final : public result_state<R> {
 public:
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): fn_ is raw storage, built here
  task_state(std::in_place_t /*tag*/, Fn&& f) : result_state<R>(&run_task, &destroy_task) {
    ::new (static_cast<void*>(fn_)) Fn(std::move(f));
  }

 private:
  Fn& fn() noexcept { return *std::launder(reinterpret_cast<Fn*>(fn_)); }

  static void run_task(state_base& base) noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): run_ of a task_state only
    auto& s = static_cast<task_state&>(base);
    std::uint32_t status = state_base::value;
#if ATOMKIT_EXCEPTIONS
    try {
      s.result_.emplace(s.fn());
    } catch (...) {
      s.error_ = std::current_exception();
      status = state_base::error;
    }
#else
    s.result_.emplace(s.fn());
#endif
    s.fn().~Fn();  // the callable ends with the task, before the result is published
    s.complete(status);
  }

  static void destroy_task(state_base& base) noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): as in run_task
    auto* s = static_cast<task_state*>(&base);
    const std::uint32_t st = s->status();
    if (st == state_base::value) s->result_.destroy();
    if (st == state_base::pending || st == state_base::cancelled) s->fn().~Fn();
    delete s;
  }

  ~task_state() = default;
  alignas(Fn) unsigned char fn_[sizeof(Fn)];
};

// The queue's handle on a task: owns one reference. Move-only, 8 bytes, noexcept moves.
class task_ref {
 public:
  task_ref() noexcept = default;
  explicit task_ref(state_base* s) noexcept : s_(s) {}
  task_ref(task_ref&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  task_ref& operator=(task_ref&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  task_ref(const task_ref&) = delete;
  task_ref& operator=(const task_ref&) = delete;
  ~task_ref() { reset(); }

  // Runs the task unless it was cancelled, then drops the reference.
  void run() noexcept {
    if (s_ == nullptr) return;
    if (s_->try_start()) s_->run();
    reset();
  }
  // Cancels the task if still pending, then drops the reference.
  void cancel() noexcept {
    if (s_ == nullptr) return;
    (void)s_->cancel();
    reset();
  }
  void reset() noexcept {
    if (s_ != nullptr) std::exchange(s_, nullptr)->release();
  }
  [[nodiscard]] explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  state_base* s_ = nullptr;
};

// The calling thread's worker context (null outside a pool's workers). A function-local
// thread_local: nothing is constructed before main.
inline worker_context*& current_worker() noexcept {
  static thread_local worker_context* w = nullptr;
  return w;
}

// Claims `s` and runs it on the calling thread if `ctx` (the caller's worker context) owns it and
// no one has started or cancelled it; true if it ran here.
inline bool run_inline(state_base& s, const worker_context* ctx) noexcept {
  if (ctx == nullptr || s.owner() != ctx || !s.try_start()) return false;
  s.run();
  return true;
}

// Waits until `s` is final or the deadline passes; true if final. `ctx` is the caller's worker
// context (null outside a pool): without a deadline, a worker first claims the awaited task if it
// is its own pool's and still pending, and runs it inline. It never runs any other task, and the
// timed forms never run one (a task could outlast the deadline): they only sleep.
inline bool wait_state_in(state_base& s, const worker_context* ctx, const deadline& dl) noexcept {
  if (state_base::final_status(s.status())) return true;
  if (dl.infinite() && run_inline(s, ctx)) return true;
  return s.wait_final(dl);
}

inline bool wait_state(state_base& s, const deadline& dl) noexcept {
  return wait_state_in(s, current_worker(), dl);
}

[[noreturn]] ATOMKIT_NOINLINE inline void throw_cancelled() {
#if ATOMKIT_EXCEPTIONS
  throw cancelled_error("atomkit::future: the task was cancelled");
#else
  std::fprintf(stderr, "atomkit::future: get() of a cancelled task (cancelled_error)\n");
  std::abort();
#endif
}

template <class T>
state_base* state_of(const future<T>& f) noexcept;

}  // namespace detail

template <class T>
class future {
 public:
  future() noexcept = default;
  future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  future& operator=(future&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  future(const future&) = delete;
  future& operator=(const future&) = delete;
  ~future() { reset(); }

  [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }

  // Waits, then returns the value (moved out), rethrows the task's exception, or throws
  // cancelled_error. Consumes the future.
  T get() {
    check("get() of an invalid future (moved from or already consumed)");
    (void)detail::wait_state(*s_, detail::deadline::never());
    // owner: released when this returns or throws (the value is moved out first).
    holder h{std::exchange(s_, nullptr)};
    const std::uint32_t st = h.s->status();
    if (st == detail::state_base::cancelled) detail::throw_cancelled();
#if ATOMKIT_EXCEPTIONS
    if (st == detail::state_base::error) std::rethrow_exception(h.s->error_);
#endif
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): a future<T>'s state is one
    return static_cast<detail::result_state<T>*>(h.s)->result_.take();
  }

  void wait() const {
    check("wait() on an invalid future");
    (void)detail::wait_state(*s_, detail::deadline::never());
  }
  ATOMKIT_DETAIL_TIMED_FORMS(std::future_status, wait, wait_timed, const)

  [[nodiscard]] bool done() const noexcept {
    return s_ != nullptr && detail::state_base::final_status(s_->status());
  }
  [[nodiscard]] bool running() const noexcept {
    return s_ != nullptr && s_->status() == detail::state_base::running;
  }
  [[nodiscard]] bool cancelled() const noexcept {
    return s_ != nullptr && s_->status() == detail::state_base::cancelled;
  }
  // True if the task was still pending: it will never run, and get() throws cancelled_error.
  bool cancel() noexcept { return s_ != nullptr && s_->cancel(); }

  // For the pool: adopts one reference.
  explicit future(detail::state_base* s) noexcept : s_(s) {}

 private:
  friend detail::state_base* detail::state_of<T>(const future<T>&) noexcept;
  struct holder {
    detail::state_base* s;
    explicit holder(detail::state_base* st) noexcept : s(st) {}
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    ~holder() { s->release(); }
  };
  void check(const char* rule) const {
    if (ATOMKIT_UNLIKELY(s_ == nullptr)) detail::misuse("future", rule);
  }
  [[nodiscard]] std::future_status wait_timed(const detail::deadline& dl) const {
    check("wait_for()/wait_until() on an invalid future");
    return detail::wait_state(*s_, dl) ? std::future_status::ready : std::future_status::timeout;
  }
  void reset() noexcept {
    if (s_ != nullptr) std::exchange(s_, nullptr)->release();
  }
  detail::state_base* s_ = nullptr;
};

namespace detail {

template <class T>
state_base* state_of(const future<T>& f) noexcept {
  return f.s_;
}

// The waiting call's side of many listeners: one node per future, in the call's own storage.
// A fired node is pushed onto `fired_` (a lock-free stack, popped whole by the waiter), then the
// waiter's wake target is woken.
class completion_sink {
 public:
  struct node : listener {
    completion_sink* sink = nullptr;
    state_base* state = nullptr;  // referenced while registered (add_ref/release)
    node* next_fired = nullptr;
    std::size_t index = 0;
    bool registered = false;
  };

  // Registers one node per future of `fs` (each must be valid). Already-final futures are pushed
  // at once, in index order.
  template <class Futures>
  explicit completion_sink(Futures& fs)
      : ctx_(current_worker()) {
    std::size_t n = 0;
    for (auto& f : fs) {
      if (state_of(f) == nullptr) misuse("as_completed/wait_futures", "an invalid future in the range");
      ++n;
    }
    if (n == 0) return;
    nodes_ = std::make_unique<node[]>(n);
    size_ = n;
    std::size_t i = 0;
    for (auto& f : fs) {
      node& nd = nodes_[i];
      nd.fire = &fire_node;
      nd.sink = this;
      nd.index = i;
      nd.state = state_of(f);
      nd.state->add_ref();
      nd.registered = nd.state->add_listener(nd);
      if (!nd.registered) push(nd);
      ++i;
    }
  }
  completion_sink(const completion_sink&) = delete;
  completion_sink& operator=(const completion_sink&) = delete;
  ~completion_sink() {
    for (std::size_t i = 0; i < size_; ++i) {
      node& nd = nodes_[i];
      if (nd.registered) nd.state->remove_listener(nd);
      nd.state->release();
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t taken() const noexcept { return taken_; }

  // The next completed node in completion order, waiting until the deadline; null on time-out.
  node* next(const deadline& dl) noexcept {
    if (ready_ == nullptr) {
      if (!wait_any(dl)) return nullptr;
    }
    node* nd = ready_;
    ready_ = nd->next_fired;
    ++taken_;
    return nd;
  }

 private:
  static void fire_node(listener& l) noexcept {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-static-cast-downcast): fire_node is set on nodes only
    node& nd = static_cast<node&>(l);
    completion_sink& s = *nd.sink;
    s.push(nd);
    // The sink outlives this call: its owner unregisters every node (under the state's lock,
    // which this firing holds) before it goes away.
    s.own_.wake();
  }

  void push(node& nd) noexcept {
    // relaxed: a guess for the CAS.
    node* h = fired_.load(std::memory_order_relaxed);
    do {
      nd.next_fired = h;
      // release: pairs with the waiter's acquire exchange: the node's fields are seen.
    } while (!fired_.compare_exchange_weak(h, &nd, std::memory_order_release,
                                           std::memory_order_relaxed));
  }

  // Moves the fired stack, reversed (completion order), onto ready_. True if anything came.
  bool grab() noexcept {
    // relaxed first: the common empty case costs no RMW.
    if (fired_.load(std::memory_order_relaxed) == nullptr) return false;
    // acquire: pairs with push()'s release CAS.
    node* h = fired_.exchange(nullptr, std::memory_order_acquire);
    node* rev = nullptr;
    while (h != nullptr) {
      node* n = h->next_fired;
      h->next_fired = rev;
      rev = h;
      h = n;
    }
    // ready_ is empty when grab() runs (next() calls it only then).
    ready_ = rev;
    return rev != nullptr;
  }

  bool wait_any(const deadline& dl) noexcept {
    if (grab()) return true;
    if (ctx_ != nullptr && dl.infinite()) {
      // On a worker, without a deadline: run the awaited tasks of this pool that are still
      // pending, one at a time, until one completion is there to hand out.
      while (claim_next()) {
        if (grab()) return true;
      }
    }
    return await<park>(
        own_.gen, own_.sleepers,
        [&] {
          // acquire: pairs with the release increment in notify_generation.
          const std::uint32_t g = own_.gen.load(std::memory_order_acquire);
          return grab() ? attempt::success() : attempt::retry(g);
        },
        dl, sharing::process_private, handshake::asymmetric, short_spin_then_yield);
  }

  // Claims and runs, inline, the next awaited task (in index order) that the calling worker's
  // pool owns and no one has started; false when none is left. A task skipped here is running or
  // final, or another pool's: it never becomes claimable again, so the cursor only advances.
  bool claim_next() noexcept {
    while (claim_ < size_) {
      node& nd = nodes_[claim_++];
      if (run_inline(*nd.state, ctx_)) return true;
    }
    return false;
  }

  worker_context* ctx_ = nullptr;  // the calling worker's context, or null
  wake_target own_;                // where the caller sleeps; fired listeners wake it
  std::unique_ptr<node[]> nodes_;  // one per future; unregistered in the destructor
  std::size_t size_ = 0;
  std::size_t taken_ = 0;
  std::size_t claim_ = 0;  // nodes below this were tried for an inline claim
  node* ready_ = nullptr;  // fired and not yet handed out, in completion order
  atomic<node*> fired_{nullptr};  // fired nodes, newest first (a lock-free stack)
};

}  // namespace detail

// The indices of a range of futures in completion order (as_completed, as_completed_for). An
// input range: iterate it once. Cancelled and already-finished futures are included.
class completion_range {
 public:
  template <class Futures>
  completion_range(Futures& fs, const detail::deadline& dl) : sink_(fs), dl_(dl) {}
  completion_range(const completion_range&) = delete;
  completion_range& operator=(const completion_range&) = delete;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::size_t*;
    using reference = std::size_t;

    iterator() noexcept = default;
    std::size_t operator*() const noexcept { return index_; }
    iterator& operator++() noexcept {
      r_->advance(*this);
      return *this;
    }
    void operator++(int) noexcept { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.r_ == b.r_; }

   private:
    friend class completion_range;
    completion_range* r_ = nullptr;
    std::size_t index_ = 0;
  };

  iterator begin() noexcept {
    iterator it;
    it.r_ = this;
    advance(it);
    return it;
  }
  static iterator end() noexcept { return {}; }

  // True if the deadline passed before every index was handed out.
  [[nodiscard]] bool timed_out() const noexcept { return timed_out_; }

 private:
  void advance(iterator& it) noexcept {
    if (sink_.taken() == sink_.size()) {
      it.r_ = nullptr;
      return;
    }
    auto* nd = sink_.next(dl_);
    if (nd == nullptr) {
      timed_out_ = true;
      it.r_ = nullptr;
      return;
    }
    it.index_ = nd->index;
  }

  detail::completion_sink sink_;
  detail::deadline dl_;
  bool timed_out_ = false;
};

template <class Futures>
completion_range as_completed(Futures& fs) {
  return completion_range(fs, detail::deadline::never());
}
template <class Futures, class Rep, class Period>
completion_range as_completed_for(Futures& fs, const std::chrono::duration<Rep, Period>& d) {
  return completion_range(fs, detail::deadline::after(d));
}

namespace detail {

template <class Futures>
wait_result wait_futures_impl(Futures& fs, const deadline& dl, return_when w) {
  completion_sink sink(fs);
  const std::size_t n = sink.size();
  if (n > 0) {
    for (;;) {
      auto* nd = sink.next(dl);
      if (nd == nullptr) break;  // the deadline passed
      if (w == return_when::first_completed) break;
      if (w == return_when::first_exception && nd->state->status() == state_base::error) break;
      if (sink.taken() == n) break;
    }
  }
  wait_result r;
  std::size_t i = 0;
  for (auto& f : fs) {
    (f.done() ? r.done : r.not_done).push_back(i);
    ++i;
  }
  return r;
}

}  // namespace detail

template <class Futures>
wait_result wait_futures(Futures& fs, return_when w = return_when::all_completed) {
  return detail::wait_futures_impl(fs, detail::deadline::never(), w);
}
template <class Futures, class Rep, class Period>
wait_result wait_futures_for(Futures& fs, const std::chrono::duration<Rep, Period>& d,
                             return_when w = return_when::all_completed) {
  return detail::wait_futures_impl(fs, detail::deadline::after(d), w);
}
template <class Futures, class Clock, class Duration>
wait_result wait_futures_until(Futures& fs, const std::chrono::time_point<Clock, Duration>& tp,
                               return_when w = return_when::all_completed) {
  return detail::wait_futures_impl(fs, detail::deadline::at(tp), w);
}

}  // namespace atomkit
