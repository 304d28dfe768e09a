#include "policy/revocation.h"

#include <algorithm>
#include <utility>

#include "base/files.h"
#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::policy {
namespace {

using Json = nlohmann::json;

// Revocations and approvals are a few hundred bytes.
constexpr std::size_t kMaxSmallDocumentBytes = 64 * 1024;
constexpr std::size_t kMaxTextBytes = 4096;
// Bounds the state file read; ~200,000 used approvals.
constexpr std::size_t kMaxStateBytes = 16 * 1024 * 1024;
constexpr std::int64_t kStateVersion = 1;

Status Bad(const std::string& path, std::string_view why) {
  return Status::Invalid(path + ": " + std::string(why));
}

Result<std::string> ReadText(json::ObjectReader& r, std::string_view key) {
  ASSIGN_OR_RETURN(std::string text, r.String(key));
  if (text.empty() || text.size() > kMaxTextBytes) {
    return Bad(json::ChildPath(r.path(), key),
               "must be 1 to " + std::to_string(kMaxTextBytes) + " bytes");
  }
  return text;
}

Result<std::int64_t> ReadTime(json::ObjectReader& r, std::string_view key) {
  ASSIGN_OR_RETURN(std::string text, r.String(key));
  auto t = ParseRfc3339Seconds(text);
  if (!t.ok()) return t.status().Within(json::ChildPath(r.path(), key));
  return t;
}

// The distinct owners among `signers`, in signature order.
std::vector<std::string> OwnerNames(
    const TrustRoot& trust, const std::vector<keys::PublicKey>& signers) {
  std::vector<std::string> names;
  for (const auto& signer : signers) {
    const Principal* owner = trust.OwnerOfKey(signer);
    if (owner != nullptr &&
        std::find(names.begin(), names.end(), owner->name) == names.end()) {
      names.push_back(owner->name);
    }
  }
  return names;
}

Result<Revocation> ParseRevocation(std::string_view payload) {
  ASSIGN_OR_RETURN(
      Json doc,
      json::ParseStrict(payload, {.max_bytes = kMaxSmallDocumentBytes}));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  Revocation rev;
  ASSIGN_OR_RETURN(rev.agent, r.String("agent"));
  if (Status s = ValidatePrincipalName(rev.agent); !s.ok()) {
    return s.Within("$.agent");
  }
  ASSIGN_OR_RETURN(const Json* version, r.Any("scope_version"));
  if (version->is_string() && version->get_ref<const std::string&>() == "all") {
    rev.all = true;
  } else if (version->is_number_integer()) {
    ASSIGN_OR_RETURN(rev.scope_version, r.Int("scope_version"));
    if (rev.scope_version < 1) {
      return Bad("$.scope_version", "must be at least 1");
    }
  } else {
    return Bad("$.scope_version",
               "expected a positive integer or \"all\", found " +
                   std::string(json::TypeName(*version)));
  }
  ASSIGN_OR_RETURN(rev.reason, ReadText(r, "reason"));
  ASSIGN_OR_RETURN(rev.issued, ReadTime(r, "issued"));
  RETURN_IF_ERROR(r.Finish());
  return rev;
}

Result<Approval> ParseApproval(std::string_view payload) {
  ASSIGN_OR_RETURN(
      Json doc,
      json::ParseStrict(payload, {.max_bytes = kMaxSmallDocumentBytes}));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  Approval a;
  ASSIGN_OR_RETURN(a.action_digest, r.String("action_digest"));
  if (!IsSha256Hex(a.action_digest)) {
    return Bad("$.action_digest", "expected 64 lower-case hex digits");
  }
  ASSIGN_OR_RETURN(a.approver, r.String("approver"));
  if (Status s = ValidatePrincipalName(a.approver); !s.ok()) {
    return s.Within("$.approver");
  }
  ASSIGN_OR_RETURN(a.ticket, ReadText(r, "ticket"));
  ASSIGN_OR_RETURN(a.expires, ReadTime(r, "expires"));
  RETURN_IF_ERROR(r.Finish());
  return a;
}

// Reads an array of integers >= 1, refusing duplicates.
Result<std::set<std::int64_t>> ReadVersions(const Json& list,
                                            const std::string& path) {
  std::set<std::int64_t> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = json::IndexPath(path, i);
    if (!list[i].is_number_integer()) {
      return Bad(item, "expected an integer, found " +
                           std::string(json::TypeName(list[i])));
    }
    const auto v = list[i].get<std::int64_t>();
    if (v < 1) return Bad(item, "must be at least 1");
    if (!out.insert(v).second) return Bad(item, "duplicate version");
  }
  return out;
}

