// test_support: helpers shared by the tests of tests/server. Test-only.
// Directories and clocks come from store/testing (kv::testing::TempDir,
// kv::testing::FakeClock).
//
//   GatedStore    a Store wrapper that can hold write callbacks and block
//                 reads, so that tests see calls in flight without sleeps
//   NewKvStub     a raw kv.v1.KV stub on its own connection

#ifndef KV_TESTS_SERVER_TEST_SUPPORT_H_
#define KV_TESTS_SERVER_TEST_SUPPORT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kv/v1/kv.grpc.pb.h"
#include "store/store.h"

namespace kv::test {

// GatedStore forwards every call to another store (not owned), and lets a
// test hold the callbacks of writes and block reads. Thread-safe.
class GatedStore : public Store {
 public:
  explicit GatedStore(Store* inner) : inner_(inner) {}

  // HoldWrites makes later write callbacks wait (the write itself is
  // applied by the inner store) until ReleaseWrites runs them.
  void HoldWrites();
  // WaitForHeldWrites blocks until at least n callbacks are held.
  void WaitForHeldWrites(int n);
  // ReleaseWrites runs every held callback and stops holding.
  void ReleaseWrites();

  // BlockReads makes later Get and List calls wait in the store until
  // UnblockReads.
  void BlockReads();
  // WaitForBlockedRead blocks until a read is waiting.
  void WaitForBlockedRead();
  void UnblockReads();

  // write_calls answers how many SetAsync and DeleteAsync calls arrived.
  int write_calls() const;

  absl::StatusOr<std::optional<Entry>> Get(absl::string_view namespace_name,
                                           absl::string_view key) override;
  void SetAsync(absl::string_view namespace_name, absl::string_view key,
                std::string value, absl::Duration ttl,
                SetCallback done) override;
  void DeleteAsync(absl::string_view namespace_name, absl::string_view key,
                   DeleteCallback done) override;
  absl::StatusOr<ListPage> List(absl::string_view namespace_name,
                                absl::string_view prefix,
                                absl::string_view start_after,
                                int limit) override;
  StoreStats Stats() const override { return inner_->Stats(); }

 private:
  void WaitIfReadsBlocked();
  bool EnoughHeld() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs callback now, or keeps it when writes are held.
  void HoldOrRun(absl::AnyInvocable<void() &&> callback);

  Store* const inner_;
  mutable absl::Mutex mu_;
  bool hold_writes_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::AnyInvocable<void() &&>> held_ ABSL_GUARDED_BY(mu_);
  int wanted_held_ ABSL_GUARDED_BY(mu_) = 0;
  bool block_reads_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_reads_ ABSL_GUARDED_BY(mu_) = 0;
  int write_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// NewKvStub answers a stub for address on a channel of its own (its own
// TCP connection) that accepts messages of any size.
std::unique_ptr<v1::KV::Stub> NewKvStub(const std::string& address);

}  // namespace kv::test

#endif  // KV_TESTS_SERVER_TEST_SUPPORT_H_
