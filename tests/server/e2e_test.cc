// End-to-end tests of the KV service: a real Server on 127.0.0.1:0 over a
// LevelDbStore in a scratch directory, driven through the raw generated
// stub, as any gRPC client in any language would drive it.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kv/v1/kv.grpc.pb.h"
#include "service/server.h"
#include "store/leveldb_store.h"
#include "store/testing/fake_clock.h"
#include "store/testing/temp_dir.h"
#include "tests/server/test_support.h"

namespace kv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Most tests use a small value limit so that values at and past it are
// cheap; one test uses the real default.
constexpr int64_t kSmallLimit = 1024;

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenStore();
    StartServer(kSmallLimit);
  }

  void TearDown() override { StopAll(); }

  void OpenStore() {
    LevelDbStore::Options options;
    options.path = dir_.path();
    options.sync = false;
    options.clock = clock_.AsFunction();
    options.reap_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    gated_ = std::make_unique<test::GatedStore>(store_.get());
  }

  void StartServer(int64_t max_value_bytes, int threads = 2,
                   absl::Duration drain_timeout = absl::Seconds(5)) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.max_value_bytes = max_value_bytes;
    options.threads = threads;
    options.drain_timeout = drain_timeout;
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(options, gated_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    stub_ = test::NewKvStub(server_->address());
  }

  void StopAll() {
    stub_.reset();
    server_.reset();
    gated_.reset();
    store_.reset();
  }

  // Restart stops the server and the store and opens both again on the
  // same data directory.
  void Restart(int64_t max_value_bytes = kSmallLimit) {
    StopAll();
    OpenStore();
    StartServer(max_value_bytes);
  }

  // Every call has a deadline, so that a hung server fails the test.
  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(20));
  }

  grpc::Status Set(const std::string& ns, const std::string& key,
                   const std::string& value, int32_t ttl_seconds = 0,
                   v1::SetResponse* response = nullptr) {
    v1::SetRequest request;
    request.set_namespace_(ns);
    request.set_key(key);
    request.set_value(value);
    request.set_ttl_seconds(ttl_seconds);
    v1::SetResponse ignored;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return stub_->Set(&ctx, request, response ? response : &ignored);
  }

  grpc::Status Get(const std::string& ns, const std::string& key,
                   v1::GetResponse* response) {
    v1::GetRequest request;
    request.set_namespace_(ns);
    request.set_key(key);
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return stub_->Get(&ctx, request, response);
  }

  grpc::Status Delete(const std::string& ns, const std::string& key,
                      v1::DeleteResponse* response = nullptr) {
    v1::DeleteRequest request;
    request.set_namespace_(ns);
    request.set_key(key);
    v1::DeleteResponse ignored;
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return stub_->Delete(&ctx, request, response ? response : &ignored);
  }

  grpc::Status List(const v1::ListRequest& request,
                    v1::ListResponse* response) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    return stub_->List(&ctx, request, response);
  }

  static v1::ListRequest ListOf(const std::string& ns,
                                const std::string& prefix = "",
                                int32_t page_size = 0,
                                const std::string& token = "") {
    v1::ListRequest request;
    request.set_namespace_(ns);
    request.set_prefix(prefix);
    request.set_page_size(page_size);
    request.set_page_token(token);
    return request;
  }

  // ListAll pages through a listing and answers every key, failing the
  // test when a page but the last is not full.
  std::vector<std::string> ListAll(const std::string& ns,
                                   const std::string& prefix,
                                   int32_t page_size) {
    std::vector<std::string> keys;
    std::string token;
    for (;;) {
      v1::ListResponse page;
      grpc::Status status = List(ListOf(ns, prefix, page_size, token), &page);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) return keys;
      keys.insert(keys.end(), page.keys().begin(), page.keys().end());
      token = page.next_page_token();
      if (token.empty()) return keys;
      EXPECT_EQ(page.keys_size(), page_size);
    }
  }

  // WriteKeys stores count keys prefix0000.. with value "v".
  void WriteKeys(const std::string& ns, const std::string& prefix, int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(Set(ns, absl::StrFormat("%s%04d", prefix, i), "v").ok());
    }
  }

  static void ExpectInvalid(const grpc::Status& status,
                            const std::string& message_start) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith(message_start));
  }

  kv::testing::TempDir dir_;
  kv::testing::FakeClock clock_;
  std::unique_ptr<LevelDbStore> store_;
  std::unique_ptr<test::GatedStore> gated_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

