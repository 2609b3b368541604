#include "service/kv_service.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "service/limits.h"
#include "service/log.h"
#include "service/page_token.h"
#include "service/status.h"

namespace kv {

// KvCall is one call of any rpc, from the request of it until both its
// Finish and its done notification have come back from the completion
// queue; then it deletes itself, exactly once.
class KvCall {
 public:
  using Queue = KvService::Queue;

  // Event is what a completion-queue tag of a call stands for.
  enum class Event { kRequest, kFinish, kDone };

  // Tag is what the call hands to gRPC as a completion-queue tag.
  using Tag = EventTag<KvCall, Event>;

  KvCall(KvService* service, KvService::Queue* queue)
      : service_(service), queue_(queue) {}
  virtual ~KvCall() = default;

  // Start asks gRPC for the next call of this rpc on the queue, unless the
  // queue is shutting down, in which case this object deletes itself.
  void Start() {
    ctx_.AsyncNotifyWhenDone(&done_tag_);
    bool requested = false;
    {
      absl::MutexLock lock(&queue_->mu);
      if (queue_->open) {
        RequestCall(&request_tag_);
        requested = true;
      }
    }
    if (!requested) delete this;
  }

  // OnEvent handles one completed tag of this call.
  void OnEvent(Event event, bool ok) {
    switch (event) {
      case Event::kRequest:
        // Not ok: the server is shutting down and no call arrived. gRPC
        // then never delivers the done tag, so nothing else is pending.
        if (!ok) {
          delete this;
          return;
        }
        NewCall(service_, queue_)->Start();
        service_->CallStarted();
        Handle();
        return;
      case Event::kFinish:
        finished_ = true;
        service_->CallAnswered();
        break;
      case Event::kDone:
        done_ = true;
        break;
    }
    if (finished_ && done_) delete this;
  }

 protected:
  // RequestCall asks gRPC for the next call of the rpc, with tag.
  virtual void RequestCall(Tag* tag) = 0;
  // NewCall makes an unstarted call object of the same rpc.
  virtual KvCall* NewCall(KvService* service, Queue* queue) = 0;
  // Handle answers the request; it must lead to exactly one Finish.
  virtual void Handle() = 0;

  // Abandoned is true when the client can no longer use the answer: the
  // deadline has passed or the call was cancelled. Such a call skips its
  // store work.
  // A call that waited in the transport before its headers were read gets
  // a fresh deadline, since gRPC sends a relative timeout; the header's
  // Note says what that means for clients.
  bool Abandoned() const {
    // IsCancelled is documented as valid only after the done tag for the
    // async API; before it, it reads the completion state under a lock and
    // may say false for a call being cancelled, but never true wrongly.
    return ctx_.IsCancelled() ||
           ctx_.deadline() <= std::chrono::system_clock::now();
  }

  static grpc::Status AbandonedStatus() {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "deadline exceeded or call cancelled before the "
                        "store was called");
  }

  // LogStoreError logs a store failure the client cannot cause, such as
  // a corrupted record, with the rpc's name; never the key or value.
  static void LogStoreError(absl::string_view rpc, const absl::Status& status) {
    LogLine(absl::StrCat("error: ", rpc, ": store: ", status.ToString()));
  }

  Store* store() const { return service_->store_; }
  int64_t max_value_bytes() const { return service_->max_value_bytes_; }
  v1::KV::AsyncService* async_service() const {
    return &service_->async_service_;
  }
  grpc::ServerCompletionQueue* cq() const { return queue_->cq; }
  KvService* service() const { return service_; }
  // StoreWorkStarted and StoreWorkDone count a write handed to the store
  // until its callback has finished the call.
  static void StoreWorkStarted(KvService* service) {
    service->StoreWorkStarted();
  }
  static void StoreWorkDone(KvService* service) { service->StoreWorkDone(); }

  grpc::ServerContext ctx_;
  Tag request_tag_{this, Event::kRequest};
  Tag finish_tag_{this, Event::kFinish};
  Tag done_tag_{this, Event::kDone};

 private:
  KvService* const service_;
  KvService::Queue* const queue_;
  bool finished_ = false;
  bool done_ = false;
};

