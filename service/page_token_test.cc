#include "service/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv {
namespace {

using ::testing::StartsWith;

void ExpectRefused(const absl::StatusOr<std::string>& result) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()),
              StartsWith("page_token: "));
}

TEST(PageToken, EmptyTokenStartsAtTheFirstKey) {
  absl::StatusOr<std::string> start = DecodePageToken("", "ns", "p");
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(*start, "");
}

TEST(PageToken, RoundTripAnswersTheLastKey) {
  std::string token = EncodePageToken("myapp", "user/", "user/42");
  absl::StatusOr<std::string> start = DecodePageToken(token, "myapp", "user/");
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, "user/42");
}

TEST(PageToken, RoundTripOfMaximalAndBinaryFields) {
  const std::string ns(128, 'n');
  const std::string prefix = std::string(1023, '\xff') + std::string(1, '\0');
  const std::string key = prefix + "\x01";
  absl::StatusOr<std::string> start =
      DecodePageToken(EncodePageToken(ns, prefix, key), ns, prefix);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, key);
}

TEST(PageToken, TokenIsUrlSafeAscii) {
  std::string token =
      EncodePageToken("ns", "", std::string("\xff\xfe\0\x80", 4));
  for (char c : token) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '_')
        << static_cast<int>(c);
  }
}

TEST(PageToken, AnotherNamespaceIsRefused) {
  std::string token = EncodePageToken("a", "", "k");
  absl::StatusOr<std::string> start = DecodePageToken(token, "b", "");
  ExpectRefused(start);
  EXPECT_THAT(std::string(start.status().message()),
              ::testing::HasSubstr("another namespace or prefix"));
}

TEST(PageToken, AnotherPrefixIsRefused) {
  std::string token = EncodePageToken("a", "p", "pk");
  ExpectRefused(DecodePageToken(token, "a", ""));
  ExpectRefused(DecodePageToken(token, "a", "pk"));
}

TEST(PageToken, NamespaceAndPrefixBoundariesAreNotConfused) {
  // "ab" + "c" must not pass for "a" + "bc".
  std::string token = EncodePageToken("ab", "c", "cz");
  ExpectRefused(DecodePageToken(token, "a", "bc"));
}

TEST(PageToken, GarbageIsRefused) {
  ExpectRefused(DecodePageToken("not base64!", "a", ""));
  ExpectRefused(DecodePageToken("AAAA", "a", ""));
  ExpectRefused(DecodePageToken(std::string(9000, 'A'), "a", ""));
}

TEST(PageToken, TruncatedTokensAreRefused) {
  std::string raw;
  ASSERT_TRUE(
      absl::WebSafeBase64Unescape(EncodePageToken("ns", "p", "pk"), &raw));
  // Size 0 is the empty token, which starts a listing.
  for (size_t size = 1; size < raw.size(); ++size) {
    ExpectRefused(DecodePageToken(
        absl::WebSafeBase64Escape(raw.substr(0, size)), "ns", "p"));
  }
}

TEST(PageToken, ExtendedTokenIsRefused) {
  std::string raw;
  ASSERT_TRUE(
      absl::WebSafeBase64Unescape(EncodePageToken("ns", "", "k"), &raw));
  raw.push_back('x');
  ExpectRefused(DecodePageToken(absl::WebSafeBase64Escape(raw), "ns", ""));
}

TEST(PageToken, OtherFormatVersionIsRefused) {
  std::string raw;
  ASSERT_TRUE(
      absl::WebSafeBase64Unescape(EncodePageToken("ns", "", "k"), &raw));
  raw[0] = 2;
  ExpectRefused(DecodePageToken(absl::WebSafeBase64Escape(raw), "ns", ""));
}

TEST(PageToken, LastKeyOutsideThePrefixIsRefused) {
  // A well-formed encoding whose key does not start with its prefix can
  // only be forged; it is refused rather than used as a start point.
  std::string raw = std::string("\x01\x02ns\x01p\x01q", 8);
  ExpectRefused(DecodePageToken(absl::WebSafeBase64Escape(raw), "ns", "p"));
}

}  // namespace
}  // namespace kv
