#include "service/limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kv {
namespace {

bool IsNamespaceByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

}  // namespace

absl::Status ValidateMaxValueBytes(int64_t max_value_bytes) {
  if (max_value_bytes < 1 || max_value_bytes > kMaxMaxValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_value_bytes: must be 1 to ", kMaxMaxValueBytes,
                     ", got ", max_value_bytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateNamespace(absl::string_view namespace_name) {
  const int64_t size = static_cast<int64_t>(namespace_name.size());
  if (size < 1 || size > kMaxNamespaceBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "namespace: must be 1 to ", kMaxNamespaceBytes, " bytes, got ", size));
  }
  for (size_t i = 0; i < namespace_name.size(); ++i) {
    if (!IsNamespaceByte(namespace_name[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "namespace: must contain only [A-Za-z0-9._-], got another byte "
          "at offset ",
          i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateKey(absl::string_view key) {
  const int64_t size = static_cast<int64_t>(key.size());
  if (size < 1 || size > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key: must be 1 to ", kMaxKeyBytes, " bytes, got ", size));
  }
  return absl::OkStatus();
}

absl::Status ValidateGetRequest(const v1::GetRequest& request) {
  absl::Status status = ValidateNamespace(request.namespace_());
  if (!status.ok()) return status;
  return ValidateKey(request.key());
}

absl::Status ValidateSetRequest(const v1::SetRequest& request,
                                int64_t max_value_bytes) {
  absl::Status status = ValidateNamespace(request.namespace_());
  if (!status.ok()) return status;
  status = ValidateKey(request.key());
  if (!status.ok()) return status;

  const int64_t value_size = static_cast<int64_t>(request.value().size());
  if (value_size > max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("value: must be at most ",
                                                   max_value_bytes,
                                                   " bytes, got ", value_size));
  }
  if (request.ttl_seconds() < 0 || request.ttl_seconds() > kMaxTtlSeconds) {
    // The number itself is not echoed: messages never repeat a field.
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl_seconds: must be 0 (no expiry) or 1 to ", kMaxTtlSeconds));
  }
  return absl::OkStatus();
}

absl::Status ValidateDeleteRequest(const v1::DeleteRequest& request) {
  absl::Status status = ValidateNamespace(request.namespace_());
  if (!status.ok()) return status;
  return ValidateKey(request.key());
}

absl::Status ValidateListRequest(const v1::ListRequest& request) {
  absl::Status status = ValidateNamespace(request.namespace_());
  if (!status.ok()) return status;

  const int64_t prefix_size = static_cast<int64_t>(request.prefix().size());
  if (prefix_size > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix: must be at most ", kMaxKeyBytes, " bytes, got ", prefix_size));
  }
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_size: must be 0 (", kDefaultPageSize, ") or positive; above ",
        kMaxPageSize, " means ", kMaxPageSize));
  }
  return absl::OkStatus();
}

int EffectivePageSize(int32_t page_size) {
  if (page_size <= 0) return kDefaultPageSize;
  return std::min<int>(page_size, kMaxPageSize);
}

absl::Duration TtlFromSeconds(int32_t ttl_seconds) {
  return absl::Seconds(ttl_seconds);
}

}  // namespace kv
