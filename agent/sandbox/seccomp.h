// The seccomp filter every module runs under, and how the supervisor
// treats the system calls it is notified of (docs/sandbox.md, "seccomp").
//
// The filter allows by default and singles out two sets of calls:
//   - refused: calls a module never needs and that widen the kernel's
//     attack surface or reach outside the sandbox (ptrace, mount, bpf,
//     io_uring, keyctl, unshare/setns, namespace-creating clone, socket
//     families other than TCP over IPv4/IPv6, TIOCSTI, ...). The kernel
//     stops the caller and notifies the supervisor, which records a
//     violation and answers EPERM;
//   - observed: calls whose arguments the supervisor inspects to report a
//     forbidden attempt (opening or creating paths, connecting, signalling,
//     executing). The supervisor records what is forbidden and lets the
//     kernel carry the call out: the namespaces, read-only mounts and
//     Landlock refuse it. The inspection is for reporting only (the
//     arguments can change after the check), never the enforcement.
// Foreign architectures (i386, x32) kill the process. clone3 answers
// ENOSYS so that C libraries fall back to clone, whose flags the filter can
// see. Pure functions; thread-safe.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/status.h"

namespace deputy::sandbox {

enum class Notified {
  kRefuse,              // Record a violation; answer EPERM.
  kObservePath,         // Inspect a path argument; let the kernel decide.
  kObserveConnect,      // Inspect the socket address; let the kernel decide.
  kObserveSignal,       // Inspect the target pid; let the kernel decide.
  kObservePersonality,  // Allow the query and PER_LINUX; refuse the rest.
};

// Compiles the filter (x86_64 only). With `notify` false (no user
// notification in this kernel, or violation reporting not wanted), refused
// calls answer EPERM directly and observed calls are simply allowed.
Result<std::vector<sock_filter>> CompileFilter(bool notify);

// How the supervisor handles notified call `nr` (x86_64 numbering).
Notified ClassifyNotified(int nr);

// "openat", or "syscall 1234" for an unknown number.
std::string SyscallName(int nr);

}  // namespace deputy::sandbox
