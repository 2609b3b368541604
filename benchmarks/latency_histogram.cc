#include "latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace kv {

int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < (uint64_t{1} << kSubBucketBits)) return static_cast<int>(value);
  const int msb = 63 - __builtin_clzll(value);
  // Shifting by this much leaves a value in [kHalf, 2 * kHalf): the top
  // kSubBucketBits bits, the leading one included.
  const int shift = msb - kSubBucketBits + 1;
  return shift * kHalf + static_cast<int>(value >> shift);
}

uint64_t LatencyHistogram::BucketLow(int bucket) {
  if (bucket < (1 << kSubBucketBits)) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kHalf - 1;
  const uint64_t top = static_cast<uint64_t>(bucket - shift * kHalf);
  return top << shift;
}

uint64_t LatencyHistogram::BucketHigh(int bucket) {
  if (bucket < (1 << kSubBucketBits)) return static_cast<uint64_t>(bucket);
  const int shift = bucket / kHalf - 1;
  // Written as low + width - 1 so that the last bucket does not overflow.
  return BucketLow(bucket) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(uint64_t value) {
  ++counts_[BucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::Mean() const {
  if (count_ == 0) return 0;
  return static_cast<double>(sum_ / count_);
}

uint64_t LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);

  // The rank is 1-based: the smallest value is rank 1, the p100 value is
  // rank count_.
  uint64_t rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * count_));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  // The extremes are known exactly.
  if (rank == 1) return min_;
  if (rank == count_) return max_;

  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen < rank) continue;
    const uint64_t low = BucketLow(i);
    const uint64_t mid = low + (BucketHigh(i) - low) / 2;
    return std::clamp(mid, min(), max_);
  }
  return max_;
}

}  // namespace kv
