#include "agent/sandbox/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <thread>

#include "base/files.h"

namespace deputy::sandbox {
namespace {

Status WriteValue(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open " + path, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Status::Errno("write " + path, n < 0 ? err : EIO);
  }
  return Status::Ok();
}

std::string ReadSmall(const std::string& path) {
  auto r = ReadFileBounded(path, 1 << 16);
  return r.ok() ? *r : std::string();
}

std::uint64_t ReadNumber(const std::string& path) {
  return std::strtoull(ReadSmall(path).c_str(), nullptr, 10);
}

// The value of `key` in a "key value" lines file (memory.oom_control,
// pids.events).
std::uint64_t ReadKeyed(const std::string& path, const std::string& key) {
  std::istringstream in(ReadSmall(path));
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

Result<std::string> MakeGroup(const std::string& controller,
                              const std::string& name) {
  std::string parent = "/sys/fs/cgroup/" + controller + "/deputy";
  if (::mkdir(parent.c_str(), 0755) < 0 && errno != EEXIST) {
    return Status::Errno("mkdir " + parent, errno);
  }
  std::string dir = parent + "/" + name;
  if (::mkdir(dir.c_str(), 0755) < 0) {
    return Status::Errno("mkdir " + dir, errno);
  }
  return dir;
}

}  // namespace

Result<RunCgroup> RunCgroup::Create(const std::string& name, bool memory,
                                    bool pids, std::uint64_t memory_limit,
                                    std::uint64_t pids_limit) {
  RunCgroup cg;
  if (memory) {
    ASSIGN_OR_RETURN(cg.memory_, MakeGroup("memory", name));
    RETURN_IF_ERROR(WriteValue(cg.memory_ + "/memory.limit_in_bytes",
                               std::to_string(memory_limit)));
    // No swap beyond the limit, where the kernel accounts swap.
    struct stat st;
    std::string memsw = cg.memory_ + "/memory.memsw.limit_in_bytes";
    if (::stat(memsw.c_str(), &st) == 0) {
      RETURN_IF_ERROR(WriteValue(memsw, std::to_string(memory_limit)));
    }
  }
  if (pids) {
    ASSIGN_OR_RETURN(cg.pids_, MakeGroup("pids", name));
    RETURN_IF_ERROR(
        WriteValue(cg.pids_ + "/pids.max", std::to_string(pids_limit)));
  }
  return cg;
}

RunCgroup::RunCgroup(RunCgroup&& other) noexcept
    : memory_(std::move(other.memory_)), pids_(std::move(other.pids_)) {
  other.memory_.clear();
  other.pids_.clear();
}

RunCgroup::~RunCgroup() { Remove(); }

Status RunCgroup::Join(pid_t pid) const {
  for (const std::string* dir : {&memory_, &pids_}) {
    if (dir->empty()) continue;
    RETURN_IF_ERROR(WriteValue(*dir + "/cgroup.procs", std::to_string(pid)));
  }
  return Status::Ok();
}

CgroupReport RunCgroup::Report() const {
  CgroupReport r;
  if (!memory_.empty()) {
    r.peak_memory = ReadNumber(memory_ + "/memory.max_usage_in_bytes");
    r.oom_killed = ReadKeyed(memory_ + "/memory.oom_control", "oom_kill") > 0;
    r.memory_limit_hit =
        r.oom_killed || ReadNumber(memory_ + "/memory.failcnt") > 0;
    if (!ReadSmall(memory_ + "/cgroup.procs").empty()) r.processes_left = true;
  }
  if (!pids_.empty()) {
    r.pids_limit_hit = ReadKeyed(pids_ + "/pids.events", "max") > 0;
    if (!ReadSmall(pids_ + "/cgroup.procs").empty()) r.processes_left = true;
  }
  return r;
}

void RunCgroup::Remove() {
  for (std::string* dir : {&memory_, &pids_}) {
    if (dir->empty()) continue;
    // The last task may still be leaving the group for a moment after its
    // parent reaped it.
    for (int i = 0; i < 50; ++i) {
      if (::rmdir(dir->c_str()) == 0 || errno == ENOENT) break;
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    dir->clear();
  }
}

}  // namespace deputy::sandbox
