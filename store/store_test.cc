// The interface suite: every Store backend must pass these tests. A backend
// joins by adding a StoreFactory to the INSTANTIATE_TEST_SUITE_P at the end.

#include "store/store.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/leveldb_store.h"
#include "store/testing/fake_clock.h"
#include "store/testing/temp_dir.h"

namespace kv {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// StoreHarness owns one store under test and what it needs to run.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // store answers the store under test.
  virtual Store& store() = 0;
  // AdvanceClock moves the store's notion of time forward by d.
  virtual void AdvanceClock(absl::Duration d) = 0;
  // ReclaimExpired makes the store reclaim the space of expired keys now,
  // answering how many it reclaimed.
  virtual absl::StatusOr<int> ReclaimExpired() = 0;
};

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

class LevelDbHarness : public StoreHarness {
 public:
  LevelDbHarness() {
    LevelDbStore::Options options;
    options.path = dir_.path() + "/data";
    // The interface suite does not test durability; durability_test does.
    options.sync = false;
    options.clock = clock_.AsFunction();
    options.reap_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) store_ = *std::move(store);
  }

  Store& store() override { return *store_; }
  void AdvanceClock(absl::Duration d) override { clock_.Advance(d); }
  absl::StatusOr<int> ReclaimExpired() override {
    return store_->ReapExpired();
  }

 private:
  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<LevelDbStore> store_;
};

class StoreTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    ASSERT_NE(harness_, nullptr);
  }

  Store& store() { return harness_->store(); }

  // Value answers the live value of key in ns, or "<absent>".
  std::string Value(absl::string_view ns, absl::string_view key) {
    absl::StatusOr<std::optional<Entry>> entry = store().Get(ns, key);
    EXPECT_TRUE(entry.ok()) << entry.status();
    if (!entry.ok() || !entry->has_value()) return "<absent>";
    return (*entry)->value;
  }

  uint64_t MustSet(absl::string_view ns, absl::string_view key,
                   std::string value,
                   absl::Duration ttl = absl::ZeroDuration()) {
    absl::StatusOr<uint64_t> version =
        store().Set(ns, key, std::move(value), ttl);
    EXPECT_TRUE(version.ok()) << version.status();
    return version.ok() ? *version : 0;
  }

  std::vector<std::string> AllKeys(absl::string_view ns,
                                   absl::string_view prefix = "") {
    absl::StatusOr<ListPage> page = store().List(ns, prefix, "", 1000);
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? page->keys : std::vector<std::string>{};
  }

  std::unique_ptr<StoreHarness> harness_;
};

TEST_P(StoreTest, GetOfNeverWrittenKeyIsAbsent) {
  absl::StatusOr<std::optional<Entry>> entry = store().Get("app", "nothing");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());
}

TEST_P(StoreTest, SetThenGetRoundTrips) {
  const uint64_t version = MustSet("app", "greeting", "hello");
  EXPECT_GE(version, 1u);

  absl::StatusOr<std::optional<Entry>> entry = store().Get("app", "greeting");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "hello");
  EXPECT_EQ((*entry)->version, version);
}

TEST_P(StoreTest, OverwriteReplacesValueWithNewerVersion) {
  const uint64_t first = MustSet("app", "k", "one");
  const uint64_t second = MustSet("app", "k", "two");
  EXPECT_GT(second, first);

  absl::StatusOr<std::optional<Entry>> entry = store().Get("app", "k");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->value, "two");
  EXPECT_EQ((*entry)->version, second);
}

TEST_P(StoreTest, EmptyValueIsAStoredValue) {
  const uint64_t version = MustSet("app", "empty", "");

  absl::StatusOr<std::optional<Entry>> entry = store().Get("app", "empty");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "");
  EXPECT_EQ((*entry)->version, version);
  EXPECT_THAT(AllKeys("app"), ElementsAre("empty"));
}

TEST_P(StoreTest, ValuesKeepEveryByte) {
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += std::string(5 << 20, 'v');  // Larger than one commit group.
  MustSet("app", "bytes", value);
  EXPECT_EQ(Value("app", "bytes"), value);
}

