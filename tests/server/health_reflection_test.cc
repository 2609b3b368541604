// Health and reflection of the real kv-server binary, through clients
// generated from Debian's grpc-proto files (what grpcurl and load
// balancers speak).

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "store/testing/temp_dir.h"
#include "tests/server/server_process.h"
#include "tests/server/test_support.h"

namespace kv {
namespace {

using ::grpc::health::v1::Health;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;

class HealthReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<test::ServerProcess>(
        test::KvServerBinary(),
        std::vector<std::string>{"--listen=127.0.0.1:0",
                                 absl::StrCat("--data_dir=", dir_.path())});
    std::optional<int> port = server_->WaitForPort(absl::Seconds(20));
    ASSERT_TRUE(port.has_value()) << server_->stderr_text();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", *port),
                                   grpc::InsecureChannelCredentials());
  }

  void TearDown() override {
    channel_.reset();
    server_->Signal(SIGTERM);
    std::optional<int> status = server_->WaitForExit(absl::Seconds(20));
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(WEXITSTATUS(*status), 0);
  }

  grpc::Status Check(const std::string& service,
                     HealthCheckResponse* response) {
    HealthCheckRequest request;
    request.set_service(service);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    return Health::NewStub(channel_)->Check(&ctx, request, response);
  }

  // Reflect sends one reflection request and answers the response.
  ServerReflectionResponse Reflect(const ServerReflectionRequest& request) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    auto stub = ServerReflection::NewStub(channel_);
    auto stream = stub->ServerReflectionInfo(&ctx);
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    ServerReflectionResponse response;
    EXPECT_TRUE(stream->Read(&response));
    ServerReflectionResponse extra;
    while (stream->Read(&extra)) {
    }
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  kv::testing::TempDir dir_;
  std::unique_ptr<test::ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(HealthReflectionTest, ServerAndKvServiceAreServing) {
  for (const std::string service : {"", "kv.v1.KV"}) {
    HealthCheckResponse response;
    grpc::Status status = Check(service, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
}

TEST_F(HealthReflectionTest, UnknownServiceIsNotFound) {
  HealthCheckResponse response;
  EXPECT_EQ(Check("no.such.Service", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(HealthReflectionTest, ReflectionListsTheKvService) {
  ServerReflectionRequest request;
  request.set_list_services("");
  ServerReflectionResponse response = Reflect(request);
  ASSERT_TRUE(response.has_list_services_response());
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_THAT(names, Contains("kv.v1.KV"));
  EXPECT_THAT(names, Contains("grpc.health.v1.Health"));
}

TEST_F(HealthReflectionTest, ReflectionServesTheFileDescriptorOfKvProto) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol("kv.v1.KV");
  ServerReflectionResponse response = Reflect(request);
  ASSERT_TRUE(response.has_file_descriptor_response())
      << response.DebugString();

  bool found = false;
  for (const std::string& bytes :
       response.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    if (file.name() != "kv/v1/kv.proto") continue;
    found = true;
    EXPECT_EQ(file.package(), "kv.v1");
    ASSERT_EQ(file.service_size(), 1);
    EXPECT_EQ(file.service(0).name(), "KV");
    std::set<std::string> methods;
    for (const auto& method : file.service(0).method()) {
      methods.insert(method.name());
    }
    EXPECT_EQ(methods, (std::set<std::string>{"Get", "Set", "Delete", "List"}));
  }
  EXPECT_TRUE(found) << "kv/v1/kv.proto not in the answer";
}

TEST_F(HealthReflectionTest, ReflectionDescribesARequestMessage) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol("kv.v1.SetRequest");
  ServerReflectionResponse response = Reflect(request);
  ASSERT_TRUE(response.has_file_descriptor_response());
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(
      response.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "kv/v1/kv.proto");
}

}  // namespace
}  // namespace kv
