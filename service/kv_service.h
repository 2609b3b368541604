// kv_service: the kv.v1.KV service on gRPC's asynchronous (completion
// queue) API.
//
// KvService owns the generated AsyncService and the per-call state
// machines. A Server (server.h) registers it, then runs Serve on one
// thread per completion queue. Each call is validated first (limits.h);
// nothing reaches the store on bad input. Get and List run inline on the
// completion-queue thread. Set and Delete hand the write to
// Store::SetAsync / DeleteAsync and finish the call from the store's
// callback, so a completion-queue thread never waits for an fsync. A call
// whose deadline has passed, or that the client cancelled, by the time it
// is handled is answered without its store work.
//
// Note: gRPC carries a deadline as a relative timeout, so a call whose
// request sat unread in the transport looks fresh to the server and may
// still do its store work after the client has given up.
//
// Example (what Server does):
//
//   kv::KvService service(store, max_value_bytes);
//   builder.RegisterService(service.grpc_service());
//   auto cq = builder.AddCompletionQueue();
//   ... server = builder.BuildAndStart();
//   std::thread t([&] { service.Serve(cq.get()); });
//   ... start server->Shutdown(deadline) on another thread, then:
//   service.WaitForIdle(deadline);
//   grpc_server_cancel_all_calls(server->c_server());
//   ... once server->Shutdown has returned:
//   service.StopServing();
//   t.join();
//
// Thread safety: Serve may run on any number of threads, each with its own
// completion queue. StopServing may be called from any thread.

#ifndef KV_SERVICE_KV_SERVICE_H_
#define KV_SERVICE_KV_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kv/v1/kv.grpc.pb.h"
#include "service/cq_tag.h"
#include "store/store.h"

namespace kv {

class KvService {
 public:
  // Serves store (not owned; it must outlive this object) with values of
  // at most max_value_bytes bytes.
  KvService(Store* store, int64_t max_value_bytes);
  KvService(const KvService&) = delete;
  KvService& operator=(const KvService&) = delete;

  // The destructor expects every Serve to have returned.
  ~KvService();

  // grpc_service answers the service to register with a ServerBuilder
  // before the server is built. Owned by this object.
  grpc::Service* grpc_service() { return &async_service_; }

  // Serve waits for calls of every rpc on cq and answers them until
  // StopServing has shut cq down and its last event has been handled. The
  // server that owns cq must have been built with grpc_service()
  // registered. Every tag on cq must be a CqTag (cq_tag.h): other services
  // may share cq, and Serve hands their events to their tags too. Blocks;
  // returns once cq is drained.
  void Serve(grpc::ServerCompletionQueue* cq);

  // WaitForIdle blocks until no KV call is in flight (every call that
  // arrived has been answered) or deadline passes, whichever is first.
  // Answers true when no call is in flight. Meant for draining: new calls
  // must no longer arrive (the server's Shutdown has started).
  bool WaitForIdle(absl::Time deadline);

  // StopServing waits until no Set or Delete is waiting for the store,
  // then shuts down every completion queue given to Serve, so that each
  // Serve returns once its queue is drained. Call it after the server's
  // Shutdown has returned. Idempotent.
  void StopServing();

 private:
  // KvCall (kv_service.cc) is the base of the per-call state machines.
  friend class KvCall;

  // Queue is one completion queue given to Serve.
  struct Queue {
    grpc::ServerCompletionQueue* cq;
    absl::Mutex mu;
    // open is false once StopServing shut cq down: requesting a call on a
    // shut-down queue is not allowed.
    bool open ABSL_GUARDED_BY(mu) = true;
  };

  void StoreWorkStarted();
  void StoreWorkDone();
  // CallStarted / CallAnswered count the calls in flight for WaitForIdle.
  void CallStarted();
  void CallAnswered();

  Store* const store_;
  const int64_t max_value_bytes_;
  v1::KV::AsyncService async_service_;

  // Calls in flight, counted without the mutex on the hot path; a call
  // that brings it to zero takes the mutex only while someone waits.
  std::atomic<int64_t> calls_in_flight_{0};
  std::atomic<bool> idle_waiters_{false};
  // Writes handed to the store whose callback has not finished its call.
  std::atomic<int64_t> store_work_{0};
  std::atomic<bool> stop_waiters_{false};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv

#endif  // KV_SERVICE_KV_SERVICE_H_
