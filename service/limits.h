// limits: validation of every KV request against the limits of kv.proto.
//
// The service checks each request with these functions before it calls
// the store, so nothing reaches the store on bad input. A failure is an
// INVALID_ARGUMENT status whose message names the first bad field in the
// proto's field order and the limit it breaks, in lower case, and never
// echoes the field's content (a key or value may be a secret):
//
//   key: must be 1 to 1024 bytes, got 1025
//
// Example:
//
//   absl::Status s = kv::ValidateSetRequest(request, max_value_bytes);
//   if (!s.ok()) return s;
//
// Thread safety: every function is pure and may be called from any
// thread.

#ifndef KV_SERVICE_LIMITS_H_
#define KV_SERVICE_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kv/v1/kv.pb.h"

namespace kv {

// kMaxNamespaceBytes is the longest namespace, in bytes.
inline constexpr int64_t kMaxNamespaceBytes = 128;
// kMaxKeyBytes is the longest key, in bytes; it also bounds a prefix.
inline constexpr int64_t kMaxKeyBytes = 1024;
// kDefaultMaxValueBytes is the default value limit: 25 MiB.
inline constexpr int64_t kDefaultMaxValueBytes = 26214400;
// kMaxMaxValueBytes is the highest value limit a server accepts: 64 MiB.
inline constexpr int64_t kMaxMaxValueBytes = 67108864;
// kMaxTtlSeconds is the longest time to live: 30 days.
inline constexpr int32_t kMaxTtlSeconds = 2592000;
// kDefaultPageSize is the page size that page_size = 0 asks for.
inline constexpr int kDefaultPageSize = 100;
// kMaxPageSize is the largest page; larger page_size values are cut to it.
inline constexpr int kMaxPageSize = 1000;

// ValidateMaxValueBytes checks a value limit given to the server.
//
// Returns OK for 1 to kMaxMaxValueBytes, else INVALID_ARGUMENT naming
// max_value_bytes and the range.
absl::Status ValidateMaxValueBytes(int64_t max_value_bytes);

// ValidateNamespace checks a namespace: 1 to 128 bytes of [A-Za-z0-9._-].
//
// Returns OK, or INVALID_ARGUMENT naming the field "namespace" with the
// length it got, or with the byte offset of the first forbidden byte.
absl::Status ValidateNamespace(absl::string_view namespace_name);

// ValidateKey checks a key: 1 to 1024 bytes.
//
// Returns OK, or INVALID_ARGUMENT naming the field "key" and its length.
absl::Status ValidateKey(absl::string_view key);

// ValidateGetRequest checks namespace, then key.
//
// Returns OK, or the INVALID_ARGUMENT of the first bad field.
absl::Status ValidateGetRequest(const v1::GetRequest& request);

// ValidateSetRequest checks namespace, key, value (at most max_value_bytes
// bytes; empty is valid) and ttl_seconds (0, or 1 to kMaxTtlSeconds), in
// that order.
//
// Returns OK, or the INVALID_ARGUMENT of the first bad field.
absl::Status ValidateSetRequest(const v1::SetRequest& request,
                                int64_t max_value_bytes);

// ValidateDeleteRequest checks namespace, then key.
//
// Returns OK, or the INVALID_ARGUMENT of the first bad field.
absl::Status ValidateDeleteRequest(const v1::DeleteRequest& request);

// ValidateListRequest checks namespace, prefix (0 to 1024 bytes) and
// page_size (not negative), in that order. The page_token, the last field,
// is checked when it is decoded (see page_token.h).
//
// Returns OK, or the INVALID_ARGUMENT of the first bad field.
absl::Status ValidateListRequest(const v1::ListRequest& request);

// EffectivePageSize answers the page size a valid page_size asks for:
// kDefaultPageSize for 0, at most kMaxPageSize. page_size must not be
// negative (ValidateListRequest refuses that).
int EffectivePageSize(int32_t page_size);

// TtlFromSeconds answers the store ttl for a valid ttl_seconds: zero (no
// expiry) for 0, else that many seconds.
absl::Duration TtlFromSeconds(int32_t ttl_seconds);

}  // namespace kv

#endif  // KV_SERVICE_LIMITS_H_