TEST_P(StoreTest, DeleteRemovesLiveKeyThenAnswersFalse) {
  MustSet("app", "k", "v");

  absl::StatusOr<bool> deleted = store().Delete("app", "k");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  EXPECT_EQ(Value("app", "k"), "<absent>");
  EXPECT_THAT(AllKeys("app"), IsEmpty());

  deleted = store().Delete("app", "k");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(*deleted);
}

TEST_P(StoreTest, DeleteOfNeverWrittenKeyAnswersFalse) {
  absl::StatusOr<bool> deleted = store().Delete("app", "never");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(*deleted);
}

TEST_P(StoreTest, VersionsIncreaseAcrossKeysAndNeverRepeatAfterDelete) {
  std::vector<uint64_t> versions;
  versions.push_back(MustSet("app", "a", "1"));
  versions.push_back(MustSet("app", "b", "2"));
  versions.push_back(MustSet("other", "a", "3"));
  ASSERT_TRUE(store().Delete("app", "a").ok());
  versions.push_back(MustSet("app", "a", "4"));
  ASSERT_TRUE(store().Delete("app", "a").ok());
  ASSERT_TRUE(store().Delete("app", "b").ok());
  versions.push_back(MustSet("app", "a", "5"));
  versions.push_back(MustSet("app", "b", "6"));

  for (size_t i = 1; i < versions.size(); ++i) {
    EXPECT_GT(versions[i], versions[i - 1]) << "at write " << i;
  }
}

TEST_P(StoreTest, DeleteTakesARevision) {
  const uint64_t set = MustSet("app", "a", "1");
  ASSERT_TRUE(store().Delete("app", "a").ok());
  // The delete took set + 1 or later, so the next write lies beyond it.
  EXPECT_GT(MustSet("app", "b", "2"), set + 1);
}

TEST_P(StoreTest, KeyWithTtlReadsUntilItExpires) {
  MustSet("app", "k", "v", absl::Seconds(10));
  harness_->AdvanceClock(absl::Seconds(9));
  EXPECT_EQ(Value("app", "k"), "v");

  harness_->AdvanceClock(absl::Seconds(2));
  EXPECT_EQ(Value("app", "k"), "<absent>");
}

TEST_P(StoreTest, ExpiredKeyIsAbsentFromListAndDelete) {
  MustSet("app", "a", "live");
  MustSet("app", "b", "short", absl::Seconds(5));
  MustSet("app", "c", "live");
  harness_->AdvanceClock(absl::Seconds(6));

  EXPECT_THAT(AllKeys("app"), ElementsAre("a", "c"));
  absl::StatusOr<bool> deleted = store().Delete("app", "b");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_FALSE(*deleted);
}

TEST_P(StoreTest, SetWithoutTtlClearsEarlierTtl) {
  MustSet("app", "k", "short", absl::Seconds(5));
  MustSet("app", "k", "forever");
  harness_->AdvanceClock(absl::Hours(24));
  EXPECT_EQ(Value("app", "k"), "forever");

  absl::StatusOr<int> reclaimed = harness_->ReclaimExpired();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.status();
  EXPECT_EQ(*reclaimed, 0);
  EXPECT_EQ(Value("app", "k"), "forever");
}

TEST_P(StoreTest, KeyCanBeSetAgainAfterItExpired) {
  const uint64_t first = MustSet("app", "k", "old", absl::Seconds(1));
  harness_->AdvanceClock(absl::Seconds(2));
  const uint64_t second = MustSet("app", "k", "new");
  EXPECT_GT(second, first);
  EXPECT_EQ(Value("app", "k"), "new");
}

