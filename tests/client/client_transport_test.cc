// Tests of what the client does on the wire, against small servers built
// here rather than kv-server: the token header, deadlines, retries, the
// UTF-8 check before any call, and the environment.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kv/v1/kv.grpc.pb.h"

namespace kv {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// FakeKv answers from memory of nothing: Get finds "value" at version 7,
// Set answers version 8, List answers the keys "a" and "b", and Delete
// refuses with PERMISSION_DENIED. The first unavailable_first calls, of
// any method, answer UNAVAILABLE instead. It records the authorization
// metadata of the last call and the size of the last value set.
class FakeKv final : public kv::v1::KV::Service {
 public:
  explicit FakeKv(int unavailable_first = 0)
      : unavailable_left_(unavailable_first) {}

  grpc::Status Get(grpc::ServerContext* context,
                   const kv::v1::GetRequest* /*request*/,
                   kv::v1::GetResponse* response) override {
    if (!Admit(context)) return Unavailable();
    response->set_found(true);
    response->set_value("value");
    response->set_version(7);
    return grpc::Status::OK;
  }

  grpc::Status Set(grpc::ServerContext* context,
                   const kv::v1::SetRequest* request,
                   kv::v1::SetResponse* response) override {
    if (!Admit(context)) return Unavailable();
    last_value_size_.store(request->value().size());
    response->set_version(8);
    return grpc::Status::OK;
  }

  grpc::Status Delete(grpc::ServerContext* context,
                      const kv::v1::DeleteRequest* /*request*/,
                      kv::v1::DeleteResponse* /*response*/) override {
    if (!Admit(context)) return Unavailable();
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "token may not write namespace myapp");
  }

  grpc::Status List(grpc::ServerContext* context,
                    const kv::v1::ListRequest* /*request*/,
                    kv::v1::ListResponse* response) override {
    if (!Admit(context)) return Unavailable();
    response->add_keys("a");
    response->add_keys("b");
    return grpc::Status::OK;
  }

  size_t last_value_size() const { return last_value_size_.load(); }
  int calls() const { return calls_.load(); }

  // authorization returns the authorization metadata of the last call, or
  // std::nullopt when it carried none.
  std::optional<std::string> authorization() {
    absl::MutexLock lock(&mu_);
    return authorization_;
  }

 private:
  static grpc::Status Unavailable() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
  }

  // Admit records the call and answers false while calls are still to be
  // refused as UNAVAILABLE.
  bool Admit(grpc::ServerContext* context) {
    Record(context);
    return unavailable_left_.fetch_sub(1) <= 0;
  }

  void Record(grpc::ServerContext* context) {
    calls_.fetch_add(1);
    absl::MutexLock lock(&mu_);
    auto it = context->client_metadata().find("authorization");
    if (it == context->client_metadata().end()) {
      authorization_ = std::nullopt;
    } else {
      authorization_ = std::string(it->second.data(), it->second.size());
    }
  }

  std::atomic<int> unavailable_left_;
  std::atomic<int> calls_{0};
  std::atomic<size_t> last_value_size_{0};
  absl::Mutex mu_;
  std::optional<std::string> authorization_ ABSL_GUARDED_BY(mu_);
};

// FakeServer runs a FakeKv on 127.0.0.1 with a port the kernel picks.
class FakeServer {
 public:
  explicit FakeServer(int unavailable_first = 0) : service_(unavailable_first) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  FakeKv& service() { return service_; }
  bool started() const { return server_ != nullptr && port_ > 0; }

