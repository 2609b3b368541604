#include "service/health_service.h"

#include <utility>

#include "service/cq_tag.h"

namespace kv {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// HealthCall is one Check call, from the request of it until its Finish
// has come back from the completion queue; then it deletes itself.
class HealthCall {
 public:
  using Queue = HealthService::Queue;

  HealthCall(HealthService* service, Queue* queue)
      : service_(service), queue_(queue) {}

  // Start asks gRPC for the next Check call on the queue, unless the queue
  // is closed, in which case this object deletes itself.
  void Start() {
    bool requested = false;
    {
      absl::MutexLock lock(&queue_->mu);
      if (queue_->open) {
        service_->async_service_.RequestCheck(&ctx_, &request_, &responder_,
                                              queue_->cq, queue_->cq,
                                              &request_tag_);
        requested = true;
      }
    }
    if (!requested) delete this;
  }

 private:
  enum class Event { kRequest, kFinish };
  using Tag = EventTag<HealthCall, Event>;
  friend Tag;

  void OnEvent(Event event, bool ok) {
    event == Event::kRequest ? OnRequest(ok) : OnFinish();
  }

  void OnRequest(bool ok) {
    // Not ok: the server is shutting down and no call arrived.
    if (!ok) {
      delete this;
      return;
    }
    (new HealthCall(service_, queue_))->Start();

    HealthService::Status status = service_->Lookup(request_.service());
    if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
      responder_.FinishWithError(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"),
          &finish_tag_);
      return;
    }
    response_.set_status(status);
    responder_.Finish(response_, grpc::Status::OK, &finish_tag_);
  }

  void OnFinish() { delete this; }

  HealthService* const service_;
  Queue* const queue_;
  grpc::ServerContext ctx_;
  HealthCheckRequest request_;
  HealthCheckResponse response_;
  grpc::ServerAsyncResponseWriter<HealthCheckResponse> responder_{&ctx_};
  Tag request_tag_{this, Event::kRequest};
  Tag finish_tag_{this, Event::kFinish};
};

// HealthWatchCall is one Watch call. It never finishes the stream itself:
// the stream ends when the client cancels it or the server cuts it at
// shutdown, which delivers the done tag. The object deletes itself once
// the done tag has come back and no Write is in flight.
//
// A status change arrives on whatever thread calls SetServingStatus, a
// Write completion on the queue's thread; mu_ orders them. Lock order:
// HealthService::mu_ before HealthWatchCall::mu_.
class HealthWatchCall {
 public:
  using Queue = HealthService::Queue;

  HealthWatchCall(HealthService* service, Queue* queue)
      : service_(service), queue_(queue) {}

  // Start asks gRPC for the next Watch call on the queue, unless the queue
  // is closed, in which case this object deletes itself.
  void Start() {
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    bool requested = false;
    {
      absl::MutexLock lock(&queue_->mu);
      if (queue_->open) {
        service_->async_service_.RequestWatch(
            &ctx_, &request_, &writer_, queue_->cq, queue_->cq, &request_tag_);
        requested = true;
      }
    }
    if (!requested) delete this;
  }

  // Update makes status the one to send; it is written at once unless a
  // Write is in flight, in which case its completion writes the latest.
  void Update(HealthService::Status status) {
    absl::MutexLock lock(&mu_);
    latest_ = status;
    WriteLatestIfIdle();
  }

 private:
  enum class Event { kRequest, kWrite, kDone };
  using Tag = EventTag<HealthWatchCall, Event>;
  friend Tag;

  void OnEvent(Event event, bool ok) {
    switch (event) {
      case Event::kRequest:
        // Not ok: no call arrived, and gRPC then never delivers the done
        // tag, so nothing else is pending.
        if (!ok) {
          delete this;
          return;
        }
        (new HealthWatchCall(service_, queue_))->Start();
        service_->AddWatcher(request_.service(), this);
        return;
      case Event::kWrite: {
        bool finished;
        {
          absl::MutexLock lock(&mu_);
          writing_ = false;
          // Not ok: the stream is broken; the done tag follows.
          if (!ok) broken_ = true;
          WriteLatestIfIdle();
          finished = done_ && !writing_;
        }
        if (finished) delete this;
        return;
      }
      case Event::kDone: {
        // After this no Update can arrive, so only a Write in flight may
        // still refer to this object.
        service_->RemoveWatcher(request_.service(), this);
        bool finished;
        {
          absl::MutexLock lock(&mu_);
          done_ = true;
          finished = !writing_;
        }
        if (finished) delete this;
        return;
      }
    }
  }

  void WriteLatestIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || broken_ || done_ || !has_latest_changed()) return;
    sent_ = latest_;
    has_sent_ = true;
    response_.set_status(latest_);
    writing_ = true;
    writer_.Write(response_, &write_tag_);
  }

  bool has_latest_changed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !has_sent_ || sent_ != latest_;
  }

  HealthService* const service_;
  Queue* const queue_;
  grpc::ServerContext ctx_;
  HealthCheckRequest request_;
  grpc::ServerAsyncWriter<HealthCheckResponse> writer_{&ctx_};
  Tag request_tag_{this, Event::kRequest};
  Tag write_tag_{this, Event::kWrite};
  Tag done_tag_{this, Event::kDone};

  absl::Mutex mu_;
  // response_ is what the Write in flight sends; it must live until then.
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);
  HealthService::Status latest_ ABSL_GUARDED_BY(mu_) =
      HealthCheckResponse::SERVICE_UNKNOWN;
  HealthService::Status sent_ ABSL_GUARDED_BY(mu_) =
      HealthCheckResponse::SERVICE_UNKNOWN;
  bool has_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

HealthService::HealthService() = default;

HealthService::~HealthService() = default;

void HealthService::StartOn(grpc::ServerCompletionQueue* cq) {
  Queue* queue;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    queues_.push_back(std::make_unique<Queue>());
    queue = queues_.back().get();
    queue->cq = cq;
  }
  (new HealthCall(this, queue))->Start();
  (new HealthWatchCall(this, queue))->Start();
}

void HealthService::SetServingStatus(const std::string& service, bool serving) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  serving_[service] = serving;
  Notify(service);
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& [service, serving] : serving_) {
    serving = false;
    Notify(service);
  }
}

void HealthService::StopServing() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  for (const std::unique_ptr<Queue>& queue : queues_) {
    absl::MutexLock queue_lock(&queue->mu);
    queue->open = false;
  }
}

HealthService::Status HealthService::StatusOf(const std::string& service) {
  auto it = serving_.find(service);
  if (it == serving_.end()) return HealthCheckResponse::SERVICE_UNKNOWN;
  return it->second ? HealthCheckResponse::SERVING
                    : HealthCheckResponse::NOT_SERVING;
}

HealthService::Status HealthService::Lookup(const std::string& service) {
  absl::ReaderMutexLock lock(&mu_);
  return StatusOf(service);
}

void HealthService::AddWatcher(const std::string& service,
                               HealthWatchCall* call) {
  absl::MutexLock lock(&mu_);
  watchers_[service].insert(call);
  call->Update(StatusOf(service));
}

void HealthService::RemoveWatcher(const std::string& service,
                                  HealthWatchCall* call) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(service);
  if (it == watchers_.end()) return;
  it->second.erase(call);
  if (it->second.empty()) watchers_.erase(it);
}

void HealthService::Notify(const std::string& service) {
  auto it = watchers_.find(service);
  if (it == watchers_.end()) return;
  Status status = StatusOf(service);
  for (HealthWatchCall* call : it->second) call->Update(status);
}

}  // namespace kv
