// Process tests: the real kv-server binary, started on 127.0.0.1:0 with a
// scratch data directory, as an operator or a script starts it.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kv/v1/kv.grpc.pb.h"
#include "store/testing/temp_dir.h"
#include "tests/server/server_process.h"
#include "tests/server/test_support.h"

namespace kv {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Bounds on how long a child may take to do something that takes
// milliseconds; they only turn a hang into a failure.
constexpr absl::Duration kStartBound = absl::Seconds(20);
constexpr absl::Duration kExitBound = absl::Seconds(20);

class ProcessTest : public ::testing::Test {
 protected:
  // StartServer starts kv-server on dir and waits for its port.
  std::unique_ptr<test::ServerProcess> StartServer(
      const std::string& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--listen=127.0.0.1:0",
                                     absl::StrCat("--data_dir=", dir)};
    args.insert(args.end(), extra.begin(), extra.end());
    auto server =
        std::make_unique<test::ServerProcess>(test::KvServerBinary(), args);
    port_ = server->WaitForPort(kStartBound).value_or(0);
    EXPECT_GT(port_, 0) << server->stderr_text();
    return server;
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  static grpc::Status Set(v1::KV::Stub* stub, const std::string& key,
                          const std::string& value) {
    v1::SetRequest request;
    request.set_namespace_("proc");
    request.set_key(key);
    request.set_value(value);
    v1::SetResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    return stub->Set(&ctx, request, &response);
  }

  static grpc::Status Get(v1::KV::Stub* stub, const std::string& key,
                          v1::GetResponse* response) {
    v1::GetRequest request;
    request.set_namespace_("proc");
    request.set_key(key);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    return stub->Get(&ctx, request, response);
  }

  static void ExpectCleanExit(test::ServerProcess* server) {
    std::optional<int> status = server->WaitForExit(kExitBound);
    ASSERT_TRUE(status.has_value()) << "kv-server did not exit";
    EXPECT_TRUE(WIFEXITED(*status)) << *status;
    EXPECT_EQ(WEXITSTATUS(*status), 0) << server->stderr_text();
  }

  kv::testing::TempDir dir_;
  int port_ = 0;
};

TEST_F(ProcessTest, FirstLineNamesTheRealPortTheDataDirAndTheSettings) {
  auto server = StartServer(dir_.path(), {"--sync=false"});
  std::string text = server->stderr_text();
  std::string first_line = text.substr(0, text.find('\n'));
  EXPECT_THAT(first_line,
              HasSubstr(absl::StrCat("listening on 127.0.0.1:", port_, " ")));
  EXPECT_THAT(first_line, HasSubstr(absl::StrCat("data_dir=", dir_.path())));
  EXPECT_THAT(first_line, HasSubstr("sync=false"));
  EXPECT_THAT(first_line, HasSubstr("max_value_bytes=26214400"));
  EXPECT_THAT(first_line, HasSubstr("drain_timeout=5s"));
  EXPECT_THAT(first_line, HasSubstr("threads="));

  server->Signal(SIGTERM);
  ExpectCleanExit(server.get());
}

TEST_F(ProcessTest, Sigusr1LogsTheWritePathCounters) {
  auto server = StartServer(dir_.path());
  auto stub = test::NewKvStub(address());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Set(stub.get(), "k", "v").ok());

  server->Signal(SIGUSR1);
  ASSERT_TRUE(server->WaitForLine("stats: writes=", kStartBound));
  EXPECT_THAT(server->stderr_text(),
              ::testing::ContainsRegex(
                  "stats: writes=[0-9]+ commit_groups=[0-9]+ syncs=[0-9]+"));
  // Still serving after the signal.
  ASSERT_TRUE(Set(stub.get(), "k", "v").ok());
  server->Signal(SIGTERM);
  ExpectCleanExit(server.get());
}

TEST_F(ProcessTest, KillNineMidLoadLosesNoAcknowledgedWrite) {
  auto server = StartServer(dir_.path());
  constexpr int kWriters = 4;
  constexpr int kAcknowledgedBeforeKill = 200;

  absl::Mutex mu;
  std::map<std::string, std::string> acknowledged;  // Guarded by mu.
  std::atomic<int> acknowledged_count{0};
  absl::Notification enough;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto stub = test::NewKvStub(address());
      for (int i = 0;; ++i) {
        const std::string key = absl::StrCat("w", w, "-", i);
        const std::string value = absl::StrCat("value of ", key);
        if (!Set(stub.get(), key, value).ok()) return;  // Killed.
        {
          absl::MutexLock lock(&mu);
          acknowledged[key] = value;
        }
        if (++acknowledged_count == kAcknowledgedBeforeKill) enough.Notify();
      }
    });
  }
  enough.WaitForNotification();
  server->Signal(SIGKILL);
  for (std::thread& writer : writers) writer.join();
  std::optional<int> status = server->WaitForExit(kExitBound);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status));

  auto restarted = StartServer(dir_.path());
  auto stub = test::NewKvStub(address());
  absl::MutexLock lock(&mu);
  ASSERT_GE(acknowledged.size(), static_cast<size_t>(kAcknowledgedBeforeKill));
  for (const auto& [key, value] : acknowledged) {
    v1::GetResponse response;
    ASSERT_TRUE(Get(stub.get(), key, &response).ok());
    ASSERT_TRUE(response.found()) << key;
    EXPECT_EQ(response.value(), value);
  }
  restarted->Signal(SIGTERM);
  ExpectCleanExit(restarted.get());
}

