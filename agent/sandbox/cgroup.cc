#include "agent/sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <sstream>

#include "base/files.h"

namespace deputy::sandbox {
namespace {

constexpr const char* kMemoryRoot = "/sys/fs/cgroup/memory/deputy";
constexpr const char* kPidsRoot = "/sys/fs/cgroup/pids/deputy";

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

// Removes slots whose threads are gone (an agent that crashed or was
// killed): empty groups named "<pid>-<tid>" whose pid is not alive.
void RemoveStaleSlots(const char* root) {
  DIR* d = ::opendir(root);
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid == ::getpid() || (::kill(pid, 0) == 0 || errno == EPERM)) {
      continue;
    }
    ::rmdir((std::string(root) + "/" + e->d_name).c_str());
  }
  ::closedir(d);
}

Result<std::string> MakeGroup(const char* root, const std::string& name) {
  if (::mkdir(root, 0755) < 0 && errno != EEXIST) {
    return Status::Errno(std::string("mkdir ") + root, errno);
  }
  std::string dir = std::string(root) + "/" + name;
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
    return Status::Errno("mkdir " + dir, errno);
  }
  return dir;
}

struct SlotHolder {
  std::unique_ptr<ThreadSlot> slot;
};
thread_local SlotHolder t_slot;

}  // namespace

Result<ThreadSlot*> ThreadSlot::ForThisThread() {
  if (t_slot.slot) return t_slot.slot.get();
  RemoveStaleSlots(kMemoryRoot);
  RemoveStaleSlots(kPidsRoot);
  std::unique_ptr<ThreadSlot> slot(new ThreadSlot());
  slot->tid_ = static_cast<pid_t>(::syscall(SYS_gettid));
  std::string name =
      std::to_string(::getpid()) + "-" + std::to_string(slot->tid_);
  ASSIGN_OR_RETURN(slot->memory_, MakeGroup(kMemoryRoot, name));
  ASSIGN_OR_RETURN(slot->pids_, MakeGroup(kPidsRoot, name));
  // The one slow write (an RCU grace period), once per thread.
  const std::string tid = std::to_string(slot->tid_);
  RETURN_IF_ERROR(WriteValue(slot->memory_ + "/tasks", tid));
  RETURN_IF_ERROR(WriteValue(slot->pids_ + "/tasks", tid));
  t_slot.slot = std::move(slot);
  return t_slot.slot.get();
}

ThreadSlot::~ThreadSlot() {
  // Back to the parent groups, then the slot can go.
  const std::string tid = std::to_string(tid_);
  (void)WriteValue("/sys/fs/cgroup/memory/tasks", tid);
  (void)WriteValue("/sys/fs/cgroup/pids/tasks", tid);
  ::rmdir(memory_.c_str());
  ::rmdir(pids_.c_str());
}

Status ThreadSlot::BeginRun(std::uint64_t memory_limit,
                            std::uint64_t processes) {
  // memsw (memory + swap) must stay at or above the memory limit: lower
  // or raise them in the order that keeps that true.
  std::string memsw = memory_ + "/memory.memsw.limit_in_bytes";
  struct stat st;
  bool has_memsw = ::stat(memsw.c_str(), &st) == 0;
  std::string limit = std::to_string(memory_limit);
  if (has_memsw && ReadNumber(memsw) < memory_limit) {
    RETURN_IF_ERROR(WriteValue(memsw, limit));
  }
  RETURN_IF_ERROR(WriteValue(memory_ + "/memory.limit_in_bytes", limit));
  if (has_memsw) RETURN_IF_ERROR(WriteValue(memsw, limit));
  RETURN_IF_ERROR(WriteValue(memory_ + "/memory.max_usage_in_bytes", "0"));
  RETURN_IF_ERROR(WriteValue(memory_ + "/memory.failcnt", "0"));
  RETURN_IF_ERROR(
      WriteValue(pids_ + "/pids.max", std::to_string(processes + 1)));
  oom_kills_before_ = ReadKeyed(memory_ + "/memory.oom_control", "oom_kill");
  pids_max_before_ = ReadKeyed(pids_ + "/pids.events", "max");
  return Status::Ok();
}

CgroupReport ThreadSlot::EndRun() const {
  CgroupReport r;
  r.peak_memory = ReadNumber(memory_ + "/memory.max_usage_in_bytes");
  r.oom_killed = ReadKeyed(memory_ + "/memory.oom_control", "oom_kill") >
                 oom_kills_before_;
  r.memory_limit_hit =
      r.oom_killed || ReadNumber(memory_ + "/memory.failcnt") > 0;
  r.pids_limit_hit =
      ReadKeyed(pids_ + "/pids.events", "max") > pids_max_before_;
  // Every task left in the slot but the thread itself.
  std::istringstream tasks(ReadSmall(pids_ + "/tasks"));
  pid_t t;
  while (tasks >> t) {
    if (t != tid_) r.processes_left = true;
  }
  return r;
}

}  // namespace deputy::sandbox
