#include "tests/server/test_support.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kv::test {

void GatedStore::HoldWrites() {
  absl::MutexLock lock(&mu_);
  hold_writes_ = true;
}

void GatedStore::WaitForHeldWrites(int n) {
  absl::MutexLock lock(&mu_);
  wanted_held_ = n;
  mu_.Await(absl::Condition(this, &GatedStore::EnoughHeld));
}

bool GatedStore::EnoughHeld() const {
  return static_cast<int>(held_.size()) >= wanted_held_;
}

void GatedStore::ReleaseWrites() {
  std::vector<absl::AnyInvocable<void() &&>> held;
  {
    absl::MutexLock lock(&mu_);
    hold_writes_ = false;
    held.swap(held_);
  }
  for (auto& callback : held) std::move(callback)();
}

void GatedStore::BlockReads() {
  absl::MutexLock lock(&mu_);
  block_reads_ = true;
}

void GatedStore::WaitForBlockedRead() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* blocked) { return *blocked > 0; }, &blocked_reads_));
}

void GatedStore::UnblockReads() {
  absl::MutexLock lock(&mu_);
  block_reads_ = false;
}

int GatedStore::write_calls() const {
  absl::MutexLock lock(&mu_);
  return write_calls_;
}

void GatedStore::WaitIfReadsBlocked() {
  absl::MutexLock lock(&mu_);
  ++blocked_reads_;
  mu_.Await(absl::Condition(
      +[](bool* blocked) { return !*blocked; }, &block_reads_));
  --blocked_reads_;
}

void GatedStore::HoldOrRun(absl::AnyInvocable<void() &&> callback) {
  {
    absl::MutexLock lock(&mu_);
    if (hold_writes_) {
      held_.push_back(std::move(callback));
      return;
    }
  }
  std::move(callback)();
}

absl::StatusOr<std::optional<Entry>> GatedStore::Get(
    absl::string_view namespace_name, absl::string_view key) {
  WaitIfReadsBlocked();
  return inner_->Get(namespace_name, key);
}

void GatedStore::SetAsync(absl::string_view namespace_name,
                          absl::string_view key, std::string value,
                          absl::Duration ttl, SetCallback done) {
  {
    absl::MutexLock lock(&mu_);
    ++write_calls_;
  }
  inner_->SetAsync(
      namespace_name, key, std::move(value), ttl,
      [this, done = std::move(done)](absl::StatusOr<uint64_t> version) mutable {
        HoldOrRun([done = std::move(done), version]() mutable {
          std::move(done)(version);
        });
      });
}

void GatedStore::DeleteAsync(absl::string_view namespace_name,
                             absl::string_view key, DeleteCallback done) {
  {
    absl::MutexLock lock(&mu_);
    ++write_calls_;
  }
  inner_->DeleteAsync(
      namespace_name, key,
      [this, done = std::move(done)](absl::StatusOr<bool> deleted) mutable {
        HoldOrRun([done = std::move(done), deleted]() mutable {
          std::move(done)(deleted);
        });
      });
}

absl::StatusOr<ListPage> GatedStore::List(absl::string_view namespace_name,
                                          absl::string_view prefix,
                                          absl::string_view start_after,
                                          int limit) {
  WaitIfReadsBlocked();
  return inner_->List(namespace_name, prefix, start_after, limit);
}

std::unique_ptr<v1::KV::Stub> NewKvStub(const std::string& address) {
  // A distinct argument keeps gRPC from sharing one connection between
  // stubs, so that each test sees its own connection.
  static std::atomic<int> channel_number{0};
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  args.SetInt("kv.test.channel", channel_number++);
  return v1::KV::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), args));
}

}  // namespace kv::test
