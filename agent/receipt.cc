#include "agent/receipt.h"

#include <map>
#include <set>

#include "agent/evidence/entry.h"
#include "base/strict_json.h"

namespace deputy::agent {

Result<nlohmann::json> BuildReceipt(const TaskState& task,
                                    const evidence::SignedNote& note,
                                    std::uint64_t size,
                                    const Journal& journal) {
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& a : task.actions) {
    nlohmann::json j = {{"id", a.action.id},
                        {"target", a.action.target},
                        {"operation", a.action.operation},
                        {"resource", a.action.resource},
                        {"subject", a.action.subject},
                        {"outcome", std::string(ActionPhaseName(a.phase))}};
    if (!a.error.empty()) j["error"] = a.error;
    if (!a.checks.is_null()) j["checks"] = a.checks;
    if (!a.observed.is_null()) j["observed"] = a.observed;
    actions.push_back(std::move(j));
  }
  nlohmann::json entries = nlohmann::json::array();
  for (std::uint64_t seq : task.seqs) {
    if (seq >= size) {
      return Status::FailedPrecondition("entry " + std::to_string(seq) +
                                        " is not covered by checkpoint " +
                                        std::to_string(size));
    }
    ASSIGN_OR_RETURN(std::string line, journal.Line(seq));
    ASSIGN_OR_RETURN(auto path, journal.Prove(seq, size));
    evidence::InclusionProofFile proof;
    proof.index = seq;
    proof.proof = std::move(path);
    proof.extra = line;
    proof.checkpoint = note;
    entries.push_back({{"seq", seq}, {"proof", proof.Serialize()}});
  }
  nlohmann::json r = {
      {"format", std::string(kReceiptFormat)},
      {"version", 1},
      {"ticket", task.ticket},
      {"task", task.key},
      {"outcome", std::string(TaskPhaseName(task.phase))},
      {"actions", actions},
      {"notes", task.notes},
      {"checkpoint", note.Serialize()},
      {"entries", entries},
  };
  if (!task.reason.empty()) r["reason"] = task.reason;
  return r;
}

