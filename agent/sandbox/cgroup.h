// A per-run cgroup v1 group for the memory and pids controllers: created
// with its limits before the module starts, read when it has ended
// (peak memory, whether a limit was hit, whether anything is left), and
// removed. Move-only; not thread-safe (one per run).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/status.h"

namespace deputy::sandbox {

struct CgroupReport {
  std::uint64_t peak_memory = 0;
  bool memory_limit_hit = false;  // memory.failcnt > 0 or an OOM kill.
  bool oom_killed = false;
  bool pids_limit_hit = false;  // pids.events "max" > 0.
  bool processes_left = false;  // Something still in the group.
};

class RunCgroup {
 public:
  // Creates the groups (only for the controllers that are enabled) under
  // /sys/fs/cgroup/<controller>/deputy/<name>.
  static Result<RunCgroup> Create(const std::string& name, bool memory,
                                  bool pids, std::uint64_t memory_limit,
                                  std::uint64_t pids_limit);
  RunCgroup(RunCgroup&& other) noexcept;
  RunCgroup& operator=(RunCgroup&&) = delete;
  RunCgroup(const RunCgroup&) = delete;
  ~RunCgroup();  // Removes the groups (best effort).

  // Moves `pid` into every group.
  Status Join(pid_t pid) const;
  // Reads the counters after the run.
  CgroupReport Report() const;

 private:
  RunCgroup() = default;
  void Remove();
  std::string memory_;  // Empty when the controller is not used.
  std::string pids_;
};

}  // namespace deputy::sandbox
