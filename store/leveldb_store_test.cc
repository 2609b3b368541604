#include "store/leveldb_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "store/key_encoding.h"
#include "store/record.h"
#include "store/testing/fake_clock.h"
#include "store/testing/temp_dir.h"

namespace kv {

// LevelDbStoreTestPeer reaches the store's test hook.
class LevelDbStoreTestPeer {
 public:
  static void SetAfterReapScan(LevelDbStore& store, std::function<void()> f) {
    absl::MutexLock lock(&store.hook_mu_);
    store.after_reap_scan_ = std::move(f);
  }
};

namespace {

using ::testing::HasSubstr;

class LevelDbStoreTest : public ::testing::Test {
 protected:
  LevelDbStore::Options Options(bool sync = true) {
    LevelDbStore::Options options;
    options.path = path_;
    options.sync = sync;
    options.clock = clock_.AsFunction();
    options.reap_interval = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<LevelDbStore> MustOpen(bool sync = true) {
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(Options(sync));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // RawKeys answers every key of the closed database in path_.
  std::vector<std::string> RawKeys() {
    leveldb::Options options;
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, path_, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<std::string> keys;
    if (!s.ok()) return keys;
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(
        db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    return keys;
  }

  // Layout is what the closed database in path_ holds, by key space.
  struct Layout {
    std::vector<std::string> records;  // user keys, in storage order
    std::vector<std::string> index;    // user keys the expiry index names
    std::vector<std::string> marks;    // namespaces with a ttl mark
  };
  Layout RawLayout() {
    Layout layout;
    for (const std::string& key : RawKeys()) {
      int64_t expiry = 0;
      absl::string_view storage_key, ns, user_key;
      if (DecodeRecordKey(key, &ns, &user_key)) {
        layout.records.emplace_back(user_key);
      } else if (DecodeExpiryKey(key, &expiry, &storage_key)) {
        EXPECT_TRUE(DecodeRecordKey(storage_key, &ns, &user_key));
        layout.index.emplace_back(user_key);
      } else if (DecodeTtlNamespaceKey(key, &ns)) {
        layout.marks.emplace_back(ns);
      }
    }
    return layout;
  }

  // RawPut writes one key of the closed database in path_.
  void RawPut(const std::string& key, const std::string& value) {
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, path_, &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    s = db->Put(leveldb::WriteOptions(), key, value);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // RawDelete deletes one key of the closed database in path_.
  void RawDelete(const std::string& key) {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(leveldb::Options(), path_, &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<leveldb::DB> db(raw);
    s = db->Delete(leveldb::WriteOptions(), key);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // RawGet answers the value of one key of the closed database in path_,
  // or "" when it is absent.
  std::string RawGet(const std::string& key) {
    leveldb::DB* raw = nullptr;
    leveldb::Status s = leveldb::DB::Open(leveldb::Options(), path_, &raw);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return "";
    std::unique_ptr<leveldb::DB> db(raw);
    std::string value;
    s = db->Get(leveldb::ReadOptions(), key, &value);
    EXPECT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    return value;
  }

  // WriteTtlAndPlainRecords leaves a closed store in path_ with a record
  // with a ttl in namespace "cache" and one without in "state".
  void WriteTtlAndPlainRecords() {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("cache", "k", "v", absl::Hours(1)).ok());
    ASSERT_TRUE(store->Set("state", "k", "v").ok());
  }

  // FilesEndingIn answers the files of path_ whose names end in suffix.
  std::vector<std::string> FilesEndingIn(absl::string_view suffix) {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      if (absl::EndsWith(entry.path().filename().string(), suffix)) {
        files.push_back(entry.path().string());
      }
    }
    return files;
  }

  // Damage overwrites bytes of file from offset on.
  static void Damage(const std::string& file, std::streamoff offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << file;
    f.seekp(offset);
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
    ASSERT_TRUE(f.good()) << file;
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/data";
  testing::FakeClock clock_;
};

TEST_F(LevelDbStoreTest, FirstWriteTakesVersionOne) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<uint64_t> version = store->Set("app", "k", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
  version = store->Set("app", "k2", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2u);
}

TEST_F(LevelDbStoreTest, OpenCreatesMissingParentDirectories) {
  LevelDbStore::Options options = Options();
  options.path = dir_.path() + "/a/b/c";
  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->Set("app", "k", "v").ok());
}

TEST_F(LevelDbStoreTest, OpenRejectsEmptyPath) {
  LevelDbStore::Options options = Options();
  options.path = "";
  EXPECT_EQ(LevelDbStore::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(LevelDbStoreTest, ReopenKeepsDataAndRevisionCounter) {
  uint64_t last = 0;
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("app", "kept", "value").ok());
    ASSERT_TRUE(store->Set("app", "ttl", "value", absl::Hours(1)).ok());
    ASSERT_TRUE(store->Set("app", "gone", "value").ok());
    absl::StatusOr<uint64_t> version = store->Set("other", "k", "v");
    ASSERT_TRUE(version.ok());
    // The delete takes the last revision, and no record keeps it.
    ASSERT_TRUE(store->Delete("app", "gone").ok());
    last = *version + 1;
  }

  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "kept");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  EXPECT_EQ((*entry)->value, "value");
  EXPECT_EQ((*entry)->version, 1u);
  entry = store->Get("app", "ttl");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  entry = store->Get("app", "gone");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());

  absl::StatusOr<uint64_t> version = store->Set("app", "new", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  // A clean close records exactly what was handed out: no gap.
  EXPECT_EQ(*version, last + 1);
}

TEST_F(LevelDbStoreTest, TtlIsStoredAcrossReopen) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("app", "k", "v", absl::Seconds(10)).ok());
  }
  clock_.Advance(absl::Seconds(11));
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());
}

TEST_F(LevelDbStoreTest, KeyExpiresExactlyAtItsTtl) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("app", "k", "v", absl::Seconds(10)).ok());
  clock_.Advance(absl::Seconds(10) - absl::Microseconds(1));
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_TRUE(entry->has_value());

  clock_.Advance(absl::Microseconds(1));
  entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());
}