 private:
  FakeKv service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

ClientOptions OptionsFor(const std::string& address) {
  ClientOptions options;
  options.address = address;
  return options;
}

TEST(ClientTransport, TokenIsSentAsBearerAuthorization) {
  FakeServer server;
  ASSERT_TRUE(server.started());
  ClientOptions options = OptionsFor(server.address());
  options.token = "s3cret-token";
  KVStore store = Client(options).Namespace("myapp");

  ASSERT_TRUE(store.Get("k").ok());
  EXPECT_EQ(server.service().authorization(), "Bearer s3cret-token");
  ASSERT_TRUE(store.Set("k", "v").ok());
  EXPECT_EQ(server.service().authorization(), "Bearer s3cret-token");
}

TEST(ClientTransport, NoTokenSendsNoAuthorization) {
  FakeServer server;
  ASSERT_TRUE(server.started());
  KVStore store = Client(OptionsFor(server.address())).Namespace("myapp");

  ASSERT_TRUE(store.Get("k").ok());
  EXPECT_EQ(server.service().calls(), 1);
  EXPECT_EQ(server.service().authorization(), std::nullopt);
}

TEST(ClientTransport, UnavailableGetIsRetried) {
  FakeServer server(/*unavailable_first=*/1);
  ASSERT_TRUE(server.started());
  KVStore store = Client(OptionsFor(server.address())).Namespace("myapp");

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  ASSERT_TRUE(entry.ok()) << entry.status();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->value, "value");
  EXPECT_EQ((*entry)->version, 7u);
  EXPECT_EQ(server.service().calls(), 2);
}

TEST(ClientTransport, RetriesStopAfterFiveAttempts) {
  FakeServer server(/*unavailable_first=*/100);
  ASSERT_TRUE(server.started());
  KVStore store = Client(OptionsFor(server.address())).Namespace("myapp");

  absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get("k");
  EXPECT_EQ(entry.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(entry.status().message(), "try again");
  EXPECT_EQ(server.service().calls(), 5);
}

TEST(ClientTransport, UnavailableSetListAndDeleteAreRetried) {
  FakeServer set_server(/*unavailable_first=*/2);
  ASSERT_TRUE(set_server.started());
  absl::StatusOr<uint64_t> version =
      Client(OptionsFor(set_server.address())).Namespace("myapp").Set("k", "v");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 8u);
  EXPECT_EQ(set_server.service().calls(), 3);

  FakeServer list_server(/*unavailable_first=*/1);
  ASSERT_TRUE(list_server.started());
  absl::StatusOr<std::vector<std::string>> keys =
      Client(OptionsFor(list_server.address())).Namespace("myapp").ListAll();
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_THAT(*keys, ElementsAre("a", "b"));
  EXPECT_EQ(list_server.service().calls(), 2);

  // Delete is retried too; its final answer here is the fake's refusal.
  FakeServer delete_server(/*unavailable_first=*/1);
  ASSERT_TRUE(delete_server.started());
  absl::StatusOr<bool> deleted = Client(OptionsFor(delete_server.address()))
                                     .Namespace("myapp")
                                     .Delete("k");
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(delete_server.service().calls(), 2);
}

TEST(ClientTransport, SetOfLargeValueIsRetriedToo) {
  FakeServer server(/*unavailable_first=*/1);
  ASSERT_TRUE(server.started());
  ClientOptions options = OptionsFor(server.address());
  options.deadline = absl::Seconds(30);
  // Larger than gRPC's default per-call retry buffer (256 KiB), past which
  // gRPC would stop retrying.
  std::string value(1 << 20, 'v');
  absl::StatusOr<uint64_t> version =
      Client(options).Namespace("myapp").Set("k", value);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(server.service().calls(), 2);
  EXPECT_EQ(server.service().last_value_size(), value.size());
}

