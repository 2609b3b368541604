#include "service/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "service/health_service.h"
#include "service/kv_service.h"
#include "service/limits.h"

namespace kv {
namespace {

// Room for the other fields and the framing of a SetRequest whose value
// is at the limit: namespace and key take at most 1,152 bytes.
constexpr int64_t kTransportHeadroomBytes = 64 << 10;

constexpr char kServiceName[] = "kv.v1.KV";

// HostOf answers the host part of a HOST:PORT address ("[::1]" stays in
// brackets).
std::string HostOf(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  return listen.substr(0, colon);
}

}  // namespace

Server::Server(const ServerOptions& options, Store* store)
    : options_(options),
      service_(std::make_unique<KvService>(store, options.max_value_bytes)),
      health_(std::make_unique<HealthService>()) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, Store* store) {
  absl::Status valid = ValidateMaxValueBytes(options.max_value_bytes);
  if (!valid.ok()) return valid;
  if (options.threads < 1 || options.threads > kMaxServerThreads) {
    return absl::InvalidArgumentError(absl::StrCat("threads: must be 1 to ",
                                                   kMaxServerThreads, ", not ",
                                                   options.threads));
  }
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("drain_timeout: must not be negative");
  }

  // A process-wide switch read when a server is built. gRPC's default
  // health service stays off: HealthService replaces it (health_service.h
  // says why).
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<Server> server(new Server(options, store));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server
  // share a port in use instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(options.max_value_bytes + kTransportHeadroomBytes));
  builder.RegisterService(server->service_->grpc_service());
  builder.RegisterService(server->health_->grpc_service());
  for (int i = 0; i < options.threads; ++i) {
    server->queues_.push_back(builder.AddCompletionQueue());
  }

  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    // The queues were never served; they still have to be shut down and
    // drained before they are destroyed.
    if (server->server_ != nullptr) server->server_->Shutdown();
    for (auto& queue : server->queues_) {
      queue->Shutdown();
      void* tag;
      bool ok;
      while (queue->Next(&tag, &ok)) {
      }
    }
    server->queues_.clear();
    absl::MutexLock lock(&server->shutdown_mu_);
    server->shut_down_ = true;
    return absl::UnavailableError(
        absl::StrCat("listen: cannot listen on ", options.listen));
  }
  server->port_ = port;
  server->address_ = absl::StrCat(HostOf(options.listen), ":", port);

  server->health_->SetServingStatus("", true);
  server->health_->SetServingStatus(kServiceName, true);

  for (auto& queue : server->queues_) {
    grpc::ServerCompletionQueue* cq = queue.get();
    KvService* service = server->service_.get();
    HealthService* health = server->health_.get();
    server->threads_.emplace_back([service, health, cq] {
      health->StartOn(cq);
      service->Serve(cq);
    });
  }
  return server;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;

  // Health first, so that a balancer stops sending calls before they
  // would be refused.
  health_->Shutdown();

  // gRPC's Shutdown stops new calls and waits for every connection to
  // close, which an idle client never does, until the deadline. So it runs
  // on a helper thread while this one waits for the KV calls in flight;
  // once they are answered (or the drain deadline passes), every call left
  // (their clients see UNAVAILABLE) and every connection is cut.
  const absl::Time deadline = absl::Now() + options_.drain_timeout;
  absl::Notification grpc_stopped;
  std::thread shutdown_thread([this, deadline, &grpc_stopped] {
    server_->Shutdown(absl::ToChronoTime(deadline));
    grpc_stopped.Notify();
  });
  service_->WaitForIdle(deadline);
  // The helper may not have begun gRPC's Shutdown yet when the calls are
  // done, and a client may connect until it has; so connections are cut
  // until gRPC reports that it has stopped.
  do {
    grpc_server_cancel_all_calls(server_->c_server());
  } while (
      !grpc_stopped.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  shutdown_thread.join();

  health_->StopServing();
  service_->StopServing();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  shut_down_ = true;
}

}  // namespace kv