TEST_F(LevelDbStoreTest, TinyTtlStillStoresTheValue) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("app", "k", "v", absl::Nanoseconds(1)).ok());
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_TRUE(entry->has_value());
}

TEST_F(LevelDbStoreTest, NegativeTtlIsInvalidArgument) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Set("app", "k", "v", absl::Seconds(-1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());
}

TEST_F(LevelDbStoreTest, ReaperRemovesRecordAndIndexEntry) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("app", "short", "v", absl::Seconds(1)).ok());
    ASSERT_TRUE(store->Set("app", "long", "v", absl::Hours(1)).ok());
    ASSERT_TRUE(store->Set("app", "forever", "v").ok());
    // Overwriting replaces the index entry of the old expiry.
    ASSERT_TRUE(store->Set("app", "reset", "v", absl::Seconds(1)).ok());
    ASSERT_TRUE(store->Set("app", "reset", "v", absl::Hours(2)).ok());
    clock_.Advance(absl::Seconds(2));

    absl::StatusOr<int> reaped = store->ReapExpired();
    ASSERT_TRUE(reaped.ok()) << reaped.status();
    EXPECT_EQ(*reaped, 1);
    EXPECT_EQ(store->Stats().writes, 6u);
  }

  const Layout layout = RawLayout();
  EXPECT_THAT(layout.records,
              ::testing::ElementsAre("forever", "long", "reset"));
  EXPECT_THAT(layout.index, ::testing::ElementsAre("long", "reset"));
}

TEST_F(LevelDbStoreTest, TtlMarksOnlyTheNamespacesThatUseIt) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("cache", "a", "v", absl::Hours(1)).ok());
    ASSERT_TRUE(store->Set("cache", "b", "v", absl::Hours(1)).ok());
    ASSERT_TRUE(store->Set("state", "a", "v").ok());
  }
  EXPECT_THAT(RawLayout().marks, ::testing::ElementsAre("cache"));
}

TEST_F(LevelDbStoreTest, OverwriteAfterReopenStillReplacesTheIndexEntry) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("cache", "k", "v", absl::Hours(1)).ok());
  }
  {
    // The mark read at open makes this set read the old record, so the
    // index entry of its expiry goes.
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("cache", "k", "v2").ok());
  }
  const Layout layout = RawLayout();
  EXPECT_THAT(layout.records, ::testing::ElementsAre("k"));
  EXPECT_THAT(layout.index, ::testing::IsEmpty());
}

