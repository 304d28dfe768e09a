#include "agent/sandbox/features.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agent/sandbox/landlock.h"

namespace deputy::sandbox {
namespace {

constexpr int kNamespaceFlags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS |
                                CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                                CLONE_NEWCGROUP;

// Whether every namespace deputy uses can be created. Asked of a forked
// child (unshare would change this process for good); the child reports
// errno through its exit status.
bool ProbeNamespaces(std::string* error) {
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    if (::unshare(kNamespaceFlags) < 0) ::_exit(errno & 0x7f);
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  int err = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  *error = std::string("unshare(user, pid, mount, net, ipc, uts, cgroup): ") +
           (err ? strerror(err) : "child died");
  return false;
}

bool SeccompNotifyAvailable() {
  std::ifstream in("/proc/sys/kernel/seccomp/actions_avail");
  std::string word;
  while (in >> word) {
    if (word == "user_notif") return true;
  }
  return false;
}

// A cgroup v1 hierarchy is usable when deputy can create its own group in
// it (or it already exists and is writable).
bool CgroupWritable(const std::string& controller) {
  std::string root = "/sys/fs/cgroup/" + controller;
  struct stat st;
  if (::stat((root + "/cgroup.procs").c_str(), &st) < 0) return false;
  std::string mine = root + "/deputy";
  if (::mkdir(mine.c_str(), 0755) < 0 && errno != EEXIST) return false;
  return ::access((mine + "/cgroup.procs").c_str(), W_OK) == 0;
}

}  // namespace

Features Features::Probe() {
  Features f;
  int abi = landlock::Abi();
  f.landlock_abi = abi > 0 ? abi : 0;
  f.namespaces = ProbeNamespaces(&f.namespaces_error);
  f.seccomp_notify = SeccompNotifyAvailable();
  f.root = ::geteuid() == 0;
  f.cgroup_memory = CgroupWritable("memory");
  f.cgroup_pids = CgroupWritable("pids");
  return f;
}

nlohmann::json Features::ToJson() const {
  nlohmann::json j = {
      {"landlock_abi", landlock_abi},     {"namespaces", namespaces},
      {"seccomp_notify", seccomp_notify}, {"cgroup_memory", cgroup_memory},
      {"cgroup_pids", cgroup_pids},       {"root", root}};
  if (!namespaces_error.empty()) j["namespaces_error"] = namespaces_error;
  return j;
}

}  // namespace deputy::sandbox
