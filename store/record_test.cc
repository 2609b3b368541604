#include "store/record.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace kv {
namespace {

TEST(Record, RoundTripsHeaderAndValue) {
  const std::string value("v\0\xff", 3);
  const std::string record = EncodeRecord(42, 1700000000000000, value);
  ASSERT_EQ(record.size(), kRecordHeaderSize + value.size());

  absl::StatusOr<RecordHeader> header = DecodeRecordHeader(record);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->revision, 42u);
  EXPECT_EQ(header->expiry_micros, 1700000000000000);
  EXPECT_EQ(record.substr(kRecordHeaderSize), value);
}

TEST(Record, EmptyValueAndNoExpiry) {
  absl::StatusOr<RecordHeader> header =
      DecodeRecordHeader(EncodeRecord(1, 0, ""));
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->expiry_micros, 0);
  EXPECT_FALSE(IsExpired(*header, 1700000000000000));
}

TEST(Record, SetRecordRevisionPatchesOnlyTheRevision) {
  std::string record = EncodeRecord(0, 7, "value");
  SetRecordRevision(&record, 0x0102030405060708);
  absl::StatusOr<RecordHeader> header = DecodeRecordHeader(record);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->revision, 0x0102030405060708u);
  EXPECT_EQ(header->expiry_micros, 7);
  EXPECT_EQ(record.substr(kRecordHeaderSize), "value");
}

TEST(Record, ExpiresAtItsExpiry) {
  const RecordHeader header{1, 100};
  EXPECT_FALSE(IsExpired(header, 99));
  EXPECT_TRUE(IsExpired(header, 100));
  EXPECT_TRUE(IsExpired(header, 101));
}

TEST(Record, ShortRecordIsDataLoss) {
  const std::string record = EncodeRecord(1, 0, "");
  EXPECT_EQ(DecodeRecordHeader(record.substr(0, kRecordHeaderSize - 1))
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeRecordHeader("").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(Record, UnknownFormatVersionIsDataLoss) {
  std::string record = EncodeRecord(1, 0, "v");
  record[0] = static_cast<char>(kRecordFormatVersion + 1);
  EXPECT_EQ(DecodeRecordHeader(record).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(Record, RevisionZeroIsDataLoss) {
  EXPECT_EQ(DecodeRecordHeader(EncodeRecord(0, 0, "v")).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace kv
