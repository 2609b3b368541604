#include "service/limits.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kv {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

v1::SetRequest ValidSet() {
  v1::SetRequest request;
  request.set_namespace_("myapp");
  request.set_key("k");
  request.set_value("v");
  return request;
}

TEST(Limits, NamespaceOfOneAnd128BytesIsValid) {
  EXPECT_TRUE(ValidateNamespace("a").ok());
  EXPECT_TRUE(ValidateNamespace(std::string(128, 'a')).ok());
}

TEST(Limits, NamespaceOfEveryAllowedByteIsValid) {
  EXPECT_TRUE(ValidateNamespace("ABCXYZabcxyz0189._-").ok());
}

TEST(Limits, EmptyNamespaceIsRefused) {
  absl::Status status = ValidateNamespace("");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "namespace: must be 1 to 128 bytes, got 0");
}

TEST(Limits, NamespaceOf129BytesIsRefused) {
  absl::Status status = ValidateNamespace(std::string(129, 'a'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "namespace: must be 1 to 128 bytes, got 129");
}

TEST(Limits, NamespaceWithAForbiddenByteIsRefusedWithoutEchoingIt) {
  const std::string bads[] = {"a/b", "a b", "a:b", "a\xc3\xa9",
                              std::string("a\0b", 3)};
  for (const std::string& bad : bads) {
    absl::Status status = ValidateNamespace(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(status.message()),
                StartsWith("namespace: must contain only [A-Za-z0-9._-]"));
    EXPECT_THAT(std::string(status.message()), HasSubstr("offset 1"));
    EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr(bad)));
  }
}

TEST(Limits, KeyOfOneAnd1024BytesIsValid) {
  EXPECT_TRUE(ValidateKey("k").ok());
  EXPECT_TRUE(ValidateKey(std::string(1024, 'k')).ok());
}

TEST(Limits, EmptyKeyIsRefused) {
  EXPECT_EQ(ValidateKey("").message(), "key: must be 1 to 1024 bytes, got 0");
}

TEST(Limits, KeyOf1025BytesIsRefused) {
  absl::Status status = ValidateKey(std::string(1025, 'k'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "key: must be 1 to 1024 bytes, got 1025");
}

TEST(Limits, ValueAtTheLimitIsValidAndOneOverIsRefused) {
  v1::SetRequest request = ValidSet();
  request.set_value(std::string(100, 'v'));
  EXPECT_TRUE(ValidateSetRequest(request, 100).ok());

  request.set_value(std::string(101, 'v'));
  absl::Status status = ValidateSetRequest(request, 100);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "value: must be at most 100 bytes, got 101");
}

TEST(Limits, EmptyValueIsValid) {
  v1::SetRequest request = ValidSet();
  request.clear_value();
  EXPECT_TRUE(ValidateSetRequest(request, kDefaultMaxValueBytes).ok());
}

TEST(Limits, TtlEdges) {
  v1::SetRequest request = ValidSet();
  for (int32_t ttl : {0, 1, 2592000}) {
    request.set_ttl_seconds(ttl);
    EXPECT_TRUE(ValidateSetRequest(request, 10).ok()) << ttl;
  }
  for (int32_t ttl : {-1, 2592001, INT32_MIN, INT32_MAX}) {
    request.set_ttl_seconds(ttl);
    absl::Status status = ValidateSetRequest(request, 10);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << ttl;
    EXPECT_EQ(status.message(),
              "ttl_seconds: must be 0 (no expiry) or 1 to 2592000");
  }
}

TEST(Limits, SetNamesTheFirstBadFieldInFieldOrder) {
  v1::SetRequest request;
  request.set_namespace_("");
  request.set_key("");
  request.set_value(std::string(11, 'v'));
  request.set_ttl_seconds(-1);
  EXPECT_THAT(std::string(ValidateSetRequest(request, 10).message()),
              StartsWith("namespace:"));
  request.set_namespace_("n");
  EXPECT_THAT(std::string(ValidateSetRequest(request, 10).message()),
              StartsWith("key:"));
  request.set_key("k");
  EXPECT_THAT(std::string(ValidateSetRequest(request, 10).message()),
              StartsWith("value:"));
  request.set_value("");
  EXPECT_THAT(std::string(ValidateSetRequest(request, 10).message()),
              StartsWith("ttl_seconds:"));
}

TEST(Limits, GetAndDeleteCheckNamespaceThenKey) {
  v1::GetRequest get;
  EXPECT_THAT(std::string(ValidateGetRequest(get).message()),
              StartsWith("namespace:"));
  get.set_namespace_("n");
  EXPECT_THAT(std::string(ValidateGetRequest(get).message()),
              StartsWith("key:"));
  get.set_key("k");
  EXPECT_TRUE(ValidateGetRequest(get).ok());

  v1::DeleteRequest del;
  EXPECT_THAT(std::string(ValidateDeleteRequest(del).message()),
              StartsWith("namespace:"));
  del.set_namespace_("n");
  EXPECT_THAT(std::string(ValidateDeleteRequest(del).message()),
              StartsWith("key:"));
  del.set_key("k");
  EXPECT_TRUE(ValidateDeleteRequest(del).ok());
}

TEST(Limits, ListPrefixEdges) {
  v1::ListRequest request;
  request.set_namespace_("n");
  EXPECT_TRUE(ValidateListRequest(request).ok());
  request.set_prefix(std::string(1024, 'p'));
  EXPECT_TRUE(ValidateListRequest(request).ok());
  request.set_prefix(std::string(1025, 'p'));
  EXPECT_EQ(ValidateListRequest(request).message(),
            "prefix: must be at most 1024 bytes, got 1025");
}

TEST(Limits, ListPageSizeEdges) {
  v1::ListRequest request;
  request.set_namespace_("n");
  for (int32_t size : {0, 1, 1000, 1001, INT32_MAX}) {
    request.set_page_size(size);
    EXPECT_TRUE(ValidateListRequest(request).ok()) << size;
  }
  request.set_page_size(-1);
  absl::Status status = ValidateListRequest(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), StartsWith("page_size: must be"));
}

TEST(Limits, ListNamesTheFirstBadField) {
  v1::ListRequest request;
  request.set_prefix(std::string(1025, 'p'));
  request.set_page_size(-1);
  EXPECT_THAT(std::string(ValidateListRequest(request).message()),
              StartsWith("namespace:"));
  request.set_namespace_("n");
  EXPECT_THAT(std::string(ValidateListRequest(request).message()),
              StartsWith("prefix:"));
}

TEST(Limits, EffectivePageSize) {
  EXPECT_EQ(EffectivePageSize(0), 100);
  EXPECT_EQ(EffectivePageSize(1), 1);
  EXPECT_EQ(EffectivePageSize(1000), 1000);
  EXPECT_EQ(EffectivePageSize(1001), 1000);
  EXPECT_EQ(EffectivePageSize(INT32_MAX), 1000);
}

TEST(Limits, TtlFromSeconds) {
  EXPECT_EQ(TtlFromSeconds(0), absl::ZeroDuration());
  EXPECT_EQ(TtlFromSeconds(2592000), absl::Hours(24 * 30));
}

TEST(Limits, MaxValueBytesEdges) {
  EXPECT_TRUE(ValidateMaxValueBytes(1).ok());
  EXPECT_TRUE(ValidateMaxValueBytes(67108864).ok());
  EXPECT_EQ(ValidateMaxValueBytes(0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateMaxValueBytes(67108865).message(),
            "max_value_bytes: must be 1 to 67108864, got 67108865");
}

}  // namespace
}  // namespace kv
