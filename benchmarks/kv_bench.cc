// kv-bench: a closed-loop load generator for the kv.v1.KV service.
//
// It keeps --in_flight calls outstanding over --channels connections, from
// --threads driver threads that each own a completion queue: every
// completion is timed and immediately replaced by the next call, so the
// offered load is exactly the in-flight level. After --warmup it measures
// for --duration and prints a table and, with --json_out, appends one JSON
// object to that file.
//
// Examples:
//   kv-bench --target=127.0.0.1:50051 --mix=get=1 --keys=1000000
//   kv-bench --target=127.0.0.1:50051 --load --keys=1000000
//   kv-bench --target=127.0.0.1:50051 --mix=set=1 --in_flight=256 \
//       --server_pid=1234 --server_log=server.err --json_out=runs.jsonl

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "kv/v1/kv.grpc.pb.h"
#include "kv/v1/kv.pb.h"
#include "latency_histogram.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "HOST:PORT of the server to drive (loopback only)");
ABSL_FLAG(int, channels, 4,
          "gRPC channels, each its own TCP connection; calls are spread "
          "round-robin over them");
ABSL_FLAG(int, in_flight, 64, "calls kept outstanding in total");
ABSL_FLAG(int, threads, 1,
          "driver threads, each polling its own completion queue");
ABSL_FLAG(int64_t, keys, 100000, "key space: keys key000000000 and up");
ABSL_FLAG(int, value_bytes, 100, "size of every value written");
ABSL_FLAG(std::string, mix, "get=1",
          "op mix as kind=weight pairs, e.g. get=9,set=1; kinds: get, set, "
          "delete");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "time to run before measuring");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "length of the measured window");
ABSL_FLAG(std::string, namespace, "bench", "namespace of every call");
ABSL_FLAG(int, server_pid, 0,
          "pid of the server process, for server CPU per op (0: not "
          "measured)");
ABSL_FLAG(std::string, server_log, "",
          "kv-server's stderr file: SIGUSR1 goes to --server_pid before and "
          "after the window and the two `stats:` lines it logs give fsyncs "
          "per op and the mean commit group size");
ABSL_FLAG(std::string, scenario, "", "scenario name for the report");
ABSL_FLAG(std::string, label, "", "free-form label, e.g. ceiling or kv-server");
ABSL_FLAG(std::string, json_out, "",
          "file to append one JSON object (one line) to");
ABSL_FLAG(bool, load, false,
          "set every key of the key space once, in order, then stop; "
          "ignores --mix, --warmup and --duration");

namespace kv {
namespace {

using Clock = std::chrono::steady_clock;
using KvStub = kv::v1::KV::Stub;

// KeyName is the key with index i; fixed width so that keys sort by index.
std::string KeyName(int64_t i) { return absl::StrFormat("key%09d", i); }

// ---------------------------------------------------------------------------
// Op kinds. A Call holds the messages of one outstanding call of one kind and
// knows how to issue it; a slot keeps one Call per kind and reuses it.

// What every call of a run shares.
struct CallSetup {
  std::string ns;
  int value_bytes = 0;
  // Values are windows of --value_bytes into this pool of random printable
  // characters (valid UTF-8), at a random offset per call: neighbouring keys
  // then hold different values, so LevelDB's block compression gets no
  // easier data than real values would give it.
  std::string value_pool;
};

// What one call is about.
struct CallArgs {
  const std::string& key;
  // Only Set uses it.
  absl::string_view value;
};

class Call {
 public:
  virtual ~Call() = default;

  // Start issues the call on `stub`; its completion arrives on `cq` with
  // `tag`, with the outcome in `*status`.
  virtual void Start(KvStub& stub, grpc::ClientContext& context,
                     grpc::CompletionQueue& cq, const CallArgs& args,
                     grpc::Status* status, void* tag) = 0;

  // Missed answers whether a successful call found no key (a Get of an
  // absent key); kinds for which that means nothing answer false.
  virtual bool Missed() const { return false; }
};

class GetCall : public Call {
 public:
  explicit GetCall(const CallSetup& setup) {
    request_.set_namespace_(setup.ns);
  }
  void Start(KvStub& stub, grpc::ClientContext& context,
             grpc::CompletionQueue& cq, const CallArgs& args,
             grpc::Status* status, void* tag) override {
    request_.set_key(args.key);
    reader_ = stub.AsyncGet(&context, request_, &cq);
    reader_->Finish(&response_, status, tag);
  }
  bool Missed() const override { return !response_.found(); }

