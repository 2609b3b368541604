#include "client/client.h"

#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "kv/v1/kv.grpc.pb.h"

namespace kv {

namespace client_internal {

struct Connection {
  ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<kv::v1::KV::Stub> stub;
};

}  // namespace client_internal

namespace {

using client_internal::Connection;

// The server's value limit can be raised to 64 MiB; a response carrying
// such a value, or a request storing one, still has to fit, with room for
// the other fields.
constexpr int kMaxMessageBytes = (64 << 20) + (1 << 20);

// Only calls that are safe to repeat are listed. Set is unconditional, so
// repeating it only stores the same value under a newer version; a
// conditional write must never be added here.
constexpr char kServiceConfig[] = R"json({
  "methodConfig": [{
    "name": [
      {"service": "kv.v1.KV", "method": "Get"},
      {"service": "kv.v1.KV", "method": "List"},
      {"service": "kv.v1.KV", "method": "Delete"},
      {"service": "kv.v1.KV", "method": "Set"}
    ],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json";

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::shared_ptr<const Connection> Connect(ClientOptions options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // gRPC stops retrying a call whose request outgrows this buffer; a Set
  // of the largest value must stay retryable like a small one.
  args.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE, kMaxMessageBytes);
  args.SetServiceConfigJSON(kServiceConfig);
  // gRPC's default lets the wait between reconnection attempts grow to two
  // minutes, during which every call fails at once; a restarted server
  // should be back in use within a second.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);

  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials != nullptr ? options.credentials
                                     : grpc::InsecureChannelCredentials();
  auto connection = std::make_shared<Connection>();
  connection->channel =
      grpc::CreateCustomChannel(options.address, credentials, args);
  connection->stub = kv::v1::KV::NewStub(connection->channel);
  connection->options = std::move(options);
  return connection;
}

// The one place where a gRPC status becomes an absl::Status. The two code
// enums share their numbering, which both libraries document.
absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

void PrepareContext(const Connection& connection,
                    grpc::ClientContext* context) {
  const ClientOptions& options = connection.options;
  if (options.deadline != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  }
  if (!options.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.token);
  }
}

// The gRPC runtime refuses a request with invalid UTF-8 in a string field
// as INTERNAL, which reads like a server fault; checking first turns it
// into the caller's error, named by field.
absl::Status CheckUtf8(absl::string_view field, absl::string_view text) {
  if (IsValidUtf8(text)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be valid UTF-8"));
}

// Rounds away from zero so that a short positive ttl never becomes 0
// (forever) and a negative one stays negative for the server to refuse;
// out-of-range values saturate so that the server names the limit.
int32_t TtlSeconds(absl::Duration ttl) {
  absl::Duration whole = ttl > absl::ZeroDuration()
                             ? absl::Ceil(ttl, absl::Seconds(1))
                             : absl::Floor(ttl, absl::Seconds(1));
  int64_t seconds = absl::ToInt64Seconds(whole);
  if (seconds > std::numeric_limits<int32_t>::max()) {
    return std::numeric_limits<int32_t>::max();
  }
  if (seconds < std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int32_t>::min();
  }
  return static_cast<int32_t>(seconds);
}

}  // namespace

ClientOptions ClientOptions::FromEnvironment() {
  ClientOptions options;
  std::string address = GetEnv("KV_ADDRESS");
  if (!address.empty()) options.address = std::move(address);
  options.token = GetEnv("KV_TOKEN");
  return options;
}

Client::Client(ClientOptions options)
    : connection_(Connect(std::move(options))) {}

KVStore Client::Namespace(absl::string_view namespace_name) const {
  return KVStore(connection_, namespace_name);
}

const ClientOptions& Client::options() const { return connection_->options; }

KVStore::KVStore(absl::string_view namespace_name)
    : KVStore(Client().Namespace(namespace_name)) {}

KVStore::KVStore(std::shared_ptr<const client_internal::Connection> connection,
                 absl::string_view namespace_name)
    : connection_(std::move(connection)), namespace_name_(namespace_name) {}

absl::StatusOr<std::optional<KVStore::Entry>> KVStore::Get(
    absl::string_view key) const {
  absl::Status valid = CheckUtf8("namespace", namespace_name_);
  if (valid.ok()) valid = CheckUtf8("key", key);
  if (!valid.ok()) return valid;

  kv::v1::GetRequest request;
  request.set_namespace_(namespace_name_);
  request.set_key(std::string(key));
  kv::v1::GetResponse response;
  grpc::ClientContext context;
  PrepareContext(*connection_, &context);
  absl::Status status =
      FromGrpcStatus(connection_->stub->Get(&context, request, &response));
  if (!status.ok()) return status;

  if (!response.found()) return std::nullopt;
  Entry entry;
  entry.value = std::move(*response.mutable_value());
  entry.version = response.version();
  return entry;
}

absl::StatusOr<uint64_t> KVStore::Set(absl::string_view key, std::string value,
                                      absl::Duration ttl) const {
  absl::Status valid = CheckUtf8("namespace", namespace_name_);
  if (valid.ok()) valid = CheckUtf8("key", key);
  if (valid.ok()) valid = CheckUtf8("value", value);
  if (!valid.ok()) return valid;

  kv::v1::SetRequest request;
  request.set_namespace_(namespace_name_);
  request.set_key(std::string(key));
  request.set_value(std::move(value));
  request.set_ttl_seconds(TtlSeconds(ttl));
  kv::v1::SetResponse response;
  grpc::ClientContext context;
  PrepareContext(*connection_, &context);
  absl::Status status =
      FromGrpcStatus(connection_->stub->Set(&context, request, &response));
  if (!status.ok()) return status;
  return response.version();
}

absl::StatusOr<bool> KVStore::Delete(absl::string_view key) const {
  absl::Status valid = CheckUtf8("namespace", namespace_name_);
  if (valid.ok()) valid = CheckUtf8("key", key);
  if (!valid.ok()) return valid;

  kv::v1::DeleteRequest request;
  request.set_namespace_(namespace_name_);
  request.set_key(std::string(key));
  kv::v1::DeleteResponse response;
  grpc::ClientContext context;
  PrepareContext(*connection_, &context);
  absl::Status status =
      FromGrpcStatus(connection_->stub->Delete(&context, request, &response));
  if (!status.ok()) return status;
  return response.deleted();
}

absl::StatusOr<KVStore::ListPage> KVStore::List(
    absl::string_view prefix, int page_size,
    absl::string_view page_token) const {
  absl::Status valid = CheckUtf8("namespace", namespace_name_);
  if (valid.ok()) valid = CheckUtf8("prefix", prefix);
  if (valid.ok()) valid = CheckUtf8("page_token", page_token);
  if (!valid.ok()) return valid;

  kv::v1::ListRequest request;
  request.set_namespace_(namespace_name_);
  request.set_prefix(std::string(prefix));
  request.set_page_size(page_size);
  request.set_page_token(std::string(page_token));
  kv::v1::ListResponse response;
  grpc::ClientContext context;
  PrepareContext(*connection_, &context);
  absl::Status status =
      FromGrpcStatus(connection_->stub->List(&context, request, &response));
  if (!status.ok()) return status;

  ListPage page;
  page.keys.reserve(response.keys_size());
  for (std::string& key : *response.mutable_keys()) {
    page.keys.push_back(std::move(key));
  }
  page.next_page_token = std::move(*response.mutable_next_page_token());
  return page;
}

absl::StatusOr<std::vector<std::string>> KVStore::ListAll(
    absl::string_view prefix) const {
  // The largest page the server gives keeps the number of calls low.
  constexpr int kPageSize = 1000;
  std::vector<std::string> keys;
  std::string token;
  do {
    absl::StatusOr<ListPage> page = List(prefix, kPageSize, token);
    if (!page.ok()) return page.status();
    for (std::string& key : page->keys) keys.push_back(std::move(key));
    token = std::move(page->next_page_token);
  } while (!token.empty());
  return keys;
}

bool IsValidUtf8(absl::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }

    // The lead byte fixes the sequence length and the range its second
    // byte may take; the narrower ranges exclude overlong forms (E0, F0),
    // surrogates (ED) and code points above U+10FFFF (F4).
    size_t length;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;
      if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;
      if (lead == 0xF4) second_max = 0x8F;
    } else {
      return false;
    }
    if (size - i < length) return false;

    if (bytes[i + 1] < second_min || bytes[i + 1] > second_max) return false;
    for (size_t k = 2; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace kv