// --- every rpc ---------------------------------------------------------

TEST_F(E2eTest, SetThenGetAnswersTheValueAndItsVersion) {
  v1::SetResponse set;
  ASSERT_TRUE(Set("myapp", "greeting", "hello", 0, &set).ok());
  EXPECT_GE(set.version(), 1u);

  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "greeting", &get).ok());
  EXPECT_TRUE(get.found());
  EXPECT_EQ(get.value(), "hello");
  EXPECT_EQ(get.version(), set.version());
}

TEST_F(E2eTest, GetOfAMissingKeyIsOkAndNotFound) {
  v1::GetResponse get;
  grpc::Status status = Get("myapp", "never-written", &get);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(get.found());
  EXPECT_EQ(get.value(), "");
  EXPECT_EQ(get.version(), 0u);
}

TEST_F(E2eTest, EmptyValueIsStoredAndFound) {
  ASSERT_TRUE(Set("myapp", "empty", "").ok());
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "empty", &get).ok());
  EXPECT_TRUE(get.found());
  EXPECT_EQ(get.value(), "");
  EXPECT_GE(get.version(), 1u);
}

TEST_F(E2eTest, OverwriteAnswersTheNewValueWithANewerVersion) {
  v1::SetResponse first;
  v1::SetResponse second;
  ASSERT_TRUE(Set("myapp", "k", "one", 0, &first).ok());
  ASSERT_TRUE(Set("myapp", "k", "two", 0, &second).ok());
  EXPECT_GT(second.version(), first.version());

  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_EQ(get.value(), "two");
  EXPECT_EQ(get.version(), second.version());
}

TEST_F(E2eTest, DeleteIsIdempotent) {
  ASSERT_TRUE(Set("myapp", "k", "v").ok());

  v1::DeleteResponse first;
  ASSERT_TRUE(Delete("myapp", "k", &first).ok());
  EXPECT_TRUE(first.deleted());

  v1::DeleteResponse second;
  grpc::Status status = Delete("myapp", "k", &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(second.deleted());

  v1::DeleteResponse never;
  ASSERT_TRUE(Delete("myapp", "never-written", &never).ok());
  EXPECT_FALSE(never.deleted());

  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_FALSE(get.found());
}

TEST_F(E2eTest, NamespacesNeverSeeEachOthersKeys) {
  ASSERT_TRUE(Set("a", "k", "in a").ok());
  ASSERT_TRUE(Set("a.b", "k", "in a.b").ok());

  v1::GetResponse get;
  ASSERT_TRUE(Get("b", "k", &get).ok());
  EXPECT_FALSE(get.found());
  ASSERT_TRUE(Get("a.b", "k", &get).ok());
  EXPECT_EQ(get.value(), "in a.b");

  v1::ListResponse list;
  ASSERT_TRUE(List(ListOf("a"), &list).ok());
  EXPECT_THAT(list.keys(), ElementsAre("k"));
}

TEST_F(E2eTest, ExpiredKeyReadsAsAbsentEverywhere) {
  ASSERT_TRUE(Set("myapp", "short", "v", 1).ok());
  ASSERT_TRUE(Set("myapp", "forever", "v", 0).ok());
  clock_.Advance(absl::Seconds(2));

  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "short", &get).ok());
  EXPECT_FALSE(get.found());
  v1::ListResponse list;
  ASSERT_TRUE(List(ListOf("myapp"), &list).ok());
  EXPECT_THAT(list.keys(), ElementsAre("forever"));
  v1::DeleteResponse deleted;
  ASSERT_TRUE(Delete("myapp", "short", &deleted).ok());
  EXPECT_FALSE(deleted.deleted());
}

TEST_F(E2eTest, TtlKeepsTheValueUntilItPasses) {
  ASSERT_TRUE(Set("myapp", "k", "v", 60).ok());
  clock_.Advance(absl::Seconds(59));
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_TRUE(get.found());
}

// --- limits, at and one past each edge -------------------------------

