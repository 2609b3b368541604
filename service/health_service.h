// health_service: the standard grpc.health.v1.Health service on gRPC's
// asynchronous (completion queue) API, served on kv-server's own queues.
//
// Why a hand-written one: gRPC 1.51's default health service
// (grpc::EnableDefaultHealthCheckService) is written on the callback API,
// and a server with a callback service runs extra polling threads for it
// ("nexting_thread"). Those threads poll the same sockets as kv-server's
// completion-queue threads and hand the work over; in the profile of the
// 19:53 benchmark run they took 23-27% of kv-server's CPU. This service
// costs nothing between health calls.
//
// It follows the health protocol (grpc/health/v1/health.proto): Check
// answers the status of a known service and NOT_FOUND for any other name;
// Watch sends the current status at once (SERVICE_UNKNOWN for a name not
// known) and then every change, until the client cancels or the server
// cuts the call at shutdown.
//
// Example (what Server does):
//
//   kv::HealthService health;
//   builder.RegisterService(health.grpc_service());
//   auto cq = builder.AddCompletionQueue();
//   ... server = builder.BuildAndStart();
//   health.SetServingStatus("", true);
//   std::thread t([&] { health.StartOn(cq.get()); kv.Serve(cq.get()); });
//   ... on shutdown:
//   health.Shutdown();                  // watchers see NOT_SERVING
//   ... server->Shutdown(), which cuts the Watch streams, then:
//   health.StopServing();
//   kv.StopServing();                   // shuts cq down
//
// Thread safety: every method may be called from any thread.

#ifndef KV_SERVICE_HEALTH_SERVICE_H_
#define KV_SERVICE_HEALTH_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace kv {

class HealthWatchCall;

class HealthService {
 public:
  // Starts with no service known: every Check answers NOT_FOUND until
  // SetServingStatus names one.
  HealthService();
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // The destructor expects every queue given to StartOn to be drained.
  ~HealthService();

  // grpc_service answers the service to register with a ServerBuilder
  // before the server is built. Owned by this object.
  grpc::Service* grpc_service() { return &async_service_; }

  // StartOn asks gRPC for Check and Watch calls on cq, whose server must
  // have been built with grpc_service() registered. The calls' events come
  // back on cq as CqTags (cq_tag.h) for the thread that polls it, such as
  // KvService::Serve. Does nothing after StopServing.
  void StartOn(grpc::ServerCompletionQueue* cq);

  // SetServingStatus makes service (a fully qualified service name, or ""
  // for the whole server) known as SERVING or NOT_SERVING and sends the
  // status to every Watch of that name. Ignored after Shutdown.
  void SetServingStatus(const std::string& service, bool serving);

  // Shutdown turns every known service NOT_SERVING, tells every Watch, and
  // makes later SetServingStatus calls no-ops. Watch streams stay open
  // until the server cuts them. Idempotent.
  void Shutdown();

  // StopServing stops asking gRPC for new calls, so that the queues given
  // to StartOn may be shut down. Call it after the server's Shutdown has
  // returned and before the queues are shut down. Idempotent.
  void StopServing();

 private:
  // The per-call state machines (health_service.cc).
  friend class HealthCall;
  friend class HealthWatchCall;

  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Queue is one completion queue given to StartOn.
  struct Queue {
    grpc::ServerCompletionQueue* cq;
    absl::Mutex mu;
    // open is false once StopServing has run: the queue may then be shut
    // down, and requesting a call on it is no longer allowed.
    bool open ABSL_GUARDED_BY(mu) = true;
  };

  // StatusOf answers the status of service, or SERVICE_UNKNOWN.
  Status StatusOf(const std::string& service) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Lookup answers the status of service as Check sees it, or
  // SERVICE_UNKNOWN.
  Status Lookup(const std::string& service) ABSL_LOCKS_EXCLUDED(mu_);
  // AddWatcher registers call for the changes of service and sends it the
  // current status. RemoveWatcher undoes it; once it returns, call is
  // never told of a change again.
  void AddWatcher(const std::string& service, HealthWatchCall* call)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveWatcher(const std::string& service, HealthWatchCall* call)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Notify sends the status of service to its watchers.
  void Notify(const std::string& service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  grpc::health::v1::Health::AsyncService async_service_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // serving_ holds every known service and whether it is SERVING.
  std::map<std::string, bool> serving_ ABSL_GUARDED_BY(mu_);
  // watchers_ holds the open Watch calls by the name they watch, known or
  // not.
  std::map<std::string, std::set<HealthWatchCall*>> watchers_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv

#endif  // KV_SERVICE_HEALTH_SERVICE_H_
