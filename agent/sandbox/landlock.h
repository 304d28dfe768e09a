// Landlock's user-space ABI, declared here because Debian 12's kernel
// headers (6.1) stop at ABI 2 while the kernels deputy runs on offer ABI 6
// and later: TCP port rules (4), device ioctls (5), scoping of abstract
// unix sockets and signals (6). Values from the kernel's
// include/uapi/linux/landlock.h. Plain syscalls: safe in a child between
// clone and execve.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace deputy::sandbox::landlock {

struct RulesetAttr {
  std::uint64_t handled_access_fs;
  std::uint64_t handled_access_net;  // ABI 4.
  std::uint64_t scoped;              // ABI 6.
};

struct __attribute__((packed)) PathBeneathAttr {
  std::uint64_t allowed_access;
  std::int32_t parent_fd;
};

struct NetPortAttr {
  std::uint64_t allowed_access;
  std::uint64_t port;
};

inline constexpr int kRulePathBeneath = 1;
inline constexpr int kRuleNetPort = 2;
inline constexpr std::uint32_t kCreateRulesetVersion = 1u << 0;

// Filesystem rights.
inline constexpr std::uint64_t kExecute = 1ull << 0;
inline constexpr std::uint64_t kWriteFile = 1ull << 1;
inline constexpr std::uint64_t kReadFile = 1ull << 2;
inline constexpr std::uint64_t kReadDir = 1ull << 3;
inline constexpr std::uint64_t kRemoveDir = 1ull << 4;
inline constexpr std::uint64_t kRemoveFile = 1ull << 5;
inline constexpr std::uint64_t kMakeChar = 1ull << 6;
inline constexpr std::uint64_t kMakeDir = 1ull << 7;
inline constexpr std::uint64_t kMakeReg = 1ull << 8;
inline constexpr std::uint64_t kMakeSock = 1ull << 9;
inline constexpr std::uint64_t kMakeFifo = 1ull << 10;
inline constexpr std::uint64_t kMakeBlock = 1ull << 11;
inline constexpr std::uint64_t kMakeSym = 1ull << 12;
inline constexpr std::uint64_t kRefer = 1ull << 13;     // ABI 2.
inline constexpr std::uint64_t kTruncate = 1ull << 14;  // ABI 3.
inline constexpr std::uint64_t kIoctlDev = 1ull << 15;  // ABI 5.

// Network rights (ABI 4).
inline constexpr std::uint64_t kBindTcp = 1ull << 0;
inline constexpr std::uint64_t kConnectTcp = 1ull << 1;

// Scopes (ABI 6).
inline constexpr std::uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr std::uint64_t kScopeSignal = 1ull << 1;

// Every filesystem right a given ABI knows, so that all of them are
// handled (denied unless a rule allows them).
inline std::uint64_t AllFsRights(int abi) {
  std::uint64_t all = (1ull << 13) - 1;
  if (abi >= 2) all |= kRefer;
  if (abi >= 3) all |= kTruncate;
  if (abi >= 5) all |= kIoctlDev;
  return all;
}

inline long CreateRuleset(const RulesetAttr* attr, std::size_t size,
                          std::uint32_t flags) {
  return ::syscall(444, attr, size, flags);
}
inline long AddRule(int ruleset_fd, int type, const void* attr) {
  return ::syscall(445, ruleset_fd, type, attr, 0);
}
inline long RestrictSelf(int ruleset_fd, std::uint32_t flags) {
  return ::syscall(446, ruleset_fd, flags);
}
// The ABI version, or -1 with errno (EOPNOTSUPP: disabled, ENOSYS: absent).
inline int Abi() {
  return static_cast<int>(CreateRuleset(nullptr, 0, kCreateRulesetVersion));
}

}  // namespace deputy::sandbox::landlock
