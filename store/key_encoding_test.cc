#include "store/key_encoding.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace kv {
namespace {

// Inputs chosen to collide under a naive encoding: separators, NUL and 0xFF
// bytes, strings that are prefixes of each other, and the longest ones the
// service allows (128-byte namespace, 1024-byte key).
std::vector<std::string> Tricky() {
  return {"",
          "a",
          "ab",
          "a/b",
          "b/c",
          "b",
          "c",
          "/",
          ":",
          "a:",
          std::string("\0", 1),
          std::string("a\0", 2),
          std::string("\0a", 2),
          "\x01",
          "\x7f",
          "\x80",
          "\xff",
          "a\xff",
          "\xff\xff",
          std::string(127, 'n'),
          std::string(128, 'n'),
          std::string(128, '\xff'),
          std::string(1023, 'k'),
          std::string(1024, 'k'),
          std::string(1024, '\0')};
}

TEST(KeyEncoding, RecordKeysAreInjective) {
  std::set<std::string> seen;
  size_t pairs = 0;
  for (const std::string& ns : Tricky()) {
    for (const std::string& key : Tricky()) {
      ++pairs;
      EXPECT_TRUE(seen.insert(EncodeRecordKey(ns, key)).second)
          << "namespace of " << ns.size() << " bytes, key of " << key.size()
          << " bytes collides";
    }
  }
  EXPECT_EQ(seen.size(), pairs);
}

TEST(KeyEncoding, SlashSplitsDiffer) {
  EXPECT_NE(EncodeRecordKey("a", "b/c"), EncodeRecordKey("a/b", "c"));
  EXPECT_NE(EncodeRecordKey("a", "bc"), EncodeRecordKey("ab", "c"));
}

TEST(KeyEncoding, RecordKeysDecodeToTheirParts) {
  for (const std::string& ns : Tricky()) {
    for (const std::string& key : Tricky()) {
      const std::string encoded = EncodeRecordKey(ns, key);
      absl::string_view got_ns, got_key;
      ASSERT_TRUE(DecodeRecordKey(encoded, &got_ns, &got_key));
      EXPECT_EQ(got_ns, ns);
      EXPECT_EQ(got_key, key);
    }
  }
}

TEST(KeyEncoding, NamespacePrefixCoversExactlyItsRecords) {
  for (const std::string& ns : Tricky()) {
    const std::string prefix = RecordKeyPrefix(ns);
    for (const std::string& other : Tricky()) {
      for (const std::string& key : Tricky()) {
        const std::string encoded = EncodeRecordKey(other, key);
        const bool starts = encoded.compare(0, prefix.size(), prefix) == 0;
        EXPECT_EQ(starts, ns == other)
            << "namespace of " << ns.size() << " bytes vs " << other.size();
      }
    }
  }
}

TEST(KeyEncoding, KeysOfOneNamespaceKeepByteOrder) {
  std::vector<std::string> keys = Tricky();
  for (const std::string& ns : {std::string("app"), std::string(128, 'n')}) {
    for (const std::string& a : keys) {
      for (const std::string& b : keys) {
        EXPECT_EQ(a < b, EncodeRecordKey(ns, a) < EncodeRecordKey(ns, b));
      }
    }
  }
}

TEST(KeyEncoding, InternalKeysAreNoRecordKey) {
  const std::vector<std::string> internal = {
      std::string(kFormatVersionKey),
      std::string(kReservedRevisionKey),
      EncodeExpiryKey(0, EncodeRecordKey("a", "b")),
      EncodeExpiryKey(std::numeric_limits<int64_t>::max(), ""),
      EncodeTtlNamespaceKey(""),
      EncodeTtlNamespaceKey("d\x01a")};
  for (const std::string& key : internal) {
    absl::string_view ns, user_key;
    EXPECT_FALSE(DecodeRecordKey(key, &ns, &user_key));
    EXPECT_NE(key[0], kRecordSpace);
  }
  for (const std::string& ns : Tricky()) {
    for (const std::string& key : Tricky()) {
      EXPECT_EQ(EncodeRecordKey(ns, key)[0], kRecordSpace);
    }
  }
}

TEST(KeyEncoding, DecodeRejectsMalformedRecordKeys) {
  absl::string_view ns, key;
  EXPECT_FALSE(DecodeRecordKey("", &ns, &key));
  EXPECT_FALSE(DecodeRecordKey("d", &ns, &key));
  EXPECT_FALSE(
      DecodeRecordKey("x\x01"
                      "ab",
                      &ns, &key));
  // Length 5, but only two bytes follow.
  EXPECT_FALSE(
      DecodeRecordKey("d\x05"
                      "ab",
                      &ns, &key));
  // An unterminated varint.
  EXPECT_FALSE(DecodeRecordKey("d\x80", &ns, &key));
  // A varint with a redundant zero byte has another, shorter encoding.
  EXPECT_FALSE(DecodeRecordKey(std::string("d\x81\x00", 3), &ns, &key));
}

TEST(KeyEncoding, ExpiryKeysSortByTimeThenStorageKey) {
  const std::vector<int64_t> times = {
      std::numeric_limits<int64_t>::min(), -1, 0, 1, 255, 256, 1700000000000000,
      std::numeric_limits<int64_t>::max()};
  const std::vector<std::string> storage = {EncodeRecordKey("a", ""),
                                            EncodeRecordKey("a", "b"),
                                            EncodeRecordKey("ab", "")};
  std::vector<std::pair<int64_t, std::string>> expected;
  std::vector<std::string> encoded;
  for (int64_t t : times) {
    for (const std::string& s : storage) {
      expected.emplace_back(t, s);
      encoded.push_back(EncodeExpiryKey(t, s));
    }
  }
  for (size_t i = 1; i < encoded.size(); ++i) {
    EXPECT_LT(encoded[i - 1], encoded[i]) << "at " << i;
  }
  for (size_t i = 0; i < encoded.size(); ++i) {
    int64_t t = 0;
    absl::string_view s;
    ASSERT_TRUE(DecodeExpiryKey(encoded[i], &t, &s));
    EXPECT_EQ(t, expected[i].first);
    EXPECT_EQ(s, expected[i].second);
  }
}

TEST(KeyEncoding, ExpiryKeyLimitSplitsExpiredFromLive) {
  const std::string storage =
      EncodeRecordKey(std::string(128, '\xff'), std::string(1024, '\xff'));
  for (int64_t now : {int64_t{-5}, int64_t{0}, int64_t{1700000000000000}}) {
    const std::string limit = ExpiryKeyLimit(now);
    EXPECT_LT(EncodeExpiryKey(now, storage), limit);
    EXPECT_LT(EncodeExpiryKey(now - 1, storage), limit);
    EXPECT_GE(EncodeExpiryKey(now + 1, ""), limit);
  }
  const std::string last = ExpiryKeyLimit(std::numeric_limits<int64_t>::max());
  EXPECT_LT(EncodeExpiryKey(std::numeric_limits<int64_t>::max(), storage),
            last);
}

TEST(KeyEncoding, DecodeRejectsShortExpiryKeys) {
  int64_t t = 0;
  absl::string_view s;
  EXPECT_FALSE(DecodeExpiryKey("x1234567", &t, &s));
  EXPECT_FALSE(DecodeExpiryKey(EncodeRecordKey("a", "123456789"), &t, &s));
}

TEST(KeyEncoding, TtlNamespaceKeysDecodeToTheirNamespace) {
  for (const std::string& ns : Tricky()) {
    const std::string mark = EncodeTtlNamespaceKey(ns);
    absl::string_view decoded;
    ASSERT_TRUE(DecodeTtlNamespaceKey(mark, &decoded)) << ns;
    EXPECT_EQ(decoded, ns);
    int64_t expiry = 0;
    absl::string_view storage_key;
    EXPECT_FALSE(DecodeExpiryKey(mark, &expiry, &storage_key));
  }
  absl::string_view ns = "unchanged";
  EXPECT_FALSE(DecodeTtlNamespaceKey("", &ns));
  EXPECT_FALSE(DecodeTtlNamespaceKey(EncodeRecordKey("a", "b"), &ns));
  EXPECT_EQ(ns, "unchanged");
}

}  // namespace
}  // namespace kv
