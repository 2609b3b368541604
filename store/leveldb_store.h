// LevelDbStore is the Store of kvstore on one LevelDB database.
//
// Every namespace lives in the same database under injective storage keys
// (key_encoding.h); each record holds a small header with its revision and
// expiry before the value (record.h).
//
// Writes go through a commit queue served by one committer thread: it takes
// everything queued (up to a few MiB), assigns revisions in queue order,
// applies the writes in order as one leveldb::WriteBatch, syncs it when
// Options::sync is set, and then runs every callback. Concurrent writers
// thereby share one fsync (group commit).
//
// With Options::sync off, a write that finds the committer idle and the
// queue empty skips the queue: the calling thread commits it as a group of
// its own and runs its callback before SetAsync (or DeleteAsync) returns.
// Other writes queue as above, so one group commits at a time and
// revisions still follow commit order. With sync on, every write queues,
// so that no fsync runs on the caller's thread (the server calls from its
// completion-queue threads).
//
// Revisions are reserved in blocks: before a revision past the reserved
// mark is handed out, a new mark is written in the same batch, and that
// batch is always synced. After any crash or power cut the store continues
// above the mark, so a version never repeats, even with sync off.
//
// Expiry: a record with a ttl carries its expiry time, and an expiry index
// orders such records by expiry. Get and List treat an expired record as
// absent at once; ReapExpired (called by a background thread every
// Options::reap_interval) deletes expired records through the commit queue,
// by work proportional to their number. Each removal takes a revision.
//
// A set replaces the old record's index entry, and so must read the old
// record first, but only in a namespace that has ever held a record with a
// ttl: the first such record marks its namespace in the database, and the
// store keeps the marked names in memory. Elsewhere a set writes without
// reading, which keeps random writes from driving LevelDB into compaction
// (LevelDB compacts the tables that reads keep searching in vain).
//
// Example:
//
//   kv::LevelDbStore::Options options;
//   options.path = "/var/lib/kv";
//   absl::StatusOr<std::unique_ptr<kv::LevelDbStore>> store =
//       kv::LevelDbStore::Open(options);
//   if (!store.ok()) return store.status();
//   absl::StatusOr<uint64_t> version = (*store)->Set("myapp", "k", "v");
//
// Note: the commit queue is not bounded; SetAsync never blocks or refuses a
// write for load. Callers bound the writes they have in flight (the server
// does, per call).
//
// Thread safety: every method may be called from any number of threads at
// once. Callbacks of SetAsync and DeleteAsync run on the committer thread,
// or (sync off, idle store) on the calling thread before SetAsync or
// DeleteAsync returns, so the caller must not hold a lock the callback
// takes. Callbacks must be quick, and must not wait for another write of
// the same store (Set or Delete from a callback may deadlock; SetAsync and
// DeleteAsync are fine, and may run their own callback at once, nested).

#ifndef KV_STORE_LEVELDB_STORE_H_
#define KV_STORE_LEVELDB_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "store/record.h"
#include "store/store.h"

namespace leveldb {
class Cache;
class DB;
class Env;
class FilterPolicy;
class WriteBatch;
}  // namespace leveldb

namespace kv {

class LevelDbStore : public Store {
 public:
  struct Options {
    // path is the data directory; it is created (with its parents) if
    // missing. Required.
    std::string path;
    // sync makes every commit group durable (fsync) before its callbacks
    // run. Without it, a power cut (not a crash of the process) may lose the
    // last acknowledged writes; versions still never repeat.
    bool sync = true;
    // block_cache_bytes is the size of LevelDB's block cache.
    size_t block_cache_bytes = 8 << 20;
    // clock answers the current time for ttl and expiry; empty: absl::Now.
    std::function<absl::Time()> clock;
    // env is the LevelDB environment, not owned, and must outlive the
    // store; null: leveldb::Env::Default().
    leveldb::Env* env = nullptr;
    // reap_interval is how often a background thread calls ReapExpired;
    // zero or negative: no such thread.
    absl::Duration reap_interval = absl::Seconds(1);
  };

  // Open opens the store in options.path, creating it if missing, with
  // LevelDB's paranoid checks on, and starts its committer thread (and its
  // reaper thread, when options.reap_interval is positive).
  //
  // Note: Open checks the logs and the manifest, which LevelDB reads in
  // full; table files are read on demand, so a damaged table shows up as
  // DATA_LOSS from Get or List rather than at Open.
  //
  // Returns the store on success. Returns FAILED_PRECONDITION when another
  // process (or another store in this one) holds the directory's LOCK file,
  // or when the directory holds a format this release cannot read;
  // DATA_LOSS when the database is corrupted, naming the file and the
  // repair command; INVALID_ARGUMENT for an empty path; INTERNAL for any
  // other failure, with LevelDB's message.
  static absl::StatusOr<std::unique_ptr<LevelDbStore>> Open(
      const Options& options);

  // Repair runs LevelDB's RepairDB on the database in path, which must not
  // be open. It salvages what it can of a corrupted database: records in
  // damaged files may be lost, and so may deletions, which can bring an
  // older value of a key back. Back the directory up first.
  //
  // Afterwards it raises the revision mark above every surviving version,
  // so versions do not repeat; the next version then jumps ahead.
  //
  // Returns OK when the database opens afterwards; FAILED_PRECONDITION when
  // the directory is locked (a kv-server uses it); DATA_LOSS when it is
  // still unreadable; INTERNAL for any other failure, with LevelDB's
  // message.
  static absl::Status Repair(const std::string& path);

