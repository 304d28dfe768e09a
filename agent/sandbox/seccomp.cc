#include "agent/sandbox/seccomp.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace deputy::sandbox {
namespace {

constexpr unsigned long kTiocsti = 0x5412;
constexpr unsigned long kTioclinux = 0x541C;

// Refused whatever the arguments.
constexpr int kRefused[] = {
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(chroot),
    SCMP_SYS(move_mount),
    SCMP_SYS(open_tree),
    SCMP_SYS(fsopen),
    SCMP_SYS(fsconfig),
    SCMP_SYS(fsmount),
    SCMP_SYS(fspick),
    SCMP_SYS(mount_setattr),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(kexec_load),
    SCMP_SYS(kexec_file_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(acct),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(syslog),
    SCMP_SYS(quotactl),
    SCMP_SYS(quotactl_fd),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(modify_ldt),
    SCMP_SYS(uselib),
    SCMP_SYS(vhangup),
    SCMP_SYS(iopl),
    SCMP_SYS(ioperm),
    SCMP_SYS(settimeofday),
    SCMP_SYS(clock_settime),
    SCMP_SYS(clock_adjtime),
    SCMP_SYS(adjtimex),
    SCMP_SYS(sethostname),
    SCMP_SYS(setdomainname),
    SCMP_SYS(pidfd_getfd),
    SCMP_SYS(fanotify_init),
    SCMP_SYS(lookup_dcookie),
    SCMP_SYS(kcmp),
    SCMP_SYS(process_madvise),
    SCMP_SYS(sysfs),
    SCMP_SYS(nfsservctl),
    SCMP_SYS(memfd_secret),
};

// Allowed, but shown to the supervisor, which reports forbidden attempts.
constexpr int kObservedPaths[] = {
    SCMP_SYS(open),     SCMP_SYS(openat),    SCMP_SYS(openat2),
    SCMP_SYS(creat),    SCMP_SYS(execve),    SCMP_SYS(execveat),
    SCMP_SYS(mkdir),    SCMP_SYS(mkdirat),   SCMP_SYS(rmdir),
    SCMP_SYS(unlink),   SCMP_SYS(unlinkat),  SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(link),
    SCMP_SYS(linkat),   SCMP_SYS(symlink),   SCMP_SYS(symlinkat),
    SCMP_SYS(chmod),    SCMP_SYS(fchmodat),  SCMP_SYS(chown),
    SCMP_SYS(lchown),   SCMP_SYS(fchownat),  SCMP_SYS(truncate),
    SCMP_SYS(mknod),    SCMP_SYS(mknodat),
};
constexpr int kObservedSignals[] = {
    SCMP_SYS(kill),
    SCMP_SYS(tkill),
    SCMP_SYS(tgkill),
    SCMP_SYS(rt_sigqueueinfo),
    SCMP_SYS(rt_tgsigqueueinfo),
    SCMP_SYS(pidfd_open),
};

// A comparison on one argument (libseccomp's SCMP_A* macros leave a field
// to its default, which clang's -Wmissing-field-initializers refuses).
constexpr scmp_arg_cmp Arg(unsigned arg, scmp_compare op, std::uint64_t a,
                           std::uint64_t b = 0) {
  return scmp_arg_cmp{arg, op, a, b};
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

Status Add(scmp_filter_ctx ctx, std::uint32_t action, int nr,
           std::initializer_list<scmp_arg_cmp> args = {}) {
  int rc = seccomp_rule_add_array(ctx, action, nr,
                                  static_cast<unsigned>(args.size()),
                                  args.size() ? args.begin() : nullptr);
  // A call this kernel's table does not know cannot be made: nothing to do.
  if (rc == -EDOM || rc == -EFAULT) return Status::Ok();
  if (rc < 0) {
    return Status::Internal("seccomp rule for " + SyscallName(nr) + ": " +
                            std::to_string(-rc));
  }
  return Status::Ok();
}

Status AddSocketRules(scmp_filter_ctx ctx, std::uint32_t refuse) {
  // Only AF_UNIX (1), AF_INET and AF_INET6 (2 and 10) may be created, and
  // only as streams: TCP, and unix streams (the C library's resolver tries
  // nscd's socket; connect() is observed and nothing of the host's is
  // reachable: the host's paths are not in the view, and abstract names
  // belong to another network namespace and to Landlock's scope).
  RETURN_IF_ERROR(
      Add(ctx, refuse, SCMP_SYS(socket), {Arg(0, SCMP_CMP_LT, AF_UNIX)}));
  RETURN_IF_ERROR(
      Add(ctx, refuse, SCMP_SYS(socket), {Arg(0, SCMP_CMP_GT, AF_INET6)}));
  for (unsigned type = 0; type < 16; ++type) {
    if (type == SOCK_STREAM) continue;
    RETURN_IF_ERROR(Add(
        ctx, refuse, SCMP_SYS(socket),
        {Arg(0, SCMP_CMP_EQ, AF_UNIX), Arg(1, SCMP_CMP_MASKED_EQ, 0xf, type)}));
  }
  for (int family = AF_INET + 1; family < AF_INET6; ++family) {
    RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(socket),
                        {Arg(0, SCMP_CMP_EQ, static_cast<unsigned>(family))}));
  }
  for (int family : {AF_INET, AF_INET6}) {
    auto fam = Arg(0, SCMP_CMP_EQ, static_cast<unsigned>(family));
    for (unsigned type = 0; type < 16; ++type) {
      if (type == SOCK_STREAM) continue;
      RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(socket),
                          {fam, Arg(1, SCMP_CMP_MASKED_EQ, 0xf, type)}));
    }
    // Protocol 0 or IPPROTO_TCP (6): not SCTP or MPTCP over a stream.
    RETURN_IF_ERROR(
        Add(ctx, refuse, SCMP_SYS(socket), {fam, Arg(2, SCMP_CMP_GT, 6)}));
    for (unsigned proto = 1; proto < 6; ++proto) {
      RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(socket),
                          {fam, Arg(2, SCMP_CMP_EQ, proto)}));
    }
  }
  // socketpair only for AF_UNIX (1): it reaches nothing outside.
  RETURN_IF_ERROR(
      Add(ctx, refuse, SCMP_SYS(socketpair), {Arg(0, SCMP_CMP_NE, AF_UNIX)}));
  return Status::Ok();
}

}  // namespace

