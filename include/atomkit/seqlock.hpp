// atomkit/seqlock.hpp: a sequence lock around a trivially copyable value.
//
// Usage: atomkit::seqlock<quote> last; last.store(q); /* readers: */ quote now = last.load();
// Reference: docs/seqlock.md
//
// Readers take consistent snapshots without ever storing to shared memory, so any number of them
// scale and none can delay a writer. Writers are serialized by an internal lock (several threads
// may call store/update) and publish a new value by making the sequence odd, writing the payload,
// and making it even again. A reader that saw the same even sequence before and after its copy
// has a clean snapshot.
//
// The payload lives in an array of 64-bit atomic words and is copied with atomic loads and
// stores, so a read that overlaps a write is not a data race in the C++ memory model, and TSan is
// silent with no suppression. The ordering (after Boehm, "Can seqlocks get along with programming
// language memory models?", 2012) uses no standalone fence:
//   writer  s = seq (relaxed; only lock holders write seq)
//           seq.store(s + 1, relaxed)
//           word[i].store(v[i], release)    ... each release store carries the odd store with it
//           seq.store(s + 2, release)
//   reader  s1 = seq.load(acquire)          ... pairs with the writer's last release store
//           w[i] = word[i].load(acquire)    ... acquire: the next load cannot move above these
//           s2 = seq.load(relaxed); clean iff s1 == s2 and s1 is even
// If any word load reads a value stored by a writer W, it synchronizes with that release store, so
// W's odd store happens before s2, and s2 reads it or a later value: s2 != s1. If none does, every
// word holds what the writer that stored s1 wrote (s1's acquire makes those visible, and nothing
// older can be read). On x86 every one of these operations is a plain mov.
// The sequence is 64 bits, so it does not wrap in practice (no ABA between s1 and s2).
//
// update(f) runs f on a private copy while holding the writer lock, and only then publishes:
// readers never wait for f, and an f that throws leaves the value unchanged. f must not call
// store() or update() on the same seqlock (the writer lock is not reentrant); load() is fine.
//
// Progress:
//   try_load  wait-free: one attempt, nullopt if a write overlapped it.
//   load      blocking: waits (through the waiting engine, sleeping for long waits) while a write
//             is being published, and retries WITHOUT BOUND while writers publish continuously;
//             it never delays a writer.
//   store, update  blocking: serialized on the writer lock; once it is held, publishing is
//             wait-free, and wakes sleeping readers only if there are any (no system call else).
//
// Layout: the object is aligned to and padded to detail::pad_size (two cache lines), so the
// sequence and payload share no line with neighbouring objects. No pointers, no thread-local
// state.
//
// Policy: seqlock<T, Wait = park>; the policy is used only by writers serializing on the writer
// lock and by readers that meet a write in progress. Between processes use ipc::seqlock<T>
// (seqlock<T, process_shared>, ipc.hpp); a `park` or `busy` one in memory shared between processes
// is the caller's bug (docs/ipc.md). A writer killed inside store()/update() leaves the writer
// lock held (later writers block) and, if it died while publishing, the sequence odd: load()
// then blocks for good and try_load() keeps returning nullopt.
#pragma once

#include <atomkit/detail/atomic.hpp>
#include <atomkit/detail/config.hpp>
#include <atomkit/detail/deadline.hpp>
#include <atomkit/detail/lock_word.hpp>
#include <atomkit/detail/sequence.hpp>
#include <atomkit/detail/wait_engine.hpp>

#include <array>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

// Readers on x86-64 copy the payload with 16-byte SSE2 loads issued from inline assembly instead
// of one 8-byte atomic load per word: a 32-byte load then costs what a plain copy costs, where
// the atomic words (which the compiler reassembles into T) cost about twice that
// (bench/RESULTS.md). It is sound on x86-64 because loads are not reordered with other loads
// (TSO): the vector loads stay between the two sequence loads, and if any byte they read came from
// a writer's payload store, that writer's earlier odd sequence store is visible to the second
// sequence load, which then differs. Torn bytes are discarded exactly as in the atomic form. The
// loads are opaque to the compiler, so they are no data race in the C++ memory model. Builds
// that must see every access (ThreadSanitizer, model checks through ATOMKIT_ATOMIC_TEMPLATE) and
// other architectures use the portable atomic loads.
#if defined(__x86_64__) && defined(__SSE2__) && !ATOMKIT_TSAN && !defined(ATOMKIT_ATOMIC_TEMPLATE) && \
    !defined(ATOMKIT_SEQLOCK_PORTABLE_READ)
#define ATOMKIT_DETAIL_SEQLOCK_VECTOR_READ 1
#include <immintrin.h>
#else
#define ATOMKIT_DETAIL_SEQLOCK_VECTOR_READ 0
#endif

