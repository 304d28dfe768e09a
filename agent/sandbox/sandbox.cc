#include "agent/sandbox/sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "agent/sandbox/cgroup.h"
#include "agent/sandbox/child.h"
#include "agent/sandbox/forwarder.h"
#include "agent/sandbox/landlock.h"
#include "agent/sandbox/seccomp.h"
#include "agent/sandbox/view.h"
#include "base/files.h"

namespace deputy::sandbox {

std::string_view LayerName(Layer layer) {
  switch (layer) {
    case Layer::kLandlock:
      return "landlock";
    case Layer::kSeccomp:
      return "seccomp";
    case Layer::kCgroups:
      return "cgroups";
  }
  return "unknown";
}

Result<Layer> ParseLayer(std::string_view name) {
  for (Layer l : {Layer::kLandlock, Layer::kSeccomp, Layer::kCgroups}) {
    if (name == LayerName(l)) return l;
  }
  return Status::Invalid("unknown sandbox layer \"" + std::string(name) +
                         "\" (landlock, seccomp or cgroups; namespaces "
                         "cannot be weakened)");
}

namespace {

using Clock = std::chrono::steady_clock;

// Where the child assembles the new root, inside its own mount namespace.
constexpr const char* kRoot = "/tmp";
// The module's own path inside the sandbox.
constexpr const char* kModulePath = "/module";
// Per-run user ids when deputy runs as root: a range no distribution
// allocates, one id per concurrent run, so that no two modules (and no
// host user) share an identity.
constexpr std::uint32_t kRunUidBase = 1900000000u;
constexpr std::uint32_t kRunUidCount = 1000000u;
// Credentials travel through a pipe written before the module starts.
constexpr std::size_t kMaxCredential = 60 << 10;
// Violations kept per run; more are counted, not listed.
constexpr std::size_t kMaxViolations = 64;
// After the module has exited, how long to wait for its outputs' EOF.
constexpr auto kDrainGrace = std::chrono::milliseconds(500);

std::atomic<std::uint64_t> g_run_counter{0};

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Moves a descriptor to number 10 or above (close-on-exec), so that the
// child's dup2 onto 0..4 can never overwrite a source.
Result<UniqueFd> High(UniqueFd fd) {
  if (fd.get() >= 10) return fd;
  int h = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 10);
  if (h < 0) return Status::Errno("fcntl(F_DUPFD_CLOEXEC)", errno);
  return UniqueFd(h);
}

Status SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status::Errno("fcntl(O_NONBLOCK)", errno);
  }
  return Status::Ok();
}

unsigned long LockedFlags(const std::string& path) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

bool ValidHostName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return h.front() != '-' && h.front() != '.';
}

int CapLast() {
  auto text = ReadFileBounded("/proc/sys/kernel/cap_last_cap", 64);
  if (!text.ok()) return 63;
  int v = std::atoi(text->c_str());
  return v > 0 && v < 64 ? v : 63;
}

std::int64_t MicrosSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t)
      .count();
}

}  // namespace

