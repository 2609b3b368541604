// cpp_check: proves that the C++ code from `scripts/gen-clients cpp`
// compiles and works: a Get through the generated stub reaches a server
// built on the generated service base class, over loopback.

#include <iostream>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "kv/v1/kv.grpc.pb.h"
#include "kv/v1/kv.pb.h"

namespace kv {
namespace {

// EchoKV answers every Get with the key it was asked for as the value.
class EchoKV final : public v1::KV::Service {
  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest* request,
                   v1::GetResponse* response) override {
    response->set_found(true);
    response->set_value(request->namespace_() + "/" + request->key());
    response->set_version(7);
    return grpc::Status::OK;
  }
};

int Check() {
  v1::SetRequest set;
  set.set_namespace_("ns");
  set.set_key("k");
  set.set_ttl_seconds(60);
  v1::SetRequest parsed;
  if (!parsed.ParseFromString(set.SerializeAsString()) ||
      parsed.ttl_seconds() != 60) {
    std::cerr << "FAIL: SetRequest does not round trip\n";
    return 1;
  }

  EchoKV service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "FAIL: server did not start\n";
    return 1;
  }

  auto stub = v1::KV::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  v1::GetRequest request;
  request.set_namespace_("ns");
  request.set_key("k");
  v1::GetResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Get(&context, request, &response);
  server->Shutdown();
  if (!status.ok() || !response.found() || response.value() != "ns/k" ||
      response.version() != 7) {
    std::cerr << "FAIL: Get answered " << status.error_message() << " "
              << response.ShortDebugString() << "\n";
    return 1;
  }
  std::cout << "cpp: Get through the generated stub answered "
            << response.ShortDebugString() << "\n";
  return 0;
}

}  // namespace
}  // namespace kv

int main() { return kv::Check(); }