Result<ReceiptCheck> VerifyReceipt(std::string_view text,
                                   const keys::PublicKey& agent_key) {
  json::ParseOptions options;
  options.max_bytes = 16 << 20;
  ASSIGN_OR_RETURN(auto doc, json::ParseStrict(text, options));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  ASSIGN_OR_RETURN(std::string format, r.String("format"));
  if (format != kReceiptFormat) {
    return Status::Invalid("$.format: not a deputy receipt");
  }
  ASSIGN_OR_RETURN(std::int64_t version, r.Int("version"));
  if (version != 1) return Status::Invalid("$.version: unsupported");
  ASSIGN_OR_RETURN(const nlohmann::json* ticket, r.Object("ticket"));
  ASSIGN_OR_RETURN(std::string task, r.String("task"));
  ASSIGN_OR_RETURN(std::string outcome, r.String("outcome"));
  ASSIGN_OR_RETURN(const nlohmann::json* actions, r.Array("actions"));
  ASSIGN_OR_RETURN(const nlohmann::json* notes, r.Array("notes"));
  ASSIGN_OR_RETURN(std::string checkpoint_text, r.String("checkpoint"));
  ASSIGN_OR_RETURN(const nlohmann::json* entries, r.Array("entries"));
  ASSIGN_OR_RETURN(auto reason, r.OptionalString("reason"));
  RETURN_IF_ERROR(r.Finish());
  (void)notes;
  (void)reason;
  (void)ticket;

  // The one checkpoint every proof leads to, signed by the agent.
  ASSIGN_OR_RETURN(auto note, evidence::SignedNote::Parse(checkpoint_text));
  ASSIGN_OR_RETURN(auto cp, evidence::Checkpoint::ParseBody(note.text));
  RETURN_IF_ERROR(evidence::VerifyNote(note, cp.origin, agent_key)
                      .Within("receipt checkpoint"));

  // Every entry: proven, and the ticket's.
  struct Proven {
    std::string kind;
    nlohmann::json payload;
  };
  std::map<std::string, std::vector<Proven>> by_action;
  std::string task_outcome;
  bool received = false;
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string path = json::IndexPath("$.entries", i);
    ASSIGN_OR_RETURN(auto er, json::ObjectReader::Create((*entries)[i], path));
    ASSIGN_OR_RETURN(std::int64_t seq, er.Int("seq"));
    ASSIGN_OR_RETURN(std::string proof_text, er.String("proof"));
    RETURN_IF_ERROR(er.Finish());
    ASSIGN_OR_RETURN(auto proof,
                     evidence::InclusionProofFile::Parse(proof_text));
    if (proof.checkpoint.Serialize() != note.Serialize()) {
      return Status::DataLoss(path + ": proof leads to another checkpoint");
    }
    if (!proof.extra || proof.index != static_cast<std::uint64_t>(seq)) {
      return Status::DataLoss(path + ": proof is not for seq " +
                              std::to_string(seq));
    }
    if (!seen.insert(proof.index).second) {
      return Status::DataLoss(path + ": seq listed twice");
    }
    ASSIGN_OR_RETURN(auto entry, evidence::ParseEntry(*proof.extra));
    if (entry.seq != proof.index) {
      return Status::DataLoss(path + ": entry seq does not match the proof");
    }
    RETURN_IF_ERROR(evidence::VerifyInclusion(evidence::EntryHash(*proof.extra),
                                              proof.index, cp.size, proof.proof,
                                              cp.root)
                        .Within(path));
    if (!entry.task || *entry.task != task) {
      return Status::DataLoss(path + ": entry belongs to another task");
    }
    auto payload = nlohmann::json::parse(entry.payload, nullptr, false);
    if (entry.kind == "task.received") received = true;
    if (entry.kind == "task.done" && payload.is_object()) {
      task_outcome = payload.value("outcome", "");
    }
    if (entry.action) {
      by_action[*entry.action].push_back({entry.kind, payload});
    }
  }
  if (!received) {
    return Status::DataLoss("the receipt proves no task.received entry");
  }
  // What the receipt says must be what the proven entries record.
  std::string want = outcome == "done" ? "done" : "failed";
  if (task_outcome != want) {
    return Status::DataLoss("the receipt says \"" + outcome +
                            "\" but the proven task.done says \"" +
                            task_outcome + "\"");
  }
  for (std::size_t i = 0; i < actions->size(); ++i) {
    const auto& a = (*actions)[i];
    const std::string path = json::IndexPath("$.actions", i);
    if (!a.is_object() || !a.contains("id") || !a["id"].is_string() ||
        !a.contains("outcome") || !a["outcome"].is_string()) {
      return Status::Invalid(path + ": needs id and outcome");
    }
    const std::string id = a["id"].get<std::string>();
    const std::string claimed = a["outcome"].get<std::string>();
    bool proven_verified = false;
    for (const auto& p : by_action[id]) {
      if (p.kind == "action.verified" || p.kind == "action.recovered") {
        proven_verified =
            p.payload.is_object() && p.payload.value("satisfied", false);
        if (proven_verified && a.contains("observed") &&
            p.payload.value("observed", nlohmann::json()) != a["observed"]) {
          return Status::DataLoss(path +
                                  ": observed state differs from the proof");
        }
      }
    }
    if ((claimed == "verified") != proven_verified) {
      return Status::DataLoss(
          path + ": says \"" + claimed + "\" but its proven entries " +
          (proven_verified ? "show it verified" : "do not show it verified"));
    }
  }
  ReceiptCheck check;
  check.ticket = task;
  check.outcome = outcome;
  check.origin = cp.origin;
  check.tree_size = cp.size;
  check.entries = entries->size();
  check.actions = actions->size();
  return check;
}

}  // namespace deputy::agent