TEST_F(ProcessTest, SecondInstanceOnTheSameDirectoryFailsNamingDirAndLock) {
  auto first = StartServer(dir_.path());

  test::ServerProcess second(
      test::KvServerBinary(),
      {"--listen=127.0.0.1:0", absl::StrCat("--data_dir=", dir_.path())});
  std::optional<int> status = second.WaitForExit(kExitBound);
  ASSERT_TRUE(status.has_value()) << "second kv-server kept running";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_NE(WEXITSTATUS(*status), 0);
  second.WaitForLine("\n", kExitBound);
  EXPECT_THAT(second.stderr_text(), HasSubstr(dir_.path()));
  EXPECT_THAT(second.stderr_text(), HasSubstr("LOCK"));
  EXPECT_THAT(second.stderr_text(), ::testing::Not(HasSubstr("listening on")));

  // The first instance is unharmed.
  auto stub = test::NewKvStub(address());
  EXPECT_TRUE(Set(stub.get(), "k", "v").ok());
  first->Signal(SIGTERM);
  ExpectCleanExit(first.get());
}

TEST_F(ProcessTest, AddressInUseExitsNonZeroNamingTheAddress) {
  auto first = StartServer(dir_.path());
  kv::testing::TempDir other_dir;
  test::ServerProcess second(test::KvServerBinary(),
                             {absl::StrCat("--listen=", address()),
                              absl::StrCat("--data_dir=", other_dir.path())});
  std::optional<int> status = second.WaitForExit(kExitBound);
  ASSERT_TRUE(status.has_value()) << "second kv-server shares the port";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  second.WaitForLine("\n", kExitBound);
  EXPECT_THAT(second.stderr_text(), HasSubstr(address()));
  first->Signal(SIGTERM);
  ExpectCleanExit(first.get());
}

TEST_F(ProcessTest, SigtermExitsZeroWhileClientsHoldIdleConnections) {
  // A drain timeout far above the exit bound: only an exit that idle
  // connections do not hold back passes.
  auto server = StartServer(dir_.path(), {"--drain_timeout=60s"});
  auto stub = test::NewKvStub(address());
  ASSERT_TRUE(Set(stub.get(), "k", "v").ok());  // The connection is up.

  // And a TCP connection that never speaks HTTP/2.
  int raw = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(raw, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  server->Signal(SIGTERM);
  ExpectCleanExit(server.get());
  EXPECT_THAT(server->stderr_text(), HasSubstr("shutting down on SIGTERM"));
  EXPECT_THAT(server->stderr_text(), HasSubstr("stopped"));
  close(raw);
}

TEST_F(ProcessTest, SigintAlsoExitsZero) {
  auto server = StartServer(dir_.path());
  server->Signal(SIGINT);
  ExpectCleanExit(server.get());
  EXPECT_THAT(server->stderr_text(), HasSubstr("shutting down on SIGINT"));
}

TEST_F(ProcessTest, DataSurvivesACleanRestart) {
  {
    auto server = StartServer(dir_.path());
    auto stub = test::NewKvStub(address());
    ASSERT_TRUE(Set(stub.get(), "k", "kept").ok());
    server->Signal(SIGTERM);
    ExpectCleanExit(server.get());
  }
  auto server = StartServer(dir_.path());
  auto stub = test::NewKvStub(address());
  v1::GetResponse response;
  ASSERT_TRUE(Get(stub.get(), "k", &response).ok());
  EXPECT_EQ(response.value(), "kept");
}

// kFiller fills the values written before CorruptLogs, so that it can aim
// at a record's payload: LevelDB takes a damaged length field at the end of
// a log for a write torn by a crash, and rightly does not report it.
const std::string kFiller(1000, 'x');

// CorruptLogs overwrites bytes inside the last value payload of every
// LevelDB log file in dir, so that the record's checksum no longer matches.
void CorruptLogs(const std::string& dir) {
  int corrupted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".log") continue;
    std::fstream file(entry.path(),
                      std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)),
                      std::istreambuf_iterator<char>());
    const size_t payload = bytes.rfind(kFiller.substr(0, 500));
    if (payload == std::string::npos) continue;
    file.seekp(static_cast<std::streamoff>(payload + 200));
    const std::string garbage(16, '\xa5');
    file.write(garbage.data(), garbage.size());
    ++corrupted;
  }
  ASSERT_GT(corrupted, 0) << "no log file with values in " << dir;
}

