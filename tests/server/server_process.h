// ServerProcess: a kv-server child process for the process tests.
// Test-only.
//
// The child's stderr is read by a thread of this object, so tests can wait
// for a line (the first one names the port) without polling, and the
// child's exit is collected by another thread, so tests can wait for it
// with a bound instead of hanging.

#ifndef KV_TESTS_SERVER_SERVER_PROCESS_H_
#define KV_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kv::test {

class ServerProcess {
 public:
  // Start runs binary with args (not including argv[0]). Aborts the test
  // binary when fork or pipe fail.
  ServerProcess(const std::string& binary,
                const std::vector<std::string>& args);
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The destructor kills the child (SIGKILL) if it still runs and reaps it.
  ~ServerProcess();

  // WaitForPort waits up to timeout for the "listening on HOST:PORT " line
  // and answers the port, or nullopt when the child exited or the time ran
  // out first.
  std::optional<int> WaitForPort(absl::Duration timeout);

  // WaitForLine waits up to timeout for a stderr line containing text.
  bool WaitForLine(const std::string& text, absl::Duration timeout);

  // WaitForExit waits up to timeout for the child to exit and answers its
  // wait status, or nullopt when it still runs.
  std::optional<int> WaitForExit(absl::Duration timeout);

  // Signal sends signal_number to the child.
  void Signal(int signal_number);

  // stderr_text answers everything the child wrote to stderr so far.
  std::string stderr_text() const;

  pid_t pid() const { return pid_; }

 private:
  void ReadStderr(int fd);
  void Reap();
  bool HasWantedOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  pid_t pid_ = -1;
  std::thread reader_;
  std::thread reaper_;

  mutable absl::Mutex mu_;
  std::string stderr_ ABSL_GUARDED_BY(mu_);
  bool stderr_closed_ ABSL_GUARDED_BY(mu_) = false;
  std::string wanted_ ABSL_GUARDED_BY(mu_);
  std::optional<int> exit_status_ ABSL_GUARDED_BY(mu_);
};

// KvServerBinary answers the path of the kv-server built with the tests.
std::string KvServerBinary();

}  // namespace kv::test

#endif  // KV_TESTS_SERVER_SERVER_PROCESS_H_
