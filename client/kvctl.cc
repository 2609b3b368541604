// kvctl: the command-line client of kvstore. Run `kvctl --help` for the
// commands, flags and exit codes.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/client.h"

ABSL_FLAG(std::string, address, "",
          "server to call, host:port; empty means $KV_ADDRESS, or "
          "localhost:50051 when that is unset");
ABSL_FLAG(std::string, namespace, "",
          "namespace to work in; empty means $KV_NAMESPACE; one of the two "
          "is required");
ABSL_FLAG(int64_t, ttl, 0,
          "set only: seconds the value lives, 1 to 2592000; 0 means forever");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5),
          "deadline of each call, retries included, e.g. 500ms, 5s, 1m");

namespace kv {
namespace {

constexpr int kExitDone = 0;
constexpr int kExitAbsent = 1;
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;

constexpr const char* kFlagNames[] = {"address", "namespace", "ttl",
                                      "deadline"};

constexpr char kUsage[] = R"(kvctl: read and write a kvstore server.

Usage:
  kvctl [flags] get KEY           print the value of KEY
  kvctl [flags] set KEY [VALUE]   store VALUE under KEY; without VALUE, the
                                  value is read from stdin up to its end
  kvctl [flags] delete KEY        remove KEY
  kvctl [flags] list [PREFIX]     print every key starting with PREFIX (all
                                  keys when omitted), one per line, in byte
                                  order

get writes the value exactly as stored, with no newline added, so that
`kvctl get KEY > file` keeps the bytes. set prints the version the write
took, followed by a newline. Flags may come before or after the command;
`--` ends the flags, for a key or value that starts with `-`.

Environment:
  KV_ADDRESS    server address when --address is not given
  KV_NAMESPACE  namespace when --namespace is not given
  KV_TOKEN      token sent as `authorization: Bearer <token>`; never a flag,
                so that it does not show in the process list

Exit codes:
  0  done
  1  absent: get or delete of a key that holds no value
  2  usage error
  3  any other error; stderr names the gRPC code and the server's message

Flags:
)";

struct Invocation {
  std::vector<std::string> args;  // the command and its arguments
  std::set<std::string> flags_given;
  bool help = false;
};

// Parsing goes through absl's flag registry one flag at a time, rather
// than absl::ParseCommandLine, because that exits 1 on a bad flag and the
// contract of kvctl is exit 2 for every usage error.
std::optional<std::string> ParseArgs(int argc, char** argv,
                                     Invocation* invocation) {
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (flags_done || !absl::StartsWith(arg, "-") || arg == "-") {
      invocation->args.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help" || arg == "-help") {
      invocation->help = true;
      continue;
    }

    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name(body.substr(0, body.find('=')));
    std::optional<std::string> value;
    if (body.find('=') != absl::string_view::npos) {
      value = std::string(body.substr(body.find('=') + 1));
    }
    bool known = false;
    for (const char* flag_name : kFlagNames) known |= name == flag_name;
    absl::CommandLineFlag* flag =
        known ? absl::FindCommandLineFlag(name) : nullptr;
    if (flag == nullptr) return absl::StrCat("unknown flag ", arg);
    if (!value.has_value()) {
      if (i + 1 == argc) return absl::StrCat("flag --", name, " needs a value");
      value = argv[++i];
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::StrCat("flag --", name, ": ", error);
    }
    invocation->flags_given.insert(name);
  }
  return std::nullopt;
}

void PrintHelp() {
  std::cout << kUsage;
  for (const char* name : kFlagNames) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string text = absl::StrCat(
        flag->Help(), " (default: ",
        flag->DefaultValue().empty() ? "empty" : flag->DefaultValue(), ")");
    std::cout << "  --" << name << "\n";
    // Wraps the help text at 76 columns under a six-space indent.
    std::string line;
    for (absl::string_view word : absl::StrSplit(text, ' ')) {
      if (!line.empty() && line.size() + 1 + word.size() > 70) {
        std::cout << "      " << line << "\n";
        line.clear();
      }
      absl::StrAppend(&line, line.empty() ? "" : " ", word);
    }
    std::cout << "      " << line << "\n";
  }
}