TEST_F(ProcessTest, CorruptedDatabaseRefusesToStartUntilRepaired) {
  {
    auto server = StartServer(dir_.path());
    auto stub = test::NewKvStub(address());
    ASSERT_TRUE(Set(stub.get(), "first", "v").ok());
    // Enough to fill more than one 32 KiB log block, so that the damage
    // is far from the first record.
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(Set(stub.get(), absl::StrCat("k", i), kFiller).ok());
    }
    server->Signal(SIGTERM);
    ExpectCleanExit(server.get());
  }
  CorruptLogs(dir_.path());

  {
    test::ServerProcess refused(
        test::KvServerBinary(),
        {"--listen=127.0.0.1:0", absl::StrCat("--data_dir=", dir_.path())});
    std::optional<int> status = refused.WaitForExit(kExitBound);
    ASSERT_TRUE(status.has_value())
        << "kv-server served a corrupted db: " << refused.stderr_text();
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_NE(WEXITSTATUS(*status), 0);
    refused.WaitForLine("\n", kExitBound);
    EXPECT_THAT(refused.stderr_text(), HasSubstr("kv-server --repair"));
    EXPECT_THAT(refused.stderr_text(), HasSubstr(dir_.path()));
  }

  {
    test::ServerProcess repair(
        test::KvServerBinary(),
        {"--repair", absl::StrCat("--data_dir=", dir_.path())});
    std::optional<int> status = repair.WaitForExit(kExitBound);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0) << repair.stderr_text();
    EXPECT_THAT(repair.stderr_text(), HasSubstr("warning"));
  }

  auto server = StartServer(dir_.path());
  auto stub = test::NewKvStub(address());
  v1::GetResponse response;
  ASSERT_TRUE(Get(stub.get(), "first", &response).ok());
  EXPECT_TRUE(response.found());
  ASSERT_TRUE(Set(stub.get(), "after-repair", "v").ok());
  server->Signal(SIGTERM);
  ExpectCleanExit(server.get());
}

// RunForStdout runs kv-server with args and answers its exit status and
// stdout.
std::pair<int, std::string> RunForStdout(const std::string& args) {
  std::string command =
      absl::StrCat(test::KvServerBinary(), " ", args, " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    out.append(buffer, n);
  }
  return {pclose(pipe), out};
}

TEST_F(ProcessTest, HelpExitsZeroAndExplainsEveryFlag) {
  auto [status, out] = RunForStdout("--help");
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (const char* flag :
       {"--listen", "--data_dir", "--sync", "--max_value_bytes",
        "--drain_timeout", "--threads", "--repair"}) {
    EXPECT_THAT(out, HasSubstr(flag)) << flag;
  }
  EXPECT_THAT(out, HasSubstr("127.0.0.1:50051"));
  EXPECT_THAT(out, HasSubstr("./kv-data"));
}

TEST_F(ProcessTest, OutOfRangeFlagExitsWithAUsageError) {
  test::ServerProcess server(
      test::KvServerBinary(),
      {"--listen=127.0.0.1:0", absl::StrCat("--data_dir=", dir_.path()),
       "--max_value_bytes=67108865"});
  std::optional<int> status = server.WaitForExit(kExitBound);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  server.WaitForLine("\n", kExitBound);
  EXPECT_THAT(server.stderr_text(), HasSubstr("max_value_bytes"));
}

TEST_F(ProcessTest, ThreadCountOutOfRangeExitsWithAUsageError) {
  for (const char* threads : {"--threads=0", "--threads=257"}) {
    test::ServerProcess server(
        test::KvServerBinary(),
        {"--listen=127.0.0.1:0", absl::StrCat("--data_dir=", dir_.path()),
         threads});
    std::optional<int> status = server.WaitForExit(kExitBound);
    ASSERT_TRUE(status.has_value()) << threads;
    EXPECT_EQ(WEXITSTATUS(*status), 2) << threads;
    server.WaitForLine("\n", kExitBound);
    EXPECT_THAT(server.stderr_text(), HasSubstr("--threads: must be 1 to 256"))
        << threads;
  }
}

TEST_F(ProcessTest, OneThreadServesConcurrentCalls) {
  auto server = StartServer(dir_.path(), {"--threads=1"});
  EXPECT_THAT(server->stderr_text(), HasSubstr(" threads=1"));
  std::unique_ptr<v1::KV::Stub> stub = test::NewKvStub(address());
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&stub, i] {
      for (int j = 0; j < 25; ++j) {
        const std::string key = absl::StrCat("k", i, "-", j);
        EXPECT_TRUE(Set(stub.get(), key, key).ok()) << key;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 25; ++j) {
      const std::string key = absl::StrCat("k", i, "-", j);
      v1::GetResponse response;
      ASSERT_TRUE(Get(stub.get(), key, &response).ok()) << key;
      EXPECT_EQ(response.value(), key);
    }
  }

  server->Signal(SIGTERM);
  ExpectCleanExit(server.get());
}

}  // namespace
}  // namespace kv