// Everything Run() needs that does not change between runs: the child's
// plan (with its descriptors for the bind sources), the seccomp program,
// and the view the supervisor judges observed calls against.
struct Policy::Compiled {
  ChildPlan plan;
  std::vector<sock_filter> seccomp;
  View view;
  std::string argv0;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

Policy::~Policy() = default;

bool Policy::weakened(Layer layer) const {
  return std::find(weakenings_.begin(), weakenings_.end(), layer) !=
         weakenings_.end();
}

Result<std::shared_ptr<const Policy>> PolicyBuilder::Build() const {
  auto weak = [&](Layer l) {
    return std::find(weakenings_.begin(), weakenings_.end(), l) !=
           weakenings_.end();
  };
  // The layers the kernel must offer unless the operator removed them.
  if (!features_.namespaces) {
    return Status::FailedPrecondition(
        "the kernel cannot create the sandbox's namespaces (" +
        features_.namespaces_error +
        "); modules cannot run without them, and this layer cannot be "
        "weakened");
  }
  if (!weak(Layer::kLandlock) &&
      features_.landlock_abi < Features::kRequiredLandlockAbi) {
    return Status::FailedPrecondition(
        "Landlock ABI " + std::to_string(features_.landlock_abi) +
        " is below the required " +
        std::to_string(Features::kRequiredLandlockAbi) +
        "; run with insecure_sandbox_without: [\"landlock\"] to accept that");
  }
  if (!weak(Layer::kSeccomp) && !features_.seccomp_notify) {
    return Status::FailedPrecondition(
        "seccomp user notification is unavailable; run with "
        "insecure_sandbox_without: [\"seccomp\"] to accept that");
  }
  if (!weak(Layer::kCgroups) &&
      !(features_.cgroup_memory && features_.cgroup_pids)) {
    return Status::FailedPrecondition(
        "the cgroup v1 memory and pids hierarchies are not writable; run "
        "with insecure_sandbox_without: [\"cgroups\"] to accept that");
  }

  auto policy = std::shared_ptr<Policy>(new Policy());
  policy->features_ = features_;
  policy->limits_ = limits_;
  policy->weakenings_ = weakenings_;
  std::sort(policy->weakenings_.begin(), policy->weakenings_.end());
  policy->weakenings_.erase(
      std::unique(policy->weakenings_.begin(), policy->weakenings_.end()),
      policy->weakenings_.end());
  if (limits_.deadline_ms <= 0 || limits_.processes == 0 ||
      limits_.open_files < 8 || limits_.memory == 0) {
    return Status::Invalid(
        "sandbox limits must be positive (deadline, "
        "processes, memory) and allow 8 open files");
  }

  // The module: an absolute path to an executable regular file, pinned by
  // a descriptor so that every run binds the same file.
  if (module_.empty() || module_[0] != '/') {
    return Status::Invalid("module path must be absolute: \"" + module_ + "\"");
  }
  struct stat st;
  if (::stat(module_.c_str(), &st) < 0) {
    return Status::Errno("module " + module_, errno);
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return Status::Invalid("module " + module_ +
                           " is not an executable regular file");
  }
  policy->module_ = module_;
  policy->module_name_ = module_.substr(module_.rfind('/') + 1);

  // The endpoint: a name for the module, a literal address for us.
  if (!ValidHostName(endpoint_.host_name)) {
    return Status::Invalid("target host name \"" + endpoint_.host_name +
                           "\" is not a valid DNS name");
  }
  if (endpoint_.port < 1 || endpoint_.port > 65535) {
    return Status::Invalid("target port " + std::to_string(endpoint_.port) +
                           " is out of range");
  }
  policy->endpoint_ = endpoint_;
  std::memset(&policy->target_, 0, sizeof policy->target_);
  auto* in4 = reinterpret_cast<sockaddr_in*>(&policy->target_);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&policy->target_);
  if (::inet_pton(AF_INET, endpoint_.address.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<std::uint16_t>(endpoint_.port));
    policy->target_len_ = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, endpoint_.address.c_str(),
                         &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(endpoint_.port));
    policy->target_len_ = sizeof(sockaddr_in6);
  } else {
    return Status::Invalid("target address \"" + endpoint_.address +
                           "\" is not a literal IPv4 or IPv6 address");
  }

  auto compiled = std::make_unique<Policy::Compiled>();
  ChildPlan& plan = compiled->plan;
  View& view = compiled->view;
  // Plan paths are absolute in the new root.
  plan.root = kRoot;
  plan.root_options = "size=1m,nr_inodes=1024,mode=0755";

  // The child pivots into the new root first and finds the host's tree
  // at /oldroot: bind sources are named there.
  auto hold = [&](const std::string& path,
                  bool directory) -> Result<ChildPlan::Bind> {
    struct stat s;
    if (::stat(path.c_str(), &s) < 0) return Status::Errno(path, errno);
    return ChildPlan::Bind{"/oldroot" + path, path, directory,
                           LockedFlags(path)};
  };

  // System paths: read-only binds, or the same symlinks (merged /usr).
  for (const char* p :
       {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}) {
    struct stat ls;
    if (::lstat(p, &ls) < 0) continue;
    view.visible_prefixes.push_back(p);
    if (S_ISLNK(ls.st_mode)) {
      char target[256];
      ssize_t n = ::readlink(p, target, sizeof target - 1);
      if (n <= 0) return Status::Errno(std::string("readlink ") + p, errno);
      plan.symlinks.push_back(
          {std::string(target, static_cast<std::size_t>(n)), std::string(p)});
    } else if (S_ISDIR(ls.st_mode)) {
      ASSIGN_OR_RETURN(auto b, hold(p, true));
      plan.binds.push_back(std::move(b));
    }
  }
  // /etc: our own small files, and a few read-only binds.
  plan.directories.push_back("/etc");
  for (const char* p : {"/etc/ssl", "/etc/alternatives"}) {
    struct stat s;
    if (::stat(p, &s) == 0 && S_ISDIR(s.st_mode)) {
      ASSIGN_OR_RETURN(auto b, hold(p, true));
      plan.binds.push_back(std::move(b));
      view.visible_prefixes.push_back(p);
    }
  }
  for (const char* p : {"/etc/ld.so.cache", "/etc/localtime"}) {
    struct stat s;
    if (::stat(p, &s) == 0 && S_ISREG(s.st_mode)) {
      ASSIGN_OR_RETURN(auto b, hold(p, false));
      plan.binds.push_back(std::move(b));
      view.visible_exact.push_back(p);
    }
  }
  for (const auto& extra : read_only_) {
    if (extra.empty() || extra[0] != '/' || NormalisePath("", extra) != extra) {
      return Status::Invalid("read-only path \"" + extra +
                             "\" must be absolute and normalised");
    }
    struct stat s;
    if (::stat(extra.c_str(), &s) < 0) {
      return Status::Errno("read-only path " + extra, errno);
    }
    bool covered = false;
    for (const auto& v : view.visible_prefixes) {
      if (extra == v || extra.rfind(v + "/", 0) == 0) covered = true;
    }
    if (covered) continue;  // Already visible through a system bind.
    // Its parent directories, in the root's tmpfs.
    for (std::size_t i = 1; i < extra.size(); ++i) {
      if (extra[i] != '/') continue;
      std::string dir = extra.substr(0, i);
      if (std::find(plan.directories.begin(), plan.directories.end(), dir) ==
          plan.directories.end()) {
        plan.directories.push_back(dir);
      }
    }
    ASSIGN_OR_RETURN(auto b, hold(extra, S_ISDIR(s.st_mode)));
    plan.binds.push_back(std::move(b));
    view.visible_prefixes.push_back(extra);
  }
  // The target's name resolves to the forwarder; nothing else resolves.
  plan.files.push_back(
      {"/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.0.1\t" +
                         endpoint_.host_name + "\n"});
  plan.files.push_back(
      {"/etc/passwd",
       "module:x:0:0:deputy capability module:/tmp:/usr/sbin/nologin\n"});
  plan.files.push_back({"/etc/group", "module:x:0:\n"});
  plan.files.push_back(
      {"/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n"});
  for (const char* f :
       {"/etc/hosts", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"}) {
    view.visible_exact.push_back(f);
  }
  // Files ordinary libraries look for and do without: the kernel answers
  // ENOENT, and that is no attempt to leave the sandbox.
  view.quiet_prefixes = {"/etc/ld.so.preload",
                         "/etc/gai.conf",
                         "/etc/host.conf",
                         "/etc/resolv.conf",
                         "/etc/ldap",
                         "/etc/gnutls",
                         "/etc/sasl2",
                         "/etc/krb5.conf",
                         "/etc/gss",
                         "/etc/services",
                         "/etc/protocols",
                         "/etc/postgresql-common",
                         "/etc/mime.types",
                         "/sys/devices/system/cpu",
                         "/sys/kernel/mm/transparent_hugepage"};
  view.quiet_unix_paths = {"/var/run/nscd/socket", "/run/nscd/socket"};

  // A minimal /dev.
  plan.directories.push_back("/dev");
  for (const char* d :
       {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"}) {
    ASSIGN_OR_RETURN(auto b, hold(d, false));
    plan.devices.push_back(std::move(b));
    view.visible_exact.push_back(d);
  }
  plan.symlinks.push_back({"/proc/self/fd", "/dev/fd"});
  plan.symlinks.push_back({"/proc/self/fd/0", "/dev/stdin"});
  plan.symlinks.push_back({"/proc/self/fd/1", "/dev/stdout"});
  plan.symlinks.push_back({"/proc/self/fd/2", "/dev/stderr"});
  for (const char* d :
       {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"}) {
    view.visible_prefixes.push_back(d);
  }
  view.visible_exact.push_back("/dev");
  view.writable_exact = {"/dev/null", "/dev/zero"};

  plan.directories.push_back("/proc");
  plan.proc = "/proc";
  view.visible_prefixes.push_back("/proc");
  view.writable_prefixes = {"/tmp", "/proc/self", "/proc/thread-self"};
  plan.directories.push_back("/tmp");
  plan.tmp = "/tmp";
  plan.tmp_options =
      "size=" + std::to_string(limits_.tmp_size) + ",nr_inodes=4096,mode=0700";
  view.visible_prefixes.push_back("/tmp");

  ASSIGN_OR_RETURN(plan.module, hold(module_, false));
  plan.module.target = kModulePath;
  view.visible_exact.push_back(kModulePath);

  // Network: the forwarder listens on the target's own port inside.
  plan.forward_port = endpoint_.port;
  view.forward_port = endpoint_.port;

  // Limits. RLIMIT_NPROC sits one above pids.max so that, with cgroups,
  // the cgroup (which the supervisor can see) is what refuses a fork.
  plan.rlimits = {
      {RLIMIT_AS, limits_.address_space},
      {RLIMIT_NPROC, limits_.processes + 1},
      {RLIMIT_NOFILE, limits_.open_files},
      {RLIMIT_FSIZE, limits_.file_size},
      {RLIMIT_CORE, 0},
      {RLIMIT_MEMLOCK, 0},
      {RLIMIT_MSGQUEUE, 0},
  };

  if (!weak(Layer::kLandlock)) {
    int abi = std::min(features_.landlock_abi, 7);
    plan.landlock_abi = abi;
    plan.landlock_fs = landlock::AllFsRights(abi);
    const std::uint64_t read =
        landlock::kReadFile | landlock::kReadDir | landlock::kExecute;
    std::uint64_t file_write = landlock::kWriteFile | landlock::kReadFile;
    if (abi >= 3) file_write |= landlock::kTruncate;
    plan.landlock_rules = {
        {"/", read},
        {"/tmp", landlock::AllFsRights(abi) & ~landlock::kExecute &
                     ~landlock::kMakeBlock & ~landlock::kMakeChar},
        {"/dev/null", file_write},
        {"/dev/zero", file_write},
    };
    plan.landlock_connect_port = endpoint_.port;
  }
  plan.cap_last = CapLast();
  if (!weak(Layer::kSeccomp)) {
    ASSIGN_OR_RETURN(compiled->seccomp, CompileFilter(true));
    plan.seccomp = true;
    plan.seccomp_program.len =
        static_cast<unsigned short>(compiled->seccomp.size());
    plan.seccomp_program.filter = compiled->seccomp.data();
    plan.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
  } else {
    plan.seccomp = false;
  }
  plan.drop_groups = features_.root;

  compiled->argv0 = policy->module_name_;
  compiled->argv = {compiled->argv0.data(), nullptr};
  compiled->envp = {nullptr};
  plan.exec_path = kModulePath;
  plan.argv = compiled->argv;
  plan.envp = compiled->envp;
  plan.hostname = "deputy-module";

  policy->read_only_ = read_only_;
  policy->compiled_ = std::move(compiled);
  return std::shared_ptr<const Policy>(std::move(policy));
}

nlohmann::json Policy::Describe() const {
  nlohmann::json removed = nlohmann::json::array();
  for (Layer l : weakenings_) removed.push_back(std::string(LayerName(l)));
  nlohmann::json d = {
      {"namespaces",
       {"user", "pid", "mount", "network", "ipc", "uts", "cgroup"}},
      {"identity", features_.root ? "per-run uid" : "invoking user"},
      {"network",
       {{"forwarded_to",
         endpoint_.address + ":" + std::to_string(endpoint_.port)},
        {"as", endpoint_.host_name}}},
      {"limits",
       {{"address_space", limits_.address_space},
        {"processes", limits_.processes},
        {"open_files", limits_.open_files},
        {"file_size", limits_.file_size},
        {"tmp_size", limits_.tmp_size},
        {"memory", limits_.memory},
        {"deadline_ms", limits_.deadline_ms}}},
      {"weakened", removed},
  };
  d["landlock"] =
      weakened(Layer::kLandlock)
          ? nlohmann::json("weakened")
          : nlohmann::json({{"abi", std::min(features_.landlock_abi, 7)}});
  d["seccomp"] = weakened(Layer::kSeccomp) ? "weakened" : "notify";
  d["cgroups"] = weakened(Layer::kCgroups) ? "weakened" : "v1";
  return d;
}

nlohmann::json RunResult::Summary() const {
  nlohmann::json v = nlohmann::json::array();
  for (const auto& x : violations) {
    v.push_back({{"layer", x.layer}, {"what", x.what}, {"detail", x.detail}});
  }
  nlohmann::json j = {{"exit_code", exit_code},
                      {"violations", v},
                      {"spawn_us", spawn_us},
                      {"total_us", total_us},
                      {"connections", connections}};
  if (signal != 0) j["signal"] = signal;
  if (deadline_exceeded) j["deadline_exceeded"] = true;
  if (out_truncated) j["out_truncated"] = true;
  if (violations_dropped > 0) j["violations_dropped"] = violations_dropped;
  if (peak_memory > 0) j["peak_memory"] = peak_memory;
  if (stray_processes) j["stray_processes"] = true;
  return j;
}

namespace {

// Reads a NUL-terminated string from another process's memory, a page at
// a time (a string may end just before an unmapped page). "" on failure.
std::string ReadRemoteString(pid_t pid, std::uint64_t addr,
                             std::size_t max = 4096) {
  std::string out;
  while (out.size() < max && addr != 0) {
    std::size_t in_page = 4096 - (addr % 4096);
    char buf[4096];
    iovec local{buf, in_page};
    iovec remote{reinterpret_cast<void*>(addr), in_page};
    ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return "";
    std::size_t len = strnlen(buf, static_cast<std::size_t>(n));
    out.append(buf, len);
    if (len < static_cast<std::size_t>(n)) return out;
    addr += static_cast<std::uint64_t>(n);
  }
  return "";  // Longer than any path: not worth judging.
}

bool ReadRemote(pid_t pid, std::uint64_t addr, void* out, std::size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  return ::process_vm_readv(pid, &local, 1, &remote, 1, 0) ==
         static_cast<ssize_t>(len);
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  if (n <= 0 || n == static_cast<ssize_t>(sizeof buf)) return "";
  return std::string(buf, static_cast<std::size_t>(n));
}

// The supervisor of one run: a single poll loop over the child's set-up
// channel, its exit (pidfd), its stdin/stdout/stderr, the forwarder and
// the seccomp notifications.
class Supervisor {
 public:
  Supervisor(const View& view, const Limits& limits, RunResult& result,
             Forwarder& forwarder)
      : view_(view), limits_(limits), r_(result), fwd_(forwarder) {}

  void Run(pid_t pid, int pidfd, int sync, int in, int out, int err,
           std::string_view input, Clock::time_point started);
  // Set when the child failed a set-up step before exec.
  const std::optional<Status>& setup_error() const { return setup_error_; }
  bool exec_seen() const { return exec_seen_; }

 private:
  void OnSync();
  void OnNotify();
  void AddViolation(Violation v);
  std::string ResolveAt(pid_t pid, int dirfd, const std::string& path);
  void ObservePath(pid_t pid, int nr, const std::uint64_t* args);
  void ObserveSignal(int nr, const std::uint64_t* args);

  const View& view_;
  const Limits& limits_;
  RunResult& r_;
  Forwarder& fwd_;
  pid_t init_pid_ = -1;
  int sync_ = -1;
  int notify_ = -1;
  bool exec_seen_ = false;
  Clock::time_point started_;
  std::optional<Status> setup_error_;
  seccomp_notif_sizes sizes_{};
  std::vector<char> req_buf_, resp_buf_;
};

void Supervisor::AddViolation(Violation v) {
  for (const auto& x : r_.violations) {
    if (x.layer == v.layer && x.what == v.what) return;  // Seen already.
  }
  if (r_.violations.size() >= kMaxViolations) {
    ++r_.violations_dropped;
    return;
  }
  r_.violations.push_back(std::move(v));
}

void Supervisor::OnSync() {
  SyncMessage m{};
  iovec iov{&m, sizeof m};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sync_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  int passed = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::memcpy(&passed, CMSG_DATA(c), sizeof passed);
    }
  }
  if (n <= 0) {
    // EOF: the close-on-exec end went away, so execve succeeded (or the
    // child died, which the error message would have said).
    if (!setup_error_) {
      exec_seen_ = true;
      r_.spawn_us = MicrosSince(started_);
    }
    ::close(sync_);
    sync_ = -1;
    return;
  }
  if (n != sizeof m) {
    if (passed >= 0) ::close(passed);
    return;
  }
  switch (m.type) {
    case SyncMessage::kError:
      setup_error_ =
          Status::Errno(std::string("sandbox set-up step \"") +
                            StepName(static_cast<Step>(m.step)) + "\"",
                        m.err);
      break;
    case SyncMessage::kListener:
      if (passed >= 0) fwd_.SetListener(passed);
      passed = -1;
      break;
    case SyncMessage::kNotify:
      if (passed >= 0 && notify_ < 0) {
        notify_ = passed;
        passed = -1;
        if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes_) < 0) {
          sizes_ = {sizeof(seccomp_notif), sizeof(seccomp_notif_resp),
                    sizeof(seccomp_data)};
        }
        req_buf_.assign(
            std::max<std::size_t>(sizes_.seccomp_notif, sizeof(seccomp_notif)),
            0);
        resp_buf_.assign(std::max<std::size_t>(sizes_.seccomp_notif_resp,
                                               sizeof(seccomp_notif_resp)),
                         0);
      }
      break;
  }
  if (passed >= 0) ::close(passed);
}

