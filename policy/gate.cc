#include "policy/gate.h"

#include <algorithm>
#include <exception>

#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::policy {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

bool ValidIdentifier(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

bool InWindow(const std::vector<TimeWindow>& windows, std::int64_t now) {
  constexpr std::int64_t kMicrosPerMinute = 60LL * 1000000;
  std::int64_t minutes = now / kMicrosPerMinute;
  if (now < 0 && now % kMicrosPerMinute != 0) --minutes;
  std::int64_t days = minutes / 1440;
  int minute = static_cast<int>(minutes % 1440);
  if (minute < 0) {
    minute += 1440;
    --days;
  }
  // 1970-01-01 was a Thursday: Monday = 0 makes it day 3.
  int weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);
  int yesterday = (weekday + 6) % 7;
  for (const auto& w : windows) {
    if (w.start_minute < w.end_minute) {
      if ((w.days >> weekday & 1) && minute >= w.start_minute &&
          minute < w.end_minute) {
        return true;
      }
    } else {
      // Overnight: the part after start belongs to today's window, the
      // part before end to yesterday's.
      if ((w.days >> weekday & 1) && minute >= w.start_minute) return true;
      if ((w.days >> yesterday & 1) && minute < w.end_minute) return true;
    }
  }
  return false;
}

bool HasOperation(const std::vector<std::string>& ops, std::string_view op) {
  for (const auto& o : ops) {
    if (o == op || o == "*") return true;
  }
  return false;
}

Decision Deny(std::string reason, std::string clause) {
  Decision d;
  d.effect = Effect::kDeny;
  d.reasons.push_back(std::move(reason));
  d.failed_clause = std::move(clause);
  return d;
}

}  // namespace

std::string_view EffectName(Effect effect) {
  switch (effect) {
    case Effect::kAllow:
      return "allow";
    case Effect::kDeny:
      return "deny";
    case Effect::kNeedsApproval:
      return "needs_approval";
  }
  return "deny";
}

bool IsDeletion(std::string_view operation) {
  return operation.rfind("delete", 0) == 0 || operation.rfind("drop", 0) == 0;
}

namespace {

// The canonical DN and its canonical ancestors, nearest first: tails of
// the canonical string, which joins RDNs with ','.
std::string CanonicalWithAncestors(const Dn& dn,
                                   std::vector<std::string>* ancestors) {
  std::vector<std::size_t> starts;
  std::string canonical = dn.Canonical(&starts);
  if (ancestors != nullptr) {
    ancestors->clear();
    for (std::size_t i = 1; i < starts.size(); ++i) {
      ancestors->push_back(canonical.substr(starts[i]));
    }
  }
  return canonical;
}

}  // namespace

std::string NormaliseResource(std::string_view text,
                              std::vector<std::string>* ancestors) {
  if (ancestors != nullptr) ancestors->clear();
  std::string trimmed = Trim(text);
  if (trimmed.find('=') != std::string::npos) {
    auto dn = Dn::Parse(trimmed);
    if (dn.ok() && !dn->empty()) return CanonicalWithAncestors(*dn, ancestors);
  }
  return Lower(trimmed);
}

// --- Action, Counters, Decision serialisation --------------------------------

nlohmann::json Action::ToJson() const {
  return {{"target", target},     {"operation", operation},
          {"resource", resource}, {"subject", subject},
          {"task", task},         {"requester", requester}};
}

Result<Action> Action::FromJson(const nlohmann::json& json) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(json, "$"));
  Action a;
  ASSIGN_OR_RETURN(a.target, r.String("target"));
  ASSIGN_OR_RETURN(a.operation, r.String("operation"));
  ASSIGN_OR_RETURN(a.resource, r.String("resource"));
  ASSIGN_OR_RETURN(auto subject, r.OptionalString("subject"));
  ASSIGN_OR_RETURN(auto task, r.OptionalString("task"));
  ASSIGN_OR_RETURN(auto requester, r.OptionalString("requester"));
  RETURN_IF_ERROR(r.Finish());
  a.subject = subject.value_or("");
  a.task = task.value_or("");
  a.requester = requester.value_or("");
  return a;
}

