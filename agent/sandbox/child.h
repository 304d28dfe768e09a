// The child's half of a sandboxed run: the ordered set-up steps between
// clone3 and execve, each failing closed.
//
// The agent is multi-threaded, so between clone3 and execve the child may
// only make async-signal-safe calls: no allocation, no locks, no C++
// library state. Everything the steps need (paths, file contents, the
// seccomp program, limits) is prepared by the parent in a ChildPlan,
// which the child reads from its copy-on-write copy of memory. A failed
// step sends (step, errno) to the parent on the sync socket and exits.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deputy::sandbox {

// The steps, in order. The parent names them in errors.
enum class Step : std::int32_t {
  kDescriptors = 1,
  kWaitForParent,
  kIdentity,
  kMountPrivate,
  kMountRoot,
  kPivotRoot,
  kSkeleton,
  kBindReadOnly,
  kEtcFiles,
  kDevNodes,
  kMountProc,
  kMountTmp,
  kBindModule,
  kDetachOldRoot,
  kRemountRootReadOnly,
  kNetwork,
  kForwarderListener,
  kHostname,
  kSetsid,
  kRlimits,
  kNoNewPrivs,
  kLandlock,
  kDropCapabilities,
  kSeccomp,
  kExec,
};
const char* StepName(Step step);

// Messages on the sync socket, child to parent. Descriptors travel as
// SCM_RIGHTS with a kListener or kNotify message.
struct SyncMessage {
  enum Type : std::int32_t { kError = 1, kListener = 2, kNotify = 3 };
  std::int32_t type;
  std::int32_t step;  // For kError.
  std::int32_t err;   // errno, for kError.
};

struct ChildPlan {
  struct Bind {
    std::string source;  // The host path under /oldroot ("/oldroot/usr").
    std::string target;  // Absolute in the new root ("/usr").
    bool directory = true;
    unsigned long locked_flags = 0;  // MS_NOSUID etc. the source has.
  };
  struct File {
    std::string path;  // Absolute in the new root.
    std::string contents;
  };
  struct Symlink {
    std::string target;
    std::string path;
  };
  struct Rlimit {
    int resource;
    std::uint64_t value;
  };
  struct LandlockRule {
    std::string path;  // In the new root (after pivot_root).
    std::uint64_t rights;
  };

  int sync_fd = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int credential_fd = -1;

  std::string root;  // Where the new root's tmpfs is first mounted.
  std::string root_options;
  // Paths below are absolute in the new root, after the pivot.
  std::vector<std::string> directories;  // Created in order.
  std::vector<Symlink> symlinks;
  std::vector<Bind> binds;    // Read-only binds (dirs and files).
  std::vector<File> files;    // Written before the root goes ro.
  std::vector<Bind> devices;  // /dev nodes, bound from the host.
  std::string proc;           // Mount point for /proc.
  std::string tmp;            // Mount point for the private /tmp.
  std::string tmp_options;
  Bind module;  // The module binary.

  int forward_port = 0;  // Listener on 127.0.0.1 inside the namespace.
  std::string hostname;
  std::vector<Rlimit> rlimits;

  int landlock_abi = 0;  // 0: the layer is weakened away.
  std::uint64_t landlock_fs = 0;
  std::vector<LandlockRule> landlock_rules;
  int landlock_connect_port = 0;

  bool drop_groups = false;  // setgroups(0): only when running as root.
  int cap_last = 40;
  bool seccomp = true;
  sock_fprog seccomp_program{};
  unsigned long seccomp_flags = 0;

  std::string exec_path;
  std::vector<char*> argv;  // Null-terminated; point into exec storage.
  std::vector<char*> envp;
};

// Runs the steps and execs the module; never returns.
[[noreturn]] void RunChild(const ChildPlan& plan);

}  // namespace deputy::sandbox