Result<std::set<std::string>> ReadDigests(const Json& list,
                                          const std::string& path) {
  std::set<std::string> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = json::IndexPath(path, i);
    if (!list[i].is_string() ||
        !IsSha256Hex(list[i].get_ref<const std::string&>())) {
      return Bad(item, "expected 64 lower-case hex digits");
    }
    if (!out.insert(list[i].get<std::string>()).second) {
      return Bad(item, "duplicate approval digest");
    }
  }
  return out;
}

Result<std::int64_t> ReadNonNegative(json::ObjectReader& r,
                                     std::string_view key) {
  ASSIGN_OR_RETURN(std::int64_t n, r.Int(key));
  if (n < 0) return Bad(json::ChildPath(r.path(), key), "must not be negative");
  return n;
}

}  // namespace

Result<Revocation> Revocation::Verify(const keys::Envelope& envelope,
                                      const TrustRoot& trust) {
  auto verified =
      keys::VerifyEnvelope(envelope, trust.OwnerKeyring(), kRevocationType);
  if (!verified.ok()) return verified.status().Within("revocation");
  const std::vector<std::string> owners = OwnerNames(trust, verified->signers);
  if (owners.empty() ||
      static_cast<int>(owners.size()) < trust.thresholds().revocation) {
    return Status::PermissionDenied(
        "revocation signed by " + std::to_string(owners.size()) +
        " owner(s), needs " + std::to_string(trust.thresholds().revocation));
  }
  auto rev = ParseRevocation(envelope.payload);
  if (!rev.ok()) return rev.status().Within("revocation");
  if (trust.FindAgent(rev->agent) == nullptr) {
    return Status::PermissionDenied("revocation for \"" + rev->agent +
                                    "\", which is not an agent of the "
                                    "trust root");
  }
  rev->signed_by = owners.front();
  return rev;
}

Result<Approval> Approval::Verify(const keys::Envelope& envelope,
                                  const TrustRoot& trust) {
  auto verified =
      keys::VerifyEnvelope(envelope, trust.OwnerKeyring(), kApprovalType);
  if (!verified.ok()) return verified.status().Within("approval");
  auto approval = ParseApproval(envelope.payload);
  if (!approval.ok()) return approval.status().Within("approval");
  const Principal* approver = trust.FindOwner(approval->approver);
  if (approver == nullptr) {
    return Status::PermissionDenied("approval names \"" + approval->approver +
                                    "\", who is not an owner");
  }
  // An approval is one person's word: every signature on it must be that
  // owner's, so it cannot be read as someone else's consent.
  if (verified->unknown_signatures != 0) {
    return Status::PermissionDenied(
        "approval carries a signature by a key that is not an owner's");
  }
  for (const auto& signer : verified->signers) {
    const Principal* owner = trust.OwnerOfKey(signer);
    if (owner != approver) {
      return Status::PermissionDenied(
          "approval names \"" + approval->approver + "\" but is signed by \"" +
          (owner != nullptr ? owner->name : signer.name()) + "\"");
    }
  }
  approval->envelope_digest = keys::Sha256Hex(AsBytes(envelope.payload));
  return approval;
}

