// Runs capability modules for the agent: one protocol request per run, in
// a fresh sandbox, with the target's credential read from its file for
// that run only and handed over on fd 3.
//
// ModuleRunner is the swap point between the executor and the OS (a fake
// in unit tests); SandboxRunner is the real one. Thread-safe: Call() may
// run from several workers at once (one sandbox per call).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/config.h"
#include "agent/sandbox/features.h"
#include "agent/sandbox/sandbox.h"
#include "base/status.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::agent {

struct ModuleOutcome {
  protocol::Response response;  // A result, or the module's typed error.
  nlohmann::json sandbox = nlohmann::json::object();  // The run's summary.
};

class ModuleRunner {
 public:
  virtual ~ModuleRunner() = default;
  // OK with a response (which may be a typed error) when the module ran
  // cleanly and answered by the protocol. Otherwise:
  //   Unavailable         the sandbox could not start it, or it ran past its
  //                       deadline (worth a retry);
  //   PermissionDenied    it violated the sandbox (never retried);
  //   DataLoss            it broke the protocol (exit status, output);
  //   NotFound            no such target.
  // `sandbox` (when not null) receives the run's summary in every case
  // where the module ran.
  virtual Result<ModuleOutcome> Call(const std::string& target, protocol::Op op,
                                     const std::string& id,
                                     const protocol::Action* action,
                                     nlohmann::json* sandbox) = 0;
  // The sandbox in force for a target, for evidence entries.
  virtual nlohmann::json DescribeSandbox(const std::string& target) const = 0;
};

class SandboxRunner final : public ModuleRunner {
 public:
  // Builds one sandbox policy per target; fails (naming the target) when
  // a module is missing or a required layer is absent and not weakened.
  static Result<std::unique_ptr<SandboxRunner>> Create(
      const Config& config, const sandbox::Features& features);

  Result<ModuleOutcome> Call(const std::string& target, protocol::Op op,
                             const std::string& id,
                             const protocol::Action* action,
                             nlohmann::json* sandbox) override;
  nlohmann::json DescribeSandbox(const std::string& target) const override;

 private:
  struct Target {
    const TargetConfig* config;
    std::shared_ptr<const sandbox::Policy> policy;
  };
  SandboxRunner() = default;
  std::map<std::string, Target> targets_;
};

// Builds the request bytes for a call (shared with tests).
std::string EncodeRequest(const TargetConfig& target, protocol::Op op,
                          const std::string& id,
                          const protocol::Action* action);

}  // namespace deputy::agent
