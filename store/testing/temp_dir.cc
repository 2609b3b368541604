#include "store/testing/temp_dir.h"

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace kv::testing {

TempDir::TempDir() {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string base = root != nullptr && *root != '\0'
                         ? std::string(root)
                         : std::filesystem::temp_directory_path().string();
  // mkdtemp replaces the six trailing X characters.
  std::string pattern = base + "/kvstore-test-" + std::string(6, 'X');
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace kv::testing
