// Store is the storage interface of kvstore: namespaced string keys mapped
// to string values, each carrying the store-wide revision of the write
// that produced it. It knows nothing of gRPC; the service validates every
// field against the limits of kv.proto before it calls a Store, so a Store
// accepts any bytes in namespace, key, prefix and value.
//
// Every backend (LevelDbStore here; a distributed engine later) passes the
// same tests, written against this interface in store_test.cc.
//
// Example:
//
//   std::unique_ptr<kv::Store> store = ...;
//   absl::StatusOr<uint64_t> version =
//       store->Set("myapp", "greeting", "hello", absl::Seconds(60));
//   absl::StatusOr<std::optional<kv::Entry>> entry =
//       store->Get("myapp", "greeting");
//   if (entry.ok() && entry->has_value()) Use((*entry)->value);
//
// Thread safety: every method may be called from any number of threads at
// once.

#ifndef KV_STORE_STORE_H_
#define KV_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kv {

// Entry is a stored value with its version.
struct Entry {
  std::string value;
  // version is the revision of the write that stored value; at least 1.
  uint64_t version = 0;
};

// ListPage is one page of keys answered by Store::List.
struct ListPage {
  // keys are in byte order, without the namespace.
  std::vector<std::string> keys;
  // more is true when at least one live key with the prefix follows the
  // last key of this page.
  bool more = false;
};

// StoreStats counts the work of a store's write path since it opened.
struct StoreStats {
  // writes is the number of writes committed (sets, deletes, expiries).
  uint64_t writes = 0;
  // commit_groups is the number of batches those writes were written in.
  uint64_t commit_groups = 0;
  // syncs is the number of those batches that were synced to disk.
  uint64_t syncs = 0;
};

class Store {
 public:
  // SetCallback receives the version a set took, or the reason it failed.
  using SetCallback = absl::AnyInvocable<void(absl::StatusOr<uint64_t>) &&>;
  // DeleteCallback receives whether a delete removed a live value, or the
  // reason it failed.
  using DeleteCallback = absl::AnyInvocable<void(absl::StatusOr<bool>) &&>;

  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Destroying a store first completes every write already accepted.
  virtual ~Store() = default;

  // Get reads the live value of key in namespace_name.
  //
  // Returns the entry, or std::nullopt when the key was never written, was
  // deleted or has expired. Returns DATA_LOSS when the stored record is
  // corrupted and INTERNAL when the engine fails.
  virtual absl::StatusOr<std::optional<Entry>> Get(
      absl::string_view namespace_name, absl::string_view key) = 0;

  // SetAsync stores value under key in namespace_name, replacing any value
  // there. A ttl of zero means the value never expires; a positive ttl
  // makes it expire that long after the store accepts the write.
  //
  // Calls done exactly once with the new version, or with the reason the
  // write failed (nothing is then stored). done may run on another thread,
  // and may run before SetAsync returns. When the store is synced, done
  // runs only once the write is durable.
  virtual void SetAsync(absl::string_view namespace_name, absl::string_view key,
                        std::string value, absl::Duration ttl,
                        SetCallback done) = 0;

  // DeleteAsync removes key from namespace_name.
  //
  // Calls done exactly once with true when a live value was removed, false
  // when the key was absent or had expired, or with the reason the delete
  // failed. done runs as SetAsync's does.
  virtual void DeleteAsync(absl::string_view namespace_name,
                           absl::string_view key, DeleteCallback done) = 0;

  // List answers up to limit live keys of namespace_name that start with
  // prefix and sort strictly after start_after (empty: from the first key),
  // in byte order. limit must be positive.
  //
  // Returns INVALID_ARGUMENT for a limit below 1, DATA_LOSS for a corrupted
  // record and INTERNAL when the engine fails.
  virtual absl::StatusOr<ListPage> List(absl::string_view namespace_name,
                                        absl::string_view prefix,
                                        absl::string_view start_after,
                                        int limit) = 0;

  // Stats answers the counters of the write path.
  virtual StoreStats Stats() const = 0;

  // Set is SetAsync that waits for the answer.
  absl::StatusOr<uint64_t> Set(absl::string_view namespace_name,
                               absl::string_view key, std::string value,
                               absl::Duration ttl = absl::ZeroDuration());

  // Delete is DeleteAsync that waits for the answer.
  absl::StatusOr<bool> Delete(absl::string_view namespace_name,
                              absl::string_view key);
};

}  // namespace kv

#endif  // KV_STORE_STORE_H_