std::string Supervisor::ResolveAt(pid_t pid, int dirfd,
                                  const std::string& path) {
  if (!path.empty() && path[0] == '/') return NormalisePath("", path);
  std::string base = dirfd == AT_FDCWD
                         ? ReadLink("/proc/" + std::to_string(pid) + "/cwd")
                         : ReadLink("/proc/" + std::to_string(pid) + "/fd/" +
                                    std::to_string(dirfd));
  return NormalisePath(base, path);
}

void Supervisor::ObservePath(pid_t pid, int nr, const std::uint64_t* a) {
  auto str = [&](int i) { return ReadRemoteString(pid, a[i]); };
  auto dfd = [&](int i) { return static_cast<int>(a[i]); };
  auto write_flags = [](std::uint64_t flags) {
    return (flags & O_ACCMODE) != O_RDONLY ||
           (flags & (O_CREAT | O_TRUNC)) != 0;
  };
  std::string call = SyscallName(nr);
  auto judge = [&](int dirfd, const std::string& p, Access access) {
    if (p.empty()) return;  // fd-relative calls with AT_EMPTY_PATH.
    std::string full = ResolveAt(pid, dirfd, p);
    if (auto v = JudgePath(view_, call, full, access)) AddViolation(*v);
  };
  switch (nr) {
    case SYS_open:
      judge(AT_FDCWD, str(0),
            write_flags(a[1]) ? Access::kWrite : Access::kRead);
      return;
    case SYS_openat:
      judge(dfd(0), str(1), write_flags(a[2]) ? Access::kWrite : Access::kRead);
      return;
    case SYS_openat2: {
      std::uint64_t flags = 0;
      ReadRemote(pid, a[2], &flags, sizeof flags);
      judge(dfd(0), str(1),
            write_flags(flags) ? Access::kWrite : Access::kRead);
      return;
    }
    case SYS_creat:
    case SYS_mkdir:
    case SYS_rmdir:
    case SYS_unlink:
    case SYS_chmod:
    case SYS_chown:
    case SYS_lchown:
    case SYS_truncate:
    case SYS_mknod:
      judge(AT_FDCWD, str(0), Access::kWrite);
      return;
    case SYS_execve:
      judge(AT_FDCWD, str(0), Access::kExecute);
      return;
    case SYS_execveat:
      judge(dfd(0), str(1), Access::kExecute);
      return;
    case SYS_mkdirat:
    case SYS_unlinkat:
    case SYS_fchmodat:
    case SYS_fchownat:
    case SYS_mknodat:
      judge(dfd(0), str(1), Access::kWrite);
      return;
    case SYS_rename:
    case SYS_link:
      if (nr == SYS_rename) judge(AT_FDCWD, str(0), Access::kWrite);
      judge(AT_FDCWD, str(1), Access::kWrite);
      return;
    case SYS_renameat:
    case SYS_renameat2:
    case SYS_linkat:
      if (nr != SYS_linkat) judge(dfd(0), str(1), Access::kWrite);
      judge(dfd(2), str(3), Access::kWrite);
      return;
    case SYS_symlink:
      judge(AT_FDCWD, str(1), Access::kWrite);
      return;
    case SYS_symlinkat:
      judge(dfd(1), str(2), Access::kWrite);
      return;
    default:
      return;
  }
}