TEST_F(LevelDbStoreTest, StoreOfFormatOneGainsTtlMarksAtOpen) {
  WriteTtlAndPlainRecords();
  // What a store written before the marks existed looks like.
  RawDelete(EncodeTtlNamespaceKey("cache"));
  RawPut(std::string(kFormatVersionKey), "1");
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("cache", "k", "v2").ok());
  }
  const Layout layout = RawLayout();
  EXPECT_THAT(layout.marks, ::testing::ElementsAre("cache"));
  EXPECT_THAT(layout.index, ::testing::IsEmpty());
  EXPECT_EQ(RawGet(std::string(kFormatVersionKey)), "2");
}

TEST_F(LevelDbStoreTest, StoreOfFormatOneWithDamagedIndexRefusesToOpen) {
  WriteTtlAndPlainRecords();
  RawPut(std::string(kFormatVersionKey), "1");
  RawPut(std::string(1, kExpirySpace) + "short", "");
  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(Options());
  ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("expiry index"));
  EXPECT_THAT(store.status().message(),
              HasSubstr("kv-server --repair --data_dir=" + path_));
}

TEST_F(LevelDbStoreTest, RepairMarksNamespacesOfSurvivingTtlRecords) {
  WriteTtlAndPlainRecords();
  // A mark lost to damage that the repair could not undo.
  RawDelete(EncodeTtlNamespaceKey("cache"));
  ASSERT_TRUE(LevelDbStore::Repair(path_).ok());
  EXPECT_THAT(RawLayout().marks, ::testing::ElementsAre("cache"));
}

TEST_F(LevelDbStoreTest, ReaperKeepsKeySetAgainAfterItsScan) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("app", "k", "old", absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(2));
  // The scan saw the old record; the new one commits before the removal
  // is queued.
  LevelDbStoreTestPeer::SetAfterReapScan(
      *store, [&] { EXPECT_TRUE(store->Set("app", "k", "new").ok()); });

  absl::StatusOr<int> reaped = store->ReapExpired();
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(*reaped, 0);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  EXPECT_EQ((*entry)->value, "new");
}

TEST_F(LevelDbStoreTest, ReaperKeepsKeySetAgainInTheSameGroup) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Set("app", "k", "old", absl::Seconds(1)).ok());
  clock_.Advance(absl::Seconds(2));

  // Hold the committer in a callback so that the new set and the removal
  // queue up behind it and commit as one group.
  absl::Notification held, release, set_done;
  store->SetAsync("app", "blocker", "v", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t>) {
                    held.Notify();
                    release.WaitForNotification();
                  });
  held.WaitForNotification();
  bool first_scan = true;
  LevelDbStoreTestPeer::SetAfterReapScan(*store, [&] {
    if (!std::exchange(first_scan, false)) return;
    store->SetAsync("app", "k", "new", absl::ZeroDuration(),
                    [&](absl::StatusOr<uint64_t> version) {
                      EXPECT_TRUE(version.ok()) << version.status();
                      set_done.Notify();
                    });
    release.Notify();
  });

  absl::StatusOr<int> reaped = store->ReapExpired();
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  set_done.WaitForNotification();
  EXPECT_EQ(*reaped, 0);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  EXPECT_EQ((*entry)->value, "new");
}

TEST_F(LevelDbStoreTest, BackgroundReaperRunsEveryInterval) {
  LevelDbStore::Options options = Options();
  options.reap_interval = absl::Milliseconds(1);
  absl::StatusOr<std::unique_ptr<LevelDbStore>> opened =
      LevelDbStore::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  LevelDbStore& store = **opened;
  ASSERT_TRUE(store.Set("app", "k", "v", absl::Seconds(1)).ok());
  const uint64_t writes = store.Stats().writes;

  // The scan after a round's removals sees the removal in the counters.
  absl::Notification removed;
  LevelDbStoreTestPeer::SetAfterReapScan(store, [&] {
    if (store.Stats().writes > writes && !removed.HasBeenNotified()) {
      removed.Notify();
    }
  });
  clock_.Advance(absl::Seconds(2));
  removed.WaitForNotification();
  EXPECT_EQ(store.Stats().writes, writes + 1);
  absl::StatusOr<ListPage> page = store.List("app", "", "", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->keys.empty());
}

TEST_F(LevelDbStoreTest, SecondOpenFailsNamingDirectoryAndLock) {
  std::unique_ptr<LevelDbStore> first = MustOpen();
  ASSERT_NE(first, nullptr);

  absl::StatusOr<std::unique_ptr<LevelDbStore>> second =
      LevelDbStore::Open(Options());
  ASSERT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(path_ + "/LOCK"));
  EXPECT_THAT(second.status().message(), HasSubstr("another kv-server"));
  // The failed attempt left the first store's log file in place.
  EXPECT_TRUE(std::filesystem::exists(path_ + "/LOG"));
  EXPECT_FALSE(std::filesystem::exists(path_ + "/LOG.old"));
  EXPECT_TRUE(first->Set("app", "k", "v").ok());
}

