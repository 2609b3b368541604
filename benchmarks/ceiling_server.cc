// kv-ceiling: a kv.v1.KV server that stores nothing, as a ceiling for
// kv-server's throughput.
//
// It does the work that any implementation of the contract must do on
// the transport (accept the call, parse the request into its kv.v1 message,
// build and serialise a response of the same shape and size as kv-server's
// answer) and nothing else. It is built on the fastest server API measured
// on these machines, an async generic service polled by one completion
// queue thread, so that it is a true upper bound: a ceiling built on a
// slower API would flatter whatever is compared with it.
//
//   kv-ceiling --listen=127.0.0.1:0 --value_bytes=100
//
// The first line on stderr is `listening on HOST:PORT `, as kv-server's.
// SIGTERM or SIGINT stops it with exit status 0.

#include <grpcpp/alarm.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "kv/v1/kv.grpc.pb.h"
#include "kv/v1/kv.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "HOST:PORT to listen on; port 0 picks a free port");
ABSL_FLAG(int, value_bytes, 100,
          "size of the value every Get answers, as kv-server would for "
          "values of that size");

namespace kv {
namespace {

// Requests larger than kv-server's highest value limit (64 MiB) plus room
// for the other fields are refused by gRPC, as kv-server's are.
constexpr int kMaxMessageBytes = 65 << 20;

// Calls requested from gRPC ahead of their arrival, so that a burst of new
// calls does not wait for the loop to ask for each one.
constexpr int kPendingCalls = 32;

// Answer parses a request of type Request and serialises the response that
// `respond` fills.
template <typename Request, typename Response, typename Respond>
grpc::Status Answer(grpc::ByteBuffer* request_bytes,
                    grpc::ByteBuffer* response_bytes, Respond respond) {
  Request request;
  grpc::Status status =
      grpc::SerializationTraits<Request>::Deserialize(request_bytes, &request);
  if (!status.ok()) return status;
  Response response;
  respond(request, response);
  bool own_buffer = false;
  return grpc::SerializationTraits<Response>::Serialize(
      response, response_bytes, &own_buffer);
}

class CeilingServer {
 public:
  explicit CeilingServer(int value_bytes) : value_(value_bytes, 'v') {}

