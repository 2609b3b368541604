// Tests of the kvctl binary against a real kv server in this process
// (tests/client/test_server.h). kvctl runs as a child process with files
// for stdin, stdout and stderr, and a fixed environment.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/test_server.h"

#ifndef KV_KVCTL_PATH
#error "KV_KVCTL_PATH must name the kvctl binary"
#endif

namespace kv {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream data;
  data << file.rdbuf();
  return data.str();
}

// RunKvctl runs kvctl with args, stdin holding input and only env in its
// environment, and waits for it to exit.
Outcome RunKvctl(const std::vector<std::string>& args,
                 const std::string& input = "",
                 const std::vector<std::string>& env = {}) {
  static int runs = 0;
  std::string base = (std::filesystem::path(::testing::TempDir()) /
                      absl::StrCat("kvctl-", getpid(), "-", ++runs))
                         .string();
  std::string in_path = base + ".in";
  std::string out_path = base + ".out";
  std::string err_path = base + ".err";
  std::ofstream(in_path, std::ios::binary) << input;

  std::vector<std::string> argv_strings = {KV_KVCTL_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = env;
  std::vector<char*> envp;
  for (std::string& var : env_strings) envp.push_back(var.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int spawned =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);

  Outcome outcome;
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": " << spawned;
    return outcome;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    outcome.exit_code = WEXITSTATUS(status);
  }
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  for (const std::string& path : {in_path, out_path, err_path}) {
    std::remove(path.c_str());
  }
  return outcome;
}

class KvctlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  // Kvctl runs kvctl against the test server in namespace "myapp".
  Outcome Kvctl(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(),
                {"--address=" + server_.address(), "--namespace=myapp"});
    return RunKvctl(args, input);
  }

  TestServer server_;
};

TEST_F(KvctlTest, SetFromArgumentThenGetPrintsValueExactly) {
  Outcome set = Kvctl({"set", "greeting", "hello world"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_THAT(set.out, ::testing::MatchesRegex("[1-9][0-9]*\n"));

  Outcome get = Kvctl({"get", "greeting"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "hello world");
  EXPECT_THAT(get.err, IsEmpty());
}

TEST_F(KvctlTest, SetWithoutValueReadsStdin) {
  std::string value = "line one\nline two\n\ttabbed \xe2\x82\xac\n";
  Outcome set = Kvctl({"set", "doc"}, value);
  EXPECT_EQ(set.exit_code, 0) << set.err;

  Outcome get = Kvctl({"get", "doc"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, value);
}

TEST_F(KvctlTest, GetOfAbsentKeyExitsOneAndPrintsNothing) {
  Outcome get = Kvctl({"get", "missing"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_THAT(get.out, IsEmpty());
}

TEST_F(KvctlTest, DeleteExitsZeroThenOneOnceAbsent) {
  ASSERT_EQ(Kvctl({"set", "k", "v"}).exit_code, 0);

  Outcome first = Kvctl({"delete", "k"});
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Kvctl({"get", "k"}).exit_code, 1);
  EXPECT_EQ(Kvctl({"delete", "k"}).exit_code, 1);
}

TEST_F(KvctlTest, ListPrintsMatchingKeysOnePerLine) {
  for (const char* key : {"job/2", "job/1", "other", "job/3"}) {
    ASSERT_EQ(Kvctl({"set", key, "v"}).exit_code, 0);
  }

  Outcome prefixed = Kvctl({"list", "job/"});
  EXPECT_EQ(prefixed.exit_code, 0) << prefixed.err;
  EXPECT_EQ(prefixed.out, "job/1\njob/2\njob/3\n");

  Outcome all = Kvctl({"list"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "job/1\njob/2\njob/3\nother\n");
}

TEST_F(KvctlTest, TtlFlagMakesTheValueExpire) {
  Outcome set = Kvctl({"set", "--ttl=30", "cached", "v"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(Kvctl({"get", "cached"}).exit_code, 0);

  server_.clock().Advance(absl::Seconds(31));
  EXPECT_EQ(Kvctl({"get", "cached"}).exit_code, 1);
}

TEST_F(KvctlTest, ServerErrorExitsThreeWithCodeAndMessage) {
  Outcome set = Kvctl({"set", std::string(1025, 'k'), "v"});
  EXPECT_EQ(set.exit_code, 3);
  EXPECT_THAT(set.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(set.err, HasSubstr("key"));

  Outcome ttl = Kvctl({"set", "--ttl=-5", "k", "v"});
  EXPECT_EQ(ttl.exit_code, 3);
  EXPECT_THAT(ttl.err, HasSubstr("ttl"));
}

TEST_F(KvctlTest, UnreachableServerExitsThree) {
  Outcome get =
      RunKvctl({"--address=127.0.0.1:1", "--namespace=myapp", "get", "k"});
  EXPECT_EQ(get.exit_code, 3);
  EXPECT_THAT(get.err, HasSubstr("UNAVAILABLE"));
}

TEST_F(KvctlTest, UsageErrorsExitTwo) {
  std::string address = "--address=" + server_.address();
  EXPECT_EQ(RunKvctl({address, "--namespace=myapp"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"fetch", "k"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"get"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"get", "a", "b"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"set", "k", "v", "extra"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"--no_such_flag=1", "get", "k"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"--ttl=soon", "set", "k", "v"}).exit_code, 2);
  EXPECT_EQ(Kvctl({"--ttl=5", "get", "k"}).exit_code, 2);

  Outcome no_namespace = RunKvctl({address, "get", "k"});
  EXPECT_EQ(no_namespace.exit_code, 2);
  EXPECT_THAT(no_namespace.err, HasSubstr("namespace"));
}

TEST_F(KvctlTest, HelpExplainsCommandsAndExitsZero) {
  Outcome help = RunKvctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* word : {"get", "set", "delete", "list", "--namespace",
                           "--address", "--ttl", "KV_TOKEN"}) {
    EXPECT_THAT(help.out, HasSubstr(word));
  }
}

TEST_F(KvctlTest, EnvironmentSuppliesAddressAndNamespace) {
  std::vector<std::string> env = {"KV_ADDRESS=" + server_.address(),
                                  "KV_NAMESPACE=myapp"};
  ASSERT_EQ(RunKvctl({"set", "k", "from env"}, "", env).exit_code, 0);

  Outcome get = Kvctl({"get", "k"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "from env");
}

TEST_F(KvctlTest, DoubleDashEndsFlags) {
  ASSERT_EQ(Kvctl({"set", "--", "--key", "--value"}).exit_code, 0);
  Outcome get = Kvctl({"get", "--", "--key"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "--value");
}

}  // namespace
}  // namespace kv
