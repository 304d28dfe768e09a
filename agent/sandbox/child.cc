#include "agent/sandbox/child.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/sandbox/landlock.h"

// <linux/securebits.h> is not in every header set; the values are ABI.
#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

namespace deputy::sandbox {
namespace {

// Everything below runs in the child between clone3 and execve: raw
// system calls only (see child.h).

// The set-up socket: the plan's descriptor until the child has moved its
// descriptors into place, then kSyncFd. (The child's own copy of memory.)
constexpr int kSyncFd = 4;
int g_sync_fd = -1;

[[noreturn]] void Fail(const ChildPlan& plan, Step step, int err) {
  (void)plan;
  SyncMessage m{SyncMessage::kError, static_cast<std::int32_t>(step), err};
  // Best effort: if the parent is gone there is nobody to tell.
  ssize_t n = ::send(g_sync_fd, &m, sizeof m, MSG_NOSIGNAL);
  (void)n;
  ::_exit(127);
}

#define CHILD_CHECK(step, expr)              \
  do {                                       \
    if ((expr) < 0) Fail(plan, step, errno); \
  } while (false)

int SendFd(int sock, SyncMessage::Type type, int fd) {
  SyncMessage m{type, 0, 0};
  iovec iov{&m, sizeof m};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof m ? 0 : -1;
}

int WriteFile(const char* path, const std::string& contents, mode_t mode) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      errno = e;
      return -1;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ::close(fd);
}

int BindReadOnly(const ChildPlan::Bind& b, bool read_only) {
  if (b.directory) {
    if (::mkdir(b.target.c_str(), 0755) < 0 && errno != EEXIST) return -1;
  } else {
    int fd = ::open(b.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    ::close(fd);
  }
  if (::mount(b.source.c_str(), b.target.c_str(), nullptr, MS_BIND, nullptr) <
      0) {
    return -1;
  }
  // A bind takes the source mount's flags; make it read-only, keeping the
  // flags a user namespace may not clear (they are locked).
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | b.locked_flags;
  if (read_only) flags |= MS_RDONLY;
  return ::mount(nullptr, b.target.c_str(), nullptr, flags, nullptr);
}

int BringUpLoopback() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  ifreq ifr{};
  memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    ::close(s);
    errno = e;
    return -1;
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  int rc = ::ioctl(s, SIOCSIFFLAGS, &ifr);
  int e = errno;
  ::close(s);
  errno = e;
  return rc;
}

// The forwarder's listening socket lives in this network namespace; the
// parent accepts on it and relays to the real target.
int MakeListener(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
      ::listen(s, 16) < 0) {
    int e = errno;
    ::close(s);
    errno = e;
    return -1;
  }
  return s;
}

int ApplyLandlock(const ChildPlan& plan) {
  landlock::RulesetAttr attr{};
  attr.handled_access_fs = plan.landlock_fs;
  if (plan.landlock_abi >= 4) {
    attr.handled_access_net = landlock::kBindTcp | landlock::kConnectTcp;
  }
  if (plan.landlock_abi >= 6) {
    attr.scoped = landlock::kScopeAbstractUnixSocket | landlock::kScopeSignal;
  }
  int rs = static_cast<int>(landlock::CreateRuleset(&attr, sizeof attr, 0));
  if (rs < 0) return -1;
  for (const auto& rule : plan.landlock_rules) {
    int fd = ::open(rule.path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) return -1;
    landlock::PathBeneathAttr pb{rule.rights, fd};
    long rc = landlock::AddRule(rs, landlock::kRulePathBeneath, &pb);
    int e = errno;
    ::close(fd);
    if (rc < 0) {
      errno = e;
      return -1;
    }
  }
  if (plan.landlock_abi >= 4 && plan.landlock_connect_port > 0) {
    landlock::NetPortAttr np{
        landlock::kConnectTcp,
        static_cast<std::uint64_t>(plan.landlock_connect_port)};
    if (landlock::AddRule(rs, landlock::kRuleNetPort, &np) < 0) return -1;
  }
  long rc = landlock::RestrictSelf(rs, 0);
  int e = errno;
  ::close(rs);
  errno = e;
  return rc < 0 ? -1 : 0;
}