TEST_P(StoreTest, ReclaimingRemovesOnlyExpiredKeys) {
  MustSet("app", "gone1", "v", absl::Seconds(1));
  MustSet("app", "gone2", "v", absl::Seconds(2));
  MustSet("app", "later", "v", absl::Seconds(100));
  MustSet("app", "forever", "v");
  harness_->AdvanceClock(absl::Seconds(3));

  absl::StatusOr<int> reclaimed = harness_->ReclaimExpired();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.status();
  EXPECT_EQ(*reclaimed, 2);
  EXPECT_THAT(AllKeys("app"), ElementsAre("forever", "later"));
  EXPECT_EQ(Value("app", "later"), "v");

  reclaimed = harness_->ReclaimExpired();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.status();
  EXPECT_EQ(*reclaimed, 0);
}

TEST_P(StoreTest, ReclaimingAnExpiredKeyTakesARevision) {
  const uint64_t set = MustSet("app", "k", "v", absl::Seconds(1));
  harness_->AdvanceClock(absl::Seconds(2));
  ASSERT_TRUE(harness_->ReclaimExpired().ok());
  EXPECT_GT(MustSet("app", "other", "v"), set + 1);
}

TEST_P(StoreTest, NamespacesAreIsolated) {
  MustSet("a", "k", "in a");
  MustSet("b", "k", "in b");
  MustSet("ab", "k", "in ab");
  EXPECT_EQ(Value("a", "k"), "in a");
  EXPECT_EQ(Value("b", "k"), "in b");
  EXPECT_EQ(Value("ab", "k"), "in ab");

  ASSERT_TRUE(store().Delete("a", "k").ok());
  EXPECT_EQ(Value("a", "k"), "<absent>");
  EXPECT_EQ(Value("b", "k"), "in b");
  EXPECT_EQ(Value("ab", "k"), "in ab");
}

TEST_P(StoreTest, ListNeverCrossesNamespaces) {
  MustSet("a", "x", "1");
  MustSet("ab", "y", "2");
  MustSet("a.b", "z", "3");
  MustSet("b", "a", "4");

  EXPECT_THAT(AllKeys("a"), ElementsAre("x"));
  EXPECT_THAT(AllKeys("ab"), ElementsAre("y"));
  EXPECT_THAT(AllKeys("a.b"), ElementsAre("z"));
  EXPECT_THAT(AllKeys("b"), ElementsAre("a"));
  EXPECT_THAT(AllKeys("c"), IsEmpty());
}

TEST_P(StoreTest, NamespaceAndKeySplitsDoNotCollide) {
  MustSet("a", "b/c", "first");
  MustSet("a/b", "c", "second");
  EXPECT_EQ(Value("a", "b/c"), "first");
  EXPECT_EQ(Value("a/b", "c"), "second");
}

TEST_P(StoreTest, ListPagesWithStartAfterAndMore) {
  for (const char* key : {"k1", "k2", "k3", "k4", "k5"})
    MustSet("app", key, "v");

  absl::StatusOr<ListPage> page = store().List("app", "", "", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("k1", "k2"));
  EXPECT_TRUE(page->more);

  page = store().List("app", "", "k2", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("k3", "k4"));
  EXPECT_TRUE(page->more);

  page = store().List("app", "", "k4", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("k5"));
  EXPECT_FALSE(page->more);
}

TEST_P(StoreTest, ListOfExactlyOneFullPageHasNoMore) {
  MustSet("app", "a", "v");
  MustSet("app", "b", "v");
  absl::StatusOr<ListPage> page = store().List("app", "", "", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("a", "b"));
  EXPECT_FALSE(page->more);
}

TEST_P(StoreTest, ListMoreIgnoresExpiredKeys) {
  MustSet("app", "a", "v");
  MustSet("app", "b", "v");
  MustSet("app", "c", "v", absl::Seconds(1));
  harness_->AdvanceClock(absl::Seconds(2));

  absl::StatusOr<ListPage> page = store().List("app", "", "", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("a", "b"));
  EXPECT_FALSE(page->more);
}

TEST_P(StoreTest, ListStartAfterAnAbsentKeyContinuesAfterIt) {
  for (const char* key : {"a", "c", "e"}) MustSet("app", key, "v");
  absl::StatusOr<ListPage> page = store().List("app", "", "b", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("c", "e"));
}