TEST_F(LevelDbStoreTest, OpenFailsWhileAnotherProcessHoldsTheDirectory) {
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child holds the store open until the parent has tried.
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(Options());
    const char byte = store.ok() ? 'y' : 'n';
    if (write(ready[1], &byte, 1) != 1) _exit(2);
    char ignored;
    if (read(done[0], &ignored, 1) != 1) _exit(3);
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');

  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(Options());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(path_ + "/LOCK"));
  EXPECT_THAT(store.status().message(), HasSubstr("another kv-server"));

  ASSERT_EQ(write(done[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);
  // Once the other process is gone, the directory opens.
  EXPECT_NE(MustOpen(), nullptr);
}

TEST_F(LevelDbStoreTest, RepairOfOpenStoreIsRefused) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LevelDbStore::Repair(path_).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LevelDbStoreTest, CorruptedLogRefusesToOpenUntilRepaired) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(
          store->Set("app", absl::StrCat("k", i), std::string(100, 'v')).ok());
    }
  }
  const std::vector<std::string> logs = FilesEndingIn(".log");
  ASSERT_EQ(logs.size(), 1u);
  Damage(logs[0], 4000);

  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(Options());
  ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(logs[0]));
  EXPECT_THAT(store.status().message(),
              HasSubstr("kv-server --repair --data_dir=" + path_));

  ASSERT_TRUE(LevelDbStore::Repair(path_).ok());
  store = LevelDbStore::Open(Options());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::optional<Entry>> entry = (*store)->Get("app", "k0");
  ASSERT_TRUE(entry.ok()) << entry.status();
  // What was before the damage survives; new versions lie beyond every
  // version handed out before.
  ASSERT_TRUE(entry->has_value());
  absl::StatusOr<uint64_t> version = (*store)->Set("app", "after", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_GT(*version, 200u);
}

TEST_F(LevelDbStoreTest, CorruptedManifestRefusesToOpenNamingIt) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set("app", "k", "v").ok());
  }
  const std::vector<std::string> manifests = FilesEndingIn("");
  std::string manifest;
  for (const std::string& file : manifests) {
    if (absl::StrContains(file, "/MANIFEST-")) manifest = file;
  }
  ASSERT_FALSE(manifest.empty());
  Damage(manifest, 10);

  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(Options());
  ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(manifest));
  EXPECT_THAT(store.status().message(), HasSubstr("--repair"));
}

TEST_F(LevelDbStoreTest, CorruptedTableReadsAsDataLossNotAsWrongValue) {
  // Incompressible values, so that a damaged block cannot fail only by
  // decompression, and enough of them to flush the memtable to a table.
  std::string value(1000, '\0');
  uint32_t state = 1;
  {
    std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 6000; ++i) {
      for (char& c : value) {
        state = state * 1103515245 + 12345;
        c = static_cast<char>(state >> 24);
      }
      store->SetAsync("app", absl::StrCat("k", i), value, absl::ZeroDuration(),
                      [](absl::StatusOr<uint64_t>) {});
    }
  }
  // A table being written as the store closes may not be part of the
  // database yet; reopening turns everything into live tables.
  ASSERT_NE(MustOpen(), nullptr);
  const std::vector<std::string> tables = FilesEndingIn(".ldb");
  ASSERT_FALSE(tables.empty());
  std::string largest = tables[0];
  for (const std::string& table : tables) {
    if (std::filesystem::file_size(table) >
        std::filesystem::file_size(largest)) {
      largest = table;
    }
  }
  Damage(largest, 20000);
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  int lost = 0;
  for (int i = 0; i < 6000; ++i) {
    absl::StatusOr<std::optional<Entry>> entry =
        store->Get("app", absl::StrCat("k", i));
    if (!entry.ok()) {
      EXPECT_EQ(entry.status().code(), absl::StatusCode::kDataLoss);
      ++lost;
    } else {
      ASSERT_TRUE(entry->has_value());
      EXPECT_EQ((*entry)->value.size(), 1000u);
    }
  }
  EXPECT_GT(lost, 0);
  EXPECT_EQ(store->List("app", "", "", 10000).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(LevelDbStoreTest, DamagedRecordHeaderIsDataLoss) {
  ASSERT_NE(MustOpen(), nullptr);
  RawPut(EncodeRecordKey("app", "bad"), "short");
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Get("app", "bad").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(store->List("app", "", "", 10).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(LevelDbStoreTest, DamagedRecordCanBeOverwrittenOrDeleted) {
  ASSERT_NE(MustOpen(), nullptr);
  RawPut(EncodeRecordKey("app", "rewrite"), "short");
  RawPut(EncodeRecordKey("app", "remove"), "short");
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);

  ASSERT_TRUE(store->Set("app", "rewrite", "fresh").ok());
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "rewrite");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  EXPECT_EQ((*entry)->value, "fresh");

  absl::StatusOr<bool> deleted = store->Delete("app", "remove");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  absl::StatusOr<ListPage> page = store->List("app", "", "", 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->keys, ::testing::ElementsAre("rewrite"));
}

TEST_F(LevelDbStoreTest, UnknownFormatVersionRefusesToOpen) {
  RawPut(std::string(kFormatVersionKey), "9");
  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(Options());
  ASSERT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("format version 9"));
}

