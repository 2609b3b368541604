// record: the bytes LevelDbStore stores as the LevelDB value of a record.
//
//   byte      format version (kRecordFormatVersion)
//   fixed64   revision, little-endian, at least 1
//   fixed64   expiry in microseconds since the Unix epoch, 0 for none
//   ...       the value, to the end
//
// The format version lets a later release change the layout and still read
// old records.
//
// Thread safety: every function is pure and may be called from any thread.

#ifndef KV_STORE_RECORD_H_
#define KV_STORE_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kv {

// kRecordFormatVersion is the format version this release writes and reads.
inline constexpr uint8_t kRecordFormatVersion = 1;
// kRecordHeaderSize is the number of bytes before the value.
inline constexpr size_t kRecordHeaderSize = 17;

// RecordHeader is the decoded header of a record.
struct RecordHeader {
  // revision is the revision of the write that stored the record.
  uint64_t revision = 0;
  // expiry_micros is when the record expires, 0 when it never does.
  int64_t expiry_micros = 0;
};

// IsExpired answers whether a record with header has expired at now_micros:
// it has an expiry, and the expiry is at or before now_micros.
inline bool IsExpired(const RecordHeader& header, int64_t now_micros) {
  return header.expiry_micros != 0 && header.expiry_micros <= now_micros;
}

// EncodeRecord answers the stored bytes of value with its revision and
// expiry (0 for none).
std::string EncodeRecord(uint64_t revision, int64_t expiry_micros,
                         absl::string_view value);

// SetRecordRevision overwrites the revision of *record in place, so that a
// record can be encoded before its revision is known. *record must have
// been made by EncodeRecord.
void SetRecordRevision(std::string* record, uint64_t revision);

// DecodeRecordHeader reads the header of stored bytes; the value is
// record.substr(kRecordHeaderSize).
//
// Returns the header, or DATA_LOSS when record is too short, carries an
// unknown format version or a revision of 0.
absl::StatusOr<RecordHeader> DecodeRecordHeader(absl::string_view record);

}  // namespace kv

#endif  // KV_STORE_RECORD_H_
