#include "store/store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace kv {

absl::StatusOr<uint64_t> Store::Set(absl::string_view namespace_name,
                                    absl::string_view key, std::string value,
                                    absl::Duration ttl) {
  absl::Notification done;
  absl::StatusOr<uint64_t> result;
  SetAsync(namespace_name, key, std::move(value), ttl,
           [&](absl::StatusOr<uint64_t> version) {
             result = std::move(version);
             done.Notify();
           });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<bool> Store::Delete(absl::string_view namespace_name,
                                   absl::string_view key) {
  absl::Notification done;
  absl::StatusOr<bool> result;
  DeleteAsync(namespace_name, key, [&](absl::StatusOr<bool> deleted) {
    result = std::move(deleted);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace kv
