// The sandbox's escape tests: a hostile module (hostile_module.cc) tries,
// one scenario at a time, every way out the issue lists. Each attempt must
// fail with the expected errno or signal and, where the supervisor can see
// it, be reported as a violation. These run the real kernel mechanisms
// (namespaces, Landlock, seccomp, cgroups); a machine without them fails
// here loudly rather than skipping.
#include "agent/sandbox/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/sandbox/features.h"

namespace deputy::sandbox {
namespace {

const char* kCredential = R"({"password":"cred-of-this-run-7f3a"})";

// A TCP server on 127.0.0.1 that answers "pong" to every connection: the
// one approved target.
class PongServer {
 public:
  PongServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        if (stop_) {
          ::close(c);
          return;
        }
        char buf[16];
        if (::read(c, buf, sizeof buf) > 0) {
          ssize_t n = ::write(c, "pong", 4);
          (void)n;
        }
        ::close(c);
      }
    });
  }
  ~PongServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class SandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    features_ = new Features(Features::Probe());
    server_ = new PongServer();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete features_;
  }
  void SetUp() override {
    // No skipping: a machine that cannot isolate modules fails here.
    ASSERT_TRUE(features_->namespaces) << features_->namespaces_error;
    ASSERT_GE(features_->landlock_abi, Features::kRequiredLandlockAbi);
    ASSERT_TRUE(features_->seccomp_notify);
    ASSERT_TRUE(features_->cgroup_memory && features_->cgroup_pids)
        << "cgroup v1 memory and pids must be writable (run as root)";
  }

  std::shared_ptr<const Policy> MakePolicy(Limits limits = {}) {
    auto p = PolicyBuilder(*features_)
                 .Module(HOSTILE_MODULE)
                 .Target({"target.example.org", "127.0.0.1", server_->port()})
                 .WithLimits(limits)
                 .Build();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : nullptr;
  }

  // Runs a scenario; returns the run and its parsed JSON line (null when
  // the module printed nothing).
  RunResult Scenario(const std::string& name,
                     const std::vector<std::string>& args = {},
                     Limits limits = {}) {
    auto policy = MakePolicy(limits);
    if (!policy) return {};
    std::string input = name + "\n";
    for (const auto& a : args) input += a + "\n";
    auto run = policy->Run(input, kCredential);
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? std::move(*run) : RunResult{};
  }
  static nlohmann::json Outcome(const RunResult& r) {
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
  }
  static bool Reported(const RunResult& r, const std::string& layer,
                       const std::string& what) {
    for (const auto& v : r.violations) {
      if (v.layer == layer && v.what.find(what) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  static std::string Violations(const RunResult& r) {
    return r.Summary()["violations"].dump();
  }
  // Expects the attempt failed with `err` and the supervisor reported it.
  void ExpectRefused(const RunResult& r, int err, const std::string& layer,
                     const std::string& what) {
    auto o = Outcome(r);
    EXPECT_EQ(o.value("ok", true), false) << r.out;
    EXPECT_EQ(o.value("errno", 0), err) << r.out << " " << strerror(err);
    EXPECT_TRUE(Reported(r, layer, what)) << Violations(r);
  }

  static Features* features_;
  static PongServer* server_;
};

Features* SandboxTest::features_ = nullptr;
PongServer* SandboxTest::server_ = nullptr;

TEST_F(SandboxTest, ModuleRunsWithoutPrivilegeTtyOrHostIdentity) {
  auto r = Scenario("identity");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.violations.empty()) << Violations(r);
  auto d = nlohmann::json::parse(Outcome(r)["detail"].get<std::string>());
  EXPECT_EQ(d["pid"], 1);  // Its own pid namespace.
  EXPECT_EQ(d["uid"], 0);  // Mapped to an unprivileged per-run uid.
  EXPECT_EQ(d["hostname"], "deputy-module");
  EXPECT_EQ(d["CapEff"], "0000000000000000");
  EXPECT_EQ(d["CapPrm"], "0000000000000000");
  EXPECT_EQ(d["CapBnd"], "0000000000000000");
  EXPECT_EQ(d["CapAmb"], "0000000000000000");
  EXPECT_EQ(d["Seccomp"], "2");
  EXPECT_EQ(d["NoNewPrivs"], "1");
  EXPECT_EQ(d["tty"], false);
  EXPECT_EQ(d["sid_is_self"], true);
}

TEST_F(SandboxTest, CredentialArrivesOnFd3AndNowhereElse) {
  auto r = Scenario("read_credential");
  EXPECT_EQ(Outcome(r)["detail"], kCredential);
  auto e = Scenario("argv_env");
  auto d = nlohmann::json::parse(Outcome(e)["detail"].get<std::string>());
  EXPECT_EQ(d["argv"], nlohmann::json::array({"hostile_module"}));
  EXPECT_TRUE(d["env"].empty()) << d.dump();
  EXPECT_EQ(d["environ"], "");
  EXPECT_EQ(d.dump().find("cred-of-this-run"), std::string::npos);
}

TEST_F(SandboxTest, CannotReadAnotherModulesCredential) {
  // Another module holds its own credential while this one looks for it.
  auto holder_policy = MakePolicy();
  ASSERT_TRUE(holder_policy);
  std::thread holder([&] {
    auto r = holder_policy->Run("sleep\n1500\n",
                                R"({"password":"OTHER-MODULE-SECRET"})");
    EXPECT_TRUE(r.ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = Scenario("scan_proc_credentials");
  holder.join();
  std::string found = Outcome(r)["detail"].get<std::string>();
  EXPECT_EQ(found.find("OTHER-MODULE-SECRET"), std::string::npos) << found;
  // It sees no process but itself (pid 1), so no other module's fd 3.
  auto seen = nlohmann::json::parse(found);
  EXPECT_EQ(seen["pids"], nlohmann::json::array({"1"})) << found;
  for (const auto& f : seen["fd3"]) EXPECT_EQ(f["pid"], "1") << found;
}

TEST_F(SandboxTest, CannotReadShadowOrHostFiles) {
  ExpectRefused(Scenario("read_shadow"), ENOENT, "filesystem", "/etc/shadow");
  // A credential file on the host, readable by root there. Not under
  // /tmp (inside, that is the module's own private directory, so a
  // checkout living under /tmp would test nothing), hence /var/tmp.
  char tmpl[] = "/var/tmp/deputy-sbx-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr) << strerror(errno);
  std::filesystem::path dir(tmpl);
  auto secret = (dir / "ldap.cred").string();
  std::ofstream(secret) << "HOST-CREDENTIAL";
  ::chmod(secret.c_str(), 0600);
  auto r = Scenario("read_path", {secret});
  ExpectRefused(r, ENOENT, "filesystem", secret);
  std::filesystem::remove_all(dir);
}

TEST_F(SandboxTest, CannotWriteUsrEtcOrOutsideItsTmp) {
  ExpectRefused(Scenario("write_path", {"/usr/lib/deputy-escape"}), EROFS,
                "filesystem", "/usr/lib/deputy-escape (write)");
  ExpectRefused(Scenario("write_path", {"/etc/passwd"}), EROFS, "filesystem",
                "/etc/passwd (write)");
  ExpectRefused(Scenario("write_path", {"/escape"}), EROFS, "filesystem",
                "/escape (write)");
  ExpectRefused(Scenario("mkdir_path", {"/opt"}), EROFS, "filesystem",
                "/opt (write)");
  // Its private /tmp is writable, and that is no violation.
  auto ok = Scenario("write_path", {"/tmp/scratch"});
  EXPECT_EQ(Outcome(ok)["ok"], true) << ok.out;
  EXPECT_TRUE(ok.violations.empty()) << Violations(ok);
}

TEST_F(SandboxTest, ReachesTheApprovedTargetByNameThroughTheForwarder) {
  auto r = Scenario("talk_to_target",
                    {"target.example.org", std::to_string(server_->port())});
  auto o = Outcome(r);
  EXPECT_EQ(o["ok"], true) << r.out << r.err;
  EXPECT_EQ(o["detail"], "pong");
  EXPECT_EQ(r.connections, 1);
  EXPECT_TRUE(r.violations.empty()) << Violations(r);
}

TEST_F(SandboxTest, CannotConnectToAnotherPort) {
  auto r =
      Scenario("connect", {"127.0.0.1", std::to_string(server_->port() + 1)});
  ExpectRefused(r, EACCES, "network",
                "127.0.0.1:" + std::to_string(server_->port() + 1));
}

TEST_F(SandboxTest, CannotConnectToTheSamePortOnAnotherAddress) {
  auto r =
      Scenario("connect", {"10.11.12.13", std::to_string(server_->port())});
  ExpectRefused(r, ENETUNREACH, "network", "10.11.12.13");
}

TEST_F(SandboxTest, CannotOpenUdpRawOrNetlinkSockets) {
  ExpectRefused(Scenario("udp"), EPERM, "seccomp", "socket family 2 type 2");
  ExpectRefused(Scenario("raw"), EPERM, "seccomp", "socket family 2 type 3");
  ExpectRefused(Scenario("netlink"), EPERM, "seccomp", "socket family 16");
}

TEST_F(SandboxTest, CannotReachHostUnixSockets) {
  // Host listeners, abstract and pathname.
  std::string name = "deputy-sbx-" + std::to_string(::getpid());
  int a = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un au{};
  au.sun_family = AF_UNIX;
  std::memcpy(au.sun_path + 1, name.data(), name.size());
  ASSERT_EQ(::bind(a, reinterpret_cast<sockaddr*>(&au),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 +
                                          name.size())),
            0);
  ::listen(a, 1);
  std::string path = "/tmp/" + name + ".sock";
  int p = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un pu{};
  pu.sun_family = AF_UNIX;
  std::memcpy(pu.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(p, reinterpret_cast<sockaddr*>(&pu), sizeof pu), 0);
  ::listen(p, 1);
  // Abstract names belong to the network namespace (and Landlock scopes
  // them too): the host's listener is simply not there.
  ExpectRefused(Scenario("unix_abstract", {name}), ECONNREFUSED, "network",
                "unix:@" + name);
  // Paths: the host's /tmp is not the module's /tmp.
  ExpectRefused(Scenario("unix_path", {path}), ENOENT, "network",
                "unix:" + path);
  ::close(a);
  ::close(p);
  ::unlink(path.c_str());
}

TEST_F(SandboxTest, CannotPtraceOrSignalHostProcesses) {
  std::string me = std::to_string(::getpid());
  ExpectRefused(Scenario("ptrace", {me}), EPERM, "seccomp", "ptrace");
  ExpectRefused(Scenario("kill", {me}), ESRCH, "signal", "kill pid " + me);
}

TEST_F(SandboxTest, ForeignArchitectureCallsKillTheModule) {
  for (const char* s : {"i386_syscall", "x32_syscall"}) {
    auto r = Scenario(s);
    EXPECT_EQ(r.signal, SIGSYS) << s << ": " << r.out;
    EXPECT_EQ(r.out, "") << s;
    EXPECT_TRUE(Reported(r, "seccomp", "another architecture")) << s;
  }
}

TEST_F(SandboxTest, CannotMountUnshareOrUseBpfIoUringKeyctlSetns) {
  ExpectRefused(Scenario("mount"), EPERM, "seccomp", "mount");
  ExpectRefused(Scenario("unshare"), EPERM, "seccomp", "unshare");
  ExpectRefused(Scenario("clone_newuser"), EPERM, "seccomp",
                "clone with namespace flags");
  ExpectRefused(Scenario("bpf"), EPERM, "seccomp", "bpf");
  ExpectRefused(Scenario("io_uring"), EPERM, "seccomp", "io_uring_setup");
  ExpectRefused(Scenario("keyctl"), EPERM, "seccomp", "keyctl");
  ExpectRefused(Scenario("setns"), EPERM, "seccomp", "setns");
}

TEST_F(SandboxTest, CannotInjectTerminalInputOrChangePersonality) {
  ExpectRefused(Scenario("tiocsti"), EPERM, "seccomp", "ioctl");
  ExpectRefused(Scenario("personality"), EPERM, "seccomp", "personality");
}

TEST_F(SandboxTest, ForkBombStopsAtTheProcessLimit) {
  Limits limits;
  limits.processes = 8;
  auto r = Scenario("fork_bomb", {}, limits);
  auto o = Outcome(r);
  EXPECT_EQ(o["errno"], EAGAIN) << r.out;
  EXPECT_TRUE(Reported(r, "cgroup", "more than 8 processes")) << Violations(r);
}

TEST_F(SandboxTest, MemoryLimitStopsTheModule) {
  Limits limits;
  limits.memory = 64ull << 20;
  auto r = Scenario("allocate", {"400"}, limits);
  EXPECT_EQ(r.signal, SIGKILL) << r.out;
  EXPECT_TRUE(Reported(r, "cgroup", "memory over")) << Violations(r);
  EXPECT_FALSE(r.deadline_exceeded);
}

bool StrayAlive(const std::string& wanted = "deputy-stray") {
  DIR* d = ::opendir("/proc");
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(comm, name) && name == wanted) found = true;
  }
  ::closedir(d);
  return found;
}

TEST_F(SandboxTest, DeadlineKillsTheWholePidNamespace) {
  Limits limits;
  limits.deadline_ms = 500;
  auto start = std::chrono::steady_clock::now();
  auto r = Scenario("double_fork_and_hang", {}, limits);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.deadline_exceeded);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_TRUE(Reported(r, "deadline", "ran past 500 ms")) << Violations(r);
  EXPECT_FALSE(r.stray_processes);
  EXPECT_FALSE(StrayAlive()) << "a double-forked child outlived the sandbox";
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(SandboxTest, TheModuleDiesWithItsSupervisor) {
  // The agent killed mid-action must not leave its module running (it
  // could finish an apply behind a restarted agent's back).
  const std::string name = "dpt-orphan-" + std::to_string(::getpid() % 10000);
  auto policy = MakePolicy();
  ASSERT_TRUE(policy);
  pid_t supervisor = ::fork();
  if (supervisor == 0) {
    auto r = policy->Run("double_fork_and_hang\n" + name + "\n", "");
    ::_exit(r.ok() ? 0 : 1);
  }
  // Wait until the module runs, then kill the supervisor outright.
  for (int i = 0; i < 200 && !StrayAlive(name); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(StrayAlive(name)) << "the module never started";
  ::kill(supervisor, SIGKILL);
  ::waitpid(supervisor, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = !StrayAlive(name);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "a module outlived the agent that ran it";
}

TEST_F(SandboxTest, InheritsNoDescriptorsButItsOwn) {
  // A descriptor the agent leaked (no close-on-exec) must not reach it.
  int leaked = ::open("/etc/hostname", O_RDONLY);  // NOLINT: on purpose.
  ASSERT_GE(leaked, 0);
  auto r = Scenario("open_fds");
  EXPECT_EQ(Outcome(r)["detail"], "[0,1,2,3]");
  auto read = Scenario("read_fd", {std::to_string(leaked)});
  EXPECT_EQ(Outcome(read)["errno"], EBADF);
  ::close(leaked);
}

TEST_F(SandboxTest, FileSizeAndTmpAreBounded) {
  Limits limits;
  limits.file_size = 4ull << 20;
  auto r = Scenario("big_file", {}, limits);
  auto o = Outcome(r);
  EXPECT_EQ(o["ok"], false);
  EXPECT_EQ(o["errno"], EFBIG) << r.out;
}

TEST_F(SandboxTest, ExecutingHostBinariesOutsideTheViewFails) {
  ExpectRefused(Scenario("exec", {"/oldroot/usr/bin/sh"}), ENOENT, "filesystem",
                "/oldroot/usr/bin/sh (execute)");
}

TEST_F(SandboxTest, ConcurrentRunsAreIsolatedFromEachOther) {
  auto policy = MakePolicy();
  ASSERT_TRUE(policy);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      std::string cred = "{\"password\":\"run-" + std::to_string(i) + "\"}";
      auto r = policy->Run("read_credential\n", cred);
      if (r.ok() && r->clean_exit() &&
          nlohmann::json::parse(r->out)["detail"] == cred) {
        ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 4);
}

TEST_F(SandboxTest, RefusesToBuildWithoutARequiredLayer) {
  Features weak = *features_;
  weak.landlock_abi = 3;
  auto p = PolicyBuilder(weak)
               .Module(HOSTILE_MODULE)
               .Target({"t.example", "127.0.0.1", 1})
               .Build();
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("insecure_sandbox_without"),
            std::string::npos);
  // The explicit, greppable weakening lets it run, and says so.
  auto q = PolicyBuilder(weak)
               .Module(HOSTILE_MODULE)
               .Target({"t.example", "127.0.0.1", 1})
               .Weaken(InsecureWeakening::Without(Layer::kLandlock))
               .Build();
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ((*q)->Describe()["weakened"], nlohmann::json::array({"landlock"}));
  EXPECT_EQ((*q)->Describe()["landlock"], "weakened");
  auto r = (*q)->Run("identity\n", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST_F(SandboxTest, NamespacesCannotBeWeakened) {
  Features none = *features_;
  none.namespaces = false;
  none.namespaces_error = "test";
  auto p = PolicyBuilder(none)
               .Module(HOSTILE_MODULE)
               .Target({"t.example", "127.0.0.1", 1})
               .Weaken(InsecureWeakening::Without(Layer::kLandlock))
               .Weaken(InsecureWeakening::Without(Layer::kSeccomp))
               .Weaken(InsecureWeakening::Without(Layer::kCgroups))
               .Build();
  EXPECT_FALSE(p.ok());
}

}  // namespace
}  // namespace deputy::sandbox