std::string Action::Digest() const {
  return keys::Sha256Hex(AsBytes(
      ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

nlohmann::json Counters::ToJson() const {
  return {{"actions_last_hour", actions_last_hour},
          {"deletions_last_day", deletions_last_day},
          {"grant_actions_last_hour", grant_actions_last_hour}};
}

Result<Counters> Counters::FromJson(const nlohmann::json& json) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(json, "$"));
  Counters c;
  ASSIGN_OR_RETURN(c.actions_last_hour, r.Int("actions_last_hour"));
  ASSIGN_OR_RETURN(c.deletions_last_day, r.Int("deletions_last_day"));
  ASSIGN_OR_RETURN(const nlohmann::json* grants,
                   r.Object("grant_actions_last_hour"));
  RETURN_IF_ERROR(r.Finish());
  for (const auto& [id, n] : grants->items()) {
    if (!n.is_number_integer()) {
      return Status::Invalid("$.grant_actions_last_hour." + id +
                             ": expected an integer");
    }
    c.grant_actions_last_hour[id] = n.get<std::int64_t>();
  }
  return c;
}

nlohmann::json Decision::ToJson() const {
  nlohmann::json j = {{"effect", EffectName(effect)},
                      {"reasons", reasons},
                      {"grants", grants},
                      {"scope_digest", scope_digest},
                      {"scope_version", scope_version}};
  if (!failed_clause.empty()) j["failed_clause"] = failed_clause;
  return j;
}

std::string Decision::Explain(const Action& action) const {
  std::string out = "decision: " + std::string(EffectName(effect)) + "\n";
  out += "action:   " + action.operation + " on " + action.target + " " +
         action.resource;
  if (!action.subject.empty() && action.subject != action.resource) {
    out += " (subject " + action.subject + ")";
  }
  out += "\n";
  if (!action.task.empty()) {
    out += "ticket:   " + action.task + " requested by " +
           (action.requester.empty() ? "-" : action.requester) + "\n";
  }
  out += "reasons:  ";
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    out += (i ? ", " : "") + reasons[i];
  }
  out += "\n";
  if (!grants.empty()) {
    out += "grants:   ";
    for (std::size_t i = 0; i < grants.size(); ++i) {
      out += (i ? ", " : "") + grants[i];
    }
    out += "\n";
  }
  if (!failed_clause.empty()) out += "failed:   " + failed_clause + "\n";
  out += "scope:    version " + std::to_string(scope_version) + ", sha256 " +
         (scope_digest.empty() ? "-" : scope_digest) + "\n";
  return out;
}

// --- Gate
// ----------------------------------------------------------------------

void Gate::AddPattern(const ResourcePattern& pattern, std::size_t index,
                      bool forbid) {
  switch (pattern.kind) {
    case ResourcePattern::Kind::kSubtree: {
      auto& k = keys_[pattern.subtree->Canonical()];
      (forbid ? k.forbid_subtree : k.grant_subtree).push_back(index);
      break;
    }
    case ResourcePattern::Kind::kList:
      for (const auto& v : pattern.values) {
        auto& k = keys_[v];
        (forbid ? k.forbid_exact : k.grant_exact).push_back(index);
      }
      break;
    case ResourcePattern::Kind::kNames:
      for (const auto& g : pattern.globs) {
        (forbid ? forbid_globs_ : grant_globs_).Add(g, index);
      }
      break;
  }
}

void Gate::GlobIndex::Add(const std::string& g, std::size_t index) {
  std::size_t n = std::min(g.find_first_of("*?"), g.size());
  n = std::min(n, kGlobPrefix);
  auto bucket = std::find_if(buckets.begin(), buckets.end(),
                             [&](auto& b) { return b.prefix_length == n; });
  if (bucket == buckets.end()) {
    buckets.push_back(GlobBucket{n, {}});
    std::sort(buckets.begin(), buckets.end(), [](auto& a, auto& b) {
      return a.prefix_length < b.prefix_length;
    });
    bucket = std::find_if(buckets.begin(), buckets.end(),
                          [&](auto& b) { return b.prefix_length == n; });
  }
  std::size_t last = g.find_last_of("*?");
  std::string suffix =
      last == std::string::npos ? std::string() : g.substr(last + 1);
  bucket->by_prefix[g.substr(0, n)].push_back({g, suffix, index});
}

