// TempDir: a fresh directory for one test, removed with its contents when
// the TempDir is destroyed. Test-only.

#ifndef KV_STORE_TESTING_TEMP_DIR_H_
#define KV_STORE_TESTING_TEMP_DIR_H_

#include <string>

namespace kv::testing {

class TempDir {
 public:
  // Creates a new directory below $TEST_TMPDIR, or below the system's
  // temporary directory when that is unset. Aborts the test binary when it
  // cannot.
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  // path answers the directory's absolute path.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kv::testing

#endif  // KV_STORE_TESTING_TEMP_DIR_H_
