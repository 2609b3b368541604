// log: the server's stderr logger.
//
// This Abseil release (20220623) predates absl/log, and the libraries of
// kvstore never log, so kv-server writes its few lines (start, shutdown,
// unexpected errors, stats) through this one function. Callers must never
// pass a value or a token.
//
// Example:
//
//   kv::LogLine(absl::StrCat("listening on ", address));
//
// Thread safety: LogLine may be called from any number of threads at once;
// each line is written whole.

#ifndef KV_SERVICE_LOG_H_
#define KV_SERVICE_LOG_H_

#include "absl/strings/string_view.h"

namespace kv {

// LogLine writes "<UTC timestamp> kv-server <message>\n" to stderr and
// flushes it. It never fails; a write error is ignored because stderr is
// the only place one could be reported.
void LogLine(absl::string_view message);

}  // namespace kv

#endif  // KV_SERVICE_LOG_H_
