#include "latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace kv {
namespace {

// The histogram promises 1/64 relative error above the exact range.
constexpr double kRelativeError = 1.0 / 64;

TEST(LatencyHistogram, EmptyAnswersZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Mean(), 0);
  EXPECT_EQ(h.Percentile(50), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.Percentile(50), 50u);
  EXPECT_EQ(h.Percentile(99), 99u);
  EXPECT_EQ(h.Percentile(100), 100u);
  EXPECT_EQ(h.Percentile(0), 1u);
  EXPECT_DOUBLE_EQ(h.Mean(), 50.5);
}

TEST(LatencyHistogram, PercentilesOfWideRangeAreWithinRelativeError) {
  std::mt19937_64 rng(7);
  // Log-uniform from 1 us to 100 ms in nanoseconds, like call latencies.
  std::uniform_real_distribution<double> exponent(3, 8);
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = static_cast<uint64_t>(std::pow(10.0, exponent(rng)));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());

  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
    const size_t rank =
        static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
    const double exact = static_cast<double>(values[rank - 1]);
    EXPECT_NEAR(static_cast<double>(h.Percentile(p)), exact,
                exact * kRelativeError)
        << "p" << p;
  }
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
}

TEST(LatencyHistogram, ExtremeValuesDoNotOverflow) {
  LatencyHistogram h;
  h.Record(0);
  h.Record(UINT64_MAX);
  EXPECT_EQ(h.Percentile(100), UINT64_MAX);
  EXPECT_EQ(h.Percentile(50), 0u);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (uint64_t v = 1000; v < 50000; v += 7) {
    ((v / 7) % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_DOUBLE_EQ(a.Mean(), all.Mean());
  for (double p : {10.0, 50.0, 99.0}) {
    EXPECT_EQ(a.Percentile(p), all.Percentile(p)) << "p" << p;
  }
}

}  // namespace
}  // namespace kv
