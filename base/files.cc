#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace deputy {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("write " + what, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ReadFdBounded(int fd, std::size_t max_bytes,
                                  std::string_view what) {
  std::string out;
  char buffer[1 << 14];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("read " + std::string(what), errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      return Status::ResourceExhausted(std::string(what) + " is larger than " +
                                       std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

Result<std::string> ReadFileBounded(const std::string& path,
                                    std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Status::Errno("open " + path, errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::Errno("stat " + path, errno);
  if (S_ISDIR(st.st_mode)) return Status::Invalid(path + " is a directory");
  if (S_ISREG(st.st_mode) && static_cast<std::size_t>(st.st_size) > max_bytes) {
    return Status::ResourceExhausted(
        path + " is " + std::to_string(st.st_size) +
        " bytes, over the limit of " + std::to_string(max_bytes));
  }
  return ReadFdBounded(fd.get(), max_bytes, path);
}

Status WriteFileAtomic(const std::string& path, std::string_view contents,
                       mode_t mode, Overwrite overwrite) {
  std::filesystem::path target(path);
  std::filesystem::path dir = target.has_parent_path()
                                  ? target.parent_path()
                                  : std::filesystem::path(".");
  // Built by appending: GCC 12 misreports operator+ chains (-Wrestrict).
  std::string name(".");
  name.append(target.filename().string()).append(".tmpXXXXXX");
  std::string tmp = (dir / name).string();
  int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (raw < 0) return Status::Errno("create temporary file for " + path, errno);
  Fd fd(raw);
  auto fail = [&](Status s) {
    ::unlink(tmp.c_str());
    return s;
  };
  if (::fchmod(fd.get(), mode) != 0) {
    return fail(Status::Errno("chmod " + tmp, errno));
  }
  if (Status s = WriteAll(fd.get(), contents, tmp); !s.ok()) return fail(s);
  if (::fsync(fd.get()) != 0) return fail(Status::Errno("fsync " + tmp, errno));
  if (::close(fd.release()) != 0) {
    return fail(Status::Errno("close " + tmp, errno));
  }
  if (overwrite == Overwrite::kRefuse) {
    // link() fails with EEXIST instead of replacing, atomically.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      return fail(Status::Errno("create " + path, errno));
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(Status::Errno("rename into " + path, errno));
  }
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || ::fsync(dfd.get()) != 0) {
    return Status::Errno("fsync directory " + dir.string(), errno);
  }
  return Status::Ok();
}

}  // namespace deputy
