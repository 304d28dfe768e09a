// What a module can see and touch inside its sandbox, as the supervisor
// knows it from the plan, and the pure judgements it makes on the calls it
// observes (seccomp.h): is this path outside the module's view, is this a
// write outside its private /tmp, is this address the forwarder's?
//
// These judgements only decide what is *reported* as a violation; the
// kernel layers (mount namespace, read-only binds, Landlock, network
// namespace) are what refuse the call. Value types and pure functions;
// thread-safe.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sandbox/sandbox.h"

namespace deputy::sandbox {

enum class Access { kRead, kWrite, kExecute };

struct View {
  // Paths visible to the module: a prefix covers itself and everything
  // beneath it ("/usr" covers "/usr/lib/x"); an exact entry covers only
  // itself ("/etc/hosts").
  std::vector<std::string> visible_prefixes;
  std::vector<std::string> visible_exact;
  // Where the module may write.
  std::vector<std::string> writable_prefixes;
  std::vector<std::string> writable_exact;
  // Paths that are not in the view but that ordinary libraries probe and
  // cope without (reported nowhere; the kernel answers ENOENT).
  std::vector<std::string> quiet_prefixes;
  // Unix socket paths libraries try and do without (nscd's).
  std::vector<std::string> quiet_unix_paths;
  int forward_port = 0;
};

// Lexically normalises `path` (joined to `base` when relative): removes
// ".", "..", and repeated slashes. Never touches the filesystem. "" when
// `path` is relative and `base` is empty.
std::string NormalisePath(std::string_view base, std::string_view path);

// A violation when `path` (normalised, absolute) is outside the view for
// `access`; nothing when it is allowed. `call` names the system call.
std::optional<Violation> JudgePath(const View& view, std::string_view call,
                                   const std::string& path, Access access);

// A violation when the address is not the forwarder's (127.0.0.1 or ::1 on
// the forwarded port) and not an AF_UNSPEC disconnect.
std::optional<Violation> JudgeConnect(const View& view, const sockaddr* addr,
                                      socklen_t len);

// "10.0.0.1:5432", "[::1]:80", "unix:/path", "family 16".
std::string DescribeAddress(const sockaddr* addr, socklen_t len);

}  // namespace deputy::sandbox
