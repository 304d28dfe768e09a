#include "agent/decision_replay.h"

#include "base/strict_json.h"

namespace deputy::agent {

Status DecisionReplayRule::OnEntry(const evidence::EntryView& entry) {
  if (entry.kind != "gate.decision") return Status::Ok();
  ASSIGN_OR_RETURN(nlohmann::json record, json::ParseStrict(entry.payload));
  if (!record.is_object() || !record.contains("inputs")) {
    return Status::FailedPrecondition(
        "gate.decision carries no inputs and cannot be replayed");
  }
  auto digest = record.find("scope_digest");
  if (digest == record.end() || !digest->is_string()) {
    return Status::Invalid("gate.decision without scope_digest");
  }
  auto gate = gates_.find(digest->get<std::string>());
  if (gate == gates_.end()) {
    return Status::NotFound("the decision was made under scope " +
                            digest->get<std::string>() +
                            ", which was not given (--scope)");
  }
  return policy::ReplayDecision(gate->second, record);
}

}  // namespace deputy::agent