 private:
  kv::v1::GetRequest request_;
  kv::v1::GetResponse response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<kv::v1::GetResponse>> reader_;
};

class SetCall : public Call {
 public:
  explicit SetCall(const CallSetup& setup) {
    request_.set_namespace_(setup.ns);
  }
  void Start(KvStub& stub, grpc::ClientContext& context,
             grpc::CompletionQueue& cq, const CallArgs& args,
             grpc::Status* status, void* tag) override {
    request_.set_key(args.key);
    request_.set_value(args.value.data(), args.value.size());
    reader_ = stub.AsyncSet(&context, request_, &cq);
    reader_->Finish(&response_, status, tag);
  }

 private:
  kv::v1::SetRequest request_;
  kv::v1::SetResponse response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<kv::v1::SetResponse>> reader_;
};

class DeleteCall : public Call {
 public:
  explicit DeleteCall(const CallSetup& setup) {
    request_.set_namespace_(setup.ns);
  }
  void Start(KvStub& stub, grpc::ClientContext& context,
             grpc::CompletionQueue& cq, const CallArgs& args,
             grpc::Status* status, void* tag) override {
    request_.set_key(args.key);
    reader_ = stub.AsyncDelete(&context, request_, &cq);
    reader_->Finish(&response_, status, tag);
  }

