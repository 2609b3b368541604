// FaultEnv: a leveldb::Env that can simulate a power cut. Test-only.
//
// It wraps leveldb::Env::Default() and remembers, for every file it created
// for writing, how many bytes were synced. PowerCut() makes every later
// write, sync, rename and removal vanish (each still answers OK, as the
// process would not yet know). Once no database uses the env any more,
// RestoreAfterPowerCut() puts the disk into the state a real power cut
// would have left: each such file cut back to its synced length, and files
// never synced gone.
//
// Example:
//
//   kv::testing::FaultEnv env;
//   options.env = &env;
//   ... open a store, write, env.PowerCut(), destroy the store ...
//   ASSERT_TRUE(env.RestoreAfterPowerCut().ok());
//   ... reopen and check what survived ...
//
// Thread safety: every method may be called from any thread.

#ifndef KV_STORE_TESTING_FAULT_ENV_H_
#define KV_STORE_TESTING_FAULT_ENV_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"
#include "leveldb/status.h"

namespace kv::testing {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  FaultEnv();
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;
  ~FaultEnv() override;

  leveldb::Status NewWritableFile(const std::string& name,
                                  leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from,
                             const std::string& to) override;

  // PowerCut makes every later change to files made through this env
  // vanish, until RestoreAfterPowerCut.
  void PowerCut();

  // RestoreAfterPowerCut truncates every file written through this env to
  // its length at its last sync, removes those never synced, forgets them
  // all and turns the power back on. Call it only when no database uses
  // this env.
  //
  // Returns OK, or the first error truncating or removing a file.
  absl::Status RestoreAfterPowerCut();

 private:
  class TrackedFile;

  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
    bool ever_synced = false;
  };

  bool Powered() const;
  // Called by TrackedFile.
  void Appended(const std::string& name, uint64_t bytes);
  bool SyncStart(const std::string& name, uint64_t* size);
  void SyncDone(const std::string& name, uint64_t size);

  mutable absl::Mutex mu_;
  bool powered_ ABSL_GUARDED_BY(mu_) = true;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kv::testing

#endif  // KV_STORE_TESTING_FAULT_ENV_H_