template <typename Fn>
void Gate::GlobIndex::ForEachMatch(std::string_view canonical, Fn&& fn) const {
  // Globs and canonical resources are both lower case, so the prefix and
  // the tail are compared exactly; the match itself still folds case.
  for (const auto& bucket : buckets) {
    if (canonical.size() < bucket.prefix_length) break;
    auto it = bucket.by_prefix.find(canonical.substr(0, bucket.prefix_length));
    if (it == bucket.by_prefix.end()) continue;
    for (const auto& g : it->second) {
      if (g.suffix.size() > canonical.size() ||
          canonical.compare(canonical.size() - g.suffix.size(), g.suffix.size(),
                            g.suffix) != 0) {
        continue;
      }
      if (GlobMatch(g.glob, canonical, /*fold_case=*/true)) fn(g.index);
    }
  }
}

Result<Gate> Gate::Create(const TrustRoot& trust, std::string agent_id,
                          const ScopeManifest* scope) {
  const AgentIdentity* agent = trust.FindAgent(agent_id);
  if (agent == nullptr) {
    return Status::PermissionDenied("agent " + agent_id +
                                    " is not in the trust root");
  }
  Gate g;
  g.agent_id_ = std::move(agent_id);
  g.agent_identities_.insert(NormaliseResource(g.agent_id_));
  for (const auto& account : agent->accounts) {
    g.agent_identities_.insert(NormaliseResource(account));
  }
  for (const auto& owner : trust.owners()) {
    g.owner_names_.insert(Lower(owner.name));
    g.owner_identities_.insert(NormaliseResource(owner.name));
    for (const auto& account : owner.accounts) {
      g.owner_identities_.insert(NormaliseResource(account));
    }
  }
  if (scope != nullptr) {
    g.has_scope_ = true;
    g.scope_agent_ = scope->agent();
    g.not_before_ = scope->not_before();
    g.expires_ = scope->expires();
    g.scope_digest_ = scope->digest();
    g.scope_version_ = scope->version();
    g.grants_ = scope->grants();
    g.forbids_ = scope->forbids();
    g.actions_per_hour_ = scope->actions_per_hour();
    g.deletions_per_day_ = scope->deletions_per_day();
    g.windows_ = scope->windows();
    for (std::size_t i = 0; i < g.grants_.size(); ++i) {
      g.AddPattern(g.grants_[i].resources, i, /*forbid=*/false);
    }
    for (std::size_t i = 0; i < g.forbids_.size(); ++i) {
      g.AddPattern(g.forbids_[i].resources, i, /*forbid=*/true);
    }
  }
  return g;
}

Decision Gate::Decide(const Action& action, const DecisionContext& ctx) const {
  Decision d;
  try {
    d = DecideOrThrow(action, ctx);
  } catch (const std::exception& e) {
    // Fail closed: whatever went wrong, the answer is no.
    d = Deny("internal_error", std::string("internal: ") + e.what());
  }
  d.scope_digest = scope_digest_;
  d.scope_version = scope_version_;
  return d;
}

