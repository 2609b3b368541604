#include "tests/server/server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <regex>

namespace kv::test {

std::string KvServerBinary() { return KV_SERVER_BINARY; }

ServerProcess::ServerProcess(const std::string& binary,
                             const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    std::perror("pipe");
    abort();
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) {
    std::perror("fork");
    abort();
  }
  if (pid_ == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  const int read_fd = pipe_fds[0];
  reader_ = std::thread([this, read_fd] { ReadStderr(read_fd); });
  reaper_ = std::thread([this] { Reap(); });
}

ServerProcess::~ServerProcess() {
  bool running;
  {
    absl::MutexLock lock(&mu_);
    running = !exit_status_.has_value();
  }
  if (running) kill(pid_, SIGKILL);
  reaper_.join();
  reader_.join();
}

void ServerProcess::ReadStderr(int fd) {
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    stderr_.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  absl::MutexLock lock(&mu_);
  stderr_closed_ = true;
}

void ServerProcess::Reap() {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  absl::MutexLock lock(&mu_);
  exit_status_ = status;
}

bool ServerProcess::HasWantedOrClosed() const {
  return stderr_.find(wanted_) != std::string::npos || stderr_closed_;
}

bool ServerProcess::WaitForLine(const std::string& text,
                                absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  wanted_ = text;
  mu_.AwaitWithTimeout(absl::Condition(this, &ServerProcess::HasWantedOrClosed),
                       timeout);
  return stderr_.find(text) != std::string::npos;
}

std::optional<int> ServerProcess::WaitForPort(absl::Duration timeout) {
  // The line ends with a space or a newline after the port.
  if (!WaitForLine("listening on ", timeout)) return std::nullopt;
  // The rest of the line may still be in flight; wait for its end.
  WaitForLine("\n", timeout);
  std::string text = stderr_text();
  std::smatch match;
  static const std::regex kPort("listening on [^ ]*:([0-9]+)[ \n]");
  if (!std::regex_search(text, match, kPort)) return std::nullopt;
  return std::stoi(match[1].str());
}

std::optional<int> ServerProcess::WaitForExit(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      absl::Condition(
          +[](std::optional<int>* status) { return status->has_value(); },
          &exit_status_),
      timeout);
  return exit_status_;
}

void ServerProcess::Signal(int signal_number) { kill(pid_, signal_number); }

std::string ServerProcess::stderr_text() const {
  absl::MutexLock lock(&mu_);
  return stderr_;
}

}  // namespace kv::test
