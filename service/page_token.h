// page_token: the opaque List page tokens of the KV service.
//
// A token records the namespace and prefix of the listing it belongs to
// and the last key it answered, in a small versioned byte encoding, and is
// written as unpadded base64url so that it is valid UTF-8 (next_page_token
// is a proto string). It holds no server state, so a token stays valid
// across restarts, and the next page starts strictly after the recorded
// key whatever was written meanwhile.
//
// Note: a token is not encrypted or signed. It reveals the last key of
// the page it follows to whoever holds it, which is the caller who was
// just sent that key; a forged token can only move the start of a listing
// within the namespace and prefix of its own request.
//
// Example:
//
//   std::string token = kv::EncodePageToken("myapp", "user/", "user/42");
//   absl::StatusOr<std::string> start_after =
//       kv::DecodePageToken(token, "myapp", "user/");
//
// Thread safety: both functions are pure and may be called from any
// thread.

#ifndef KV_SERVICE_PAGE_TOKEN_H_
#define KV_SERVICE_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kv {

// EncodePageToken answers the token that continues a listing of
// namespace_name and prefix after last_key. last_key must be non-empty
// (it is a key the page answered).
std::string EncodePageToken(absl::string_view namespace_name,
                            absl::string_view prefix,
                            absl::string_view last_key);

// DecodePageToken answers the key after which the listing that token
// continues starts. An empty token starts a listing: the answer is the
// empty string.
//
// Returns INVALID_ARGUMENT, with a message starting "page_token: ", when
// the token was not made by EncodePageToken, or was made for another
// namespace or prefix than namespace_name and prefix.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token,
                                            absl::string_view namespace_name,
                                            absl::string_view prefix);

}  // namespace kv

#endif  // KV_SERVICE_PAGE_TOKEN_H_
