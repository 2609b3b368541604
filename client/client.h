// client.h: the C++ client of kvstore, a thin layer over the gRPC stub
// generated from protos/kv/v1/kv.proto.
//
// A Client owns one gRPC channel to a kv-server. A KVStore is a cheap
// handle on one namespace of that server, with the calls runner code
// needs: Get, Set, Delete and List. Both read their defaults from the
// environment: KV_ADDRESS (default localhost:50051) and KV_TOKEN (sent as
// `authorization: Bearer <token>` on every call when set).
//
// Example:
//
//   kv::KVStore store("myapp");  // server and token from the environment
//   absl::StatusOr<std::optional<kv::KVStore::Entry>> cached =
//       store.Get("report/2024");
//   if (!cached.ok()) return cached.status();
//   if (cached->has_value()) return (*cached)->value;
//   std::string report = ComputeReport();
//   absl::StatusOr<uint64_t> version =
//       store.Set("report/2024", report, absl::Hours(1));
//   if (!version.ok()) return version.status();
//   return report;
//
// Errors: every call returns an absl::Status carrying the server's gRPC
// code and message unchanged (see kv.proto for the codes of each call),
// or a code of the gRPC runtime itself (UNAVAILABLE when the server cannot
// be reached, DEADLINE_EXCEEDED when the deadline passes). Strings that are
// not valid UTF-8 are refused with INVALID_ARGUMENT before any call.
//
// Retries: calls that end UNAVAILABLE are retried by gRPC itself, up to
// five attempts in all, with backoff, within the call's deadline: Get,
// List, Delete and Set. Set is an unconditional write, so a retried Set
// stores the same value again under a newer version; writes that must not
// repeat are never retried. A channel whose server went away reconnects
// by itself, waiting at most one second between attempts.
//
// Note: a call that ends DEADLINE_EXCEEDED may still have been applied by
// the server. A Set or Delete that times out may have happened; read the
// key to find out.
//
// Note: the channel is plaintext unless ClientOptions::credentials says
// otherwise, and a plaintext channel carries the token in the clear.
//
// The library never logs; it reports everything through its results.

#ifndef KV_CLIENT_CLIENT_H_
#define KV_CLIENT_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace kv {

namespace client_internal {
// Connection is the state a Client shares with its KVStore handles.
struct Connection;
}  // namespace client_internal

class KVStore;

// ClientOptions configures a Client.
struct ClientOptions {
  // address is the server to call, in gRPC target syntax: "host:port",
  // "dns:///host:port", "unix:/path". Default "localhost:50051".
  std::string address = "localhost:50051";

  // token is sent as the metadata `authorization: Bearer <token>` on every
  // call. Empty, the default, sends no authorization metadata.
  std::string token;

  // deadline bounds each call, retries included, measured from the moment
  // the call starts. absl::InfiniteDuration() means no deadline. Default
  // 5 seconds.
  absl::Duration deadline = absl::Seconds(5);

  // credentials secures the channel. nullptr, the default, means
  // grpc::InsecureChannelCredentials(): a plaintext channel.
  std::shared_ptr<grpc::ChannelCredentials> credentials;

  // FromEnvironment returns the default options with address taken from
  // KV_ADDRESS and token from KV_TOKEN, for each variable that is set and
  // not empty. It never fails: unset variables keep the defaults.
  static ClientOptions FromEnvironment();
};

// Client owns one gRPC channel to a kv-server and hands out KVStore
// handles on its namespaces.
//
// Creating a Client makes no call and never fails: the channel connects
// on the first call, and a server that cannot be reached shows as
// UNAVAILABLE from that call. Channels with the same address and settings
// share one connection inside the process.
//
// Thread safety: a Client may be used from any number of threads at once.
// Copies are cheap and share the channel; the channel lives while any
// Client or KVStore made from it lives.
class Client {
 public:
  // Client builds a client from options; by default from the environment
  // (see ClientOptions::FromEnvironment).
  explicit Client(ClientOptions options = ClientOptions::FromEnvironment());

  // Namespace returns a handle on namespace_name of this client's server.
  // It makes no call: a namespace needs no setup, and a bad name is
  // reported by the first call on the handle (INVALID_ARGUMENT).
  KVStore Namespace(absl::string_view namespace_name) const;

