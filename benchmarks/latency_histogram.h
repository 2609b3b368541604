// latency_histogram.h: a fixed-size log-linear histogram of latencies.
//
// kv-bench records one latency per call, tens of thousands of calls a
// second on each driver thread. A sorted sample array would grow with the
// run and allocate on the hot path; this histogram has a fixed size, costs
// a few instructions per record, and merges across threads by adding
// counts, at the price of a bounded relative error.
//
// Values below 2^kSubBucketBits are exact. Above that, each power-of-two
// range [2^m, 2^(m+1)) is split into 2^(kSubBucketBits-1) equal buckets, so
// a reported percentile is within 1/2^(kSubBucketBits-1) (1/64, about
// 1.6%) of a recorded value. This is the layout HdrHistogram uses.
//
// Example:
//
//   kv::LatencyHistogram h;
//   h.Record(125000);           // one call of 125 us, in nanoseconds
//   uint64_t p99 = h.Percentile(99.0);
//
// Thread safety: not thread-safe; give each thread its own histogram and
// Merge() them once the threads are done.

#ifndef KV_BENCHMARKS_LATENCY_HISTOGRAM_H_
#define KV_BENCHMARKS_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace kv {

class LatencyHistogram {
 public:
  // kSubBucketBits sets the precision: values below 2^kSubBucketBits are
  // exact, larger ones are within 1/2^(kSubBucketBits-1) of their bucket.
  static constexpr int kSubBucketBits = 7;

  // LatencyHistogram starts empty.
  LatencyHistogram() = default;

  // Record adds one value (any unit; kv-bench uses nanoseconds). Every
  // uint64_t is accepted; nothing is allocated.
  void Record(uint64_t value);

  // Merge adds every value recorded in `other` to this histogram.
  void Merge(const LatencyHistogram& other);

  // count answers how many values were recorded.
  uint64_t count() const { return count_; }

  // min and max answer the exact smallest and largest recorded values;
  // both are 0 when the histogram is empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }

  // Mean answers the exact mean of the recorded values; 0 when empty.
  double Mean() const;

  // Percentile answers the value below or at which `percent` percent of
  // the recorded values lie (percent in [0, 100]; values outside are
  // clamped). The answer is the midpoint of the bucket that holds that
  // rank, clamped to [min(), max()], so it is exact for small values and
  // within the relative error above otherwise; the lowest rank answers
  // min() and the highest max(), exactly. 0 when empty.
  uint64_t Percentile(double percent) const;

 private:
  static constexpr int kHalf = 1 << (kSubBucketBits - 1);
  // Indices up to the one for UINT64_MAX: (64 - kSubBucketBits + 1)
  // ranges of kHalf buckets above the 2^kSubBucketBits exact ones.
  static constexpr int kBuckets = (64 - kSubBucketBits + 2) * kHalf;

  static int BucketOf(uint64_t value);
  static uint64_t BucketLow(int bucket);
  static uint64_t BucketHigh(int bucket);  // Inclusive.

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Sum in long double: 1e9 calls of 1e9 ns still fit without losing the
  // mean.
  long double sum_ = 0;
};

}  // namespace kv

#endif  // KV_BENCHMARKS_LATENCY_HISTOGRAM_H_