void Supervisor::ObserveSignal(int nr, const std::uint64_t* a) {
  auto target = static_cast<pid_t>(static_cast<std::int32_t>(a[0]));
  // 0 and negative values address the caller's process group or every
  // process it may signal: all inside the pid namespace.
  if (target <= 0) return;
  // Is there such a process in the sandbox's pid namespace? Its /proc
  // (mounted inside) answers, through the init process's root.
  std::string probe = "/proc/" + std::to_string(init_pid_) + "/root/proc/" +
                      std::to_string(target);
  struct stat st;
  if (::stat(probe.c_str(), &st) == 0) return;
  AddViolation({"signal", SyscallName(nr) + " pid " + std::to_string(target),
                "no such process in the sandbox (pid namespace)"});
}

void Supervisor::OnNotify() {
  std::fill(req_buf_.begin(), req_buf_.end(), 0);
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf_.data());
  if (::ioctl(notify_, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
    if (errno == EINTR || errno == ENOENT || errno == EAGAIN) return;
    ::close(notify_);  // The filter has no users left.
    notify_ = -1;
    return;
  }
  std::fill(resp_buf_.begin(), resp_buf_.end(), 0);
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf_.data());
  resp->id = req->id;
  const int nr = req->data.nr;
  const auto* a = reinterpret_cast<const std::uint64_t*>(req->data.args);
  switch (ClassifyNotified(nr)) {
    case Notified::kRefuse: {
      std::string what = SyscallName(nr);
      if (nr == SYS_socket || nr == SYS_socketpair) {
        what += " family " + std::to_string(a[0]) + " type " +
                std::to_string(a[1] & 0xf) + " protocol " +
                std::to_string(a[2]);
      } else if (nr == SYS_ioctl) {
        what += " request " + std::to_string(a[1] & 0xffffffffu);
      } else if (nr == SYS_clone) {
        what += " with namespace flags";
      }
      AddViolation({"seccomp", what, "refused (EPERM)"});
      resp->error = -EPERM;
      break;
    }
    case Notified::kObservePath:
      ObservePath(static_cast<pid_t>(req->pid), nr, a);
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      break;
    case Notified::kObserveConnect: {
      sockaddr_storage addr{};
      auto len =
          static_cast<socklen_t>(std::min<std::uint64_t>(a[2], sizeof addr));
      if (len > 0 &&
          ReadRemote(static_cast<pid_t>(req->pid), a[1], &addr, len)) {
        if (auto v =
                JudgeConnect(view_, reinterpret_cast<sockaddr*>(&addr), len)) {
          AddViolation(*v);
        }
      }
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      break;
    }
    case Notified::kObserveSignal:
      ObserveSignal(nr, a);
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      break;
    case Notified::kObservePersonality:
      if ((a[0] & 0xffffffffu) == 0 || (a[0] & 0xffffffffu) == 0xffffffffu) {
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      } else {
        AddViolation({"seccomp",
                      "personality " + std::to_string(a[0] & 0xffffffffu),
                      "refused (EPERM)"});
        resp->error = -EPERM;
      }
      break;
  }
  // ENOENT: the caller died (or was interrupted) meanwhile; nothing to do.
  ::ioctl(notify_, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

void Supervisor::Run(pid_t pid, int pidfd, int sync, int in, int out, int err,
                     std::string_view input, Clock::time_point started) {
  init_pid_ = pid;
  sync_ = sync;
  started_ = started;
  const auto deadline =
      started + std::chrono::milliseconds(limits_.deadline_ms);
  std::size_t in_off = 0;
  bool exited = false;
  Clock::time_point exited_at;
  if (input.empty() && in >= 0) {
    ::shutdown(in, SHUT_WR);
    ::close(in);
    in = -1;
  }
  std::vector<pollfd> fds;
  char buf[65536];
  for (;;) {
    if (exited && out < 0 && err < 0) break;
    auto now = Clock::now();
    if (exited && now - exited_at > kDrainGrace) break;
    if (!exited && now >= deadline && !r_.deadline_exceeded) {
      r_.deadline_exceeded = true;
      // SIGKILL to the namespace's init ends every process in it.
      ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      AddViolation({"deadline",
                    "ran past " + std::to_string(limits_.deadline_ms) + " ms",
                    "killed (SIGKILL to the pid namespace)"});
    }
    fds.clear();
    enum Slot { kSync, kPid, kIn, kOut, kErr, kNotify, kCount };
    int slot[kCount];
    auto add = [&](Slot s, int fd, short events) {
      slot[s] = -1;
      if (fd < 0) return;
      slot[s] = static_cast<int>(fds.size());
      fds.push_back({fd, events, 0});
    };
    add(kSync, sync_, POLLIN);
    add(kPid, exited ? -1 : pidfd, POLLIN);
    add(kIn, in, POLLOUT);
    add(kOut, out, POLLIN);
    add(kErr, err, POLLIN);
    add(kNotify, notify_, POLLIN);
    std::size_t fwd_begin = fds.size();
    fwd_.AppendPollFds(fds);

    auto until = exited ? exited_at + kDrainGrace
                        : (r_.deadline_exceeded ? now + kDrainGrace : deadline);
    auto wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
            .count();
    int rc = ::poll(
        fds.data(), fds.size(),
        static_cast<int>(std::clamp<std::int64_t>(wait_ms + 1, 0, 60000)));
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto ready = [&](Slot s) {
      return slot[s] >= 0 && fds[static_cast<std::size_t>(slot[s])].revents;
    };
    if (ready(kSync)) OnSync();
    if (ready(kNotify)) {
      if (fds[static_cast<std::size_t>(slot[kNotify])].revents & POLLIN) {
        OnNotify();
      } else {
        ::close(notify_);  // POLLHUP: no process uses the filter any more.
        notify_ = -1;
      }
    }
    if (ready(kPid)) {
      exited = true;
      exited_at = Clock::now();
    }
    if (ready(kIn)) {
      ssize_t n = ::send(in, input.data() + in_off, input.size() - in_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) in_off += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          in_off == input.size()) {
        ::shutdown(in, SHUT_WR);
        ::close(in);
        in = -1;
      }
    }
    for (Slot s : {kOut, kErr}) {
      if (!ready(s)) continue;
      int& fd = s == kOut ? out : err;
      std::string& sink = s == kOut ? r_.out : r_.err;
      std::uint64_t max = s == kOut ? limits_.stdout_max : limits_.stderr_max;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        std::size_t keep = static_cast<std::size_t>(std::min<std::uint64_t>(
            static_cast<std::uint64_t>(n),
            max - std::min<std::uint64_t>(max, sink.size())));
        sink.append(buf, keep);
        if (keep < static_cast<std::size_t>(n) && s == kOut) {
          r_.out_truncated = true;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fd);
        fd = -1;
      }
    }
    std::vector<pollfd> fwd_fds(fds.begin() + static_cast<long>(fwd_begin),
                                fds.end());
    fwd_.Handle(fwd_fds);
  }
  if (in >= 0) ::close(in);
  if (out >= 0) ::close(out);
  if (err >= 0) ::close(err);
  if (sync_ >= 0) ::close(sync_);
  if (notify_ >= 0) ::close(notify_);
  sync_ = notify_ = -1;
  fwd_.CloseAll();
  if (r_.out_truncated) {
    AddViolation(
        {"output",
         "stdout over " + std::to_string(limits_.stdout_max) + " bytes",
         "truncated"});
  }
}

