// HealthService on its own gRPC server: Check and Watch through the stubs
// generated from Debian's health.proto, status changes, unknown services
// and the end of Watch streams when the server shuts down.

#include "service/health_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "service/cq_tag.h"

namespace kv {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(health_.grpc_service());
    cq_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    health_.StartOn(cq_.get());
    poller_ = std::thread([this] {
      void* tag;
      bool ok;
      while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->OnEvent(ok);
    });
    stub_ = Health::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override { StopServer(); }

  // StopServer shuts the server down, cutting every call still open, then
  // drains the queue as kv::Server does.
  void StopServer() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now());
    health_.StopServing();
    cq_->Shutdown();
    poller_.join();
    server_.reset();
  }

  grpc::Status Check(const std::string& service,
                     HealthCheckResponse* response) {
    HealthCheckRequest request;
    request.set_service(service);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    return stub_->Check(&ctx, request, response);
  }

  HealthService health_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::thread poller_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckAnswersTheStatusSet) {
  health_.SetServingStatus("", true);
  health_.SetServingStatus("a.B", false);

  HealthCheckResponse response;
  ASSERT_TRUE(Check("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Check("a.B", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthServiceTest, CheckOfUnknownServiceIsNotFound) {
  health_.SetServingStatus("", true);
  HealthCheckResponse response;
  EXPECT_EQ(Check("no.such.Service", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthServiceTest, WatchSendsTheStatusThenEveryChange) {
  health_.SetServingStatus("a.B", true);
  HealthCheckRequest request;
  request.set_service("a.B");
  grpc::ClientContext ctx;
  auto watch = stub_->Watch(&ctx, request);

  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  health_.SetServingStatus("a.B", false);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus("a.B", true);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  ctx.TryCancel();
  EXPECT_EQ(watch->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(HealthServiceTest, WatchOfUnknownServiceSaysSoUntilItIsSet) {
  HealthCheckRequest request;
  request.set_service("later.Service");
  grpc::ClientContext ctx;
  auto watch = stub_->Watch(&ctx, request);

  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  health_.SetServingStatus("later.Service", true);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  ctx.TryCancel();
  watch->Finish();
}

TEST_F(HealthServiceTest, ShutdownTurnsEveryServiceNotServingForGood) {
  health_.SetServingStatus("", true);
  health_.SetServingStatus("a.B", true);
  HealthCheckRequest request;
  request.set_service("a.B");
  grpc::ClientContext ctx;
  auto watch = stub_->Watch(&ctx, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);

  health_.Shutdown();
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus("a.B", true);
  for (const std::string service : {"", "a.B"}) {
    ASSERT_TRUE(Check(service, &response).ok()) << service;
    EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING) << service;
  }

  ctx.TryCancel();
  watch->Finish();
}

TEST_F(HealthServiceTest, ServerShutdownEndsWatchStreams) {
  health_.SetServingStatus("", true);
  HealthCheckRequest request;
  grpc::ClientContext ctx;
  auto watch = stub_->Watch(&ctx, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));

  StopServer();
  EXPECT_FALSE(watch->Read(&response));
  EXPECT_FALSE(watch->Finish().ok());
}

}  // namespace
}  // namespace kv