namespace atomkit {

namespace detail {
template <class Seqlock>
struct seqlock_access;  // test hook: opens and closes a write section by hand
}  // namespace detail

template <class T, class Wait = park>
  requires std::is_trivially_copyable_v<T>
class alignas(detail::pad_size) seqlock {
 public:
  using value_type = T;

  seqlock() noexcept(std::is_nothrow_default_constructible_v<T>)
    requires std::is_default_constructible_v<T>
      : seqlock(T{}) {}

  explicit seqlock(const T& initial) noexcept {
    const words v = to_words(initial);
    for (std::size_t i = 0; i < word_count; ++i) {
      // relaxed: construction is not concurrent with any use; publishing the object to other
      // threads (thread start, a release store of a pointer) orders this before their loads.
      data_[i].store(v.w[i], std::memory_order_relaxed);
    }
  }

  seqlock(const seqlock&) = delete;
  seqlock& operator=(const seqlock&) = delete;

  // A consistent snapshot, retried until clean.
  [[nodiscard]] T load() const noexcept {
    // The first attempt inline and straight-line; retries and waits out of line.
    words v;  // NOLINT(cppcoreguidelines-pro-type-member-init): fully written before use
    if (ATOMKIT_LIKELY(try_read(v))) return from_words(v);
    return load_slow();
  }

  // One attempt: nullopt if a write was in progress or overlapped the copy.
  [[nodiscard]] std::optional<T> try_load() const noexcept {
    words v;  // NOLINT(cppcoreguidelines-pro-type-member-init): fully written before use
    if (try_read(v)) return from_words(v);
    return std::nullopt;
  }

  void store(const T& value) noexcept {
    const words v = to_words(value);
    std::lock_guard<detail::lock_word<Wait>> guard(writer_);
    publish(v);
  }

  // Runs f(T&) on a copy of the current value under the writer lock, then publishes the result.
  // If f throws, nothing is published and the exception propagates.
  template <class F>
    requires std::invocable<F&, T&>
  void update(F&& f) {
    std::lock_guard<detail::lock_word<Wait>> guard(writer_);
    words v;  // NOLINT(cppcoreguidelines-pro-type-member-init): fully written before use
    for (std::size_t i = 0; i < word_count; ++i) {
      // relaxed: only writer-lock holders store the words; the lock's acquire ordered the last
      // holder's stores before these loads.
      v.w[i] = data_[i].load(std::memory_order_relaxed);
    }
    T value = from_words(v);
    f(value);
    publish(to_words(value));
  }

 private:
  friend struct detail::seqlock_access<seqlock>;

  static constexpr std::size_t word_count = (sizeof(T) + 7) / 8;
  struct words {
    std::uint64_t w[word_count];
  };
  static_assert(detail::atomic<std::uint64_t>::is_always_lock_free);
#if ATOMKIT_DETAIL_SEQLOCK_VECTOR_READ
  // The vector loads read two adjacent words as 16 bytes: an atomic word must be just its value.
  static_assert(sizeof(detail::atomic<std::uint64_t>) == sizeof(std::uint64_t));
#endif

  static words to_words(const T& value) noexcept {
    words v{};  // a short T leaves the tail of the last word zero
    std::memcpy(v.w, &value, sizeof(T));
    return v;
  }
  static T from_words(const words& v) noexcept {
    if constexpr (sizeof(T) == sizeof(words)) {
      return std::bit_cast<T>(v);
    } else {
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): fully written by the memcpy
      std::array<unsigned char, sizeof(T)> bytes;
      std::memcpy(bytes.data(), v.w, sizeof(T));
      return std::bit_cast<T>(bytes);
    }
  }

  // Unrolled, so that the words stay in registers and T is assembled from them (a loop over the
  // atomics is not unrolled by the compiler, and then copying the words out of the stack as one
  // wide load stalls on store forwarding).
  // One attempt: true if v holds a clean snapshot.
  bool try_read(words& v) const noexcept {
    // acquire: pairs with the release store of the even sequence in close_write(), so the words
    // that writer stored are visible to the loads below.
    const std::uint64_t s = seq_.load(std::memory_order_acquire);
    if (ATOMKIT_UNLIKELY(s & 1)) return false;
    read_words(v);
    // relaxed: cannot move above the acquire word loads in read_words() (see file comment).
    return seq_.load(std::memory_order_relaxed) == s;
  }

  // Retries until clean, waiting through the engine while a write is being published.
  ATOMKIT_NOINLINE T load_slow() const noexcept {
    words v;  // NOLINT(cppcoreguidelines-pro-type-member-init): fully written before use
    for (;;) {
      // acquire: as in try_read().
      std::uint64_t s = seq_.load(std::memory_order_acquire);
      if (s & 1) s = wait_even();
      read_words(v);
      // relaxed: as in try_read().
      if (seq_.load(std::memory_order_relaxed) == s) return from_words(v);
    }
  }

