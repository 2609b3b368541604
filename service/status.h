// status: the one place where the server turns an absl::Status into the
// grpc::Status a client receives.
//
// The canonical codes of Abseil and gRPC are the same list with the same
// numbers; the message is passed through unchanged, so it must already
// follow the rules of kv.proto (it names fields and limits, never a value
// or a token).
//
// Thread safety: ToGrpcStatus is pure and may be called from any thread.

#ifndef KV_SERVICE_STATUS_H_
#define KV_SERVICE_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kv {

// ToGrpcStatus answers the grpc::Status with status's code and message.
// OK maps to grpc::Status::OK; a code outside the canonical list maps to
// UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace kv

#endif  // KV_SERVICE_STATUS_H_
