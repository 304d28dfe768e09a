// Small, careful file helpers: bounded reads, atomic durable writes.
//
// Reads refuse files larger than a caller-given limit before reading them,
// so a huge or endless input (a FIFO, /dev/zero) cannot exhaust memory.
// Writes go to a temporary file in the same directory, are fsync'd, renamed
// into place and the directory fsync'd, so a crash leaves the old or the new
// file, never a torn one. Thread-safe (no shared state).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"

namespace deputy {

enum class Overwrite { kRefuse, kReplace };

// Reads at most `max_bytes`; a longer file is ResourceExhausted.
Result<std::string> ReadFileBounded(const std::string& path,
                                    std::size_t max_bytes);
// Same, from an open descriptor (which is left open).
Result<std::string> ReadFdBounded(int fd, std::size_t max_bytes,
                                  std::string_view what);

// Writes `contents` to `path` with permission bits `mode` (e.g. 0600),
// atomically and durably. With Overwrite::kRefuse an existing file is
// AlreadyExists and is left untouched.
Status WriteFileAtomic(const std::string& path, std::string_view contents,
                       mode_t mode, Overwrite overwrite);

}  // namespace deputy
