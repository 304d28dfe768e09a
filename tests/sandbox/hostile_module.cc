// A hostile capability module, for the sandbox's escape tests: it reads a
// scenario name (and arguments, one per line) from stdin, attempts what
// the scenario says, and prints one JSON line: {"ok": did it succeed,
// "errno": the error it got, "detail": anything it found}. A scenario that
// kills the process (an i386 system call) prints nothing.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace {

int g_argc = 0;
char** g_argv = nullptr;

struct Outcome {
  bool ok = false;
  int err = 0;
  std::string detail;
};

Outcome FromRc(long rc) {
  Outcome o;
  o.ok = rc >= 0;
  o.err = rc < 0 ? errno : 0;
  return o;
}

Outcome OpenPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  Outcome o = FromRc(fd);
  if (fd >= 0) {
    if ((flags & O_ACCMODE) == O_RDONLY) {
      char buf[256];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) o.detail.assign(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
  }
  return o;
}

Outcome ConnectTo(const std::string& address, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return FromRc(-1);
  Outcome o = FromRc(::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a));
  ::close(s);
  return o;
}

// Resolves the target's name (through the sandbox's /etc/hosts), connects,
// sends "ping" and reads the answer.
Outcome TalkToTarget(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    Outcome o;
    o.err = EHOSTUNREACH;
    o.detail = gai_strerror(rc);
    return o;
  }
  Outcome o;
  o.err = ECONNREFUSED;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (s < 0) continue;
    if (::connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
      ::write(s, "ping", 4);
      char buf[16] = {0};
      ssize_t n = ::read(s, buf, sizeof buf - 1);
      o.ok = n > 0;
      o.err = n > 0 ? 0 : errno;
      o.detail = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
      ::close(s);
      break;
    }
    o.err = errno;
    ::close(s);
  }
  ::freeaddrinfo(res);
  return o;
}

