// Health during shutdown: an in-process Server over a GatedStore holds a
// Set in flight, so the drain lasts until the test lets it end, and a
// Watch stream opened before Shutdown sees the status turn NOT_SERVING.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "service/server.h"
#include "store/leveldb_store.h"
#include "store/testing/temp_dir.h"
#include "tests/server/test_support.h"

namespace kv {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

TEST(HealthShutdown, WatchersSeeNotServingOnceShutdownStarts) {
  kv::testing::TempDir dir;
  LevelDbStore::Options store_options;
  store_options.path = dir.path();
  store_options.sync = false;
  absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
      LevelDbStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  test::GatedStore gated(store->get());

  ServerOptions options;
  options.listen = "127.0.0.1:0";
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(options, &gated);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel((*server)->address(),
                                     grpc::InsecureChannelCredentials());

  for (const std::string service : {"", "kv.v1.KV"}) {
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Health::NewStub(channel)->Check(&ctx, request, &response).ok());
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  }

  HealthCheckRequest watch_request;
  watch_request.set_service("kv.v1.KV");
  grpc::ClientContext watch_ctx;
  auto health = Health::NewStub(channel);
  auto watch = health->Watch(&watch_ctx, watch_request);
  HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);

  // A Set held in the store keeps the drain going.
  gated.HoldWrites();
  auto kv_stub = test::NewKvStub((*server)->address());
  grpc::Status set_status;
  std::thread set_call([&] {
    v1::SetRequest request;
    request.set_namespace_("ns");
    request.set_key("k");
    request.set_value("v");
    v1::SetResponse response;
    grpc::ClientContext ctx;
    set_status = kv_stub->Set(&ctx, request, &response);
  });
  gated.WaitForHeldWrites(1);

  std::thread shutdown([&] { (*server)->Shutdown(); });
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);

  gated.ReleaseWrites();
  set_call.join();
  EXPECT_TRUE(set_status.ok()) << set_status.error_message();
  watch_ctx.TryCancel();
  watch->Finish();
  shutdown.join();
}

}  // namespace
}  // namespace kv
