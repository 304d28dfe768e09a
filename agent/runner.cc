#include "agent/runner.h"

#include <algorithm>

#include "base/files.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::agent {

std::string EncodeRequest(const TargetConfig& target, protocol::Op op,
                          const std::string& id,
                          const protocol::Action* action) {
  protocol::Request req;
  req.op = op;
  req.id = id;
  req.target.name = target.name;
  req.target.host = target.host;
  req.target.port = target.port;
  req.target.options = target.options;
  if (action != nullptr) req.action = *action;
  return req.Encode();
}

Result<std::unique_ptr<SandboxRunner>> SandboxRunner::Create(
    const Config& config, const sandbox::Features& features) {
  std::unique_ptr<SandboxRunner> runner(new SandboxRunner());
  for (const auto& t : config.targets) {
    sandbox::PolicyBuilder builder(features);
    builder.Module(t.module)
        .Target({t.host, t.address, t.port})
        .WithLimits(t.limits);
    for (const auto& p : t.read_only) builder.ReadOnly(p);
    for (auto layer : config.insecure_sandbox_without) {
      builder.Weaken(sandbox::InsecureWeakening::Without(layer));
    }
    auto policy = builder.Build();
    if (!policy.ok()) return policy.status().Within("target " + t.name);
    runner->targets_[t.name] = Target{&t, std::move(*policy)};
  }
  return runner;
}

nlohmann::json SandboxRunner::DescribeSandbox(const std::string& target) const {
  auto it = targets_.find(target);
  if (it == targets_.end()) return nullptr;
  return it->second.policy->Describe();
}

Result<ModuleOutcome> SandboxRunner::Call(const std::string& target,
                                          protocol::Op op,
                                          const std::string& id,
                                          const protocol::Action* action,
                                          nlohmann::json* summary) {
  auto it = targets_.find(target);
  if (it == targets_.end()) {
    return Status::NotFound("no target named \"" + target + "\"");
  }
  const Target& t = it->second;
  std::string request = EncodeRequest(*t.config, op, id, action);
  // The credential lives in memory only for this run, and not at all for
  // describe.
  std::string credential;
  if (op != protocol::Op::kDescribe) {
    auto c = ReadFileBounded(t.config->credential_file,
                             protocol::kMaxCredentialBytes);
    if (!c.ok()) return c.status().Within("credential for " + target);
    credential = std::move(*c);
  }
  auto run = t.policy->Run(request, credential);
  protocol::Wipe(credential);
  if (!run.ok()) {
    return Status::Unavailable("module " + target +
                               " did not run: " + run.status().message());
  }
  if (summary != nullptr) *summary = run->Summary();
  if (!run->violations.empty()) {
    const auto& v = run->violations.front();
    std::string what = v.layer + ": " + v.what + " (" + v.detail + ")";
    if (run->deadline_exceeded) {
      return Status::Unavailable("module " + target + " " + what);
    }
    return Status::PermissionDenied("module " + target +
                                    " violated its sandbox: " + what);
  }
  if (run->exit_code != 0) {
    std::string err = run->err.substr(0, 512);
    return Status::DataLoss("module " + target + " exited with " +
                            (run->signal != 0
                                 ? "signal " + std::to_string(run->signal)
                                 : "status " + std::to_string(run->exit_code)) +
                            (err.empty() ? "" : ": " + err));
  }
  ModuleOutcome outcome;
  if (summary != nullptr) outcome.sandbox = *summary;
  if (op == protocol::Op::kList) {
    return Status::Invalid("list is not run through Call");
  }
  auto response = protocol::Response::Decode(run->out, op, id);
  if (!response.ok()) {
    return Status::DataLoss("module " + target + " broke the protocol: " +
                            response.status().message());
  }
  outcome.response = std::move(*response);
  return outcome;
}

}  // namespace deputy::agent
