// FakeClock: a clock that only moves when a test advances it. Test-only.

#ifndef KV_STORE_TESTING_FAKE_CLOCK_H_
#define KV_STORE_TESTING_FAKE_CLOCK_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kv::testing {

class FakeClock {
 public:
  // Starts at a fixed time in 2023.
  FakeClock() = default;

  // Now answers the current fake time. Thread-safe.
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Advance moves the fake time forward by d. Thread-safe.
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  // AsFunction answers a callable reading this clock, for
  // LevelDbStore::Options::clock; the clock must outlive it.
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1700000000);
};

}  // namespace kv::testing

#endif  // KV_STORE_TESTING_FAKE_CLOCK_H_
