// Durability under a simulated power cut (store/testing/fault_env.h): what
// a synced store acknowledged survives, and versions never repeat even when
// the store does not sync.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "store/leveldb_store.h"
#include "store/testing/fault_env.h"
#include "store/testing/temp_dir.h"

namespace kv {
namespace {

class DurabilityTest : public ::testing::Test {
 protected:
  std::unique_ptr<LevelDbStore> MustOpen(bool sync) {
    LevelDbStore::Options options;
    // Two levels, so that the env has to create a parent, too.
    options.path = dir_.path() + "/data/store";
    options.sync = sync;
    options.env = &env_;
    options.reap_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Crash destroys store after a power cut and restores the disk to what
  // the cut left.
  void Crash(std::unique_ptr<LevelDbStore> store) {
    env_.PowerCut();
    store.reset();
    absl::Status restored = env_.RestoreAfterPowerCut();
    ASSERT_TRUE(restored.ok()) << restored;
  }

  std::optional<Entry> MustGet(Store& store, absl::string_view key) {
    absl::StatusOr<std::optional<Entry>> entry = store.Get("app", key);
    EXPECT_TRUE(entry.ok()) << entry.status();
    return entry.ok() ? *entry : std::nullopt;
  }

  testing::TempDir dir_;
  // Declared after dir_ so that it is destroyed first; stores using it are
  // locals of each test and go before either.
  testing::FaultEnv env_;
};

// Acked records one write acknowledged before the power cut.
struct Acked {
  std::string key;
  std::string value;
  uint64_t version;
};

// Writers runs threads that write unique keys until the power is cut,
// remembering every write acknowledged before the cut.
class Writers {
 public:
  Writers(Store& store, int threads, size_t value_bytes) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &store, t, value_bytes] {
        for (int i = 0;; ++i) {
          {
            absl::MutexLock lock(&mu_);
            if (stop_) return;
          }
          std::string key = absl::StrCat(t, "/", i);
          std::string value =
              absl::StrCat(key, "=", std::string(value_bytes, 'v'));
          absl::StatusOr<uint64_t> version = store.Set("app", key, value);
          EXPECT_TRUE(version.ok()) << version.status();
          absl::MutexLock lock(&mu_);
          if (!cut_ && version.ok()) {
            acked_.push_back(Acked{std::move(key), std::move(value), *version});
          }
        }
      });
    }
  }

  ~Writers() { Stop(); }

  // CutAfter waits until count writes were acknowledged, then cuts the
  // power at once: no acknowledgement after this counts.
  void CutAfter(size_t count, testing::FaultEnv& env) {
    absl::MutexLock lock(&mu_);
    cut_after_ = count;
    mu_.Await(absl::Condition(this, &Writers::EnoughAcked));
    cut_ = true;
    env.PowerCut();
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

  std::vector<Acked> acked() {
    absl::MutexLock lock(&mu_);
    return acked_;
  }

 private:
  bool EnoughAcked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return acked_.size() >= cut_after_;
  }

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Acked> acked_ ABSL_GUARDED_BY(mu_);
  size_t cut_after_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

TEST_F(DurabilityTest, PowerCutDropsWhatWasNeverSynced) {
  // The control: with sync off, only the first write's group is synced (it
  // reserves revisions), so the cut must take the later ones.
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("app", "first", "v").ok());
  ASSERT_TRUE(store->Set("app", "second", "v").ok());
  ASSERT_TRUE(store->Set("app", "third", "v").ok());
  Crash(std::move(store));

  store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(MustGet(*store, "first").has_value());
  EXPECT_FALSE(MustGet(*store, "second").has_value());
  EXPECT_FALSE(MustGet(*store, "third").has_value());
}

TEST_F(DurabilityTest, EveryAcknowledgedWriteSurvivesPowerCutWhenSynced) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/true);
  ASSERT_NE(store, nullptr);
  std::vector<Acked> acked;
  {
    // 8 KiB values: 600 writes fill more than one memtable, so the cut also
    // meets log switches, table writes and manifest updates.
    Writers writers(*store, 4, 8 << 10);
    writers.CutAfter(600, env_);
    writers.Stop();
    acked = writers.acked();
  }
  Crash(std::move(store));

  store = MustOpen(/*sync=*/true);
  ASSERT_NE(store, nullptr);
  uint64_t highest = 0;
  for (const Acked& write : acked) {
    std::optional<Entry> entry = MustGet(*store, write.key);
    ASSERT_TRUE(entry.has_value()) << write.key << " was lost";
    EXPECT_EQ(entry->value, write.value);
    EXPECT_EQ(entry->version, write.version);
    highest = std::max(highest, write.version);
  }
  absl::StatusOr<uint64_t> next = store->Set("app", "after", "v");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(*next, highest);
}

TEST_F(DurabilityTest, VersionsNeverRepeatAfterPowerCutWithoutSync) {
  // More writes than one block of reserved revisions, so that the cut comes
  // after the store has moved its mark at least once.
  constexpr int kWrites = 70000;
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  uint64_t highest = 0;
  absl::Mutex mu;
  for (int wave = 0; wave < 7; ++wave) {
    absl::BlockingCounter pending(kWrites / 7);
    for (int i = 0; i < kWrites / 7; ++i) {
      store->SetAsync("app", absl::StrCat(wave, "/", i), "v",
                      absl::ZeroDuration(),
                      [&](absl::StatusOr<uint64_t> version) {
                        EXPECT_TRUE(version.ok()) << version.status();
                        absl::MutexLock lock(&mu);
                        if (version.ok()) highest = std::max(highest, *version);
                        pending.DecrementCount();
                      });
    }
    pending.Wait();
  }
  // Deleting the last key leaves its revision in no record.
  ASSERT_TRUE(store->Delete("app", absl::StrCat(6, "/", kWrites / 7 - 1)).ok());
  highest += 1;
  ASSERT_GE(highest, static_cast<uint64_t>(kWrites));
  Crash(std::move(store));

  store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<uint64_t> next = store->Set("app", "after", "v");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(*next, highest);
}

TEST_F(DurabilityTest, VersionsNeverRepeatAfterPowerCutAmidConcurrentWrites) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  std::vector<Acked> acked;
  {
    Writers writers(*store, 4, 16);
    writers.CutAfter(5000, env_);
    writers.Stop();
    acked = writers.acked();
  }
  uint64_t highest = 0;
  for (const Acked& write : acked) highest = std::max(highest, write.version);
  Crash(std::move(store));

  store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<uint64_t> next = store->Set("app", "after", "v");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(*next, highest);
  // Whatever survived carries the version it was acknowledged with.
  for (const Acked& write : acked) {
    std::optional<Entry> entry = MustGet(*store, write.key);
    if (entry.has_value()) {
      EXPECT_EQ(entry->version, write.version);
    }
  }
}

}  // namespace
}  // namespace kv
