#include "service/page_token.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace kv {
namespace {

// The first byte of every token; a later layout takes another number so
// old tokens are refused clearly instead of being misread.
constexpr char kTokenFormat = 1;

// Field lengths are bounded by kv.proto's limits (a few KiB), so a token
// longer than this was not made by this server.
constexpr size_t kMaxTokenBytes = 8192;

void PutVarint(std::string* out, uint64_t n) {
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
}

bool GetVarint(absl::string_view* in, uint64_t* n) {
  *n = 0;
  for (int shift = 0; shift <= 28 && !in->empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *n |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetLengthPrefixed(absl::string_view* in, absl::string_view* field) {
  uint64_t size;
  if (!GetVarint(in, &size) || size > in->size()) return false;
  *field = in->substr(0, size);
  in->remove_prefix(size);
  return true;
}

absl::Status Malformed() {
  return absl::InvalidArgumentError(
      "page_token: must be a next_page_token answered by this service");
}

}  // namespace

std::string EncodePageToken(absl::string_view namespace_name,
                            absl::string_view prefix,
                            absl::string_view last_key) {
  std::string raw;
  raw.reserve(1 + 3 * 5 + namespace_name.size() + prefix.size() +
              last_key.size());
  raw.push_back(kTokenFormat);
  PutVarint(&raw, namespace_name.size());
  raw.append(namespace_name.data(), namespace_name.size());
  PutVarint(&raw, prefix.size());
  raw.append(prefix.data(), prefix.size());
  PutVarint(&raw, last_key.size());
  raw.append(last_key.data(), last_key.size());
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token,
                                            absl::string_view namespace_name,
                                            absl::string_view prefix) {
  if (token.empty()) return std::string();
  if (token.size() > kMaxTokenBytes) return Malformed();

  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return Malformed();
  absl::string_view in(raw);
  if (in.empty() || in.front() != kTokenFormat) return Malformed();
  in.remove_prefix(1);

  // Every field is length-prefixed and the token must end after the last,
  // so a truncated or extended token is refused rather than misread.
  absl::string_view token_namespace;
  absl::string_view token_prefix;
  absl::string_view last_key;
  if (!GetLengthPrefixed(&in, &token_namespace) ||
      !GetLengthPrefixed(&in, &token_prefix) ||
      !GetLengthPrefixed(&in, &last_key) || !in.empty()) {
    return Malformed();
  }
  // The last key of the previous page must be a key of that listing.
  if (last_key.empty() || !absl::StartsWith(last_key, token_prefix)) {
    return Malformed();
  }

  if (token_namespace != namespace_name || token_prefix != prefix) {
    return absl::InvalidArgumentError(
        "page_token: belongs to a listing with another namespace or "
        "prefix; pass the namespace and prefix of the request that "
        "answered it");
  }
  return std::string(last_key);
}

}  // namespace kv
