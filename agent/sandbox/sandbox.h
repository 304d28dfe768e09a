// The sandbox every capability module runs in (docs/sandbox.md).
//
// A Policy is built once per (module, target) by PolicyBuilder and is
// immutable: the module binary, the one approved target endpoint, the
// limits, and the seccomp program (compiled once, in the parent). Run()
// starts a fresh process for one request: new user, pid, mount, network,
// IPC and UTS namespaces; a private read-only root with a writable private
// /tmp; a forwarder that is the only way out of the network namespace, to
// exactly the approved address and port; no_new_privs, no capabilities;
// rlimits and cgroup limits; Landlock; a seccomp filter whose refusals the
// supervisor sees and reports; the credential on fd 3 and nothing else
// open; a wall-clock deadline that kills the whole pid namespace.
//
// Each set-up step fails closed: the module never runs with a step
// skipped, except the layers the operator removed with an explicit,
// greppable InsecureWeakening, which the policy then reports in
// Describe() so the evidence log can carry it. Policy is thread-safe to
// share; Run() may be called from several threads at once (it uses no
// shared mutable state except an atomic run counter).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sandbox/features.h"
#include "base/status.h"

namespace deputy::sandbox {

// A layer of isolation that an operator may remove, and only through this
// type: `InsecureWeakening::Without(Layer::kLandlock)` is easy to find in
// review and in the configuration (`insecure_sandbox_without`).
enum class Layer { kLandlock, kSeccomp, kCgroups };
std::string_view LayerName(Layer layer);
Result<Layer> ParseLayer(std::string_view name);

class InsecureWeakening {
 public:
  static InsecureWeakening Without(Layer layer) {
    return InsecureWeakening(layer);
  }
  Layer layer() const { return layer_; }

 private:
  explicit InsecureWeakening(Layer layer) : layer_(layer) {}
  Layer layer_;
};

struct Limits {
  std::uint64_t address_space = 1ull << 30;  // RLIMIT_AS.
  std::uint64_t processes = 16;              // RLIMIT_NPROC and pids.max.
  std::uint64_t open_files = 128;            // RLIMIT_NOFILE.
  std::uint64_t file_size = 16ull << 20;     // RLIMIT_FSIZE.
  std::uint64_t tmp_size = 16ull << 20;      // The private /tmp (tmpfs).
  std::uint64_t memory = 256ull << 20;       // memory.limit_in_bytes.
  std::int64_t deadline_ms = 30000;          // Wall clock, whole run.
  std::uint64_t stdout_max = 64ull << 20;    // Bytes kept from stdout.
  std::uint64_t stderr_max = 64ull << 10;    // Bytes kept from stderr.
};

// The one place a module may connect to. `host_name` is what the module
// is told to connect to (it resolves to the forwarder inside the sandbox);
// `address` is the real target, a literal IPv4 or IPv6 address.
struct Endpoint {
  std::string host_name;
  std::string address;
  int port = 0;
};

class Policy;

class PolicyBuilder {
 public:
  explicit PolicyBuilder(Features features) : features_(std::move(features)) {}
  PolicyBuilder& Module(std::string path) {
    module_ = std::move(path);
    return *this;
  }
  PolicyBuilder& Target(Endpoint endpoint) {
    endpoint_ = std::move(endpoint);
    return *this;
  }
  PolicyBuilder& WithLimits(Limits limits) {
    limits_ = limits;
    return *this;
  }
  // An extra host path made visible read-only (a CA bundle, say).
  PolicyBuilder& ReadOnly(std::string path) {
    read_only_.push_back(std::move(path));
    return *this;
  }
  PolicyBuilder& Weaken(InsecureWeakening weakening) {
    weakenings_.push_back(weakening.layer());
    return *this;
  }
  // Fails when the module is not an executable file, the endpoint is not
  // a literal address and port, or a required layer is missing from the
  // kernel and was not explicitly weakened.
  Result<std::shared_ptr<const Policy>> Build() const;

 private:
  Features features_;
  std::string module_;
  Endpoint endpoint_;
  Limits limits_;
  std::vector<std::string> read_only_;
  std::vector<Layer> weakenings_;
};

// What the supervisor saw the module attempt and the sandbox refuse.
struct Violation {
  std::string layer;   // "seccomp", "network", "filesystem", "cgroup", ...
  std::string what;    // "ptrace", "connect 10.0.0.1:5432", ...
  std::string detail;  // How it was answered ("EPERM", "SIGSYS").
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal.
  int signal = 0;      // The signal that ended it, if any.
  bool deadline_exceeded = false;
  std::string out;  // stdout, at most Limits::stdout_max bytes.
  bool out_truncated = false;
  std::string err;  // stderr, at most Limits::stderr_max bytes.
  std::vector<Violation> violations;  // Distinct, at most 64.
  int violations_dropped = 0;         // Beyond those 64.
  std::int64_t spawn_us = 0;          // From clone3 to execve of the module.
  std::int64_t total_us = 0;
  std::uint64_t peak_memory = 0;  // From the memory cgroup, when present.
  bool stray_processes = false;   // Something survived pid 1 (never
                                  // expected; the pid namespace kills all).
  int connections = 0;            // Forwarded to the target.

  bool clean_exit() const { return exit_code == 0 && violations.empty(); }
  nlohmann::json Summary() const;  // For the evidence log (no output).
};

class Policy {
 public:
  // Runs the module once: `input` on stdin, `credential` on fd 3. Returns
  // an error only when the sandbox could not be set up (the module did
  // not run); a module that failed, was killed or misbehaved is a
  // RunResult saying so.
  Result<RunResult> Run(std::string_view input,
                        std::string_view credential) const;

  // The layers in force and those removed, for every evidence entry.
  nlohmann::json Describe() const;
  const std::vector<Layer>& weakenings() const { return weakenings_; }
  bool weakened(Layer layer) const;
  const Endpoint& endpoint() const { return endpoint_; }

  ~Policy();

 private:
  friend class PolicyBuilder;
  struct Compiled;
  Policy() = default;

  Features features_;
  std::string module_;
  std::string module_name_;
  Endpoint endpoint_;
  sockaddr_storage target_{};
  socklen_t target_len_ = 0;
  Limits limits_;
  std::vector<std::string> read_only_;
  std::vector<Layer> weakenings_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace deputy::sandbox
