// The cgroup v1 memory and pids groups a module runs in.
//
// Moving a process into a v1 cgroup waits for an RCU grace period (the
// kernel takes cgroup_threadgroup_rwsem for writing): 0.3 ms typically and
// over 10 ms in the tail, measured here. A child created by clone3 is born
// in its calling *thread's* groups, so instead of moving every module, the
// calling thread joins its own pair of groups once ("thread slots") and
// every module it starts is born inside them. The thread's own memory is
// charged to its process, not to the slot; the slot's pids count includes
// the thread itself (so pids.max is the module's limit plus one).
//
// Per-run figures come from resetting the peak and failure counters
// before each run and taking deltas of the others. A slot serves one run
// at a time, which holds because a thread runs one module at a time. The
// calling thread must not start threads while it holds a slot (they
// would be born inside it too). Not thread-safe: one slot per thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/status.h"

namespace deputy::sandbox {

struct CgroupReport {
  std::uint64_t peak_memory = 0;
  bool memory_limit_hit = false;  // memory.failcnt rose, or an OOM kill.
  bool oom_killed = false;
  bool pids_limit_hit = false;  // pids.events "max" rose.
  bool processes_left = false;  // A task other than the thread remains.
};

class ThreadSlot {
 public:
  // The calling thread's slot, created and joined on first use (and left
  // and removed when the thread exits). Also removes slots that crashed
  // agents left behind.
  static Result<ThreadSlot*> ForThisThread();

  // Sets the limits for the next run and resets its counters.
  Status BeginRun(std::uint64_t memory_limit, std::uint64_t processes);
  // Reads the counters of the run that just ended.
  CgroupReport EndRun() const;

  ThreadSlot(const ThreadSlot&) = delete;
  ThreadSlot& operator=(const ThreadSlot&) = delete;
  ~ThreadSlot();

 private:
  ThreadSlot() = default;
  pid_t tid_ = 0;
  std::string memory_;
  std::string pids_;
  std::uint64_t oom_kills_before_ = 0;
  std::uint64_t pids_max_before_ = 0;
};

}  // namespace deputy::sandbox
