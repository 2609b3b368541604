// server: a running kv.v1.KV gRPC server over a Store.
//
// Server is what kv-server runs and what tests start in-process. It
// serves the KV service on gRPC's completion-queue API (one queue and one
// thread per ServerOptions::threads), the standard health service on the
// same queues (grpc.health.v1, health_service.h; "" and "kv.v1.KV" are
// SERVING until Shutdown starts)
// and server reflection (grpc.reflection.v1alpha, what grpcurl speaks).
//
// Example:
//
//   kv::ServerOptions options;
//   options.listen = "127.0.0.1:0";
//   absl::StatusOr<std::unique_ptr<kv::Server>> server =
//       kv::Server::Start(options, store.get());
//   if (!server.ok()) return server.status();
//   Dial((*server)->address());
//   ...
//   (*server)->Shutdown();
//
// Thread safety: every method may be called from any thread.

#ifndef KV_SERVICE_SERVER_H_
#define KV_SERVICE_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace grpc {
class Server;
class ServerCompletionQueue;
}  // namespace grpc

namespace kv {

class HealthService;
class KvService;

// kMaxServerThreads is the most threads ServerOptions::threads may ask for.
inline constexpr int kMaxServerThreads = 256;

// ServerOptions configures a Server.
struct ServerOptions {
  // listen is the HOST:PORT to listen on, without TLS; port 0 picks a
  // free port (see Server::port).
  std::string listen = "127.0.0.1:50051";
  // max_value_bytes is the largest value Set accepts, 1 to 67,108,864.
  // The transport accepts messages up to this plus 64 KiB, so a value a
  // little over the limit is answered INVALID_ARGUMENT by the service,
  // and a far larger message RESOURCE_EXHAUSTED by gRPC.
  int64_t max_value_bytes = 26214400;
  // drain_timeout is how long Shutdown lets calls in flight finish before
  // it cuts them off (their clients then see UNAVAILABLE).
  absl::Duration drain_timeout = absl::Seconds(5);
  // threads is the number of completion queues, each with its own thread;
  // 1 to kMaxServerThreads.
  int threads = 2;
};

class Server {
 public:
  // Start serves store (not owned; it must outlive the Server) as
  // options say and returns once the server accepts calls.
  //
  // Returns INVALID_ARGUMENT for options out of range (naming the field)
  // and UNAVAILABLE when the address cannot be listened on.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, Store* store);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The destructor calls Shutdown.
  ~Server();

  // port answers the port the server listens on.
  int port() const { return port_; }

  // address answers "HOST:PORT" with the host of ServerOptions::listen and
  // the bound port, e.g. "127.0.0.1:41234".
  std::string address() const { return address_; }

  // Shutdown turns health NOT_SERVING and stops accepting calls, lets the
  // KV calls in flight finish for up to drain_timeout, then cuts every call
  // left (its client sees UNAVAILABLE) and every connection, idle ones
  // included, so that idle clients do not delay it; streams of the health
  // and reflection services are cut then too. It then waits for every
  // write handed to the store to be answered and stops the service
  // threads. Blocks until then. Idempotent: a second call, also from
  // another thread, returns once the first has finished.
  void Shutdown();

 private:
  Server(const ServerOptions& options, Store* store);

  const ServerOptions options_;
  int port_ = 0;
  std::string address_;
  std::unique_ptr<KvService> service_;
  std::unique_ptr<HealthService> health_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::thread> threads_;

  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace kv

#endif  // KV_SERVICE_SERVER_H_
