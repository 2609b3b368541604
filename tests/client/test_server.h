// TestServer runs a real kv server in the test process: a LevelDbStore in
// a fresh temporary directory (removed afterwards), with a clock the test
// moves, served by kv::Server on 127.0.0.1 with a port the kernel picks.
// Test-only.

#ifndef KV_TESTS_CLIENT_TEST_SERVER_H_
#define KV_TESTS_CLIENT_TEST_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "service/server.h"
#include "store/leveldb_store.h"
#include "store/testing/fake_clock.h"
#include "store/testing/temp_dir.h"

namespace kv {

class TestServer {
 public:
  // TestServer opens the store and starts the server; a failure is
  // reported as a test failure and leaves ok() false.
  TestServer() {
    LevelDbStore::Options store_options;
    store_options.path = dir_.path() + "/data";
    // Durability is not under test here; fsyncs would only slow the tests.
    store_options.sync = false;
    store_options.clock = clock_.AsFunction();
    store_options.reap_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<LevelDbStore>> store =
        LevelDbStore::Open(store_options);
    if (!store.ok()) {
      ADD_FAILURE() << "LevelDbStore::Open: " << store.status();
      return;
    }
    store_ = std::move(*store);

    StartServer("127.0.0.1:0");
  }

  ~TestServer() {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    store_.reset();
  }

  // Restart shuts the server down and starts a new one on the same port
  // over the same store. Returns false, after a test failure, when the new
  // server cannot start.
  bool Restart() {
    const int port = server_->port();
    server_->Shutdown();
    server_.reset();
    return StartServer(absl::StrCat("127.0.0.1:", port));
  }

  bool ok() const { return server_ != nullptr; }
  std::string address() const { return server_->address(); }
  testing::FakeClock& clock() { return clock_; }
  Server& server() { return *server_; }

 private:
  bool StartServer(const std::string& listen) {
    ServerOptions server_options;
    server_options.listen = listen;
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(server_options, store_.get());
    if (!server.ok()) {
      ADD_FAILURE() << "Server::Start on " << listen << ": " << server.status();
      return false;
    }
    server_ = std::move(*server);
    return true;
  }

  testing::FakeClock clock_;
  testing::TempDir dir_;
  std::unique_ptr<LevelDbStore> store_;
  std::unique_ptr<Server> server_;
};

}  // namespace kv

#endif  // KV_TESTS_CLIENT_TEST_SERVER_H_