  // Start listens on `address`; false (with a message on stderr) when the
  // address cannot be bound.
  bool Start(const std::string& address) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(),
                             &port_);
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    builder.RegisterAsyncGenericService(&service_);
    cq_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      fprintf(stderr, "kv-ceiling: cannot listen on %s\n", address.c_str());
      return false;
    }
    return true;
  }

  int port() const { return port_; }

  // Serve polls the completion queue until Stop() has been called and every
  // call has ended. Call from one thread.
  void Serve() {
    for (int i = 0; i < kPendingCalls; ++i) RequestCall();
    void* tag;
    bool ok;
    while (cq_->Next(&tag, &ok)) {
      // Only this thread starts operations on cq_, so shutting it down here
      // guarantees that none is started after the shutdown.
      if (tag == &shutdown_tag_) {
        cq_->Shutdown();
        cq_shut_down_ = true;
        continue;
      }
      Step(static_cast<CallState*>(tag), ok);
    }
  }

  // Stop refuses new calls, cancels those still running after a second, and
  // makes Serve() return. Call once, from a thread other than Serve()'s.
  void Stop() {
    stopping_ = true;
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(1));
    shutdown_alarm_.Set(cq_.get(), std::chrono::system_clock::now(),
                        &shutdown_tag_);
  }

 private:
  // One call in progress; `next` says which event the call waits for.
  struct CallState {
    enum class Next { kArrival, kRequest, kFinish };
    grpc::GenericServerContext context;
    grpc::GenericServerAsyncReaderWriter stream{&context};
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    Next next = Next::kArrival;
  };

  void RequestCall() {
    auto* call = new CallState;
    service_.RequestCall(&call->context, &call->stream, cq_.get(), cq_.get(),
                         call);
  }

  void Step(CallState* call, bool ok) {
    if (cq_shut_down_) {
      delete call;
      return;
    }
    switch (call->next) {
      case CallState::Next::kArrival:
        // Not ok: the server is shutting down and the request was dropped.
        if (!ok) break;
        if (!stopping_) RequestCall();
        call->next = CallState::Next::kRequest;
        call->stream.Read(&call->request, call);
        return;
      case CallState::Next::kRequest: {
        call->next = CallState::Next::kFinish;
        if (!ok) {
          call->stream.Finish(
              grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "the call carried no request message"),
              call);
          return;
        }
        grpc::Status status = Handle(call->context.method(), call);
        if (!status.ok()) {
          call->stream.Finish(status, call);
          return;
        }
        call->stream.WriteAndFinish(call->response, grpc::WriteOptions(),
                                    grpc::Status::OK, call);
        return;
      }
      case CallState::Next::kFinish:
        break;
    }
    delete call;
  }

  grpc::Status Handle(const std::string& method, CallState* call) {
    using namespace kv::v1;  // NOLINT: the message names read better bare.
    if (method == "/kv.v1.KV/Get") {
      // A stored value: found, the value and its version, as kv-server
      // answers for a loaded key space.
      return Answer<GetRequest, GetResponse>(
          &call->request, &call->response,
          [this](const GetRequest&, GetResponse& r) {
            r.set_found(true);
            r.set_value(value_);
            r.set_version(version_);
          });
    }
    if (method == "/kv.v1.KV/Set") {
      return Answer<SetRequest, SetResponse>(
          &call->request, &call->response,
          [this](const SetRequest&, SetResponse& r) {
            r.set_version(++version_);
          });
    }
    if (method == "/kv.v1.KV/Delete") {
      return Answer<DeleteRequest, DeleteResponse>(
          &call->request, &call->response,
          [this](const DeleteRequest&, DeleteResponse& r) {
            r.set_deleted(true);
            ++version_;
          });
    }
    if (method == "/kv.v1.KV/List") {
      return Answer<ListRequest, ListResponse>(
          &call->request, &call->response,
          [](const ListRequest&, ListResponse&) {});
    }
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "kv-ceiling answers only kv.v1.KV calls");
  }

  const std::string value_;
  // Versions start where a store holding a million keys would be, so that
  // the varint on the wire has kv-server's size.
  uint64_t version_ = uint64_t{1} << 20;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  bool cq_shut_down_ = false;  // Touched by the Serve() thread only.
  grpc::Alarm shutdown_alarm_;
  int shutdown_tag_ = 0;  // Its address marks the alarm's event.
  grpc::AsyncGenericService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
};

int Main() {
  // Block the stop signals before gRPC starts its threads, so that only the
  // waiting thread below receives them. SIGUSR1 (kv-server's stats request)
  // is blocked too: it must not kill the ceiling if a script sends it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const std::string address = absl::GetFlag(FLAGS_listen);
  const int value_bytes = absl::GetFlag(FLAGS_value_bytes);
  if (value_bytes < 0 || value_bytes > kMaxMessageBytes - (1 << 20)) {
    fprintf(stderr, "kv-ceiling: --value_bytes must be 0 to 64 MiB\n");
    return 2;
  }
  CeilingServer server(value_bytes);
  if (!server.Start(address)) return 1;
  const std::string host = address.substr(0, address.rfind(':'));
  fprintf(stderr,
          "listening on %s:%d (kv-ceiling, no storage, value_bytes=%d)\n",
          host.c_str(), server.port(), value_bytes);
  fflush(stderr);

  std::thread stopper([&server, &signals] {
    int signal = 0;
    do {
      sigwait(&signals, &signal);
    } while (signal == SIGUSR1);
    server.Stop();
  });
  server.Serve();
  stopper.join();
  fprintf(stderr, "kv-ceiling: stopped\n");
  return 0;
}

}  // namespace
}  // namespace kv

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "a kv.v1.KV server without storage, the ceiling for kv-server.\n"
      "  kv-ceiling --listen=127.0.0.1:0 --value_bytes=100");
  absl::ParseCommandLine(argc, argv);
  return kv::Main();
}