TEST(ClientTransport, ServerCodeAndMessageSurfaceUnchanged) {
  FakeServer server;
  ASSERT_TRUE(server.started());
  KVStore store = Client(OptionsFor(server.address())).Namespace("myapp");

  absl::StatusOr<bool> deleted = store.Delete("k");
  EXPECT_EQ(deleted.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(deleted.status().message(), "token may not write namespace myapp");
  // Only UNAVAILABLE is retried.
  EXPECT_EQ(server.service().calls(), 1);
}

// A socket that listens but never accepts: TCP connects (the kernel
// completes the handshake), and gRPC then waits for an HTTP/2 answer that
// never comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ < 0 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd_, 16) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) close(fd_);
  }

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ClientTransport, DeadlineIsHonoured) {
  SilentListener listener;
  ASSERT_GT(listener.port(), 0);
  ClientOptions options =
      OptionsFor(absl::StrCat("127.0.0.1:", listener.port()));
  options.deadline = absl::Milliseconds(300);
  KVStore store = Client(options).Namespace("myapp");

  EXPECT_EQ(store.Get("k").status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(store.Set("k", "v").status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

// Port 1 on loopback has no server: any call that reached the transport
// would end UNAVAILABLE, so INVALID_ARGUMENT proves that none was made.
KVStore Unreachable() {
  ClientOptions options = OptionsFor("127.0.0.1:1");
  // Generous, so that a loaded machine still sees the five quick refusals
  // end in UNAVAILABLE rather than DEADLINE_EXCEEDED.
  options.deadline = absl::Seconds(10);
  return Client(options).Namespace("myapp");
}

TEST(ClientTransport, UnreachableServerIsUnavailable) {
  EXPECT_EQ(Unreachable().Get("k").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ClientTransport, InvalidUtf8KeyIsRefusedWithoutCall) {
  absl::Status status = Unreachable().Get("bad\xff").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("key"));

  EXPECT_EQ(Unreachable().Delete("\xc0\x80").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientTransport, InvalidUtf8ValueIsRefusedWithoutCall) {
  absl::Status status = Unreachable().Set("k", "\xed\xa0\x80").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("value"));
}

TEST(ClientTransport, InvalidUtf8PrefixAndTokenAreRefusedWithoutCall) {
  absl::Status prefix = Unreachable().List("\x80").status();
  EXPECT_EQ(prefix.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(prefix.message(), HasSubstr("prefix"));

  absl::Status token = Unreachable().List("", 10, "\xfe").status();
  EXPECT_EQ(token.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(token.message(), HasSubstr("page_token"));

  EXPECT_EQ(Unreachable().ListAll("\xf5").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientTransport, InvalidUtf8NamespaceIsRefusedWithoutCall) {
  ClientOptions options = OptionsFor("127.0.0.1:1");
  KVStore store = Client(options).Namespace("my\xff");
  absl::Status status = store.Get("k").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("namespace"));
}

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));       // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));      // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));      // U+D7FF
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
}

TEST(Utf8, RejectsMalformedText) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\xaf"));  // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xf8\x88\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));  // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

// EnvironmentGuard sets or clears an environment variable for one test and
// puts the old state back afterwards.
class EnvironmentGuard {
 public:
  EnvironmentGuard(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, /*overwrite=*/1);
    }
  }
  ~EnvironmentGuard() {
    if (old_.has_value()) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ClientOptions, FromEnvironmentReadsAddressAndToken) {
  EnvironmentGuard address("KV_ADDRESS", "kv.example:6000");
  EnvironmentGuard token("KV_TOKEN", "t0ken");
  ClientOptions options = ClientOptions::FromEnvironment();
  EXPECT_EQ(options.address, "kv.example:6000");
  EXPECT_EQ(options.token, "t0ken");
  EXPECT_EQ(options.deadline, absl::Seconds(5));
}

TEST(ClientOptions, FromEnvironmentDefaultsWhenUnset) {
  EnvironmentGuard address("KV_ADDRESS", nullptr);
  EnvironmentGuard token("KV_TOKEN", nullptr);
  ClientOptions options = ClientOptions::FromEnvironment();
  EXPECT_EQ(options.address, "localhost:50051");
  EXPECT_EQ(options.token, "");
}

TEST(ClientOptions, KVStoreFromNameUsesEnvironment) {
  FakeServer server;
  ASSERT_TRUE(server.started());
  EnvironmentGuard address("KV_ADDRESS", server.address().c_str());
  EnvironmentGuard token("KV_TOKEN", "from-env");

  KVStore store("myapp");
  EXPECT_EQ(store.namespace_name(), "myapp");
  ASSERT_TRUE(store.Get("k").ok());
  EXPECT_EQ(server.service().authorization(), "Bearer from-env");
}

}  // namespace
}  // namespace kv