TEST_F(E2eTest, NamespaceOf128BytesWorksInEveryRpc) {
  const std::string ns(128, 'n');
  ASSERT_TRUE(Set(ns, "k", "v").ok());
  v1::GetResponse get;
  ASSERT_TRUE(Get(ns, "k", &get).ok());
  EXPECT_TRUE(get.found());
  v1::ListResponse list;
  ASSERT_TRUE(List(ListOf(ns), &list).ok());
  EXPECT_THAT(list.keys(), ElementsAre("k"));
  ASSERT_TRUE(Delete(ns, "k").ok());
}

TEST_F(E2eTest, NamespaceOf129BytesIsRefusedByEveryRpc) {
  const std::string ns(129, 'n');
  const std::string message = "namespace: must be 1 to 128 bytes, got 129";
  v1::GetResponse get;
  v1::ListResponse list;
  ExpectInvalid(Set(ns, "k", "v"), message);
  ExpectInvalid(Get(ns, "k", &get), message);
  ExpectInvalid(Delete(ns, "k"), message);
  ExpectInvalid(List(ListOf(ns), &list), message);
  EXPECT_EQ(gated_->write_calls(), 0);
}

TEST_F(E2eTest, EmptyNamespaceIsRefusedByEveryRpc) {
  const std::string message = "namespace: must be 1 to 128 bytes, got 0";
  v1::GetResponse get;
  v1::ListResponse list;
  ExpectInvalid(Set("", "k", "v"), message);
  ExpectInvalid(Get("", "k", &get), message);
  ExpectInvalid(Delete("", "k"), message);
  ExpectInvalid(List(ListOf(""), &list), message);
}

TEST_F(E2eTest, NamespaceWithForbiddenCharactersIsRefused) {
  for (const std::string ns :
       {"my app", "my/app", "my:app", "caf\xc3\xa9", "tab\t"}) {
    grpc::Status status = Set(ns, "k", "v");
    ExpectInvalid(status, "namespace: must contain only [A-Za-z0-9._-]");
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(ns)));
  }
  EXPECT_TRUE(Set("Az09._-", "k", "v").ok());
}

TEST_F(E2eTest, KeyOf1024BytesIsValidAnd1025IsRefused) {
  const std::string key(1024, 'k');
  ASSERT_TRUE(Set("myapp", key, "v").ok());
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", key, &get).ok());
  EXPECT_TRUE(get.found());

  const std::string too_long(1025, 'k');
  const std::string message = "key: must be 1 to 1024 bytes, got 1025";
  ExpectInvalid(Set("myapp", too_long, "v"), message);
  ExpectInvalid(Get("myapp", too_long, &get), message);
  ExpectInvalid(Delete("myapp", too_long), message);
}

TEST_F(E2eTest, EmptyKeyIsRefused) {
  const std::string message = "key: must be 1 to 1024 bytes, got 0";
  v1::GetResponse get;
  ExpectInvalid(Set("myapp", "", "v"), message);
  ExpectInvalid(Get("myapp", "", &get), message);
  ExpectInvalid(Delete("myapp", ""), message);
}

TEST_F(E2eTest, ValueAtTheLimitIsStoredAndOneOverIsRefused) {
  const std::string at_limit(kSmallLimit, 'v');
  ASSERT_TRUE(Set("myapp", "k", at_limit).ok());
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_EQ(get.value(), at_limit);

  grpc::Status status = Set("myapp", "k2", std::string(kSmallLimit + 1, 'v'));
  ExpectInvalid(status, "value: must be at most 1024 bytes, got 1025");
  ASSERT_TRUE(Get("myapp", "k2", &get).ok());
  EXPECT_FALSE(get.found());
}

TEST_F(E2eTest, ValueFarOverTheLimitIsRefusedByTheTransport) {
  grpc::Status status = Set("myapp", "k", std::string(512 << 10, 'v'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_EQ(gated_->write_calls(), 0);
}

TEST_F(E2eTest, DefaultLimitOf25MiBHoldsAtAndOneOverTheEdge) {
  // A second server on the same store, with the default limit.
  StartServer(ServerOptions().max_value_bytes);
  const std::string at_limit(26214400, 'v');
  ASSERT_TRUE(Set("myapp", "big", at_limit).ok());
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "big", &get).ok());
  EXPECT_EQ(get.value().size(), at_limit.size());
  EXPECT_TRUE(get.value() == at_limit);

  ExpectInvalid(Set("myapp", "big2", std::string(26214401, 'v')),
                "value: must be at most 26214400 bytes, got 26214401");
}