  // Destroying the store stops the reaper, commits every queued write and
  // runs its callback, then closes LevelDB.
  ~LevelDbStore() override;

  // The Store methods, as store.h documents them. Beyond that:
  // - Get and List read the database directly: they never wait for the
  //   commit queue, and see every write whose callback has run.
  // - SetAsync answers INVALID_ARGUMENT for a negative ttl, and UNAVAILABLE
  //   once the store is being destroyed and its queue has drained.
  // - With Options::sync off, SetAsync and DeleteAsync on an idle store
  //   (no group being committed, nothing queued) commit on the calling
  //   thread and run done before they return.
  // - DeleteAsync of an expired key answers false and takes no revision;
  //   the reaper removes the record (and takes one then).
  // - A key whose record is corrupted (Get answers DATA_LOSS) stays
  //   writable: SetAsync replaces the record, DeleteAsync removes it and
  //   answers true.
  // - Failures of the engine are INTERNAL, or DATA_LOSS for corruption.
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
  StoreStats Stats() const override;

  // ReapExpired deletes every record whose expiry has passed by the clock,
  // through the commit queue; a record that was written again meanwhile is
  // kept. Each deletion takes a revision.
  //
  // Returns how many records it deleted, or the first error LevelDB
  // reported (DATA_LOSS for a corrupted index entry, INTERNAL otherwise).
  // Must not be called from a SetAsync or DeleteAsync callback.
  absl::StatusOr<int> ReapExpired();

 private:
  friend class LevelDbStoreTestPeer;

  // Op is one queued write.
  struct Op {
    enum class Kind { kSet, kDelete, kReap };
    Kind kind = Kind::kSet;
    std::string storage_key;
    // record is the encoded record of a kSet, its revision still 0.
    std::string record;
    // expiry_micros is the new record's expiry (kSet) or the expiry of the
    // index entry being reaped (kReap).
    int64_t expiry_micros = 0;
    // revision is the revision the reaped index entry points at (kReap).
    uint64_t revision = 0;
    SetCallback set_done;
    DeleteCallback delete_done;  // kDelete and kReap.

    // Results, filled in by CommitGroup.
    absl::Status status;
    uint64_t version = 0;
    bool deleted = false;
  };

  explicit LevelDbStore(const Options& options);

  static absl::Status RaiseMarkAfterRepair(const std::string& path);
  absl::Status Recover();
  // LoadTtlNamespaces fills ttl_namespaces_ from the marks in the database.
  // With rebuild, it first marks every namespace the expiry index points
  // into, adding the marks to *batch (a store of format version 1 has no
  // marks yet).
  absl::Status LoadTtlNamespaces(bool rebuild, leveldb::WriteBatch* batch);
  // MayHoldTtl answers whether a record under storage_key may have a ttl,
  // i.e. whether its namespace is marked; for the commit turn's holder.
  bool MayHoldTtl(absl::string_view storage_key) const;
  int64_t NowMicros() const;
  absl::StatusOr<std::optional<RecordHeader>> ReadHeader(
      const std::string& storage_key);
  // Enqueue queues op for the committer or, with sync off and the store
  // idle, commits it and runs its callback on the calling thread.
  void Enqueue(Op op);
  bool CommitterReady() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  void CommitLoop();
  // CommitGroup assigns revisions and writes group, filling in each op's
  // results; the caller must hold the commit turn (committing_).
  void CommitGroup(absl::Span<Op> group);
  // RunCallbacks answers each op of a committed group; never called with
  // queue_mu_ held.
  void RunCallbacks(absl::Span<Op> group);
  void ReapLoop();

  const Options options_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_policy_;
  std::unique_ptr<leveldb::Cache> block_cache_;
  std::unique_ptr<leveldb::DB> db_;

  // Used only by the thread that holds the commit turn (committing_); the
  // turn passes through queue_mu_, which orders the accesses.
  uint64_t next_revision_ = 1;
  uint64_t reserved_through_ = 0;
  // The namespaces with a ttl namespace mark (key_encoding.h).
  absl::flat_hash_set<std::string> ttl_namespaces_;

  absl::Mutex queue_mu_;
  std::deque<Op> queue_ ABSL_GUARDED_BY(queue_mu_);
  // committing_ is the commit turn: true while a group (the committer's, or
  // one write committed inline) is being assigned revisions and written.
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool closed_ ABSL_GUARDED_BY(queue_mu_) = false;
  std::thread committer_;

  absl::Mutex reaper_mu_;
  bool stop_reaper_ ABSL_GUARDED_BY(reaper_mu_) = false;
  std::thread reaper_;

  // Test-only: runs after each scan of ReapExpired (including the last,
  // empty one), before its removals are queued.
  absl::Mutex hook_mu_;
  std::function<void()> after_reap_scan_ ABSL_GUARDED_BY(hook_mu_);

  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> commit_groups_{0};
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace kv

#endif  // KV_STORE_LEVELDB_STORE_H_