TEST_P(StoreTest, ListFiltersByPrefix) {
  for (const char* key : {"user/1", "user/2", "user", "users", "job/1", "u"}) {
    MustSet("app", key, "v");
  }
  EXPECT_THAT(AllKeys("app", "user/"), ElementsAre("user/1", "user/2"));
  EXPECT_THAT(AllKeys("app", "user"),
              ElementsAre("user", "user/1", "user/2", "users"));
  EXPECT_THAT(AllKeys("app", "nobody"), IsEmpty());

  absl::StatusOr<ListPage> page = store().List("app", "user", "user/1", 1);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("user/2"));
  EXPECT_TRUE(page->more);

  // A start_after outside the prefix: before it lists all, after it none.
  page = store().List("app", "user/", "a", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ElementsAre("user/1", "user/2"));
  page = store().List("app", "user/", "zzz", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, IsEmpty());
  EXPECT_FALSE(page->more);
}

TEST_P(StoreTest, ListOrdersKeysByUnsignedBytes) {
  const std::vector<std::string> keys = {std::string("\x00", 1),
                                         std::string("\x00\x00", 2),
                                         "\x01",
                                         "A",
                                         "a",
                                         std::string("a\x00", 2),
                                         "a\x01",
                                         "ab",
                                         "\x7f",
                                         "\x80",
                                         "\xc3\xa9",
                                         "\xff",
                                         "\xff\xff"};
  for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
    MustSet("app", *it, "v");
  }
  EXPECT_EQ(AllKeys("app"), keys);
}

TEST_P(StoreTest, ListRejectsLimitBelowOne) {
  MustSet("app", "k", "v");
  EXPECT_EQ(store().List("app", "", "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store().List("app", "", "", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreTest, AsyncCallbacksRunExactlyOnceEach) {
  constexpr int kWrites = 200;
  absl::Mutex mu;
  std::vector<int> calls(kWrites * 2, 0);
  absl::BlockingCounter pending(kWrites * 2);
  for (int i = 0; i < kWrites; ++i) {
    store().SetAsync("app", absl::StrCat("k", i), "v", absl::ZeroDuration(),
                     [&, i](absl::StatusOr<uint64_t> version) {
                       EXPECT_TRUE(version.ok()) << version.status();
                       absl::MutexLock lock(&mu);
                       ++calls[i];
                       pending.DecrementCount();
                     });
    store().DeleteAsync("app", absl::StrCat("k", i),
                        [&, i](absl::StatusOr<bool> deleted) {
                          EXPECT_TRUE(deleted.ok()) << deleted.status();
                          // The delete was queued after the set.
                          EXPECT_TRUE(deleted.ok() && *deleted);
                          absl::MutexLock lock(&mu);
                          ++calls[kWrites + i];
                          pending.DecrementCount();
                        });
  }
  pending.Wait();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(std::count(calls.begin(), calls.end(), 1), kWrites * 2);
  EXPECT_THAT(AllKeys("app"), IsEmpty());
}

TEST_P(StoreTest, ConcurrentWritersGetDistinctVersions) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 100;
  std::vector<std::vector<uint64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        absl::StatusOr<uint64_t> version = store().Set(
            "app", absl::StrCat("t", t, "/", i % 10), absl::StrCat(i));
        EXPECT_TRUE(version.ok()) << version.status();
        if (version.ok()) versions[t].push_back(*version);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<uint64_t> distinct;
  for (const std::vector<uint64_t>& mine : versions) {
    ASSERT_EQ(mine.size(), kWritesPerThread);
    // One thread's writes are sequential, so its versions increase.
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    distinct.insert(mine.begin(), mine.end());
  }
  EXPECT_EQ(distinct.size(), kThreads * kWritesPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(Value("app", absl::StrCat("t", t, "/9")),
              absl::StrCat(kWritesPerThread - 1));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreTest,
    ::testing::Values(StoreFactory{
        "LevelDb", [] { return std::make_unique<LevelDbHarness>(); }}),
    [](const ::testing::TestParamInfo<StoreFactory>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace kv
