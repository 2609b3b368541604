// key_encoding: how LevelDbStore lays out its keys in one LevelDB.
//
// The first byte of every LevelDB key names its key space:
//
//   'd' varint(len(namespace)) namespace key    a user record
//   'm' name                                    an internal value
//   't' namespace                               a ttl namespace mark
//   'x' fixed64be(expiry) storage_key           the expiry index
//
// The record encoding is injective: the varint is prefix-free, so it tells
// where the namespace ends, and the key is the rest. Hence ("a", "b/c") and
// ("a/b", "c") differ, and RecordKeyPrefix(namespace) is a prefix of exactly
// the records of that namespace, so a prefix scan never reaches another
// namespace. Within one namespace, records sort in the byte order of their
// keys, which List relies on. No record encodes into the 'm', 't' or 'x'
// spaces.
//
// A ttl namespace mark says that a namespace has held a record with a ttl
// (LevelDbStore reads the old record before a set only in such namespaces).
//
// Expiry index keys sort by expiry time, then by the storage key of the
// record they point at, so the expired records are a prefix of the index.
//
// Thread safety: every function is pure and may be called from any thread.

#ifndef KV_STORE_KEY_ENCODING_H_
#define KV_STORE_KEY_ENCODING_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace kv {

// kRecordSpace is the first byte of every user record's storage key.
inline constexpr char kRecordSpace = 'd';
// kMetaSpace is the first byte of every internal value's storage key.
inline constexpr char kMetaSpace = 'm';
// kTtlNamespaceSpace is the first byte of every ttl namespace mark.
inline constexpr char kTtlNamespaceSpace = 't';
// kExpirySpace is the first byte of every expiry index key.
inline constexpr char kExpirySpace = 'x';

// kFormatVersionKey holds the on-disk format version of the store.
inline constexpr absl::string_view kFormatVersionKey = "mformat_version";
// kReservedRevisionKey holds the highest revision that may have been handed
// out, as a fixed64 little-endian value.
inline constexpr absl::string_view kReservedRevisionKey = "mreserved_revision";

// RecordKeyPrefix answers the prefix shared by the storage keys of every
// record in namespace_name, and by no other key.
std::string RecordKeyPrefix(absl::string_view namespace_name);

// EncodeRecordKey answers the storage key of key in namespace_name. Any
// bytes are accepted in both.
std::string EncodeRecordKey(absl::string_view namespace_name,
                            absl::string_view key);

// DecodeRecordKey splits a storage key made by EncodeRecordKey.
//
// Returns true and points *namespace_name and *key into storage_key on
// success; returns false, leaving both unchanged, when storage_key is not a
// record key.
bool DecodeRecordKey(absl::string_view storage_key,
                     absl::string_view* namespace_name, absl::string_view* key);

// EncodeTtlNamespaceKey answers the key of the ttl namespace mark of
// namespace_name.
std::string EncodeTtlNamespaceKey(absl::string_view namespace_name);

// DecodeTtlNamespaceKey answers, in *namespace_name (pointing into
// mark_key), the namespace of a key made by EncodeTtlNamespaceKey.
//
// Returns false, leaving *namespace_name unchanged, when mark_key is not
// such a key.
bool DecodeTtlNamespaceKey(absl::string_view mark_key,
                           absl::string_view* namespace_name);

// EncodeExpiryKey answers the expiry index key of the record stored under
// storage_key that expires at expiry_micros (microseconds since the Unix
// epoch; any int64, negative ones sort first).
std::string EncodeExpiryKey(int64_t expiry_micros,
                            absl::string_view storage_key);

// DecodeExpiryKey splits an expiry index key made by EncodeExpiryKey.
//
// Returns true and fills *expiry_micros and *storage_key (pointing into
// index_key) on success; returns false, leaving both unchanged, when
// index_key is not an expiry index key.
bool DecodeExpiryKey(absl::string_view index_key, int64_t* expiry_micros,
                     absl::string_view* storage_key);

// ExpiryKeyLimit answers the smallest expiry index key of any record that
// expires after now_micros: every index key below it belongs to a record
// whose expiry is at or before now_micros.
std::string ExpiryKeyLimit(int64_t now_micros);

}  // namespace kv

#endif  // KV_STORE_KEY_ENCODING_H_