Result<std::vector<sock_filter>> CompileFilter(bool notify) {
  std::unique_ptr<void, CtxDeleter> owner(seccomp_init(SCMP_ACT_ALLOW));
  scmp_filter_ctx ctx = owner.get();
  if (ctx == nullptr) return Status::Internal("seccomp_init failed");
  // Only the native architecture: an i386 (int 0x80) or x32 call kills the
  // whole process.
  if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) <
      0) {
    return Status::Internal("seccomp: cannot set the bad-architecture action");
  }
  // The kernel must not set no_new_privs for us: the sandbox already did,
  // and the filter is exported, not loaded, here.
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);

  const std::uint32_t refuse = notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
  for (int nr : kRefused) RETURN_IF_ERROR(Add(ctx, refuse, nr));
  if (notify) {
    for (int nr : kObservedPaths)
      RETURN_IF_ERROR(Add(ctx, SCMP_ACT_NOTIFY, nr));
    for (int nr : kObservedSignals) {
      RETURN_IF_ERROR(Add(ctx, SCMP_ACT_NOTIFY, nr));
    }
    RETURN_IF_ERROR(Add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(connect)));
  }
  RETURN_IF_ERROR(Add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3)));
  for (unsigned long flag :
       {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
        CLONE_NEWPID, CLONE_NEWNET}) {
    RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(clone),
                        {Arg(0, SCMP_CMP_MASKED_EQ, flag, flag)}));
  }
  for (unsigned long request : {kTiocsti, kTioclinux}) {
    RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(ioctl),
                        {Arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, request)}));
  }
  // personality: the supervisor allows the query (0xffffffff) and plain
  // Linux (0) only; flags such as ADDR_NO_RANDOMIZE weaken the process.
  // (One filter rule cannot compare one argument twice.)
  if (notify) {
    RETURN_IF_ERROR(Add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(personality)));
  } else {
    RETURN_IF_ERROR(Add(ctx, refuse, SCMP_SYS(personality),
                        {Arg(0, SCMP_CMP_MASKED_EQ, 0xffffff00u, 0)}));
  }
  RETURN_IF_ERROR(AddSocketRules(ctx, refuse));

  // libseccomp 2.5 exports to a descriptor only.
  int fd = ::memfd_create("deputy-seccomp", MFD_CLOEXEC);
  if (fd < 0) return Status::Errno("memfd_create", errno);
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) {
    ::close(fd);
    return Status::Internal("seccomp_export_bpf: " + std::to_string(-rc));
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    ::close(fd);
    return Status::Internal("seccomp: exported filter has a bad size");
  }
  std::vector<sock_filter> program(static_cast<std::size_t>(size) /
                                   sizeof(sock_filter));
  ssize_t n = ::pread(fd, program.data(), static_cast<std::size_t>(size), 0);
  ::close(fd);
  if (n != size) return Status::Io("seccomp: cannot read the exported filter");
  return program;
}

Notified ClassifyNotified(int nr) {
  for (int p : kObservedPaths) {
    if (p == nr) return Notified::kObservePath;
  }
  for (int s : kObservedSignals) {
    if (s == nr) return Notified::kObserveSignal;
  }
  if (nr == SCMP_SYS(connect)) return Notified::kObserveConnect;
  if (nr == SCMP_SYS(personality)) return Notified::kObservePersonality;
  return Notified::kRefuse;
}

std::string SyscallName(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
  if (name == nullptr) return "syscall " + std::to_string(nr);
  std::string s(name);
  ::free(name);
  return s;
}

}  // namespace deputy::sandbox