  // options returns the options this client was built with.
  const ClientOptions& options() const;

 private:
  std::shared_ptr<const client_internal::Connection> connection_;
};

// KVStore is a handle on one namespace of a kv-server: the runner API.
//
// Thread safety: a KVStore may be used from any number of threads at once.
// Copies are cheap and share the channel of the Client they came from.
class KVStore {
 public:
  // Entry is a stored value with its version.
  struct Entry {
    // value is the stored value; may be empty (a stored empty string).
    std::string value;
    // version is the store-wide revision of the write that stored value:
    // at least 1, and larger for every later write to the server's store.
    uint64_t version = 0;
  };

  // ListPage is one page of keys answered by List.
  struct ListPage {
    // keys are the keys of this page, in byte order, without the
    // namespace.
    std::vector<std::string> keys;
    // next_page_token continues the listing after this page when passed
    // to List with the same prefix. Empty when this page is the last.
    std::string next_page_token;
  };

  // KVStore builds a handle on namespace_name with its own Client made
  // from the environment (ClientOptions::FromEnvironment). To share one
  // channel among several namespaces, use Client::Namespace instead.
  explicit KVStore(absl::string_view namespace_name);

  // namespace_name returns the namespace this handle works on.
  const std::string& namespace_name() const { return namespace_name_; }

  // Get reads the value stored under key.
  //
  // Returns the entry, or std::nullopt when the key was never written, was
  // deleted or has expired. On error returns INVALID_ARGUMENT for a bad
  // namespace or key (the message names the field and the limit), or
  // another code of the server or the transport.
  absl::StatusOr<std::optional<Entry>> Get(absl::string_view key) const;

  // Set stores value under key, replacing any value there, and returns
  // the version of the new value.
  //
  // ttl is how long the value lives; zero, the default, means forever.
  // A ttl that is not a whole number of seconds is rounded away from zero
  // to one that is; the server accepts 1 second to 30 days. On error
  // returns INVALID_ARGUMENT for a bad namespace, key, value or ttl, and
  // nothing is stored; or another code of the server or the transport.
  // Set is retried on UNAVAILABLE, so one call may store the value more
  // than once; the version returned is that of the last store.
  absl::StatusOr<uint64_t> Set(absl::string_view key, std::string value,
                               absl::Duration ttl = absl::ZeroDuration()) const;

  // Delete removes key.
  //
  // Returns true when the key held a value that this call removed, false
  // when it was already absent or expired. On error returns
  // INVALID_ARGUMENT for a bad namespace or key, or another code of the
  // server or the transport.
  absl::StatusOr<bool> Delete(absl::string_view key) const;

  // List returns one page of the keys that start with prefix, in byte
  // order.
  //
  // page_size is the most keys the page holds: 0 means the server's
  // default (100), values above 1000 mean 1000. page_token is empty for
  // the first page, then the next_page_token of the previous page. On
  // error returns INVALID_ARGUMENT for a bad namespace, prefix, page_size
  // or page_token (a token from another namespace or prefix is refused),
  // or another code of the server or the transport.
  absl::StatusOr<ListPage> List(absl::string_view prefix = "",
                                int page_size = 0,
                                absl::string_view page_token = "") const;

  // ListAll returns every key that starts with prefix, in byte order,
  // calling List page after page; each page has its own deadline.
  //
  // Pages are not a snapshot: a key written meanwhile may or may not
  // appear, and none appears twice. All keys are held in memory. On error
  // returns the error of the first page that fails; no keys are returned.
  absl::StatusOr<std::vector<std::string>> ListAll(
      absl::string_view prefix = "") const;

 private:
  friend class Client;

  KVStore(std::shared_ptr<const client_internal::Connection> connection,
          absl::string_view namespace_name);

  std::shared_ptr<const client_internal::Connection> connection_;
  std::string namespace_name_;
};

// IsValidUtf8 returns true when text is well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), the check gRPC
// applies to string fields. The empty string is valid.
bool IsValidUtf8(absl::string_view text);

}  // namespace kv

#endif  // KV_CLIENT_CLIENT_H_
