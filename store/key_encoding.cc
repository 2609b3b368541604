#include "store/key_encoding.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/string_view.h"

namespace kv {
namespace {

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// ParseVarint consumes a varint from the front of *in. It refuses encodings
// longer than needed so that each length has exactly one encoding.
bool ParseVarint(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < in->size() && i < 10; ++i) {
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return false;
      in->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

// Flipping the sign bit makes the big-endian bytes of an int64 sort like the
// numbers themselves.
void AppendOrderedInt64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((u >> shift) & 0xff));
  }
}

int64_t ParseOrderedInt64(absl::string_view in) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

}  // namespace

std::string RecordKeyPrefix(absl::string_view namespace_name) {
  std::string out;
  out.reserve(1 + 2 + namespace_name.size());
  out.push_back(kRecordSpace);
  AppendVarint(&out, namespace_name.size());
  out.append(namespace_name.data(), namespace_name.size());
  return out;
}

std::string EncodeRecordKey(absl::string_view namespace_name,
                            absl::string_view key) {
  std::string out = RecordKeyPrefix(namespace_name);
  out.append(key.data(), key.size());
  return out;
}

bool DecodeRecordKey(absl::string_view storage_key,
                     absl::string_view* namespace_name,
                     absl::string_view* key) {
  if (storage_key.empty() || storage_key[0] != kRecordSpace) return false;
  absl::string_view rest = storage_key.substr(1);
  uint64_t length = 0;
  if (!ParseVarint(&rest, &length) || length > rest.size()) return false;
  *namespace_name = rest.substr(0, length);
  *key = rest.substr(length);
  return true;
}

std::string EncodeTtlNamespaceKey(absl::string_view namespace_name) {
  std::string out(1, kTtlNamespaceSpace);
  out.append(namespace_name.data(), namespace_name.size());
  return out;
}

bool DecodeTtlNamespaceKey(absl::string_view mark_key,
                           absl::string_view* namespace_name) {
  if (mark_key.empty() || mark_key[0] != kTtlNamespaceSpace) return false;
  *namespace_name = mark_key.substr(1);
  return true;
}

std::string EncodeExpiryKey(int64_t expiry_micros,
                            absl::string_view storage_key) {
  std::string out;
  out.reserve(1 + 8 + storage_key.size());
  out.push_back(kExpirySpace);
  AppendOrderedInt64(&out, expiry_micros);
  out.append(storage_key.data(), storage_key.size());
  return out;
}

bool DecodeExpiryKey(absl::string_view index_key, int64_t* expiry_micros,
                     absl::string_view* storage_key) {
  if (index_key.size() < 9 || index_key[0] != kExpirySpace) return false;
  *expiry_micros = ParseOrderedInt64(index_key.substr(1, 8));
  *storage_key = index_key.substr(9);
  return true;
}

std::string ExpiryKeyLimit(int64_t now_micros) {
  if (now_micros == std::numeric_limits<int64_t>::max()) {
    // Every expiry is at or before now: the limit is past the whole space.
    return std::string(1, kExpirySpace + 1);
  }
  std::string out(1, kExpirySpace);
  AppendOrderedInt64(&out, now_micros + 1);
  return out;
}

}  // namespace kv