namespace {

// UnaryCall adds the request, response and responder of one rpc.
template <typename Request, typename Response>
class UnaryCall : public KvCall {
 public:
  using KvCall::KvCall;

 protected:
  void Finish(const grpc::Status& status) {
    if (status.ok()) {
      responder_.Finish(response_, status, &finish_tag_);
    } else {
      responder_.FinishWithError(status, &finish_tag_);
    }
  }

  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_{&ctx_};
};

class GetCall : public UnaryCall<v1::GetRequest, v1::GetResponse> {
 public:
  using UnaryCall::UnaryCall;

 protected:
  void RequestCall(Tag* tag) override {
    async_service()->RequestGet(&ctx_, &request_, &responder_, cq(), cq(), tag);
  }
  KvCall* NewCall(KvService* service, Queue* queue) override {
    return new GetCall(service, queue);
  }
  void Handle() override {
    absl::Status valid = ValidateGetRequest(request_);
    if (!valid.ok()) return Finish(ToGrpcStatus(valid));
    if (Abandoned()) return Finish(AbandonedStatus());

    absl::StatusOr<std::optional<Entry>> entry =
        store()->Get(request_.namespace_(), request_.key());
    if (!entry.ok()) {
      LogStoreError("Get", entry.status());
      return Finish(ToGrpcStatus(entry.status()));
    }
    if (entry->has_value()) {
      response_.set_found(true);
      response_.set_value(std::move((*entry)->value));
      response_.set_version((*entry)->version);
    }
    Finish(grpc::Status::OK);
  }
};

class SetCall : public UnaryCall<v1::SetRequest, v1::SetResponse> {
 public:
  using UnaryCall::UnaryCall;

 protected:
  void RequestCall(Tag* tag) override {
    async_service()->RequestSet(&ctx_, &request_, &responder_, cq(), cq(), tag);
  }
  KvCall* NewCall(KvService* service, Queue* queue) override {
    return new SetCall(service, queue);
  }
  void Handle() override {
    absl::Status valid = ValidateSetRequest(request_, max_value_bytes());
    if (!valid.ok()) return Finish(ToGrpcStatus(valid));
    if (Abandoned()) return Finish(AbandonedStatus());

    // The callback may run on the store's thread, before or after SetAsync
    // returns; after Finish the completion queue may delete this object,
    // so nothing of it is touched once Finish is called.
    KvService* service = this->service();
    StoreWorkStarted(service);
    store()->SetAsync(request_.namespace_(), request_.key(),
                      std::move(*request_.mutable_value()),
                      TtlFromSeconds(request_.ttl_seconds()),
                      [this, service](absl::StatusOr<uint64_t> version) {
                        if (version.ok()) {
                          response_.set_version(*version);
                          Finish(grpc::Status::OK);
                        } else {
                          LogStoreError("Set", version.status());
                          Finish(ToGrpcStatus(version.status()));
                        }
                        StoreWorkDone(service);
                      });
  }
};

class DeleteCall : public UnaryCall<v1::DeleteRequest, v1::DeleteResponse> {
 public:
  using UnaryCall::UnaryCall;

 protected:
  void RequestCall(Tag* tag) override {
    async_service()->RequestDelete(&ctx_, &request_, &responder_, cq(), cq(),
                                   tag);
  }
  KvCall* NewCall(KvService* service, Queue* queue) override {
    return new DeleteCall(service, queue);
  }
  void Handle() override {
    absl::Status valid = ValidateDeleteRequest(request_);
    if (!valid.ok()) return Finish(ToGrpcStatus(valid));
    if (Abandoned()) return Finish(AbandonedStatus());

    // As in SetCall: nothing of this object is touched after Finish.
    KvService* service = this->service();
    StoreWorkStarted(service);
    store()->DeleteAsync(request_.namespace_(), request_.key(),
                         [this, service](absl::StatusOr<bool> deleted) {
                           if (deleted.ok()) {
                             response_.set_deleted(*deleted);
                             Finish(grpc::Status::OK);
                           } else {
                             LogStoreError("Delete", deleted.status());
                             Finish(ToGrpcStatus(deleted.status()));
                           }
                           StoreWorkDone(service);
                         });
  }
};

class ListCall : public UnaryCall<v1::ListRequest, v1::ListResponse> {
 public:
  using UnaryCall::UnaryCall;

