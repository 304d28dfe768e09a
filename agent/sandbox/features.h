// What the running kernel offers the sandbox, deduced once at start-up.
//
// Probe() asks the kernel directly (the Landlock ABI version, whether a
// user namespace with the other five can be created, whether seccomp user
// notification works, whether the cgroup v1 memory and pids hierarchies
// are writable) rather than trusting version numbers. A value type;
// Probe() forks a short-lived child and is safe to call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deputy::sandbox {

struct Features {
  int landlock_abi = 0;          // 0: no Landlock.
  bool namespaces = false;       // user+pid+mount+net+ipc+uts via clone3.
  bool seccomp_notify = false;   // SECCOMP_RET_USER_NOTIF and a listener.
  bool cgroup_memory = false;    // /sys/fs/cgroup/memory writable (v1).
  bool cgroup_pids = false;      // /sys/fs/cgroup/pids writable (v1).
  bool root = false;             // Running as uid 0 (per-run uids).
  std::string namespaces_error;  // Why namespaces are unusable, if so.

  // Landlock features deputy relies on: TCP port rules (ABI 4) and
  // scoping of abstract unix sockets and signals (ABI 6).
  static constexpr int kRequiredLandlockAbi = 6;

  static Features Probe();
  nlohmann::json ToJson() const;
};

}  // namespace deputy::sandbox