  void read_words(words& v) const noexcept {
#if ATOMKIT_DETAIL_SEQLOCK_VECTOR_READ
    read_from<0>(v);  // x86-64: the payload in vector loads (see the macro)
#else
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      // acquire: pairs with the release store of each word in write_words(): reading a value of
      // a writer makes its odd sequence store visible to the caller's second sequence load, and
      // keeps that load below these.
      ((v.w[I] = data_[I].load(std::memory_order_acquire)), ...);
    }(std::make_index_sequence<word_count>{});
#endif
  }

#if ATOMKIT_DETAIL_SEQLOCK_VECTOR_READ
  // Words I.. in the widest loads available: 32 bytes with AVX, else 16, an odd last word alone.
  // Each chunk lands in v with one store of its own width, so the caller's copy of v into T (which
  // the compiler makes with loads of the same width) is forwarded from those stores.
  template <std::size_t I>
  void read_from(words& v) const noexcept {
    if constexpr (I == word_count) {
      return;
#if defined(__AVX__)
    } else if constexpr (word_count - I >= 4) {
      read_chunk<__m256i>(v, I);
      read_from<I + 4>(v);
#endif
    } else if constexpr (word_count - I >= 2) {
      read_chunk<__m128i>(v, I);
      read_from<I + 2>(v);
    } else {
      // acquire: as in the portable form (an atomic word; keeps the second sequence load below).
      v.w[I] = data_[I].load(std::memory_order_acquire);
    }
  }
  // One vector load of the words at i. The "memory" clobber keeps the compiler from moving the
  // caller's sequence loads across it; the processor keeps loads in order (x86 TSO).
  template <class Vec>
  void read_chunk(words& v, std::size_t i) const noexcept {
    Vec x;
    using bytes = unsigned char[sizeof(Vec)];
#if defined(__AVX__)
    asm volatile("vmovdqu %1, %0" : "=x"(x) : "m"(*reinterpret_cast<const bytes*>(&data_[i])) : "memory");
#else
    asm volatile("movdqu %1, %0" : "=x"(x) : "m"(*reinterpret_cast<const bytes*>(&data_[i])) : "memory");
#endif
    std::memcpy(&v.w[i], &x, sizeof x);
  }
#endif

  // Opens a write section: the sequence becomes odd. Caller holds writer_.
  std::uint64_t open_write() noexcept {
    // relaxed: only writer-lock holders store seq_; the lock orders the last holder's store first.
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    // relaxed: becomes visible to any reader that reads a word stored after it, because those
    // word stores are release stores (see file comment).
    seq_.store(s + 1, std::memory_order_relaxed);
    return s;
  }

  // Closes a write section opened at s: the sequence becomes even again; sleeping readers wake.
  void close_write(std::uint64_t s) noexcept {
    // release: pairs with the readers' acquire load of seq_: the words stored above are visible
    // to a reader that reads s + 2.
    seq_.store(s + 2, std::memory_order_release);
    detail::notify_generation<Wait>(gen_, sleepers_, detail::wake_all_count);
  }

  // Stores the payload inside an open write section.
  void write_words(const words& v) noexcept {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      // release: orders the odd sequence store (and everything before) before each word, for a
      // reader whose acquire load reads it.
      (data_[I].store(v.w[I], std::memory_order_release), ...);
    }(std::make_index_sequence<word_count>{});
  }

  void publish(const words& v) noexcept {
    const std::uint64_t s = open_write();
    write_words(v);
    close_write(s);
  }

  // Waits, through the engine, until no write is being published; returns the even sequence.
  ATOMKIT_NOINLINE std::uint64_t wait_even() const noexcept {
    return detail::await_even_sequence<Wait>(seq_, gen_, sleepers_);
  }

  // Read by every reader: the sequence and the payload come first, adjacent.
  detail::atomic<std::uint64_t> seq_{0};  // even: stable; odd: a write is being published
  detail::atomic<std::uint64_t> data_[word_count]{};
  // Touched by writers, and by readers only when they wait.
  detail::atomic<std::uint32_t> gen_{0};               // futex word for readers waiting for even
  mutable detail::atomic<std::uint32_t> sleepers_{0};  // readers asleep on gen_
  detail::lock_word<Wait> writer_;                     // serializes writers
};

namespace detail {
// For tests: holds a write section open, so that readers deterministically overlap a write.
template <class Seqlock>
struct seqlock_access {
  static std::uint64_t begin_write(Seqlock& s) {
    s.writer_.lock();
    return s.open_write();
  }
  static void write(Seqlock& s, const typename Seqlock::value_type& value) {
    s.write_words(Seqlock::to_words(value));
  }
  static void end_write(Seqlock& s, std::uint64_t seq) {
    s.close_write(seq);
    s.writer_.unlock();
  }
};
}  // namespace detail

}  // namespace atomkit
