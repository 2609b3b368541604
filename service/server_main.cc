// kv-server: serves kv.v1.KV over gRPC on a LevelDB data directory.
//
// Run `kv-server --help` for the flags. The first line on stderr names the
// bound address ("listening on HOST:PORT ") with the real port, the data
// directory and the settings; scripts and tests read the port from it.
// SIGTERM or SIGINT drains calls in flight for up to --drain_timeout and
// exits 0; SIGUSR1 logs the write path's counters.

#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "service/limits.h"
#include "service/log.h"
#include "service/server.h"
#include "store/leveldb_store.h"

namespace {

// DefaultThreads answers one thread per core but one (and at least one):
// the spare core runs LevelDB's compaction and the commit thread. On 2
// cores shared with the load generator, 1 thread served gets at 1.01 of the
// ceiling's rate where 2 threads managed 0.63, and sets at 0.93 against
// 0.47 (benchmarks/NOTES.md).
int DefaultThreads() {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores - 1, 1, kv::kMaxServerThreads);
}

}  // namespace

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve on, without TLS; port 0 picks a free port, "
          "which the first log line names");
ABSL_FLAG(std::string, data_dir, "./kv-data",
          "directory of the LevelDB database; created if missing. Only one "
          "kv-server may use a directory at a time");
ABSL_FLAG(bool, sync, true,
          "fsync every write before answering it (concurrent writes share "
          "one fsync). --sync=false is faster; a power cut (not a crash of "
          "kv-server) may then lose the last acknowledged writes, and "
          "versions still never repeat");
ABSL_FLAG(int64_t, max_value_bytes, kv::kDefaultMaxValueBytes,
          "largest value Set accepts, in bytes, 1 to 67108864 (64 MiB); "
          "larger values are INVALID_ARGUMENT");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(5),
          "on SIGTERM or SIGINT, how long calls in flight may take to "
          "finish before they are cut off with UNAVAILABLE, e.g. 5s, "
          "500ms");
ABSL_FLAG(int, threads, DefaultThreads(),
          "threads serving calls, 1 to 256, each on its own completion "
          "queue; the default is one less than the cores of this machine");
ABSL_FLAG(bool, repair, false,
          "repair the database in --data_dir with LevelDB's RepairDB and "
          "exit, instead of serving. It salvages what it can of a corrupted "
          "database and may drop damaged records: back the directory up "
          "first");

namespace {

constexpr const char* kFlagNames[] = {
    "listen",        "data_dir", "sync",  "max_value_bytes",
    "drain_timeout", "threads",  "repair"};

// PrintHelp writes the usage and every flag of kv-server to stdout. It
// replaces Abseil's --help, which exits 1 and lists only flags of a source
// file named after the program.
void PrintHelp() {
  std::cout << absl::ProgramUsageMessage() << "\n\nFlags:\n";
  for (const char* name : kFlagNames) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    std::cout << "  --" << name << " (default: " << flag->DefaultValue()
              << ")\n      " << flag->Help() << "\n";
  }
  std::cout << "  --help\n      print this text and exit\n";
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      return true;
    }
  }
  return false;
}

int Repair(const std::string& data_dir) {
  std::fprintf(stderr,
               "kv-server --repair: warning: repairing %s with LevelDB's "
               "RepairDB. Records in damaged files may be lost; stop any "
               "kv-server using the directory and back it up first.\n",
               data_dir.c_str());
  absl::Status status = kv::LevelDbStore::Repair(data_dir);
  if (!status.ok()) {
    kv::LogLine(absl::StrCat("repair of data_dir=", data_dir,
                             " failed: ", status.ToString()));
    return 1;
  }
  kv::LogLine(absl::StrCat("repair of data_dir=", data_dir,
                           " done; the database opens again"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil with deadlock detection on, so every absl::Mutex
  // lock (gRPC's own mutexes included) updates a lock graph: about 100 ns a
  // lock and several percent of kv-server's CPU per call. It must be off
  // before the first lock is taken.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Blocked before any thread starts, so that every thread inherits the
  // mask and only the sigwait below receives these signals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::SetProgramUsageMessage(
      "kv-server serves the kv.v1.KV gRPC service (with health and "
      "reflection) on a LevelDB data directory.\n\n"
      "Usage: kv-server [--listen=HOST:PORT] [--data_dir=DIR] [--sync] "
      "[--max_value_bytes=N] [--drain_timeout=DURATION] [--threads=N]\n"
      "       kv-server --repair [--data_dir=DIR]");
  if (WantsHelp(argc, argv)) {
    PrintHelp();
    return 0;
  }
  absl::ParseCommandLine(argc, argv);

  const std::string listen = absl::GetFlag(FLAGS_listen);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const bool sync = absl::GetFlag(FLAGS_sync);
  const int64_t max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes);
  const absl::Duration drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  const int threads = absl::GetFlag(FLAGS_threads);

  absl::Status valid = kv::ValidateMaxValueBytes(max_value_bytes);
  if (!valid.ok()) {
    std::fprintf(stderr, "kv-server: --%s\n",
                 std::string(valid.message()).c_str());
    return 2;
  }
  if (drain_timeout < absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "kv-server: --drain_timeout: must not be "
                 "negative\n");
    return 2;
  }
  if (threads < 1 || threads > kv::kMaxServerThreads) {
    std::fprintf(stderr, "kv-server: --threads: must be 1 to %d, not %d\n",
                 kv::kMaxServerThreads, threads);
    return 2;
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "kv-server: --data_dir: must not be empty\n");
    return 2;
  }

  if (absl::GetFlag(FLAGS_repair)) return Repair(data_dir);

  std::error_code error;
  std::filesystem::create_directories(data_dir, error);
  if (error) {
    kv::LogLine(absl::StrCat("error: cannot create data_dir=", data_dir, ": ",
                             error.message()));
    return 1;
  }

  kv::LevelDbStore::Options store_options;
  store_options.path = data_dir;
  store_options.sync = sync;
  absl::StatusOr<std::unique_ptr<kv::LevelDbStore>> store =
      kv::LevelDbStore::Open(store_options);
  if (!store.ok()) {
    kv::LogLine(absl::StrCat("error: cannot open data_dir=", data_dir, ": ",
                             store.status().ToString()));
    return 1;
  }

  kv::ServerOptions server_options;
  server_options.listen = listen;
  server_options.max_value_bytes = max_value_bytes;
  server_options.drain_timeout = drain_timeout;
  server_options.threads = threads;
  absl::StatusOr<std::unique_ptr<kv::Server>> server =
      kv::Server::Start(server_options, store->get());
  if (!server.ok()) {
    kv::LogLine(
        absl::StrCat("error: cannot serve: ", server.status().ToString()));
    return 1;
  }
  kv::LogLine(absl::StrCat(
      "listening on ", (*server)->address(), " data_dir=", data_dir,
      " sync=", sync ? "true" : "false", " max_value_bytes=", max_value_bytes,
      " drain_timeout=", absl::FormatDuration(drain_timeout),
      " threads=", threads));

  int signal_number = 0;
  for (;;) {
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number != SIGUSR1) break;
    kv::StoreStats stats = (*store)->Stats();
    kv::LogLine(absl::StrCat("stats: writes=", stats.writes, " commit_groups=",
                             stats.commit_groups, " syncs=", stats.syncs));
  }

  kv::LogLine(absl::StrCat(
      "shutting down on ", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
      ": draining calls for up to ", absl::FormatDuration(drain_timeout)));
  (*server)->Shutdown();
  server->reset();
  store->reset();
  kv::LogLine("stopped: data_dir closed cleanly");
  return 0;
}