Decision Gate::DecideOrThrow(const Action& action,
                             const DecisionContext& ctx) const {
  // 1. A well-formed action, normalised.
  const std::string target = Lower(Trim(action.target));
  const std::string op = Lower(Trim(action.operation));
  if (!ValidIdentifier(target) || !ValidIdentifier(op)) {
    return Deny("invalid_action", "target and operation must be identifiers");
  }
  if (Trim(action.resource).empty()) {
    return Deny("invalid_action", "resource is empty");
  }
  // A DN outside plain ASCII could name an entry the server folds to a
  // protected one (fullwidth letters, the Kelvin sign, hex-encoded values)
  // while no pattern here matches it: refuse rather than guess.
  // Each DN is parsed once: checked here, then normalised from the parse.
  // Ancestors are views into the canonical string: no copy per level.
  auto normalise = [](const std::string& text,
                      std::vector<std::string_view>& ancestors,
                      std::string& out) -> std::optional<Decision> {
    ancestors.clear();
    if (text.find('=') == std::string::npos) {
      out = Lower(Trim(text));
      return std::nullopt;
    }
    auto dn = Dn::Parse(Trim(text));
    if (!dn.ok()) {
      return Deny("invalid_action", "not a valid DN: " + dn.status().message());
    }
    if (!dn->IsPlainAscii()) {
      return Deny("non_ascii_dn",
                  "DNs outside plain ASCII are refused: their matching on "
                  "the server cannot be reproduced here");
    }
    if (dn->empty()) {
      out = Lower(Trim(text));
      return std::nullopt;
    }
    std::vector<std::size_t> starts;
    out = dn->Canonical(&starts);
    for (std::size_t i = 1; i < starts.size(); ++i) {
      ancestors.push_back(std::string_view(out).substr(starts[i]));
    }
    return std::nullopt;
  };
  std::vector<std::string_view> ancestors;
  std::string resource;
  std::vector<std::string_view> subject_ancestors;
  std::string subject;
  if (auto refused = normalise(action.resource, ancestors, resource)) {
    return *refused;
  }
  if (!action.subject.empty()) {
    if (auto refused = normalise(action.subject, subject_ancestors, subject)) {
      return *refused;
    }
  }

  // 2. Invariants no manifest can lift.
  if (target == "deputy") {
    return Deny("invariant_trust_root",
                "invariant: the agent never acts on itself, its trust root "
                "or any key");
  }
  for (const std::string* id : {&resource, &subject}) {
    if (id->empty()) continue;
    if (agent_identities_.count(*id) != 0) {
      return Deny("invariant_agent_self",
                  "invariant: the agent never acts on its own identity or "
                  "accounts (" +
                      *id + ")");
    }
    if (owner_identities_.count(*id) != 0) {
      return Deny("invariant_owner_account",
                  "invariant: the agent never acts on its owners' accounts (" +
                      *id + ")");
    }
  }

  // 3. A manifest that is installed, not revoked, valid now, for us.
  if (!has_scope_) return Deny("no_scope", "no scope manifest is installed");
  if (ctx.scope_revoked) {
    return Deny("scope_revoked", "scope version " +
                                     std::to_string(scope_version_) +
                                     " was revoked by an owner");
  }
  if (scope_agent_ != agent_id_) {
    return Deny("scope_other_agent", "the scope is for agent " + scope_agent_);
  }
  if (ctx.now_micros < not_before_) {
    return Deny("scope_not_yet_valid", "the scope is not valid before " +
                                           FormatRfc3339Seconds(not_before_));
  }
  if (ctx.now_micros >= expires_) {
    return Deny("scope_expired", "the scope expired at " +
                                     FormatRfc3339Seconds(expires_) +
                                     ": the agent is frozen");
  }
  if (!windows_.empty() && !InWindow(windows_, ctx.now_micros)) {
    return Deny("outside_time_window",
                "the time is outside every window of the scope");
  }

  // 4. Forbids win over any grant: the first forbid that matches the
  // resource or the subject.
  std::optional<std::size_t> forbidden;
  auto consider_forbid = [&](std::size_t i) {
    const Forbid& f = forbids_[i];
    if ((f.target == "*" || f.target == target) &&
        HasOperation(f.operations, op) && (!forbidden || i < *forbidden)) {
      forbidden = i;
    }
  };
  std::vector<std::size_t> matched;
  auto consider_grant = [&](std::size_t i) {
    const Grant& g = grants_[i];
    if (g.target == target && HasOperation(g.operations, op) &&
        std::find(matched.begin(), matched.end(), i) == matched.end()) {
      matched.push_back(i);
    }
  };
  // One lookup per key (the resource, each ancestor, the root DN) finds
  // the forbids and grants of that key at once.
  auto lookup = [&](std::string_view canonical,
                    const std::vector<std::string_view>& above, bool grants) {
    if (auto it = keys_.find(canonical); it != keys_.end()) {
      for (auto i : it->second.forbid_exact) consider_forbid(i);
      for (auto i : it->second.forbid_subtree) consider_forbid(i);
      if (grants) {
        for (auto i : it->second.grant_exact) consider_grant(i);
        for (auto i : it->second.grant_subtree) consider_grant(i);
      }
    }
    auto subtree = [&](std::string_view key) {
      auto it = keys_.find(key);
      if (it == keys_.end()) return;
      for (auto i : it->second.forbid_subtree) consider_forbid(i);
      if (grants) {
        for (auto i : it->second.grant_subtree) consider_grant(i);
      }
    };
    for (auto a : above) subtree(a);
    // The root DN (canonical "") contains every DN. Anything with '=' is
    // treated as a DN here: for a forbid that errs towards denying.
    if (canonical.find('=') != std::string_view::npos) subtree("");
    forbid_globs_.ForEachMatch(canonical, consider_forbid);
    if (grants) grant_globs_.ForEachMatch(canonical, consider_grant);
  };
  lookup(resource, ancestors, /*grants=*/true);
  if (!subject.empty() && subject != resource) {
    lookup(subject, subject_ancestors, /*grants=*/false);
  }
  if (forbidden) {
    return Deny("forbidden", "forbid:" + forbids_[*forbidden].id);
  }

  // 5. Grants: every grant for this target, operation and resource.
  if (matched.empty()) {
    return Deny("no_matching_grant",
                "no grant covers " + op + " on " + target + " " + resource);
  }
  std::sort(matched.begin(), matched.end());
  Decision d;
  for (std::size_t i : matched) d.grants.push_back(grants_[i].id);

  // 6. The blast radius: global and per-grant limits.
  if (actions_per_hour_ &&
      ctx.counters.actions_last_hour + 1 > *actions_per_hour_) {
    Decision deny =
        Deny("rate_limit", "limits.actions_per_hour (" +
                               std::to_string(*actions_per_hour_) + ")");
    deny.grants = d.grants;
    return deny;
  }
  if (IsDeletion(op) && deletions_per_day_ &&
      ctx.counters.deletions_last_day + 1 > *deletions_per_day_) {
    Decision deny =
        Deny("deletion_limit", "limits.deletions_per_day (" +
                                   std::to_string(*deletions_per_day_) + ")");
    deny.grants = d.grants;
    return deny;
  }
  std::vector<std::size_t> usable;
  for (std::size_t i : matched) {
    const Grant& g = grants_[i];
    auto used = ctx.counters.grant_actions_last_hour.find(g.id);
    std::int64_t n =
        used == ctx.counters.grant_actions_last_hour.end() ? 0 : used->second;
    if (!g.per_hour || n + 1 <= *g.per_hour) usable.push_back(i);
  }
  if (usable.empty()) {
    Decision deny =
        Deny("grant_rate_limit",
             "grant:" + grants_[matched.front()].id + " limits.per_hour");
    deny.grants = d.grants;
    return deny;
  }

  // 7. Approval: not needed if any usable grant allows the action alone.
  bool needs_approval = std::all_of(usable.begin(), usable.end(), [&](auto i) {
    return grants_[i].needs_approval;
  });
  if (!needs_approval) {
    d.effect = Effect::kAllow;
    d.reasons.push_back("grant_matched");
    return d;
  }
  if (ctx.approval == nullptr) {
    d.effect = Effect::kNeedsApproval;
    d.reasons.push_back("approval_required");
    return d;
  }
  const Approval& a = *ctx.approval;
  auto deny_approval = [&](std::string reason, std::string why) {
    Decision deny = Deny(std::move(reason), std::move(why));
    deny.grants = d.grants;
    return deny;
  };
  if (a.action_digest != action.Digest()) {
    return deny_approval("approval_other_action",
                         "the approval is for a different action");
  }
  if (ctx.now_micros >= a.expires) {
    return deny_approval(
        "approval_expired",
        "the approval expired at " + FormatRfc3339Seconds(a.expires));
  }
  if (ctx.approval_used) {
    return deny_approval("approval_replayed",
                         "the approval was already used once");
  }
  if (owner_names_.count(Lower(a.approver)) == 0) {
    return deny_approval("approver_not_owner",
                         "the approver " + a.approver + " is not an owner");
  }
  if (!action.requester.empty() &&
      Lower(a.approver) == Lower(action.requester)) {
    return deny_approval("approver_is_requester",
                         "the requester of a ticket cannot approve it");
  }
  if (a.ticket != action.task) {
    return deny_approval("approval_other_ticket",
                         "the approval is for ticket " + a.ticket);
  }
  d.effect = Effect::kAllow;
  d.reasons.push_back("grant_matched");
  d.reasons.push_back("approved_by:" + a.approver);
  return d;
}

}  // namespace deputy::policy