TEST_F(LevelDbStoreTest, LostRevisionMarkIsRebuiltFromRecords) {
  {
    std::unique_ptr<LevelDbStore> store = MustOpen();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(store->Set("app", absl::StrCat("k", i), "v").ok());
    }
  }
  RawDelete(std::string(kReservedRevisionKey));
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<uint64_t> version = store->Set("app", "next", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 6u);
}

TEST_F(LevelDbStoreTest, GroupCommitWritesQueuedWritesAsOneBatch) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  constexpr int kWrites = 100;

  // Hold the committer so that every write below queues behind it.
  absl::Notification held, release;
  store->SetAsync("app", "blocker", "v", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t>) {
                    held.Notify();
                    release.WaitForNotification();
                  });
  held.WaitForNotification();
  absl::BlockingCounter pending(kWrites);
  std::vector<uint64_t> versions(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    store->SetAsync("app", absl::StrCat("k", i), "v", absl::ZeroDuration(),
                    [&, i](absl::StatusOr<uint64_t> version) {
                      EXPECT_TRUE(version.ok()) << version.status();
                      versions[i] = version.ok() ? *version : 0;
                      pending.DecrementCount();
                    });
  }
  release.Notify();
  pending.Wait();

  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.writes, kWrites + 1u);
  EXPECT_EQ(stats.commit_groups, 2u);
  EXPECT_EQ(stats.syncs, 2u);
  // Revisions follow queue order.
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(versions[i], i + 2u);
}

TEST_F(LevelDbStoreTest, LaterWriteInAGroupSeesEarlierOne) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::Notification held, release;
  store->SetAsync("app", "blocker", "v", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t>) {
                    held.Notify();
                    release.WaitForNotification();
                  });
  held.WaitForNotification();
  absl::BlockingCounter pending(4);
  std::vector<std::string> results(4);
  auto on_delete = [&](int slot) {
    return [&, slot](absl::StatusOr<bool> deleted) {
      results[slot] = deleted.ok() ? (*deleted ? "deleted" : "absent")
                                   : deleted.status().ToString();
      pending.DecrementCount();
    };
  };
  store->SetAsync("app", "k", "v", absl::Seconds(5),
                  [&](absl::StatusOr<uint64_t> version) {
                    results[0] = version.ok() ? "set" : "error";
                    pending.DecrementCount();
                  });
  store->DeleteAsync("app", "k", on_delete(1));
  store->DeleteAsync("app", "k", on_delete(2));
  store->SetAsync("app", "k", "again", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t> version) {
                    results[3] = version.ok() ? "set" : "error";
                    pending.DecrementCount();
                  });
  release.Notify();
  pending.Wait();

  EXPECT_THAT(results,
              ::testing::ElementsAre("set", "deleted", "absent", "set"));
  EXPECT_EQ(store->Stats().commit_groups, 2u);
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  EXPECT_EQ((*entry)->value, "again");
}

TEST_F(LevelDbStoreTest, ConcurrentDurableWritersShareSyncs) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 16;
  constexpr int kWritesPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        EXPECT_TRUE(store->Set("app", absl::StrCat(t, "/", i), "v").ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.writes, kThreads * kWritesPerThread);
  EXPECT_LT(stats.commit_groups, stats.writes);
  EXPECT_EQ(stats.syncs, stats.commit_groups);
}