TEST_F(E2eTest, TtlEdges) {
  for (int32_t ttl : {0, 1, 2592000}) {
    EXPECT_TRUE(Set("myapp", absl::StrCat("ttl", ttl), "v", ttl).ok()) << ttl;
  }
  for (int32_t ttl : {-1, 2592001}) {
    const std::string key = absl::StrCat("bad", ttl);
    ExpectInvalid(Set("myapp", key, "v", ttl),
                  "ttl_seconds: must be 0 (no expiry) or 1 to 2592000");
    v1::GetResponse get;
    ASSERT_TRUE(Get("myapp", key, &get).ok());
    EXPECT_FALSE(get.found()) << ttl;
  }
}

TEST_F(E2eTest, PageSizeEdges) {
  WriteKeys("myapp", "k", 1001);

  v1::ListResponse page;
  ExpectInvalid(List(ListOf("myapp", "", -1), &page), "page_size:");

  ASSERT_TRUE(List(ListOf("myapp", "", 0), &page).ok());
  EXPECT_EQ(page.keys_size(), 100);
  EXPECT_FALSE(page.next_page_token().empty());

  page.Clear();
  ASSERT_TRUE(List(ListOf("myapp", "", 1000), &page).ok());
  EXPECT_EQ(page.keys_size(), 1000);

  page.Clear();
  ASSERT_TRUE(List(ListOf("myapp", "", 1001), &page).ok());
  EXPECT_EQ(page.keys_size(), 1000);
  EXPECT_FALSE(page.next_page_token().empty());
}

TEST_F(E2eTest, PrefixOf1024BytesIsValidAnd1025IsRefused) {
  const std::string key(1024, 'p');
  ASSERT_TRUE(Set("myapp", key, "v").ok());
  v1::ListResponse page;
  ASSERT_TRUE(List(ListOf("myapp", key), &page).ok());
  EXPECT_THAT(page.keys(), ElementsAre(key));
  ExpectInvalid(List(ListOf("myapp", std::string(1025, 'p')), &page),
                "prefix: must be at most 1024 bytes, got 1025");
}

TEST_F(E2eTest, FirstBadFieldInFieldOrderIsNamed) {
  const std::string over(kSmallLimit + 1, 'v');
  ExpectInvalid(Set("bad ns", "", over, -1), "namespace:");
  ExpectInvalid(Set("ns", "", over, -1), "key:");
  ExpectInvalid(Set("ns", "k", over, -1), "value:");
  ExpectInvalid(Set("ns", "k", "v", -1), "ttl_seconds:");

  v1::ListResponse page;
  ExpectInvalid(List(ListOf("", std::string(1025, 'p'), -1, "junk"), &page),
                "namespace:");
  ExpectInvalid(List(ListOf("ns", std::string(1025, 'p'), -1, "junk"), &page),
                "prefix:");
  ExpectInvalid(List(ListOf("ns", "p", -1, "junk"), &page), "page_size:");
  ExpectInvalid(List(ListOf("ns", "p", 1, "junk"), &page), "page_token:");
  EXPECT_EQ(gated_->write_calls(), 0);
}

TEST_F(E2eTest, AllFieldsEmptyIsRefusedNamingNamespace) {
  v1::GetResponse get;
  v1::ListResponse list;
  grpc::ClientContext ctx;
  v1::SetResponse set;
  ExpectInvalid(stub_->Set(&ctx, v1::SetRequest(), &set), "namespace:");
  ExpectInvalid(Get("", "", &get), "namespace:");
  ExpectInvalid(List(v1::ListRequest(), &list), "namespace:");
}

