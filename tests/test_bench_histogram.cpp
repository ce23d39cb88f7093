// The benchmarks' latency histogram (bench/histogram.hpp): bucket arithmetic, quantiles within
// the documented relative error, merging, and the calibrated clock.
#include <doctest/doctest.h>

#include "../bench/histogram.hpp"

#include <cstdint>
#include <random>

using atomkit_bench::latency_histogram;
using atomkit_bench::op_clock;

TEST_CASE("every value falls into a bucket whose range holds it, within 1/32 of its size") {
  std::mt19937_64 rng(12345);
  std::uint64_t values[] = {0, 1, 31, 32, 33, 63, 64, 65, 1000, 1u << 20, ~std::uint64_t{0}};
  for (std::uint64_t v : values) {
    const std::size_t i = latency_histogram::index_of(v);
    REQUIRE(i < latency_histogram::bucket_count);
    CHECK(latency_histogram::upper_edge(i) >= v);
    if (i > 0) CHECK(latency_histogram::upper_edge(i - 1) < v);
  }
  for (int k = 0; k < 100000; ++k) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const std::size_t i = latency_histogram::index_of(v);
    REQUIRE(i < latency_histogram::bucket_count);
    const std::uint64_t hi = latency_histogram::upper_edge(i);
    REQUIRE(hi >= v);
    if (i > 0) REQUIRE(latency_histogram::upper_edge(i - 1) < v);
    REQUIRE(static_cast<double>(hi - v) <= static_cast<double>(v) / 32.0);
  }
}

TEST_CASE("quantiles of a known distribution, merged from several per-thread histograms") {
  latency_histogram parts[4];
  // 1..100000 ns, spread over four histograms.
  for (std::uint64_t v = 1; v <= 100000; ++v) parts[v % 4].record(v);
  latency_histogram all;
  for (const auto& p : parts) all.merge(p);
  CHECK(all.count() == 100000);
  CHECK(all.max() == 100000);
  CHECK(all.min() == 1);
  const double qs[] = {0.5, 0.9, 0.99, 0.999};
  for (double q : qs) {
    const auto exact = static_cast<double>(q * 100000);
    const auto got = static_cast<double>(all.quantile(q));
    CHECK(got >= exact);
    CHECK(got <= exact * (1 + 1.0 / 32));
  }
  CHECK(all.quantile(1.0) == 100000);
  // A single outlier shows in max and p99.9 only once it is over 0.1 % of the values.
  latency_histogram h;
  for (int i = 0; i < 9990; ++i) h.record(100);
  for (int i = 0; i < 10; ++i) h.record(1'000'000);
  CHECK(h.quantile(0.99) >= 100);
  CHECK(h.quantile(0.99) <= 103);  // 100 lies in the bucket 100..101
  CHECK(h.quantile(0.999) <= 103);
  h.record(1'000'000);
  CHECK(h.quantile(0.999) >= 1'000'000);
  CHECK(h.max() == 1'000'000);
  CHECK(latency_histogram{}.quantile(0.5) == 0);
}

TEST_CASE("op_clock measures time in nanoseconds") {
  const double scale = op_clock::ns_per_tick();
  CHECK(scale > 0.01);  // under 100 GHz
  CHECK(scale < 1000);  // over 1 MHz
  const auto t0 = op_clock::now();
  const auto c0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - c0 < std::chrono::milliseconds(5)) {
  }
  const std::uint64_t ns = op_clock::since_ns(t0);
  CHECK(ns >= 4'000'000);   // 5 ms, a 20 % margin for the calibration
  CHECK(ns < 1'000'000'000);  // and not wildly more (a preemption may add some)
}