Status WriteProcFile(pid_t pid, const char* name, const std::string& value) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open " + path, errno);
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Status::Errno("write " + path, n < 0 ? e : EIO);
  }
  return Status::Ok();
}

}  // namespace

Result<RunResult> Policy::Run(std::string_view input,
                              std::string_view credential) const {
  const auto started = Clock::now();
  if (credential.size() > kMaxCredential) {
    return Status::Invalid("credential is larger than " +
                           std::to_string(kMaxCredential) + " bytes");
  }
  // Channels. stdin is a socket so that writing to a module that stopped
  // reading is EPIPE with MSG_NOSIGNAL, never a SIGPIPE in the agent.
  int sp[2], op[2], ep[2], cp[2], yp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
    return Status::Errno("socketpair (stdin)", errno);
  }
  UniqueFd in_parent(sp[0]), in_child(sp[1]);
  if (::pipe2(op, O_CLOEXEC) < 0) return Status::Errno("pipe (stdout)", errno);
  UniqueFd out_parent(op[0]), out_child(op[1]);
  if (::pipe2(ep, O_CLOEXEC) < 0) return Status::Errno("pipe (stderr)", errno);
  UniqueFd err_parent(ep[0]), err_child(ep[1]);
  if (::pipe2(cp, O_CLOEXEC) < 0) {
    return Status::Errno("pipe (credential)", errno);
  }
  UniqueFd cred_child(cp[0]), cred_parent(cp[1]);
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, yp) < 0) {
    return Status::Errno("socketpair (sync)", errno);
  }
  UniqueFd sync_parent(yp[0]), sync_child(yp[1]);
  ASSIGN_OR_RETURN(in_child, High(std::move(in_child)));
  ASSIGN_OR_RETURN(out_child, High(std::move(out_child)));
  ASSIGN_OR_RETURN(err_child, High(std::move(err_child)));
  ASSIGN_OR_RETURN(cred_child, High(std::move(cred_child)));
  ASSIGN_OR_RETURN(sync_child, High(std::move(sync_child)));
  // The credential is in the pipe before the module exists; the write end
  // is closed so the module reads it to EOF.
  if (!credential.empty() &&
      ::write(cred_parent.get(), credential.data(), credential.size()) !=
          static_cast<ssize_t>(credential.size())) {
    return Status::Errno("write credential pipe", errno);
  }
  cred_parent.reset();
  RETURN_IF_ERROR(SetNonBlocking(in_parent.get()));
  RETURN_IF_ERROR(SetNonBlocking(out_parent.get()));
  RETURN_IF_ERROR(SetNonBlocking(err_parent.get()));

  const std::uint64_t run = g_run_counter.fetch_add(1);
  ThreadSlot* cgroup = nullptr;
  if (!weakened(Layer::kCgroups)) {
    ASSIGN_OR_RETURN(cgroup, ThreadSlot::ForThisThread());
    RETURN_IF_ERROR(cgroup->BeginRun(limits_.memory, limits_.processes));
  }

  ChildPlan plan = compiled_->plan;
  plan.sync_fd = sync_child.get();
  plan.stdin_fd = in_child.get();
  plan.stdout_fd = out_child.get();
  plan.stderr_fd = err_child.get();
  plan.credential_fd = cred_child.get();
  const std::uint32_t uid =
      features_.root
          ? kRunUidBase + static_cast<std::uint32_t>(run % kRunUidCount)
          : static_cast<std::uint32_t>(::getuid());
  const std::uint32_t gid =
      features_.root ? uid : static_cast<std::uint32_t>(::getgid());

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
               CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | CLONE_PIDFD |
               CLONE_CLEAR_SIGHAND;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return Status::Errno("clone3", errno);
  if (pid == 0) RunChild(plan);  // Never returns.

  UniqueFd pid_owner(pidfd);
  in_child.reset();
  out_child.reset();
  err_child.reset();
  cred_child.reset();
  sync_child.reset();

  auto abort_child = [&](Status s) -> Status {
    ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    int st = 0;
    while (::waitpid(static_cast<pid_t>(pid), &st, __WALL) < 0 &&
           errno == EINTR) {
    }
    return s;
  };
  // The identity the module runs as, before it may go on. (It was born in
  // this thread's cgroup slot.)
  if (!features_.root) {
    Status s = WriteProcFile(static_cast<pid_t>(pid), "setgroups", "deny");
    if (!s.ok()) return abort_child(s);
  }
  for (const char* map : {"uid_map", "gid_map"}) {
    std::uint32_t id = std::string_view(map) == "uid_map" ? uid : gid;
    Status s = WriteProcFile(static_cast<pid_t>(pid), map,
                             "0 " + std::to_string(id) + " 1\n");
    if (!s.ok()) return abort_child(s);
  }
  if (::send(sync_parent.get(), "G", 1, MSG_NOSIGNAL) != 1) {
    return abort_child(Status::Errno("start the sandboxed child", errno));
  }

  RunResult result;
  Forwarder forwarder(target_, target_len_, 16);
  Supervisor supervisor(compiled_->view, limits_, result, forwarder);
  supervisor.Run(static_cast<pid_t>(pid), pidfd, sync_parent.release(),
                 in_parent.release(), out_parent.release(),
                 err_parent.release(), input, started);
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, __WALL) < 0) {
    if (errno != EINTR) break;
  }
  result.total_us = MicrosSince(started);
  result.connections = forwarder.accepted();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    result.exit_code = -1;
    result.signal = WTERMSIG(status);
  }
  if (supervisor.setup_error()) {
    return Status(
        ErrorCode::kFailedPrecondition,
        supervisor.setup_error()->message() + "; the module did not run");
  }
  if (!supervisor.exec_seen()) {
    return Status::FailedPrecondition(
        "the sandboxed child ended before executing the module");
  }
  if (cgroup) {
    CgroupReport cg = cgroup->EndRun();
    result.peak_memory = cg.peak_memory;
    result.stray_processes = cg.processes_left;
    if (cg.oom_killed || (cg.memory_limit_hit && result.signal == SIGKILL &&
                          !result.deadline_exceeded)) {
      result.violations.push_back(
          {"cgroup", "memory over " + std::to_string(limits_.memory) + " bytes",
           "killed by the OOM killer"});
    } else if (cg.memory_limit_hit) {
      result.violations.push_back(
          {"cgroup", "memory over " + std::to_string(limits_.memory) + " bytes",
           "allocation refused"});
    }
    if (cg.pids_limit_hit) {
      result.violations.push_back(
          {"cgroup",
           "more than " + std::to_string(limits_.processes) + " processes",
           "fork refused (EAGAIN)"});
    }
    if (cg.processes_left) {
      result.violations.push_back(
          {"pid namespace", "processes outlived the module", "left behind"});
    }
  }
  if (result.signal == SIGSYS) {
    result.violations.push_back(
        {"seccomp", "a system call of another architecture (i386 or x32)",
         "killed (SIGSYS)"});
  } else if (result.signal == SIGXFSZ) {
    result.violations.push_back(
        {"rlimit",
         "file larger than " + std::to_string(limits_.file_size) + " bytes",
         "killed (SIGXFSZ)"});
  }
  return result;
}

}  // namespace deputy::sandbox