TEST_F(E2eTest, InvalidUtf8IsRefusedByTheRuntimeAndNothingIsStored) {
  const std::string bad = "\xff\xfe";
  EXPECT_EQ(Set("myapp", bad, "v").error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(Set("myapp", "k", bad).error_code(), grpc::StatusCode::INTERNAL);
  v1::GetResponse get;
  EXPECT_EQ(Get("myapp", bad, &get).error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(gated_->write_calls(), 0);

  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_FALSE(get.found());
  v1::ListResponse list;
  ASSERT_TRUE(List(ListOf("myapp"), &list).ok());
  EXPECT_THAT(list.keys(), IsEmpty());
}

TEST_F(E2eTest, MessagesNeverEchoTheKeyOrValue) {
  const std::string key = "secret-key-" + std::string(1020, 's');
  grpc::Status status = Set("myapp", key, "v");
  ExpectInvalid(status, "key:");
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("secret")));

  status = Set("myapp", "k", "secret-value" + std::string(kSmallLimit, 'x'));
  ExpectInvalid(status, "value:");
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("secret")));
}

// --- List paging -----------------------------------------------------

TEST_F(E2eTest, ListPagesAreFullInByteOrderAndEndWithAnEmptyToken) {
  WriteKeys("myapp", "k", 250);
  ASSERT_TRUE(Set("myapp", "other", "v").ok());

  std::vector<std::string> keys = ListAll("myapp", "k", 100);
  ASSERT_EQ(keys.size(), 250u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 250u);
  EXPECT_EQ(keys.front(), "k0000");
  EXPECT_EQ(keys.back(), "k0249");
}

TEST_F(E2eTest, ListOfAnExactMultipleEndsWithAnEmptyToken) {
  WriteKeys("myapp", "k", 4);
  v1::ListResponse page;
  ASSERT_TRUE(List(ListOf("myapp", "", 2), &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  v1::ListResponse last;
  ASSERT_TRUE(List(ListOf("myapp", "", 2, page.next_page_token()), &last).ok());
  EXPECT_THAT(last.keys(), ElementsAre("k0002", "k0003"));
  EXPECT_EQ(last.next_page_token(), "");
}

TEST_F(E2eTest, ListOfAnEmptyNamespaceIsEmpty) {
  v1::ListResponse page;
  ASSERT_TRUE(List(ListOf("nobody"), &page).ok());
  EXPECT_THAT(page.keys(), IsEmpty());
  EXPECT_EQ(page.next_page_token(), "");
}

TEST_F(E2eTest, PageTokenSurvivesARestart) {
  WriteKeys("myapp", "k", 5);
  v1::ListResponse first;
  ASSERT_TRUE(List(ListOf("myapp", "k", 2), &first).ok());
  EXPECT_THAT(first.keys(), ElementsAre("k0000", "k0001"));

  Restart();
  v1::ListResponse second;
  grpc::Status status =
      List(ListOf("myapp", "k", 2, first.next_page_token()), &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(second.keys(), ElementsAre("k0002", "k0003"));
}

TEST_F(E2eTest, PageTokenOfAnotherNamespaceOrPrefixIsRefused) {
  WriteKeys("myapp", "k", 3);
  WriteKeys("other", "k", 3);
  v1::ListResponse page;
  ASSERT_TRUE(List(ListOf("myapp", "k", 1), &page).ok());
  const std::string token = page.next_page_token();
  ASSERT_FALSE(token.empty());

  v1::ListResponse refused;
  ExpectInvalid(List(ListOf("other", "k", 1, token), &refused), "page_token:");
  ExpectInvalid(List(ListOf("myapp", "", 1, token), &refused), "page_token:");
  ExpectInvalid(List(ListOf("myapp", "k0", 1, token), &refused), "page_token:");
  ExpectInvalid(List(ListOf("myapp", "k", 1, "garbage!"), &refused),
                "page_token:");
}

TEST_F(E2eTest, KeysWrittenWhilePagingAppearAtMostOnce) {
  WriteKeys("myapp", "k", 4);
  v1::ListResponse first;
  ASSERT_TRUE(List(ListOf("myapp", "", 2), &first).ok());
  // One key before the token's position and one after it.
  ASSERT_TRUE(Set("myapp", "k0000a", "v").ok());
  ASSERT_TRUE(Set("myapp", "k0002a", "v").ok());
  v1::ListResponse rest;
  ASSERT_TRUE(
      List(ListOf("myapp", "", 10, first.next_page_token()), &rest).ok());
  EXPECT_THAT(rest.keys(), ElementsAre("k0002", "k0002a", "k0003"));
}

// --- deadlines, cancellation and shutdown ----------------------------

TEST_F(E2eTest, DeadlinePassingWhileTheStoreWritesIsReportedToTheClient) {
  gated_->HoldWrites();
  v1::SetRequest request;
  request.set_namespace_("myapp");
  request.set_key("k");
  request.set_value("v");
  v1::SetResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(200));
  grpc::Status status = stub_->Set(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  // The store's late answer finishes a call the client has left; the
  // server stays healthy.
  gated_->ReleaseWrites();
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k", &get).ok());
  EXPECT_TRUE(get.found());
}

TEST_F(E2eTest, ClientsThatDisappearMidCallLeaveAWorkingServer) {
  gated_->HoldWrites();
  constexpr int kCalls = 8;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<v1::SetResponse> responses(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
  }
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      v1::SetRequest request;
      request.set_namespace_("myapp");
      request.set_key(absl::StrCat("k", i));
      request.set_value("v");
      statuses[i] = stub_->Set(contexts[i].get(), request, &responses[i]);
    });
  }
  gated_->WaitForHeldWrites(kCalls);
  for (auto& ctx : contexts) ctx->TryCancel();
  for (std::thread& thread : threads) thread.join();
  for (const grpc::Status& status : statuses) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  }

  gated_->ReleaseWrites();
  v1::GetResponse get;
  ASSERT_TRUE(Get("myapp", "k0", &get).ok());
  EXPECT_TRUE(get.found());
}

