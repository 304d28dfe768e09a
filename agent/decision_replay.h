// The verifier rule "decision-reproduces": every gate.decision entry is
// re-decided from its recorded inputs with the signed scope of the same
// digest, and must come out the same. Lets an auditor prove offline that
// the executor acted only on decisions the signed policy gives.
// Not thread-safe (one verifier pass).
#pragma once

#include <map>
#include <string>

#include "agent/evidence/verifier.h"
#include "policy/gate.h"

namespace deputy::agent {

class DecisionReplayRule final : public evidence::Rule {
 public:
  // Gates keyed by the hex SHA-256 of their scope manifest's payload.
  explicit DecisionReplayRule(std::map<std::string, policy::Gate> gates)
      : gates_(std::move(gates)) {}

  std::string_view name() const override { return "decision-reproduces"; }
  Status OnEntry(const evidence::EntryView& entry) override;
  Status OnEnd(std::optional<std::uint64_t>&) override { return Status::Ok(); }

 private:
  std::map<std::string, policy::Gate> gates_;
};

}  // namespace deputy::agent