std::string ReadAllFd(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

Outcome Run(const std::string& scenario, const std::vector<std::string>& arg) {
  auto at = [&](std::size_t i) { return i < arg.size() ? arg[i] : ""; };
  if (scenario == "read_credential") {
    Outcome o;
    o.detail = ReadAllFd(3);
    o.ok = !o.detail.empty();
    return o;
  }
  if (scenario == "sleep") {
    ::usleep(static_cast<useconds_t>(std::atoi(at(0).c_str())) * 1000);
    Outcome o;
    o.ok = true;
    return o;
  }
  if (scenario == "read_shadow") return OpenPath("/etc/shadow", O_RDONLY);
  if (scenario == "read_path") return OpenPath(at(0), O_RDONLY);
  if (scenario == "write_path") {
    return OpenPath(at(0), O_WRONLY | O_CREAT | O_TRUNC);
  }
  if (scenario == "mkdir_path") return FromRc(::mkdir(at(0).c_str(), 0755));
  if (scenario == "scan_proc_credentials") {
    // Every process and every fd 3 this process can find in /proc.
    Outcome o;
    o.ok = true;
    nlohmann::json pids = nlohmann::json::array();
    nlohmann::json found = nlohmann::json::array();
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return FromRc(-1);
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      pids.push_back(e->d_name);
      std::string p = std::string("/proc/") + e->d_name + "/fd/3";
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) continue;
      found.push_back({{"pid", e->d_name}, {"data", ReadAllFd(fd)}});
      ::close(fd);
    }
    ::closedir(d);
    o.detail = nlohmann::json({{"pids", pids}, {"fd3", found}}).dump();
    return o;
  }
  if (scenario == "connect") return ConnectTo(at(0), std::atoi(at(1).c_str()));
  if (scenario == "talk_to_target") return TalkToTarget(at(0), at(1));
  if (scenario == "udp") {
    return FromRc(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  }
  if (scenario == "raw") {
    return FromRc(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
  }
  if (scenario == "netlink") {
    return FromRc(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  }
  if (scenario == "unix_abstract" || scenario == "unix_path") {
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return FromRc(-1);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string name = at(0);
    socklen_t len;
    if (scenario == "unix_abstract") {
      std::memcpy(a.sun_path + 1, name.data(), name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 +
                                   name.size());
    } else {
      std::memcpy(a.sun_path, name.data(), name.size());
      len = sizeof a;
    }
    Outcome o = FromRc(::connect(s, reinterpret_cast<sockaddr*>(&a), len));
    ::close(s);
    return o;
  }
  if (scenario == "ptrace") {
    return FromRc(::ptrace(PTRACE_ATTACH, std::atoi(at(0).c_str()), 0, 0));
  }
  if (scenario == "kill") {
    return FromRc(::kill(std::atoi(at(0).c_str()), 0));
  }
  if (scenario == "i386_syscall") {
    // getpid through the 32-bit entry point.
    long ret;
    asm volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");
    Outcome o;
    o.ok = true;
    o.detail = "i386 call returned " + std::to_string(ret);
    return o;
  }
  if (scenario == "x32_syscall") {
    long rc = ::syscall(0x40000000L | SYS_getpid);
    Outcome o = FromRc(rc);
    o.detail = "x32 call returned";
    return o;
  }
  if (scenario == "mount") {
    return FromRc(::mount("none", "/tmp", "tmpfs", 0, nullptr));
  }
  if (scenario == "unshare") return FromRc(::unshare(CLONE_NEWUSER));
  if (scenario == "clone_newuser") {
    long rc = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0) ::_exit(0);
    if (rc > 0) ::waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return FromRc(rc);
  }
  if (scenario == "bpf") return FromRc(::syscall(SYS_bpf, 0, nullptr, 0));
  if (scenario == "io_uring") {
    char params[120] = {0};
    return FromRc(::syscall(SYS_io_uring_setup, 4, params));
  }
  if (scenario == "keyctl") return FromRc(::syscall(SYS_keyctl, 0, 0, 0));
  if (scenario == "setns") return FromRc(::syscall(SYS_setns, 0, 0));
  if (scenario == "tiocsti") {
    char c = 'x';
    return FromRc(::ioctl(0, TIOCSTI, &c));
  }
  if (scenario == "personality") {
    return FromRc(::personality(ADDR_NO_RANDOMIZE));
  }
  if (scenario == "fork_bomb") {
    Outcome o;
    int made = 0;
    for (int i = 0; i < 10000; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p < 0) {
        o.err = errno;
        break;
      }
      ++made;
    }
    o.detail = std::to_string(made) + " processes made";
    ::kill(-1, SIGKILL);  // Our own children, inside the namespace.
    return o;
  }
  if (scenario == "allocate") {
    // Touches MiB after MiB until something stops it.
    std::size_t mib = static_cast<std::size_t>(std::atoi(at(0).c_str()));
    std::vector<char*> blocks;
    for (std::size_t i = 0; i < mib; ++i) {
      char* p = static_cast<char*>(std::malloc(1 << 20));
      if (p == nullptr) {
        Outcome o;
        o.err = ENOMEM;
        o.detail = std::to_string(i) + " MiB";
        return o;
      }
      std::memset(p, 1, 1 << 20);
      blocks.push_back(p);
    }
    Outcome o;
    o.ok = true;
    return o;
  }
  if (scenario == "double_fork_and_hang") {
    // Every process of the scenario carries the name given (default
    // "deputy-stray"), so a test can look for survivors on the host.
    const std::string name = at(0).empty() ? "deputy-stray" : at(0);
    ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
    pid_t p = ::fork();
    if (p == 0) {
      if (::fork() == 0) {
        ::setsid();
        ::prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
        for (;;) ::pause();
      }
      ::_exit(0);
    }
    ::waitpid(p, nullptr, 0);
    for (;;) ::pause();
  }
  if (scenario == "open_fds") {
    Outcome o;
    o.ok = true;
    nlohmann::json fds = nlohmann::json::array();
    for (int fd = 0; fd < 1024; ++fd) {
      if (::fcntl(fd, F_GETFD) >= 0) fds.push_back(fd);
    }
    o.detail = fds.dump();
    return o;
  }
  if (scenario == "read_fd") {
    int fd = std::atoi(at(0).c_str());
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    Outcome o = FromRc(n);
    if (n > 0) o.detail.assign(buf, static_cast<std::size_t>(n));
    return o;
  }
  if (scenario == "argv_env") {
    Outcome o;
    o.ok = true;
    nlohmann::json j;
    j["argv"] = nlohmann::json::array();
    for (int i = 0; i < g_argc; ++i) j["argv"].push_back(g_argv[i]);
    j["env"] = nlohmann::json::array();
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      j["env"].push_back(*e);
    }
    int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    j["cmdline"] = fd >= 0 ? ReadAllFd(fd) : "";
    if (fd >= 0) ::close(fd);
    fd = ::open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    j["environ"] = fd >= 0 ? ReadAllFd(fd) : "";
    if (fd >= 0) ::close(fd);
    o.detail = j.dump();
    return o;
  }
  if (scenario == "identity") {
    Outcome o;
    o.ok = true;
    nlohmann::json j;
    j["uid"] = ::getuid();
    j["pid"] = ::getpid();
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    j["hostname"] = host;
    j["no_new_privs"] = ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    std::string status = fd >= 0 ? ReadAllFd(fd) : "";
    if (fd >= 0) ::close(fd);
    for (const char* key : {"CapEff:", "CapPrm:", "CapBnd:", "CapAmb:",
                            "Seccomp:", "NoNewPrivs:"}) {
      auto pos = status.find(key);
      if (pos == std::string::npos) continue;
      auto end = status.find('\n', pos);
      std::string line = status.substr(pos, end - pos);
      j[std::string(key, strlen(key) - 1)] =
          line.substr(line.find_first_not_of(" \t", strlen(key)));
    }
    j["tty"] = ::isatty(0) || ::isatty(1) || ::isatty(2);
    j["sid_is_self"] = ::getsid(0) == ::getpid();
    o.detail = j.dump();
    return o;
  }
  if (scenario == "exec") {
    char* argv[] = {const_cast<char*>(at(0).c_str()), nullptr};
    char* envp[] = {nullptr};
    ::execve(at(0).c_str(), argv, envp);
    return FromRc(-1);
  }
  if (scenario == "big_file") {
    int fd = ::open("/tmp/big", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return FromRc(-1);
    std::vector<char> chunk(1 << 20, 'x');
    Outcome o;
    o.ok = true;
    ::signal(SIGXFSZ, SIG_IGN);
    for (int i = 0; i < 64; ++i) {
      if (::write(fd, chunk.data(), chunk.size()) < 0) {
        o.ok = false;
        o.err = errno;
        o.detail = std::to_string(i) + " MiB written";
        break;
      }
    }
    ::close(fd);
    return o;
  }
  Outcome o;
  o.err = EINVAL;
  o.detail = "unknown scenario " + scenario;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  g_argc = argc;
  g_argv = argv;
  std::string line, scenario;
  std::vector<std::string> args;
  std::getline(std::cin, scenario);
  while (std::getline(std::cin, line)) args.push_back(line);
  Outcome o = Run(scenario, args);
  nlohmann::json j = {{"ok", o.ok}, {"errno", o.err}, {"detail", o.detail}};
  std::cout << j.dump() << std::endl;
  return 0;
}
