// atomkit benchmark latency histogram: log-bucketed (HDR-style), fixed memory, mergeable.
//
// Values are unsigned 64-bit nanoseconds. Values below sub_buckets are counted exactly; above, each
// power of two [2^k, 2^(k+1)) is split into sub_buckets equal buckets, so a bucket is at most
// 1/sub_buckets (3.1 %) of the values it holds wide. The whole range of std::uint64_t is covered
// by bucket_count counters (15 KiB): record() never allocates, never fails, and costs a bit scan,
// a shift and an increment. One histogram per thread, merged after the run (merge() adds counts).
// Quantiles are reported as the upper edge of the bucket holding them (never below the true
// value, at most 3.1 % above it), capped by the exact maximum, which is tracked on its own.
//
// Usage: latency_histogram h; h.record(ns); ... h.merge(other); h.quantile(0.999);
#pragma once

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace atomkit_bench {

class latency_histogram {
 public:
  static constexpr unsigned sub_bits = 5;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bits;  // per power of two
  // Values < sub_buckets: one bucket each; then one group of sub_buckets per exponent
  // k = sub_bits .. 63.
  static constexpr std::size_t bucket_count = sub_buckets + (64 - sub_bits) * sub_buckets;

  void record(std::uint64_t v) noexcept {
    ++counts_[index_of(v)];
    ++total_;
    if (v > max_) max_ = v;
    if (v < min_) min_ = v;
  }

  void merge(const latency_histogram& o) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }

  void clear() noexcept { *this = latency_histogram{}; }

  [[nodiscard]] std::uint64_t count() const noexcept { return total_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }

  // The smallest bucket upper edge at or below which at least q (0..1) of the values lie, capped
  // by the maximum; 0 when empty.
  [[nodiscard]] std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    if (q <= 0) return min();
    if (q >= 1) return max_;
    // The rank of the value sought, 1-based: ceil(q * total), at least 1.
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (static_cast<double>(rank) < q * static_cast<double>(total_)) ++rank;
    if (rank == 0) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        const std::uint64_t hi = upper_edge(i);
        return hi < max_ ? hi : max_;
      }
    }
    return max_;
  }

  // Bucket arithmetic, public for tests.
  static constexpr std::size_t index_of(std::uint64_t v) noexcept {
    if (v < sub_buckets) return static_cast<std::size_t>(v);
    const unsigned k = static_cast<unsigned>(std::bit_width(v)) - 1;  // 2^k <= v < 2^(k+1)
    const unsigned shift = k - sub_bits;
    const std::uint64_t sub = (v >> shift) - sub_buckets;  // 0 .. sub_buckets-1
    return static_cast<std::size_t>(sub_buckets + shift * sub_buckets + sub);
  }
  // The largest value that falls into bucket i.
  static constexpr std::uint64_t upper_edge(std::size_t i) noexcept {
    if (i < sub_buckets) return i;
    const std::size_t group = (i - sub_buckets) / sub_buckets;  // == shift in index_of
    const std::uint64_t sub = (i - sub_buckets) % sub_buckets;
    const std::uint64_t lower = (sub_buckets + sub) << group;
    return lower + ((std::uint64_t{1} << group) - 1);
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
};

static_assert(latency_histogram::index_of(~std::uint64_t{0}) == latency_histogram::bucket_count - 1,
              "the last bucket holds the largest value");
static_assert(latency_histogram::upper_edge(latency_histogram::bucket_count - 1) == ~std::uint64_t{0});
static_assert(latency_histogram::index_of(latency_histogram::sub_buckets) ==
              latency_histogram::sub_buckets, "exact buckets end where the first group starts");

// The clock latencies are taken with: the time-stamp counter (rdtsc) where the CPU has one, scaled
// to nanoseconds by a factor measured once against std::chrono::steady_clock over 20 ms;
// steady_clock elsewhere. rdtsc is not serializing: an operation of a few tens of instructions
// may be measured a few nanoseconds short or long. The TSC must be invariant (constant_tsc and
// nonstop_tsc in /proc/cpuinfo; Linux uses it as its clock source only then). Cost on the
// development host (AMD EPYC VM, 2.6 GHz TSC, thread CPU time over 2*10^7 calls): 9 ns per
// rdtsc read (steady_clock: 21 ns), and 27 ns per timed operation (two reads, the scaling, one
// record()); the shortest interval it reports is 10 ns (two back-to-back reads).
struct op_clock {
  using ticks = std::uint64_t;

  static ticks now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return static_cast<ticks>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
  }

  // Nanoseconds per tick, measured on first use (20 ms).
  static double ns_per_tick() noexcept {
    static const double scale = calibrate();
    return scale;
  }

  static std::uint64_t to_ns(ticks d) noexcept {
    return static_cast<std::uint64_t>(static_cast<double>(d) * ns_per_tick());
  }
  // Nanoseconds since `start` (a value of now()); 0 if the counter went backwards.
  static std::uint64_t since_ns(ticks start) noexcept {
    const ticks t = now();
    return t > start ? to_ns(t - start) : 0;
  }

 private:
  static double calibrate() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    const auto c0 = std::chrono::steady_clock::now();
    const ticks t0 = now();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto c1 = std::chrono::steady_clock::now();
    const ticks t1 = now();
    const double ns = std::chrono::duration<double, std::nano>(c1 - c0).count();
    return t1 > t0 ? ns / static_cast<double>(t1 - t0) : 1.0;
#else
    using period = std::chrono::steady_clock::period;
    return 1e9 * static_cast<double>(period::num) / static_cast<double>(period::den);
#endif
  }
};

}  // namespace atomkit_bench