TEST_F(LevelDbStoreTest, SyncOffSyncsOnlyRevisionReservations) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(store->Set("app", absl::StrCat("k", i), "v").ok());
  }
  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.writes, 20u);
  EXPECT_EQ(stats.commit_groups, 20u);
  EXPECT_EQ(stats.syncs, 1u);
}

TEST_F(LevelDbStoreTest, SyncOffWriteToIdleStoreCompletesBeforeItReturns) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  const std::thread::id caller = std::this_thread::get_id();

  std::optional<absl::StatusOr<uint64_t>> version;
  std::thread::id set_thread;
  store->SetAsync("app", "k", "v", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t> result) {
                    version = std::move(result);
                    set_thread = std::this_thread::get_id();
                  });
  ASSERT_TRUE(version.has_value());
  ASSERT_TRUE(version->ok()) << version->status();
  EXPECT_EQ(**version, 1u);
  EXPECT_EQ(set_thread, caller);

  std::optional<absl::StatusOr<bool>> deleted;
  store->DeleteAsync("app", "k", [&](absl::StatusOr<bool> result) {
    deleted = std::move(result);
  });
  ASSERT_TRUE(deleted.has_value());
  ASSERT_TRUE(deleted->ok()) << deleted->status();
  EXPECT_TRUE(**deleted);

  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.writes, 2u);
  EXPECT_EQ(stats.commit_groups, 2u);
}

TEST_F(LevelDbStoreTest, SyncOnWriteIsAnsweredOnTheCommitterThread) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/true);
  ASSERT_NE(store, nullptr);
  absl::Notification done;
  std::thread::id set_thread;
  store->SetAsync("app", "k", "v", absl::ZeroDuration(),
                  [&](absl::StatusOr<uint64_t> version) {
                    EXPECT_TRUE(version.ok()) << version.status();
                    set_thread = std::this_thread::get_id();
                    done.Notify();
                  });
  done.WaitForNotification();
  EXPECT_NE(set_thread, std::this_thread::get_id());
}

TEST_F(LevelDbStoreTest, SyncOffConcurrentWritesToOneKeyKeepTheLastVersion) {
  std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 200;
  absl::Mutex mu;
  uint64_t highest = 0;
  std::string highest_value;
  absl::BlockingCounter pending(kThreads * kWritesPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        std::string value = absl::StrCat(t, "/", i);
        store->SetAsync("app", "k", value, absl::ZeroDuration(),
                        [&, value](absl::StatusOr<uint64_t> version) {
                          EXPECT_TRUE(version.ok()) << version.status();
                          if (version.ok()) {
                            absl::MutexLock lock(&mu);
                            if (*version > highest) {
                              highest = *version;
                              highest_value = value;
                            }
                          }
                          pending.DecrementCount();
                        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  pending.Wait();

  // Whether inline or queued, the write with the highest version is the
  // one that was committed last.
  absl::StatusOr<std::optional<Entry>> entry = store->Get("app", "k");
  ASSERT_TRUE(entry.ok() && entry->has_value()) << entry.status();
  absl::MutexLock lock(&mu);
  EXPECT_EQ((*entry)->version, highest);
  EXPECT_EQ((*entry)->value, highest_value);
  EXPECT_EQ(store->Stats().writes, kThreads * kWritesPerThread);
}

TEST_F(LevelDbStoreTest, DeleteOfAbsentKeyWritesNothing) {
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Delete("app", "absent").ok());
  EXPECT_EQ(store->Stats().writes, 0u);
  EXPECT_EQ(store->Stats().commit_groups, 0u);
}

TEST_F(LevelDbStoreTest, DestroyingTheStoreCompletesQueuedWrites) {
  constexpr int kWrites = 500;
  absl::BlockingCounter pending(kWrites);
  {
    std::unique_ptr<LevelDbStore> store = MustOpen(/*sync=*/false);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kWrites; ++i) {
      store->SetAsync("app", absl::StrCat("k", i), "v", absl::ZeroDuration(),
                      [&](absl::StatusOr<uint64_t> version) {
                        EXPECT_TRUE(version.ok()) << version.status();
                        pending.DecrementCount();
                      });
    }
  }
  // Every callback ran before the destructor returned.
  pending.Wait();
  std::unique_ptr<LevelDbStore> store = MustOpen();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<ListPage> page = store->List("app", "", "", 1000);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->keys.size(), kWrites);
}

}  // namespace
}  // namespace kv
