// cq_tag: what every call on kv-server's completion queues hands to gRPC
// as a tag.
//
// The KV service (kv_service.h) and the health service
// (health_service.h) share the completion queues that KvService::Serve
// polls, so their tags have one base: Serve casts each tag it gets to
// CqTag and calls OnEvent.
//
// Thread safety: OnEvent runs on the thread that polls the queue; what an
// implementation may touch from there is up to it.

#ifndef KV_SERVICE_CQ_TAG_H_
#define KV_SERVICE_CQ_TAG_H_

namespace kv {

class CqTag {
 public:
  // OnEvent handles the completion of the operation this tag was given to;
  // ok is the completion queue's ok for it. It may delete the object that
  // owns the tag.
  virtual void OnEvent(bool ok) = 0;

 protected:
  // Tags are owned by their call objects and never deleted through CqTag.
  ~CqTag() = default;
};

// EventTag is the tag of one kind of event of a call: its OnEvent calls
// call->OnEvent(event, ok). Call must grant it access to OnEvent.
template <typename Call, typename Event>
class EventTag final : public CqTag {
 public:
  EventTag(Call* call, Event event) : call_(call), event_(event) {}
  void OnEvent(bool ok) override { call_->OnEvent(event_, ok); }

 private:
  Call* const call_;
  const Event event_;
};

}  // namespace kv

#endif  // KV_SERVICE_CQ_TAG_H_