int DropCapabilities(int cap_last) {
  // Lock out every way back to privilege: no root semantics on exec, no
  // ambient raise, then empty the bounding, ambient and process sets.
  if (::prctl(PR_SET_SECUREBITS,
              SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                  SECBIT_NO_CAP_AMBIENT_RAISE |
                  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0) < 0) {
    return -1;
  }
  for (int c = 0; c <= cap_last; ++c) {
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
      return -1;
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
    return -1;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

int MoveDescriptors(const ChildPlan& plan) {
  // The parent made every descriptor >= 10, so these cannot collide.
  if (::dup2(plan.stdin_fd, 0) < 0 || ::dup2(plan.stdout_fd, 1) < 0 ||
      ::dup2(plan.stderr_fd, 2) < 0 || ::dup2(plan.credential_fd, 3) < 0) {
    return -1;
  }
  if (::dup3(plan.sync_fd, kSyncFd, O_CLOEXEC) < 0) return -1;
  g_sync_fd = kSyncFd;
  // Every other descriptor the parent had (log files, sockets, other
  // modules' pipes, the agent's lock) is closed here, first thing: a child
  // that dies half set up holds nothing of the agent's.
  return static_cast<int>(::syscall(SYS_close_range, 5u, ~0u, 0u));
}

}  // namespace

const char* StepName(Step step) {
  switch (step) {
    case Step::kWaitForParent:
      return "wait for the parent";
    case Step::kIdentity:
      return "take the per-run identity";
    case Step::kMountPrivate:
      return "make mounts private";
    case Step::kMountRoot:
      return "mount the new root";
    case Step::kSkeleton:
      return "create the root's directories";
    case Step::kBindReadOnly:
      return "bind system paths read-only";
    case Step::kEtcFiles:
      return "write /etc files";
    case Step::kDevNodes:
      return "bind /dev nodes";
    case Step::kMountProc:
      return "mount /proc";
    case Step::kMountTmp:
      return "mount the private /tmp";
    case Step::kBindModule:
      return "bind the module binary";
    case Step::kPivotRoot:
      return "pivot_root";
    case Step::kDetachOldRoot:
      return "detach the host's tree";
    case Step::kRemountRootReadOnly:
      return "remount the root read-only";
    case Step::kNetwork:
      return "bring up loopback";
    case Step::kForwarderListener:
      return "listen for the forwarder";
    case Step::kHostname:
      return "set the host name";
    case Step::kSetsid:
      return "setsid";
    case Step::kRlimits:
      return "set rlimits";
    case Step::kNoNewPrivs:
      return "no_new_privs";
    case Step::kLandlock:
      return "Landlock";
    case Step::kDropCapabilities:
      return "drop capabilities";
    case Step::kDescriptors:
      return "arrange descriptors";
    case Step::kSeccomp:
      return "install the seccomp filter";
    case Step::kExec:
      return "execve the module";
  }
  return "unknown step";
}

void RunChild(const ChildPlan& plan) {
  // The calling thread's signal mask is inherited; the module starts with
  // none blocked (handlers were reset by CLONE_CLEAR_SIGHAND).
  std::uint64_t empty_mask = 0;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, nullptr,
            sizeof empty_mask);
  g_sync_fd = plan.sync_fd;
  CHILD_CHECK(Step::kDescriptors, MoveDescriptors(plan));

  // The parent writes our uid/gid maps and joins us to the cgroups, then
  // says go. Without maps nothing below could create a file.
  char go = 0;
  if (::recv(kSyncFd, &go, 1, 0) != 1 || go != 'G') {
    Fail(plan, Step::kWaitForParent, errno ? errno : EPIPE);
  }
  // Become the mapped identity (uid 0 inside, the per-run uid outside).
  // Raw system calls: the C library's wrappers would try to reach threads
  // this copy of the process does not have.
  CHILD_CHECK(Step::kIdentity, ::syscall(SYS_setresgid, 0, 0, 0));
  if (plan.drop_groups) {
    CHILD_CHECK(Step::kIdentity, ::syscall(SYS_setgroups, 0, nullptr));
  }
  CHILD_CHECK(Step::kIdentity, ::syscall(SYS_setresuid, 0, 0, 0));
  // If the supervising thread dies (the agent is killed), the module dies
  // with it: an apply must never finish behind a restarted agent's back.
  // Set after the identity change, which would clear it.
  CHILD_CHECK(Step::kIdentity, ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0));
  // A parent that died between its go and the line above sent no signal
  // (getppid() is 0 in a new pid namespace, so it cannot tell us). It held
  // its end of the sync socket until then; a hung-up peer means it is gone.
  pollfd peer{kSyncFd, POLLRDHUP, 0};
  if (::poll(&peer, 1, 0) != 0) {
    Fail(plan, Step::kWaitForParent, EPIPE);
  }

  // Mounts. Nothing propagates back to the host. The new root is a tmpfs;
  // we pivot into it first, with the host's tree at /oldroot, so that
  // every bind source is a path in our own mount namespace (a bind from a
  // descriptor of the parent's namespace is refused) and nothing the new
  // root covers is out of reach.
  CHILD_CHECK(Step::kMountPrivate,
              ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
  CHILD_CHECK(Step::kMountRoot,
              ::mount("tmpfs", plan.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                      plan.root_options.c_str()));
  CHILD_CHECK(Step::kPivotRoot, ::chdir(plan.root.c_str()));
  CHILD_CHECK(Step::kPivotRoot, ::mkdir("oldroot", 0700));
  CHILD_CHECK(Step::kPivotRoot, ::syscall(SYS_pivot_root, ".", "oldroot"));
  CHILD_CHECK(Step::kPivotRoot, ::chdir("/"));
  for (const std::string& d : plan.directories) {
    CHILD_CHECK(Step::kSkeleton, ::mkdir(d.c_str(), 0755));
  }
  for (const auto& s : plan.symlinks) {
    CHILD_CHECK(Step::kSkeleton, ::symlink(s.target.c_str(), s.path.c_str()));
  }
  for (const auto& b : plan.binds) {
    CHILD_CHECK(Step::kBindReadOnly, BindReadOnly(b, true));
  }
  for (const auto& f : plan.files) {
    CHILD_CHECK(Step::kEtcFiles, WriteFile(f.path.c_str(), f.contents, 0644));
  }
  for (const auto& d : plan.devices) {
    CHILD_CHECK(Step::kDevNodes, BindReadOnly(d, false));
  }
  CHILD_CHECK(Step::kMountProc,
              ::mount("proc", plan.proc.c_str(), "proc",
                      MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr));
  CHILD_CHECK(Step::kMountTmp, ::mount("tmpfs", plan.tmp.c_str(), "tmpfs",
                                       MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                       plan.tmp_options.c_str()));
  CHILD_CHECK(Step::kBindModule, BindReadOnly(plan.module, true));

  // Let go of the host's tree for good, then freeze the root.
  CHILD_CHECK(Step::kDetachOldRoot, ::umount2("/oldroot", MNT_DETACH));
  CHILD_CHECK(Step::kDetachOldRoot, ::rmdir("/oldroot"));
  CHILD_CHECK(Step::kRemountRootReadOnly,
              ::mount(nullptr, "/", nullptr,
                      MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                      nullptr));

  // Network: only loopback, and on it only the forwarder's listener.
  CHILD_CHECK(Step::kNetwork, BringUpLoopback());
  int listener = MakeListener(plan.forward_port);
  CHILD_CHECK(Step::kForwarderListener, listener);
  CHILD_CHECK(Step::kForwarderListener,
              SendFd(kSyncFd, SyncMessage::kListener, listener));
  ::close(listener);

  CHILD_CHECK(Step::kHostname,
              ::sethostname(plan.hostname.data(), plan.hostname.size()));
  CHILD_CHECK(Step::kSetsid, ::setsid());
  for (const auto& r : plan.rlimits) {
    rlimit lim{r.value, r.value};
    CHILD_CHECK(Step::kRlimits,
                ::setrlimit(static_cast<__rlimit_resource>(r.resource), &lim));
  }
  CHILD_CHECK(Step::kNoNewPrivs, ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  if (plan.landlock_abi > 0) {
    CHILD_CHECK(Step::kLandlock, ApplyLandlock(plan));
  }
  CHILD_CHECK(Step::kDropCapabilities, DropCapabilities(plan.cap_last));
  // The sync socket is fd 4, close-on-exec.
  const int sync = kSyncFd;
  if (plan.seccomp) {
    long notify = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                            plan.seccomp_flags, &plan.seccomp_program);
    if (notify < 0) {
      SyncMessage m{SyncMessage::kError,
                    static_cast<std::int32_t>(Step::kSeccomp), errno};
      ssize_t n = ::send(sync, &m, sizeof m, MSG_NOSIGNAL);
      (void)n;
      ::_exit(127);
    }
    // The module must not hold its own filter's listener.
    if (SendFd(sync, SyncMessage::kNotify, static_cast<int>(notify)) < 0) {
      ::_exit(127);
    }
    ::close(static_cast<int>(notify));
  }
  ::execve(plan.exec_path.c_str(), plan.argv.data(), plan.envp.data());
  SyncMessage m{SyncMessage::kError, static_cast<std::int32_t>(Step::kExec),
                errno};
  ssize_t n = ::send(sync, &m, sizeof m, MSG_NOSIGNAL);
  (void)n;
  ::_exit(127);
}

}  // namespace deputy::sandbox
