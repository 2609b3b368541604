// End-to-end tests of the C++ client against a real kv server in this
// process (tests/client/test_server.h).

#include "client/client.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_server.h"

namespace kv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  KVStore Store(absl::string_view name = "myapp",
                absl::Duration deadline = absl::Seconds(5)) {
    ClientOptions options;
    options.address = server_.address();
    options.deadline = deadline;
    return Client(options).Namespace(name);
  }

  // BigStore is for 25 MiB values: on a loaded two-core machine one such
  // call can take longer than the default deadline, which is not what
  // those tests are about.
  KVStore BigStore() { return Store("myapp", absl::Seconds(60)); }

  TestServer server_;
};

TEST_F(ClientTest, SetThenGetReturnsValueAndVersion) {
  KVStore store = Store();
  absl::StatusOr<uint64_t> version = store.Set("greeting", "hello");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_GE(*version, 1u);

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("greeting");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "hello");
  EXPECT_EQ((*entry)->version, *version);
}

TEST_F(ClientTest, GetOfNeverWrittenKeyIsAbsent) {
  absl::StatusOr<std::optional<KVStore::Entry>> entry = Store().Get("nothing");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_FALSE(entry->has_value());
}

TEST_F(ClientTest, EmptyValueIsStoredNotAbsent) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("empty", "").ok());
  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("empty");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "");
}

TEST_F(ClientTest, EveryWriteTakesALargerVersion) {
  KVStore store = Store();
  absl::StatusOr<uint64_t> first = store.Set("k", "one");
  absl::StatusOr<uint64_t> other = store.Set("other", "x");
  absl::StatusOr<uint64_t> second = store.Set("k", "two");
  ASSERT_TRUE(first.ok() && other.ok() && second.ok());
  EXPECT_LT(*first, *other);
  EXPECT_LT(*other, *second);

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->value, "two");
  EXPECT_EQ((*entry)->version, *second);
}

TEST_F(ClientTest, DeleteRemovesKeyAndReportsWhetherItDid) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("k", "v").ok());

  absl::StatusOr<bool> deleted = store.Delete("k");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  ASSERT_TRUE(entry.ok());
  EXPECT_FALSE(entry->has_value());

  absl::StatusOr<bool> again = store.Delete("k");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
}

TEST_F(ClientTest, NamespacesDoNotSeeEachOther) {
  KVStore a = Store("team-a");
  KVStore b = Store("team-b");
  ASSERT_TRUE(a.Set("k", "from a").ok());

  absl::StatusOr<std::optional<KVStore::Entry>> in_b = b.Get("k");
  ASSERT_TRUE(in_b.ok());
  EXPECT_FALSE(in_b->has_value());
  absl::StatusOr<std::vector<std::string>> keys_b = b.ListAll();
  ASSERT_TRUE(keys_b.ok());
  EXPECT_THAT(*keys_b, IsEmpty());
}

TEST_F(ClientTest, ValueExpiresAfterTtl) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("cached", "v", absl::Seconds(60)).ok());
  ASSERT_TRUE(store.Set("forever", "v").ok());

  server_.clock().Advance(absl::Seconds(59));
  absl::StatusOr<std::optional<KVStore::Entry>> before = store.Get("cached");
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->has_value());

  server_.clock().Advance(absl::Seconds(2));
  absl::StatusOr<std::optional<KVStore::Entry>> after = store.Get("cached");
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  absl::StatusOr<std::vector<std::string>> keys = store.ListAll();
  ASSERT_TRUE(keys.ok());
  EXPECT_THAT(*keys, ElementsAre("forever"));
}

TEST_F(ClientTest, SubSecondTtlRoundsUpNotToForever) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("short", "v", absl::Milliseconds(300)).ok());

  server_.clock().Advance(absl::Seconds(2));
  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("short");
  ASSERT_TRUE(entry.ok());
  EXPECT_FALSE(entry->has_value());
}

TEST_F(ClientTest, TtlOutOfRangeIsInvalidArgument) {
  KVStore store = Store();
  absl::Status negative = store.Set("k", "v", absl::Seconds(-1)).status();
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("ttl"));

  absl::Status too_long =
      store.Set("k", "v", absl::Hours(24 * 30) + absl::Seconds(1)).status();
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Set("k", "v", absl::InfiniteDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  ASSERT_TRUE(entry.ok());
  EXPECT_FALSE(entry->has_value());
}