 protected:
  void RequestCall(Tag* tag) override {
    async_service()->RequestList(&ctx_, &request_, &responder_, cq(), cq(),
                                 tag);
  }
  KvCall* NewCall(KvService* service, Queue* queue) override {
    return new ListCall(service, queue);
  }
  void Handle() override {
    absl::Status valid = ValidateListRequest(request_);
    if (!valid.ok()) return Finish(ToGrpcStatus(valid));
    absl::StatusOr<std::string> start_after = DecodePageToken(
        request_.page_token(), request_.namespace_(), request_.prefix());
    if (!start_after.ok()) return Finish(ToGrpcStatus(start_after.status()));
    if (Abandoned()) return Finish(AbandonedStatus());

    absl::StatusOr<ListPage> page =
        store()->List(request_.namespace_(), request_.prefix(), *start_after,
                      EffectivePageSize(request_.page_size()));
    if (!page.ok()) {
      LogStoreError("List", page.status());
      return Finish(ToGrpcStatus(page.status()));
    }
    if (page->more && !page->keys.empty()) {
      response_.set_next_page_token(EncodePageToken(
          request_.namespace_(), request_.prefix(), page->keys.back()));
    }
    for (std::string& key : page->keys) response_.add_keys(std::move(key));
    Finish(grpc::Status::OK);
  }
};

}  // namespace

KvService::KvService(Store* store, int64_t max_value_bytes)
    : store_(store), max_value_bytes_(max_value_bytes) {}

KvService::~KvService() = default;

void KvService::Serve(grpc::ServerCompletionQueue* cq) {
  Queue* queue;
  {
    absl::MutexLock lock(&mu_);
    queues_.push_back(std::make_unique<Queue>());
    queue = queues_.back().get();
    queue->cq = cq;
    if (stopping_) {
      absl::MutexLock queue_lock(&queue->mu);
      queue->open = false;
      cq->Shutdown();
    }
  }

  // One call of each rpc waits on every queue; each call that arrives
  // requests the next of its rpc before it is handled.
  (new GetCall(this, queue))->Start();
  (new SetCall(this, queue))->Start();
  (new DeleteCall(this, queue))->Start();
  (new ListCall(this, queue))->Start();

  void* tag;
  bool ok;
  while (cq->Next(&tag, &ok)) {
    static_cast<CqTag*>(tag)->OnEvent(ok);
  }
}

void KvService::StopServing() {
  stop_waiters_.store(true);
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  // A store callback finishes its call on the call's queue, which must
  // still be open then.
  mu_.Await(absl::Condition(
      +[](std::atomic<int64_t>* work) { return work->load() == 0; },
      &store_work_));
  stopping_ = true;
  for (const std::unique_ptr<Queue>& queue : queues_) {
    absl::MutexLock queue_lock(&queue->mu);
    queue->open = false;
    queue->cq->Shutdown();
  }
}

void KvService::CallStarted() {
  calls_in_flight_.fetch_add(1, std::memory_order_relaxed);
}

void KvService::CallAnswered() {
  if (calls_in_flight_.fetch_sub(1) == 1 && idle_waiters_.load()) {
    // Taking the mutex makes a waiter in WaitForIdle look again.
    absl::MutexLock lock(&mu_);
  }
}

bool KvService::WaitForIdle(absl::Time deadline) {
  idle_waiters_.store(true);
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(
      absl::Condition(
          +[](std::atomic<int64_t>* calls) { return calls->load() == 0; },
          &calls_in_flight_),
      deadline);
}

void KvService::StoreWorkStarted() {
  store_work_.fetch_add(1, std::memory_order_relaxed);
}

void KvService::StoreWorkDone() {
  if (store_work_.fetch_sub(1) == 1 && stop_waiters_.load()) {
    // Taking the mutex makes StopServing look again.
    absl::MutexLock lock(&mu_);
  }
}

}  // namespace kv