Result<PolicyState> PolicyState::Load(const std::string& path) {
  PolicyState state(path);
  auto text = ReadFileBounded(path, kMaxStateBytes);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return state;
    return text.status().Within("policy state");
  }
  auto parsed = [&]() -> Status {
    ASSIGN_OR_RETURN(Json doc,
                     json::ParseStrict(*text, {.max_bytes = kMaxStateBytes}));
    ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
    ASSIGN_OR_RETURN(std::int64_t version, r.Int("version"));
    if (version != kStateVersion) {
      return Bad("$.version", "unsupported version " + std::to_string(version));
    }
    ASSIGN_OR_RETURN(state.highest_,
                     ReadNonNegative(r, "highest_scope_version"));
    ASSIGN_OR_RETURN(const Json* revoked, r.Array("revoked"));
    ASSIGN_OR_RETURN(state.revoked_, ReadVersions(*revoked, "$.revoked"));
    ASSIGN_OR_RETURN(state.revoked_all_upto_,
                     ReadNonNegative(r, "revoked_all_upto"));
    ASSIGN_OR_RETURN(const Json* used, r.Array("used_approvals"));
    ASSIGN_OR_RETURN(state.used_approvals_,
                     ReadDigests(*used, "$.used_approvals"));
    return r.Finish();
  }();
  // Fail closed: a damaged file must not become a fresh, empty state that
  // would accept an old manifest or a used approval again.
  if (!parsed.ok()) {
    return Status::DataLoss("policy state " + path +
                            " is corrupt: " + parsed.message());
  }
  return state;
}

bool PolicyState::IsRevoked(std::int64_t scope_version) const {
  return scope_version <= revoked_all_upto_ || revoked_.contains(scope_version);
}

bool PolicyState::ApprovalUsed(std::string_view envelope_digest) const {
  return used_approvals_.contains(std::string(envelope_digest));
}

Status PolicyState::RecordScopeAccepted(std::int64_t version) {
  if (version <= highest_) {
    return Status::PermissionDenied(
        "rollback: version " + std::to_string(version) +
        " is not above the highest accepted " + std::to_string(highest_));
  }
  if (IsRevoked(version)) {
    return Status::PermissionDenied("scope version " + std::to_string(version) +
                                    " is revoked");
  }
  RETURN_IF_ERROR(Save(version, revoked_, revoked_all_upto_, used_approvals_));
  highest_ = version;
  return Status::Ok();
}

Status PolicyState::RecordRevocation(const Revocation& revocation) {
  std::set<std::int64_t> revoked = revoked_;
  std::int64_t all_upto = revoked_all_upto_;
  if (revocation.all) {
    all_upto = std::max(highest_, revoked_all_upto_);
  } else {
    if (revocation.scope_version < 1) {
      return Status::Invalid("revocation of scope version " +
                             std::to_string(revocation.scope_version));
    }
    revoked.insert(revocation.scope_version);
  }
  RETURN_IF_ERROR(Save(highest_, revoked, all_upto, used_approvals_));
  revoked_ = std::move(revoked);
  revoked_all_upto_ = all_upto;
  return Status::Ok();
}

Status PolicyState::RecordApprovalUsed(std::string_view envelope_digest) {
  if (!IsSha256Hex(envelope_digest)) {
    return Status::Invalid("approval digest must be 64 lower-case hex digits");
  }
  if (ApprovalUsed(envelope_digest)) {
    return Status::AlreadyExists("approval " + std::string(envelope_digest) +
                                 " was already used");
  }
  std::set<std::string> used = used_approvals_;
  used.emplace(envelope_digest);
  RETURN_IF_ERROR(Save(highest_, revoked_, revoked_all_upto_, used));
  used_approvals_ = std::move(used);
  return Status::Ok();
}

Status PolicyState::Save(std::int64_t highest,
                         const std::set<std::int64_t>& revoked,
                         std::int64_t revoked_all_upto,
                         const std::set<std::string>& used) const {
  Json doc = {{"version", kStateVersion},
              {"highest_scope_version", highest},
              {"revoked", Json(revoked)},
              {"revoked_all_upto", revoked_all_upto},
              {"used_approvals", Json(used)}};
  Status s =
      WriteFileAtomic(path_, doc.dump() + "\n", 0600, Overwrite::kReplace);
  if (!s.ok()) return s.Within("policy state");
  return Status::Ok();
}

}  // namespace deputy::policy
