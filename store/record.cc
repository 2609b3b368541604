#include "store/record.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kv {
namespace {

void PutFixed64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t GetFixed64(const char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

}  // namespace

std::string EncodeRecord(uint64_t revision, int64_t expiry_micros,
                         absl::string_view value) {
  std::string out(kRecordHeaderSize + value.size(), '\0');
  out[0] = static_cast<char>(kRecordFormatVersion);
  PutFixed64(&out[1], revision);
  PutFixed64(&out[9], static_cast<uint64_t>(expiry_micros));
  if (!value.empty()) value.copy(&out[kRecordHeaderSize], value.size());
  return out;
}

void SetRecordRevision(std::string* record, uint64_t revision) {
  PutFixed64(&(*record)[1], revision);
}

absl::StatusOr<RecordHeader> DecodeRecordHeader(absl::string_view record) {
  if (record.size() < kRecordHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("stored record is corrupted: ", record.size(),
                     " bytes is shorter than its header"));
  }
  const uint8_t version = static_cast<uint8_t>(record[0]);
  if (version != kRecordFormatVersion) {
    return absl::DataLossError(
        absl::StrCat("stored record has unknown format version ", version));
  }
  RecordHeader header;
  header.revision = GetFixed64(record.data() + 1);
  header.expiry_micros = static_cast<int64_t>(GetFixed64(record.data() + 9));
  if (header.revision == 0) {
    return absl::DataLossError("stored record is corrupted: revision 0");
  }
  return header;
}

}  // namespace kv
