#include "store/testing/fault_env.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"
#include "leveldb/slice.h"
#include "leveldb/status.h"

namespace kv::testing {

// TrackedFile forwards to a real file while the power is on and reports
// what it wrote and synced.
class FaultEnv::TrackedFile : public leveldb::WritableFile {
 public:
  TrackedFile(FaultEnv* env, std::string name,
              std::unique_ptr<leveldb::WritableFile> base)
      : env_(env), name_(std::move(name)), base_(std::move(base)) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (!env_->Powered()) return leveldb::Status::OK();
    leveldb::Status s = base_->Append(data);
    if (s.ok()) env_->Appended(name_, data.size());
    return s;
  }

  leveldb::Status Close() override { return base_->Close(); }

  leveldb::Status Flush() override {
    if (!env_->Powered()) return leveldb::Status::OK();
    return base_->Flush();
  }

  leveldb::Status Sync() override {
    uint64_t size = 0;
    if (!env_->SyncStart(name_, &size)) return leveldb::Status::OK();
    leveldb::Status s = base_->Sync();
    // A sync the power cut overtook does not count as durable.
    if (s.ok()) env_->SyncDone(name_, size);
    return s;
  }

 private:
  FaultEnv* const env_;
  const std::string name_;
  const std::unique_ptr<leveldb::WritableFile> base_;
};

namespace {

// DeadFile stands for a file created after the power cut: nothing reaches
// the disk.
class DeadFile : public leveldb::WritableFile {
 public:
  leveldb::Status Append(const leveldb::Slice&) override {
    return leveldb::Status::OK();
  }
  leveldb::Status Close() override { return leveldb::Status::OK(); }
  leveldb::Status Flush() override { return leveldb::Status::OK(); }
  leveldb::Status Sync() override { return leveldb::Status::OK(); }
};

}  // namespace

FaultEnv::FaultEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

FaultEnv::~FaultEnv() = default;

leveldb::Status FaultEnv::NewWritableFile(const std::string& name,
                                          leveldb::WritableFile** result) {
  if (!Powered()) {
    *result = new DeadFile;
    return leveldb::Status::OK();
  }
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewWritableFile(name, &base);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    files_[name] = FileState{};
  }
  *result =
      new TrackedFile(this, name, std::unique_ptr<leveldb::WritableFile>(base));
  return s;
}

leveldb::Status FaultEnv::NewAppendableFile(const std::string& name,
                                            leveldb::WritableFile** result) {
  if (!Powered()) {
    *result = new DeadFile;
    return leveldb::Status::OK();
  }
  uint64_t existing = 0;
  if (target()->FileExists(name)) {
    leveldb::Status s = target()->GetFileSize(name, &existing);
    if (!s.ok()) return s;
  }
  leveldb::WritableFile* base = nullptr;
  leveldb::Status s = target()->NewAppendableFile(name, &base);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = files_.try_emplace(name);
    if (inserted) {
      // What was there before this env touched it counts as durable.
      it->second = FileState{existing, existing, true};
    }
  }
  *result =
      new TrackedFile(this, name, std::unique_ptr<leveldb::WritableFile>(base));
  return s;
}

leveldb::Status FaultEnv::RemoveFile(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (!powered_) return leveldb::Status::OK();
  leveldb::Status s = target()->RemoveFile(name);
  if (s.ok()) files_.erase(name);
  return s;
}

leveldb::Status FaultEnv::RenameFile(const std::string& from,
                                     const std::string& to) {
  absl::MutexLock lock(&mu_);
  if (!powered_) return leveldb::Status::OK();
  leveldb::Status s = target()->RenameFile(from, to);
  if (!s.ok()) return s;
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  } else {
    files_.erase(to);
  }
  return s;
}

void FaultEnv::PowerCut() {
  absl::MutexLock lock(&mu_);
  powered_ = false;
}

absl::Status FaultEnv::RestoreAfterPowerCut() {
  absl::MutexLock lock(&mu_);
  absl::Status result;
  for (const auto& [name, state] : files_) {
    if (!state.ever_synced) {
      leveldb::Status s = target()->RemoveFile(name);
      if (!s.ok() && result.ok()) {
        result = absl::InternalError(s.ToString());
      }
    } else if (::truncate(name.c_str(), static_cast<off_t>(state.synced)) !=
               0) {
      if (result.ok()) {
        result = absl::InternalError(
            absl::StrCat("truncate ", name, ": ", std::strerror(errno)));
      }
    }
  }
  files_.clear();
  powered_ = true;
  return result;
}

bool FaultEnv::Powered() const {
  absl::MutexLock lock(&mu_);
  return powered_;
}

void FaultEnv::Appended(const std::string& name, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  // Bytes that raced past the cut are cut back at restore anyway.
  auto it = files_.find(name);
  if (it != files_.end()) it->second.size += bytes;
}

bool FaultEnv::SyncStart(const std::string& name, uint64_t* size) {
  absl::MutexLock lock(&mu_);
  if (!powered_) return false;
  auto it = files_.find(name);
  *size = it != files_.end() ? it->second.size : 0;
  return true;
}

void FaultEnv::SyncDone(const std::string& name, uint64_t size) {
  absl::MutexLock lock(&mu_);
  if (!powered_) return;
  auto it = files_.find(name);
  if (it == files_.end()) return;
  it->second.synced = std::max(it->second.synced, size);
  it->second.ever_synced = true;
}

}  // namespace kv::testing