TEST_F(ClientTest, ListPagesInByteOrder) {
  KVStore store = Store();
  for (const char* key : {"b", "a", "e", "c", "d"}) {
    ASSERT_TRUE(store.Set(key, "v").ok());
  }

  absl::StatusOr<KVStore::ListPage> first = store.List("", 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->keys, ElementsAre("a", "b"));
  ASSERT_THAT(first->next_page_token, Not(IsEmpty()));

  absl::StatusOr<KVStore::ListPage> second =
      store.List("", 2, first->next_page_token);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->keys, ElementsAre("c", "d"));

  absl::StatusOr<KVStore::ListPage> last =
      store.List("", 2, second->next_page_token);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_THAT(last->keys, ElementsAre("e"));
  EXPECT_THAT(last->next_page_token, IsEmpty());
}

TEST_F(ClientTest, ListAllReadsEveryPageWithPrefix) {
  KVStore store = Store();
  // More than two of ListAll's pages of 1000, so that it must follow
  // tokens across pages.
  constexpr int kKeys = 2150;
  std::vector<std::string> expected;
  for (int i = 0; i < kKeys; ++i) {
    std::string key = absl::StrFormat("job/%05d", i);
    ASSERT_TRUE(store.Set(key, "v").ok());
    expected.push_back(key);
  }
  ASSERT_TRUE(store.Set("jo", "v").ok());
  ASSERT_TRUE(store.Set("other/1", "v").ok());

  absl::StatusOr<std::vector<std::string>> keys = store.ListAll("job/");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(*keys, expected);

  absl::StatusOr<std::vector<std::string>> all = store.ListAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), kKeys + 2u);
}

TEST_F(ClientTest, PageTokenOfAnotherPrefixIsInvalidArgument) {
  KVStore store = Store();
  for (const char* key : {"a1", "a2", "a3"}) {
    ASSERT_TRUE(store.Set(key, "v").ok());
  }
  absl::StatusOr<KVStore::ListPage> page = store.List("a", 1);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->next_page_token, Not(IsEmpty()));

  absl::Status status = store.List("b", 1, page->next_page_token).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("page_token"));
}

TEST_F(ClientTest, NegativePageSizeIsInvalidArgument) {
  absl::Status status = Store().List("", -1).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("page_size"));
}

TEST_F(ClientTest, KeyTooLongIsInvalidArgumentNamingKey) {
  KVStore store = Store();
  absl::Status status = store.Set(std::string(1025, 'k'), "v").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("key"));
  EXPECT_THAT(status.message(), HasSubstr("1024"));

  EXPECT_TRUE(store.Set(std::string(1024, 'k'), "v").ok());
}

TEST_F(ClientTest, EmptyKeyIsInvalidArgument) {
  absl::Status status = Store().Get("").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("key"));
}

TEST_F(ClientTest, BadNamespaceIsInvalidArgumentNamingNamespace) {
  absl::Status status = Store("no/slashes").Get("k").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("namespace"));
}

TEST_F(ClientTest, LargestDefaultValueRoundTrips) {
  KVStore store = BigStore();
  // 25 MiB, the server's default value limit; far above gRPC's default
  // 4 MiB receive limit.
  std::string value(26214400, 'x');
  for (size_t i = 0; i < value.size(); i += 4096) value[i] = 'a' + i % 26;
  ASSERT_TRUE(store.Set("big", value).ok());

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("big");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_TRUE((*entry)->value == value);
}

TEST_F(ClientTest, ValueOverLimitIsInvalidArgumentNamingValue) {
  absl::Status status = Store().Set("big", std::string(26214401, 'x')).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("value"));
}

TEST_F(ClientTest, StoppedServerIsUnavailable) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("k", "v").ok());
  server_.server().Shutdown();

  EXPECT_EQ(store.Get("k").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClientTest, SameClientWorksAfterServerRestart) {
  KVStore store = Store();
  ASSERT_TRUE(store.Set("k", "kept").ok());
  ASSERT_TRUE(server_.Restart());

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "kept");
}

}  // namespace
}  // namespace kv
