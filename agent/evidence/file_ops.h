// FileOps: the evidence log's OS edge for the two calls that can fail
// under load: write and fdatasync. Tests substitute a fault-injecting
// implementation (ENOSPC, EIO, a hanging disk); production uses
// RealFileOps(). Implementations must be thread-safe.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>

namespace deputy::evidence {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // As write(2) and fdatasync(2): return -1 and set errno on failure.
  virtual ssize_t Write(int fd, const void* data, std::size_t size) {
    return ::write(fd, data, size);
  }
  virtual int DataSync(int fd) { return ::fdatasync(fd); }
};

FileOps& RealFileOps();

}  // namespace deputy::evidence