 private:
  kv::v1::DeleteRequest request_;
  kv::v1::DeleteResponse response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<kv::v1::DeleteResponse>>
      reader_;
};

// OpKind names one kind of call for --mix and makes its Call objects. A new
// rpc slots in as one more Call subclass and one more row here.
struct OpKind {
  const char* name;
  std::unique_ptr<Call> (*make)(const CallSetup& setup);
};

template <typename T>
std::unique_ptr<Call> Make(const CallSetup& setup) {
  return std::make_unique<T>(setup);
}

constexpr OpKind kOpKinds[] = {
    {"get", &Make<GetCall>},
    {"set", &Make<SetCall>},
    {"delete", &Make<DeleteCall>},
};
constexpr int kNumOpKinds = sizeof(kOpKinds) / sizeof(kOpKinds[0]);

int OpKindIndex(absl::string_view name) {
  for (int i = 0; i < kNumOpKinds; ++i) {
    if (name == kOpKinds[i].name) return i;
  }
  return -1;
}

// Mix is the weight of each op kind, indexed like kOpKinds.
using Mix = std::vector<double>;

absl::StatusOr<Mix> ParseMix(absl::string_view text) {
  Mix mix(kNumOpKinds, 0);
  double total = 0;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const int kind = OpKindIndex(kv.first);
    double weight = 0;
    if (kind < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mix: unknown op kind '", kv.first, "' (known: get, set, delete)"));
    }
    if (!absl::SimpleAtod(kv.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mix: weight of ", kv.first, " must be a number >= 0"));
    }
    mix[kind] = weight;
    total += weight;
  }
  if (total <= 0) {
    return absl::InvalidArgumentError("--mix: no op kind has a weight > 0");
  }
  return mix;
}

std::string MixText(const Mix& mix) {
  std::string out;
  for (int i = 0; i < kNumOpKinds; ++i) {
    if (mix[i] <= 0) continue;
    absl::StrAppend(&out, out.empty() ? "" : ",", kOpKinds[i].name, "=",
                    mix[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Drivers.

enum class Phase { kWarmup, kMeasure, kStop };

// What one driver thread counted in the measured window.
struct DriverResult {
  LatencyHistogram latency_ns;
  uint64_t ops = 0;
  uint64_t errors = 0;  // Calls that did not end OK, in any phase.
  uint64_t misses = 0;  // Get calls that answered found = false.
  std::string first_error;
};

// Driver keeps its share of the in-flight calls outstanding on one
// completion queue, from one thread.
class Driver {
 public:
  // Shared state, owned by Main() and outliving every Driver.
  struct Shared {
    const CallSetup* setup = nullptr;
    Mix mix;
    int64_t keys = 0;
    bool load = false;
    // In load mode: the next key to set, for all drivers.
    std::atomic<int64_t> next_key{0};
    std::atomic<Phase> phase{Phase::kWarmup};
  };

  Driver(Shared* shared, std::vector<KvStub*> slot_stubs, uint64_t seed)
      : shared_(shared),
        rng_(seed),
        pick_(shared->mix.begin(), shared->mix.end()) {
    for (KvStub* stub : slot_stubs) {
      auto slot = std::make_unique<Slot>();
      slot->stub = stub;
      slot->calls.resize(kNumOpKinds);
      slots_.push_back(std::move(slot));
    }
  }

  // Run issues calls until the phase is kStop (or, in load mode, until every
  // key is set) and every outstanding call has completed.
  void Run();

  const DriverResult& result() const { return result_; }

 private:
  struct Slot {
    KvStub* stub = nullptr;
    std::vector<std::unique_ptr<Call>> calls;  // By op kind, made lazily.
    std::optional<grpc::ClientContext> context;
    grpc::Status status;
    int kind = 0;
    Clock::time_point start;
  };

  // Issue starts the next call on `slot`; false when, in load mode, no key
  // is left.
  bool Issue(Slot& slot);
  void Complete(Slot& slot, Clock::time_point end, Phase phase);

  Shared* shared_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  DriverResult result_;
};

bool Driver::Issue(Slot& slot) {
  int64_t key_index;
  if (shared_->load) {
    key_index = shared_->next_key.fetch_add(1, std::memory_order_relaxed);
    if (key_index >= shared_->keys) return false;
    slot.kind = OpKindIndex("set");
  } else {
    key_index =
        std::uniform_int_distribution<int64_t>(0, shared_->keys - 1)(rng_);
    slot.kind = pick_(rng_);
  }

  std::unique_ptr<Call>& call = slot.calls[slot.kind];
  if (call == nullptr) call = kOpKinds[slot.kind].make(*shared_->setup);
  // A ClientContext serves one call only.
  slot.context.emplace();
  slot.start = Clock::now();
  const CallSetup& setup = *shared_->setup;
  const size_t offset = std::uniform_int_distribution<size_t>(
      0, setup.value_pool.size() - setup.value_bytes)(rng_);
  const std::string key = KeyName(key_index);
  const CallArgs args{
      key,
      absl::string_view(setup.value_pool).substr(offset, setup.value_bytes)};
  call->Start(*slot.stub, *slot.context, cq_, args, &slot.status, &slot);
  return true;
}

void Driver::Complete(Slot& slot, Clock::time_point end, Phase phase) {
  if (!slot.status.ok()) {
    if (result_.errors++ == 0) {
      result_.first_error = absl::StrCat(kOpKinds[slot.kind].name, ": code ",
                                         slot.status.error_code(), ": ",
                                         slot.status.error_message());
    }
  }
  if (phase != Phase::kMeasure) return;
  ++result_.ops;
  result_.latency_ns.Record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(end - slot.start)
          .count()));
  if (slot.status.ok() && slot.calls[slot.kind]->Missed()) ++result_.misses;
}

void Driver::Run() {
  int outstanding = 0;
  for (auto& slot : slots_) {
    if (Issue(*slot)) ++outstanding;
  }

  // A server that stops answering must not hang the benchmark: when no call
  // has completed for kStallLimit, the calls still out are cancelled (they
  // end as errors) and no new call is issued.
  constexpr auto kStallLimit = std::chrono::seconds(10);
  Clock::time_point last_completion = Clock::now();
  bool stalled = false;
  while (outstanding > 0) {
    void* tag = nullptr;
    bool ok = false;
    const auto status = cq_.AsyncNext(
        &tag, &ok,
        std::chrono::system_clock::now() + std::chrono::milliseconds(100));
    const Clock::time_point now = Clock::now();
    const Phase phase = shared_->phase.load(std::memory_order_acquire);
    if (status == grpc::CompletionQueue::TIMEOUT) {
      if (!stalled && now - last_completion > kStallLimit) {
        // Cancelling a call that has already ended does nothing.
        for (auto& slot : slots_) {
          if (slot->context) slot->context->TryCancel();
        }
        stalled = true;
      }
      continue;
    }
    if (status == grpc::CompletionQueue::SHUTDOWN) break;

    last_completion = now;
    Slot& slot = *static_cast<Slot*>(tag);
    Complete(slot, now, phase);
    if (stalled || phase == Phase::kStop || !Issue(slot)) --outstanding;
  }

  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

// ---------------------------------------------------------------------------
// The server under test, seen from outside: CPU time from /proc and the
// `stats:` line kv-server logs on SIGUSR1.

// ServerCpuSeconds answers utime + stime of process `pid`.
absl::StatusOr<double> ServerCpuSeconds(int pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses; the fields
  // after the last ')' are plain numbers.
  const size_t paren = text.rfind(')');
  if (!in.good() && text.empty()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  if (paren == std::string::npos) {
    return absl::DataLossError(absl::StrCat("unexpected format of ", path));
  }
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(text).substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::DataLossError(absl::StrCat("unexpected format of ", path));
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// The counters of one `stats: writes=N commit_groups=G syncs=S` line.
struct ServerStats {
  uint64_t writes = 0;
  uint64_t commit_groups = 0;
  uint64_t syncs = 0;
};

std::optional<ServerStats> ParseStatsLine(absl::string_view line) {
  const size_t at = line.find("stats:");
  if (at == absl::string_view::npos) return std::nullopt;
  ServerStats stats;
  int seen = 0;
  for (absl::string_view word :
       absl::StrSplit(line.substr(at + 6), ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(word, absl::MaxSplits('=', 1));
    uint64_t* field = kv.first == "writes"          ? &stats.writes
                      : kv.first == "commit_groups" ? &stats.commit_groups
                      : kv.first == "syncs"         ? &stats.syncs
                                                    : nullptr;
    if (field != nullptr && absl::SimpleAtoi(kv.second, field)) ++seen;
  }
  if (seen < 3) return std::nullopt;
  return stats;
}

// RequestServerStats sends SIGUSR1 to `pid` and answers the counters of the
// first `stats:` line that appears in `log_path` after the signal.
absl::StatusOr<ServerStats> RequestServerStats(int pid,
                                               const std::string& log_path) {
  std::ifstream log(log_path);
  if (!log) return absl::NotFoundError(absl::StrCat("cannot read ", log_path));
  log.seekg(0, std::ios::end);
  std::streampos offset = log.tellg();

  if (kill(pid, SIGUSR1) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot signal pid ", pid));
  }

  // The server writes the line from its own thread; polling the file is the
  // only way to see it from another process.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::string pending;
  while (absl::Now() < deadline) {
    log.clear();
    log.seekg(offset);
    std::string chunk((std::istreambuf_iterator<char>(log)),
                      std::istreambuf_iterator<char>());
    offset += static_cast<std::streamoff>(chunk.size());
    pending += chunk;
    size_t newline;
    while ((newline = pending.find('\n')) != std::string::npos) {
      std::optional<ServerStats> stats =
          ParseStatsLine(absl::string_view(pending).substr(0, newline));
      if (stats) return *stats;
      pending.erase(0, newline + 1);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no `stats: writes=N commit_groups=G syncs=S` line in ",
                   log_path, " within 5 s of SIGUSR1"));
}

// A snapshot of the server at one edge of the measured window.
struct ServerSample {
  std::optional<double> cpu_seconds;
  std::optional<ServerStats> stats;
};

absl::StatusOr<ServerSample> SampleServer(int pid, const std::string& log) {
  ServerSample sample;
  if (pid <= 0) return sample;
  if (!log.empty()) {
    absl::StatusOr<ServerStats> stats = RequestServerStats(pid, log);
    if (!stats.ok()) return stats.status();
    sample.stats = *stats;
  }
  absl::StatusOr<double> cpu = ServerCpuSeconds(pid);
  if (!cpu.ok()) return cpu.status();
  sample.cpu_seconds = *cpu;
  return sample;
}

double ClientCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---------------------------------------------------------------------------
// Report.

struct Report {
  std::string scenario, label, target, mix;
  bool load = false;
  int channels = 0, in_flight = 0, threads = 0, value_bytes = 0;
  int64_t keys = 0;
  double seconds = 0;
  uint64_t ops = 0, errors = 0, misses = 0;
  LatencyHistogram latency_ns;
  double client_cpu_seconds = 0;
  std::optional<double> server_cpu_seconds;
  std::optional<ServerStats> server_stats;  // Difference over the window.

  double OpsPerSecond() const { return seconds > 0 ? ops / seconds : 0; }
  double Us(double percent) const {
    return latency_ns.Percentile(percent) / 1000.0;
  }
};

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string JsonNumber(std::optional<double> v) {
  return v ? absl::StrFormat("%.3f", *v) : "null";
}

std::string ToJson(const Report& r) {
  const double ops = static_cast<double>(r.ops);
  std::optional<double> server_cpu_us, fsyncs_per_op, mean_group_size;
  if (r.server_cpu_seconds && r.ops > 0) {
    server_cpu_us = *r.server_cpu_seconds * 1e6 / ops;
  }
  if (r.server_stats && r.server_stats->writes > 0) {
    fsyncs_per_op =
        static_cast<double>(r.server_stats->syncs) / r.server_stats->writes;
  }
  if (r.server_stats && r.server_stats->commit_groups > 0) {
    mean_group_size = static_cast<double>(r.server_stats->writes) /
                      r.server_stats->commit_groups;
  }

  std::string out = "{";
  auto field = [&out](absl::string_view name, const std::string& value) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "", "\"", name, "\":", value);
  };
  field("scenario", JsonString(r.scenario));
  field("label", JsonString(r.label));
  field("date", JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                            absl::UTCTimeZone())));
  field("mode", JsonString(r.load ? "load" : "run"));
  field("target", JsonString(r.target));
  field("mix", JsonString(r.mix));
  field("ops", absl::StrCat(r.ops));
  field("seconds", JsonNumber(r.seconds));
  field("ops_per_s", JsonNumber(r.OpsPerSecond()));
  // Filled in by scripts/bench, which pairs each run with a ceiling run.
  field("ceiling_ops_per_s", "null");
  field("ratio", "null");
  field("p50_us", JsonNumber(r.Us(50)));
  field("p90_us", JsonNumber(r.Us(90)));
  field("p99_us", JsonNumber(r.Us(99)));
  field("p999_us", JsonNumber(r.Us(99.9)));
  field("max_us", JsonNumber(r.latency_ns.max() / 1000.0));
  field("mean_us", JsonNumber(r.latency_ns.Mean() / 1000.0));
  field("server_cpu_us_per_op", JsonNumber(server_cpu_us));
  field("client_cpu_us_per_op",
        JsonNumber(r.ops > 0
                       ? std::optional<double>(r.client_cpu_seconds * 1e6 / ops)
                       : std::nullopt));
  field("fsyncs_per_op", JsonNumber(fsyncs_per_op));
  field("mean_group_size", JsonNumber(mean_group_size));
  field("in_flight", absl::StrCat(r.in_flight));
  field("channels", absl::StrCat(r.channels));
  field("threads", absl::StrCat(r.threads));
  field("keys", absl::StrCat(r.keys));
  field("value_bytes", absl::StrCat(r.value_bytes));
  field("errors", absl::StrCat(r.errors));
  field("get_misses", absl::StrCat(r.misses));
  return out + "}";
}

void PrintTable(const Report& r) {
  const double ops = static_cast<double>(r.ops);
  std::string name = r.scenario.empty() ? "(unnamed)" : r.scenario;
  if (!r.label.empty()) absl::StrAppend(&name, " [", r.label, "]");
  absl::PrintF("%-12s %s\n", "scenario", name);
  absl::PrintF("%-12s %s  %s  channels %d  in_flight %d  threads %d\n", "setup",
               r.target, r.load ? "load" : r.mix, r.channels, r.in_flight,
               r.threads);
  absl::PrintF("%-12s keys %d  value_bytes %d\n", "data", r.keys,
               r.value_bytes);
  absl::PrintF(
      "%-12s %.0f ops/s  (%d ops in %.2f s, %d errors, %d get "
      "misses)\n",
      "throughput", r.OpsPerSecond(), r.ops, r.seconds, r.errors, r.misses);
  absl::PrintF(
      "%-12s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f "
      "(us)\n",
      "latency", r.Us(50), r.Us(90), r.Us(99), r.Us(99.9),
      r.latency_ns.max() / 1000.0);
  if (r.ops > 0) {
    std::string server = "not measured";
    if (r.server_cpu_seconds) {
      server = absl::StrFormat("%.1f", *r.server_cpu_seconds * 1e6 / ops);
    }
    absl::PrintF("%-12s server %s  client %.1f (us/op)\n", "cpu", server,
                 r.client_cpu_seconds * 1e6 / ops);
  }
  if (r.server_stats) {
    const ServerStats& s = *r.server_stats;
    absl::PrintF("%-12s writes %d  commit groups %d  syncs %d", "server",
                 s.writes, s.commit_groups, s.syncs);
    if (s.writes > 0) {
      absl::PrintF("  fsyncs/op %.3f", static_cast<double>(s.syncs) / s.writes);
    }
    if (s.commit_groups > 0) {
      absl::PrintF("  mean group %.1f",
                   static_cast<double>(s.writes) / s.commit_groups);
    }
    absl::PrintF("\n");
  }
}

// ---------------------------------------------------------------------------

// Connect opens `count` channels to `target`, each its own TCP connection,
// and answers a stub on each; UNAVAILABLE when one does not connect within
// 10 s.
absl::StatusOr<std::vector<std::unique_ptr<KvStub>>> Connect(
    const std::string& target, int count) {
  std::vector<std::unique_ptr<KvStub>> stubs;
  for (int i = 0; i < count; ++i) {
    // Channels with equal arguments would share one connection.
    grpc::ChannelArguments args;
    args.SetInt("kv.bench.channel", i);
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", target, " within 10 s"));
    }
    stubs.push_back(kv::v1::KV::NewStub(channel));
  }
  return stubs;
}

// Measure runs the drivers to the end and fills in the window's length,
// client CPU and server figures of `report`. In load mode the window is the
// whole fill; otherwise the drivers warm up for --warmup and the window is
// the --duration after it. Fails when the server cannot be sampled.
absl::Status Measure(std::vector<std::unique_ptr<Driver>>& drivers,
                     Driver::Shared& shared, int server_pid,
                     const std::string& server_log, Report& report) {
  std::vector<std::thread> threads;
  auto start_drivers = [&] {
    for (auto& driver : drivers) {
      threads.emplace_back([d = driver.get()] { d->Run(); });
    }
  };
  auto join_drivers = [&] {
    for (auto& thread : threads) thread.join();
  };

  absl::StatusOr<ServerSample> before, after;
  Clock::time_point start, end;
  double client_cpu_before, client_cpu_after;
  if (report.load) {
    shared.phase = Phase::kMeasure;
    before = SampleServer(server_pid, server_log);
    client_cpu_before = ClientCpuSeconds();
    start = Clock::now();
    start_drivers();
    join_drivers();
    end = Clock::now();
    client_cpu_after = ClientCpuSeconds();
    after = SampleServer(server_pid, server_log);
  } else {
    start_drivers();
    absl::SleepFor(absl::GetFlag(FLAGS_warmup));
    before = SampleServer(server_pid, server_log);
    client_cpu_before = ClientCpuSeconds();
    start = Clock::now();
    shared.phase.store(Phase::kMeasure, std::memory_order_release);
    absl::SleepFor(absl::GetFlag(FLAGS_duration));
    shared.phase.store(Phase::kStop, std::memory_order_release);
    end = Clock::now();
    client_cpu_after = ClientCpuSeconds();
    after = SampleServer(server_pid, server_log);
    join_drivers();
  }
  if (!before.ok()) return before.status();
  if (!after.ok()) return after.status();

  report.seconds = std::chrono::duration<double>(end - start).count();
  report.client_cpu_seconds = client_cpu_after - client_cpu_before;
  if (before->cpu_seconds && after->cpu_seconds) {
    report.server_cpu_seconds = *after->cpu_seconds - *before->cpu_seconds;
  }
  if (before->stats && after->stats) {
    report.server_stats =
        ServerStats{after->stats->writes - before->stats->writes,
                    after->stats->commit_groups - before->stats->commit_groups,
                    after->stats->syncs - before->stats->syncs};
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::cerr << "kv-bench: " << status.message() << "\n";
  return 1;
}

int Main() {
  Report report;
  report.scenario = absl::GetFlag(FLAGS_scenario);
  report.label = absl::GetFlag(FLAGS_label);
  report.target = absl::GetFlag(FLAGS_target);
  report.load = absl::GetFlag(FLAGS_load);
  report.in_flight = absl::GetFlag(FLAGS_in_flight);
  report.threads = absl::GetFlag(FLAGS_threads);
  report.keys = absl::GetFlag(FLAGS_keys);
  report.value_bytes = absl::GetFlag(FLAGS_value_bytes);
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  const std::string server_log = absl::GetFlag(FLAGS_server_log);

  if (report.in_flight < 1 || report.threads < 1 || report.keys < 1 ||
      report.value_bytes < 0 || absl::GetFlag(FLAGS_channels) < 1) {
    return Fail(absl::InvalidArgumentError(
        "--in_flight, --threads, --channels and --keys must be >= 1, "
        "--value_bytes >= 0"));
  }
  // More channels or threads than calls would only sit idle.
  report.channels = std::min(absl::GetFlag(FLAGS_channels), report.in_flight);
  report.threads = std::min(report.threads, report.in_flight);

  absl::StatusOr<Mix> mix =
      report.load ? ParseMix("set=1") : ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) return Fail(mix.status());
  report.mix = MixText(*mix);

  CallSetup setup;
  setup.ns = absl::GetFlag(FLAGS_namespace);
  setup.value_bytes = report.value_bytes;
  std::mt19937_64 pool_rng(0x6b7662);
  std::uniform_int_distribution<int> printable(' ', '~');
  setup.value_pool.resize((size_t{1} << 20) + report.value_bytes);
  for (char& c : setup.value_pool) c = static_cast<char>(printable(pool_rng));

  absl::StatusOr<std::vector<std::unique_ptr<KvStub>>> stubs =
      Connect(report.target, report.channels);
  if (!stubs.ok()) return Fail(stubs.status());

  // Slots are spread round-robin over channels and, independently, over
  // driver threads.
  Driver::Shared shared;
  shared.setup = &setup;
  shared.mix = *mix;
  shared.keys = report.keys;
  shared.load = report.load;
  std::vector<std::vector<KvStub*>> slot_stubs(report.threads);
  for (int i = 0; i < report.in_flight; ++i) {
    slot_stubs[i % report.threads].push_back(
        (*stubs)[i % report.channels].get());
  }
  std::vector<std::unique_ptr<Driver>> drivers;
  for (int t = 0; t < report.threads; ++t) {
    drivers.push_back(
        std::make_unique<Driver>(&shared, slot_stubs[t], 0x6b76 + t));
  }

  absl::Status measured =
      Measure(drivers, shared, server_pid, server_log, report);
  if (!measured.ok()) return Fail(measured);
  std::string first_error;
  for (const auto& driver : drivers) {
    const DriverResult& r = driver->result();
    report.latency_ns.Merge(r.latency_ns);
    report.ops += r.ops;
    report.errors += r.errors;
    report.misses += r.misses;
    if (first_error.empty()) first_error = r.first_error;
  }

  PrintTable(report);
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (!json_out.empty()) {
    std::ofstream out(json_out, std::ios::app);
    out << ToJson(report) << "\n";
    if (!out) {
      return Fail(absl::InternalError(absl::StrCat("cannot write ", json_out)));
    }
  }
  if (report.errors > 0) {
    return Fail(absl::UnknownError(
        absl::StrCat(report.errors, " calls failed; first: ", first_error)));
  }
  if (report.ops == 0) {
    return Fail(absl::UnknownError("no call completed in the window"));
  }
  return 0;
}

}  // namespace
}  // namespace kv

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "drives a kv.v1.KV server with a fixed number of calls in flight and "
      "reports throughput, latency and server cost.\n"
      "  kv-bench --target=127.0.0.1:50051 --mix=get=1 --in_flight=64");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::cerr << "kv-bench: unexpected argument " << rest[1] << "\n";
    return 2;
  }
  return kv::Main();
}