TEST_F(E2eTest, ShutdownCutsOffCallsStillRunningAtTheDrainDeadline) {
  StopAll();
  OpenStore();
  StartServer(kSmallLimit, 2, absl::Milliseconds(300));
  gated_->HoldWrites();

  grpc::Status status;
  std::thread call([&] { status = Set("myapp", "k", "v"); });
  gated_->WaitForHeldWrites(1);

  std::thread shutdown([this] { server_->Shutdown(); });
  call.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  // Shutdown waits for the store to answer every write it was handed.
  gated_->ReleaseWrites();
  shutdown.join();
}

TEST_F(E2eTest, ShutdownLetsACallInFlightFinish) {
  gated_->HoldWrites();
  grpc::Status status;
  std::thread call([&] { status = Set("myapp", "k", "v"); });
  gated_->WaitForHeldWrites(1);

  std::thread shutdown([this] { server_->Shutdown(); });
  gated_->ReleaseWrites();
  call.join();
  shutdown.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(E2eTest, CallsAfterShutdownAreUnavailable) {
  ASSERT_TRUE(Set("myapp", "k", "v").ok());
  server_->Shutdown();
  server_->Shutdown();  // Idempotent.
  EXPECT_EQ(Set("myapp", "k", "v").error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(E2eTest, ManyConcurrentWritersAllGetDistinctVersions) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::vector<uint64_t>> versions(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = test::NewKvStub(server_->address());
      for (int i = 0; i < kPerThread; ++i) {
        v1::SetRequest request;
        request.set_namespace_("myapp");
        request.set_key(absl::StrCat("t", t, "-", i));
        request.set_value("v");
        v1::SetResponse response;
        grpc::ClientContext ctx;
        SetDeadline(&ctx);
        // This test is about versions, not connecting: a connection attempt
        // that fails on a loaded machine is retried within the deadline.
        ctx.set_wait_for_ready(true);
        grpc::Status status = stub->Set(&ctx, request, &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
        versions[t].push_back(response.version());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<uint64_t> all;
  for (const auto& list : versions) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(all.count(0), 0u);
}

TEST_F(E2eTest, StartRefusesBadOptions) {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.max_value_bytes = 67108865;
  EXPECT_EQ(Server::Start(options, gated_.get()).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.max_value_bytes = 1024;
  for (int threads : {0, kMaxServerThreads + 1}) {
    options.threads = threads;
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(options, gated_.get());
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << threads;
    EXPECT_THAT(server.status().message(), HasSubstr("threads: must be 1 to"));
  }
}

TEST_F(E2eTest, StartOnAPortInUseFails) {
  ServerOptions options;
  options.listen = server_->address();
  absl::StatusOr<std::unique_ptr<Server>> second =
      Server::Start(options, gated_.get());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(E2eTest, AddressNamesTheBoundPort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
}

}  // namespace
}  // namespace kv