namespace deputy::policy {
namespace {

Result<std::vector<std::string>> StringArray(const nlohmann::json& j,
                                             std::string_view what) {
  if (!j.is_array()) {
    return Status::Invalid(std::string(what) + ": expected an array");
  }
  std::vector<std::string> out;
  for (const auto& x : j) {
    if (!x.is_string()) {
      return Status::Invalid(std::string(what) + ": expected strings");
    }
    out.push_back(x.get<std::string>());
  }
  return out;
}

}  // namespace

nlohmann::json DecisionRecord(const Action& action, const DecisionContext& ctx,
                              const Decision& decision) {
  nlohmann::json inputs = {{"action", action.ToJson()},
                           {"now_micros", ctx.now_micros},
                           {"counters", ctx.counters.ToJson()},
                           {"scope_revoked", ctx.scope_revoked},
                           {"approval_used", ctx.approval_used},
                           {"approval", nullptr}};
  if (ctx.approval != nullptr) {
    inputs["approval"] = {{"action_digest", ctx.approval->action_digest},
                          {"approver", ctx.approval->approver},
                          {"ticket", ctx.approval->ticket},
                          {"expires_micros", ctx.approval->expires},
                          {"envelope_digest", ctx.approval->envelope_digest}};
  }
  nlohmann::json record = decision.ToJson();
  record["inputs"] = std::move(inputs);
  return record;
}

Status ReplayDecision(const Gate& gate, const nlohmann::json& record) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(record, "$"));
  ASSIGN_OR_RETURN(std::string effect, r.String("effect"));
  ASSIGN_OR_RETURN(const nlohmann::json* reasons_json, r.Array("reasons"));
  ASSIGN_OR_RETURN(const nlohmann::json* grants_json, r.Array("grants"));
  ASSIGN_OR_RETURN(auto failed_clause, r.OptionalString("failed_clause"));
  ASSIGN_OR_RETURN(std::string scope_digest, r.String("scope_digest"));
  ASSIGN_OR_RETURN(std::int64_t scope_version, r.Int("scope_version"));
  ASSIGN_OR_RETURN(const nlohmann::json* inputs, r.Object("inputs"));
  RETURN_IF_ERROR(r.Finish());
  ASSIGN_OR_RETURN(auto reasons, StringArray(*reasons_json, "$.reasons"));
  ASSIGN_OR_RETURN(auto grants, StringArray(*grants_json, "$.grants"));

  ASSIGN_OR_RETURN(auto in, json::ObjectReader::Create(*inputs, "$.inputs"));
  ASSIGN_OR_RETURN(const nlohmann::json* action_json, in.Object("action"));
  ASSIGN_OR_RETURN(Action action, Action::FromJson(*action_json));
  DecisionContext ctx;
  ASSIGN_OR_RETURN(ctx.now_micros, in.Int("now_micros"));
  ASSIGN_OR_RETURN(const nlohmann::json* counters, in.Object("counters"));
  ASSIGN_OR_RETURN(ctx.counters, Counters::FromJson(*counters));
  ASSIGN_OR_RETURN(ctx.scope_revoked, in.Bool("scope_revoked"));
  ASSIGN_OR_RETURN(ctx.approval_used, in.Bool("approval_used"));
  ASSIGN_OR_RETURN(const nlohmann::json* approval_json, in.Any("approval"));
  RETURN_IF_ERROR(in.Finish());
  Approval approval;
  if (!approval_json->is_null()) {
    ASSIGN_OR_RETURN(auto a, json::ObjectReader::Create(*approval_json,
                                                        "$.inputs.approval"));
    ASSIGN_OR_RETURN(approval.action_digest, a.String("action_digest"));
    ASSIGN_OR_RETURN(approval.approver, a.String("approver"));
    ASSIGN_OR_RETURN(approval.ticket, a.String("ticket"));
    ASSIGN_OR_RETURN(approval.expires, a.Int("expires_micros"));
    ASSIGN_OR_RETURN(approval.envelope_digest, a.String("envelope_digest"));
    RETURN_IF_ERROR(a.Finish());
    ctx.approval = &approval;
  }

  Decision again = gate.Decide(action, ctx);
  std::string diff;
  if (again.scope_digest != scope_digest ||
      again.scope_version != scope_version) {
    diff = "recorded under scope " + scope_digest.substr(0, 16) + " v" +
           std::to_string(scope_version) + ", replayed under " +
           again.scope_digest.substr(0, 16) + " v" +
           std::to_string(again.scope_version);
  } else if (std::string(EffectName(again.effect)) != effect) {
    diff = "recorded " + effect + ", the gate says " +
           std::string(EffectName(again.effect));
  } else if (again.reasons != reasons) {
    diff = "reasons differ";
  } else if (again.grants != grants) {
    diff = "matched grants differ";
  } else if (again.failed_clause != failed_clause.value_or("")) {
    diff = "failed clause differs";
  }
  if (!diff.empty()) {
    return Status::DataLoss("decision does not reproduce: " + diff);
  }
  return Status::Ok();
}

}  // namespace deputy::policy