int UsageError(absl::string_view message) {
  std::cerr << "kvctl: " << message << "\nRun 'kvctl --help' for usage.\n";
  return kExitUsage;
}

int Failure(absl::string_view command, const absl::Status& status) {
  std::cerr << "kvctl: " << command << ": "
            << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  return kExitError;
}

// Reads stdin to its end, byte for byte.
std::optional<std::string> ReadStdin() {
  std::string data;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) {
    data.append(buffer, n);
  }
  if (std::ferror(stdin)) return std::nullopt;
  return data;
}

int WriteStdout(absl::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() ||
      std::fflush(stdout) != 0) {
    std::cerr << "kvctl: cannot write to stdout\n";
    return kExitError;
  }
  return kExitDone;
}

int Run(int argc, char** argv) {
  Invocation invocation;
  if (std::optional<std::string> error = ParseArgs(argc, argv, &invocation)) {
    return UsageError(*error);
  }
  if (invocation.help) {
    PrintHelp();
    return kExitDone;
  }
  const std::vector<std::string>& args = invocation.args;
  if (args.empty()) return UsageError("missing command");
  const std::string& command = args[0];
  const size_t operands = args.size() - 1;

  if (command != "get" && command != "set" && command != "delete" &&
      command != "list") {
    return UsageError(absl::StrCat("unknown command ", command));
  }
  bool shape_ok = (command == "get" && operands == 1) ||
                  (command == "set" && (operands == 1 || operands == 2)) ||
                  (command == "delete" && operands == 1) ||
                  (command == "list" && operands <= 1);
  if (!shape_ok) {
    return UsageError(absl::StrCat("wrong number of arguments for ", command));
  }
  if (command != "set" && invocation.flags_given.count("ttl") > 0) {
    return UsageError("--ttl applies to set only");
  }

  ClientOptions options = ClientOptions::FromEnvironment();
  if (!absl::GetFlag(FLAGS_address).empty()) {
    options.address = absl::GetFlag(FLAGS_address);
  }
  options.deadline = absl::GetFlag(FLAGS_deadline);
  std::string namespace_name = absl::GetFlag(FLAGS_namespace);
  if (namespace_name.empty()) {
    const char* from_env = std::getenv("KV_NAMESPACE");
    if (from_env != nullptr) namespace_name = from_env;
  }
  if (namespace_name.empty()) {
    return UsageError("no namespace: pass --namespace or set KV_NAMESPACE");
  }
  KVStore store = Client(options).Namespace(namespace_name);

  if (command == "get") {
    absl::StatusOr<std::optional<KVStore::Entry>> entry = store.Get(args[1]);
    if (!entry.ok()) return Failure(command, entry.status());
    if (!entry->has_value()) return kExitAbsent;
    return WriteStdout((*entry)->value);
  }

  if (command == "set") {
    std::string value;
    if (operands == 2) {
      value = args[2];
    } else {
      std::optional<std::string> input = ReadStdin();
      if (!input.has_value()) {
        std::cerr << "kvctl: set: cannot read the value from stdin\n";
        return kExitError;
      }
      value = std::move(*input);
    }
    absl::StatusOr<uint64_t> version = store.Set(
        args[1], std::move(value), absl::Seconds(absl::GetFlag(FLAGS_ttl)));
    if (!version.ok()) return Failure(command, version.status());
    return WriteStdout(absl::StrCat(*version, "\n"));
  }

  if (command == "delete") {
    absl::StatusOr<bool> deleted = store.Delete(args[1]);
    if (!deleted.ok()) return Failure(command, deleted.status());
    return *deleted ? kExitDone : kExitAbsent;
  }

  absl::StatusOr<std::vector<std::string>> keys =
      store.ListAll(operands == 1 ? args[1] : "");
  if (!keys.ok()) return Failure(command, keys.status());
  std::string out;
  for (const std::string& key : *keys) absl::StrAppend(&out, key, "\n");
  return WriteStdout(out);
}

}  // namespace
}  // namespace kv

int main(int argc, char** argv) { return kv::Run(argc, argv); }
