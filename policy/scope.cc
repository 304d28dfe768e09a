#include "policy/scope.h"

#include <algorithm>
#include <set>
#include <utility>

#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::policy {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxPatternBytes = 4096;
constexpr int kMinutesPerDay = 24 * 60;
constexpr std::int64_t kMicrosPerMinute = 60'000'000;
constexpr std::string_view kDayNames[] = {"mon", "tue", "wed", "thu",
                                          "fri", "sat", "sun"};

// Grants may not use wildcards where forbids may.
enum class Rule { kGrant, kForbid };

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}
bool IsOperationChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
bool IsTargetChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool AllOf(std::string_view text, bool (*pred)(char)) {
  return std::all_of(text.begin(), text.end(), pred);
}

std::size_t CountWildcards(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return c == '*' || c == '?'; }));
}

Status Bad(const std::string& path, std::string_view why) {
  return Status::Invalid(path + ": " + std::string(why));
}

// The strings of a non-empty array, each non-empty and at most `max_bytes`.
Result<std::vector<std::string>> ReadStrings(const Json& list,
                                             const std::string& path,
                                             std::size_t max_bytes) {
  if (list.empty()) return Bad(path, "must not be empty");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item_path = json::IndexPath(path, i);
    if (!list[i].is_string()) {
      return Bad(item_path, "expected a string, found " +
                                std::string(json::TypeName(list[i])));
    }
    const auto& text = list[i].get_ref<const std::string&>();
    if (text.empty() || text.size() > max_bytes) {
      return Bad(item_path,
                 "must be 1 to " + std::to_string(max_bytes) + " bytes");
    }
    out.push_back(text);
  }
  return out;
}

Result<std::string> ReadId(json::ObjectReader& r) {
  ASSIGN_OR_RETURN(std::string id, r.String("id"));
  if (id.empty() || id.size() > kMaxIdBytes || !AllOf(id, IsIdChar)) {
    return Bad(json::ChildPath(r.path(), "id"),
               "an id is 1 to 64 of [A-Za-z0-9._-]");
  }
  return id;
}

Result<std::string> ReadTarget(json::ObjectReader& r, Rule rule) {
  ASSIGN_OR_RETURN(std::string target, r.String("target"));
  const bool any =
      rule == Rule::kForbid && target.size() == 1 && target[0] == '*';
  if (!any && (target.empty() || target.size() > kMaxIdBytes ||
               !AllOf(target, IsTargetChar))) {
    return Bad(json::ChildPath(r.path(), "target"),
               rule == Rule::kForbid
                   ? "a target is 1 to 64 of [a-z0-9_-], or \"*\""
                   : "a target is 1 to 64 of [a-z0-9_-]");
  }
  return target;
}

Result<std::vector<std::string>> ReadOperations(json::ObjectReader& r,
                                                Rule rule) {
  ASSIGN_OR_RETURN(const Json* list, r.Array("operations"));
  const std::string path = json::ChildPath(r.path(), "operations");
  ASSIGN_OR_RETURN(auto ops, ReadStrings(*list, path, kMaxIdBytes));
  // A repeated operation is harmless (a set is meant) and is accepted.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const std::string item_path = json::IndexPath(path, i);
    const std::string& op = ops[i];
    if (op == "*") {
      if (rule != Rule::kForbid) {
        return Bad(item_path, "\"*\" is allowed only in a forbid");
      }
      if (ops.size() != 1) {
        return Bad(item_path, "\"*\" must be the only operation");
      }
    } else if (!AllOf(op, IsOperationChar)) {
      // Manifests are signed documents and must be canonical: the gate
      // folds the case of actions, never of what owners signed.
      return Bad(item_path, "an operation is lower-case [a-z_]+");
    }
  }
  return ops;
}

// A list value that reads as a DN is stored canonically, so that case and
// spacing in the manifest do not matter.
std::optional<std::string> CanonicalDn(std::string_view text) {
  auto dn = Dn::Parse(text);
  if (!dn.ok() || dn->empty()) return std::nullopt;
  return dn->Canonical();
}

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Globs over DNs are matched against canonical DN strings, so they are
// stored in that form too: a glob that parses as a DN is canonicalised
// whole, and one whose leading RDN is not a DN ("*,ou=people,...") has the
// DN after its first ',' canonicalised. Anything else is lower-cased.
Result<std::string> CanonicalGlob(std::string_view glob,
                                  const std::string& path) {
  std::string prefix;
  std::string_view dn_text = glob;
  std::optional<std::string> canonical = CanonicalDn(glob);
  if (!canonical.has_value()) {
    const std::size_t comma = glob.find(',');
    if (comma == std::string_view::npos ||
        (comma > 0 && glob[comma - 1] == '\\')) {
      return Lower(glob);
    }
    dn_text = glob.substr(comma + 1);
    canonical = CanonicalDn(dn_text);
    if (!canonical.has_value()) return Lower(glob);
    prefix = Lower(TrimSpaces(glob.substr(0, comma))) + ",";
  }
  // An escaped '*' or '?' (\2A, \3F) would turn into a wildcard once
  // unescaped, widening what the owners signed.
  if (CountWildcards(*canonical) != CountWildcards(dn_text)) {
    return Bad(path, "an escaped * or ? cannot be used in a glob");
  }
  return prefix + *canonical;
}

Result<ResourcePattern> ReadResources(json::ObjectReader& parent, Rule rule) {
  ASSIGN_OR_RETURN(const Json* value, parent.Object("resources"));
  const std::string path = json::ChildPath(parent.path(), "resources");
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*value, path));
  const int present = (r.Has("subtree") ? 1 : 0) + (r.Has("names") ? 1 : 0) +
                      (r.Has("list") ? 1 : 0);
  if (present != 1) return Bad(path, "exactly one of subtree, names, list");
  ResourcePattern pattern;
  if (r.Has("subtree")) {
    ASSIGN_OR_RETURN(std::string text, r.String("subtree"));
    const std::string field = json::ChildPath(path, "subtree");
    auto dn = Dn::Parse(text);
    if (!dn.ok()) return dn.status().Within(field);
    if (dn->empty() && rule == Rule::kGrant) {
      return Bad(field, "a grant may not name the root DN");
    }
    pattern.kind = ResourcePattern::Kind::kSubtree;
    pattern.subtree = std::move(*dn);
  } else if (r.Has("names")) {
    ASSIGN_OR_RETURN(const Json* list, r.Array("names"));
    const std::string field = json::ChildPath(path, "names");
    ASSIGN_OR_RETURN(auto globs, ReadStrings(*list, field, kMaxPatternBytes));
    pattern.kind = ResourcePattern::Kind::kNames;
    for (std::size_t i = 0; i < globs.size(); ++i) {
      ASSIGN_OR_RETURN(std::string glob,
                       CanonicalGlob(globs[i], json::IndexPath(field, i)));
      pattern.globs.push_back(std::move(glob));
    }
  } else {
    ASSIGN_OR_RETURN(const Json* list, r.Array("list"));
    const std::string field = json::ChildPath(path, "list");
    ASSIGN_OR_RETURN(auto values, ReadStrings(*list, field, kMaxPatternBytes));
    pattern.kind = ResourcePattern::Kind::kList;
    for (auto& v : values) {
      std::optional<std::string> canonical = CanonicalDn(v);
      pattern.values.push_back(canonical.has_value() ? std::move(*canonical)
                                                     : Lower(v));
    }
  }
  RETURN_IF_ERROR(r.Finish());
  return pattern;
}

Result<std::optional<std::int64_t>> ReadPositive(json::ObjectReader& r,
                                                 std::string_view key) {
  ASSIGN_OR_RETURN(auto n, r.OptionalInt(key));
  if (n.has_value() && *n < 1) {
    return Bad(json::ChildPath(r.path(), key), "must be a positive integer");
  }
  return n;
}

Result<Grant> ReadGrant(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(value, path));
  Grant g;
  ASSIGN_OR_RETURN(g.id, ReadId(r));
  ASSIGN_OR_RETURN(g.target, ReadTarget(r, Rule::kGrant));
  ASSIGN_OR_RETURN(g.operations, ReadOperations(r, Rule::kGrant));
  ASSIGN_OR_RETURN(g.resources, ReadResources(r, Rule::kGrant));
  ASSIGN_OR_RETURN(const Json* limits, r.OptionalObject("limits"));
  if (limits != nullptr) {
    ASSIGN_OR_RETURN(auto l, json::ObjectReader::Create(
                                 *limits, json::ChildPath(path, "limits")));
    ASSIGN_OR_RETURN(g.per_hour, ReadPositive(l, "per_hour"));
    RETURN_IF_ERROR(l.Finish());
  }
  ASSIGN_OR_RETURN(std::string approval, r.String("approval"));
  if (approval == "required") {
    g.needs_approval = true;
  } else if (approval != "none") {
    return Bad(json::ChildPath(path, "approval"),
               "must be \"none\" or \"required\"");
  }
  RETURN_IF_ERROR(r.Finish());
  return g;
}

Result<Forbid> ReadForbid(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(value, path));
  Forbid f;
  ASSIGN_OR_RETURN(f.id, ReadId(r));
  ASSIGN_OR_RETURN(f.target, ReadTarget(r, Rule::kForbid));
  ASSIGN_OR_RETURN(f.operations, ReadOperations(r, Rule::kForbid));
  ASSIGN_OR_RETURN(f.resources, ReadResources(r, Rule::kForbid));
  RETURN_IF_ERROR(r.Finish());
  return f;
}

// "HH:MM" to minutes; "24:00" only when `is_end`.
Result<int> ReadClock(json::ObjectReader& r, std::string_view key,
                      bool is_end) {
  ASSIGN_OR_RETURN(std::string text, r.String(key));
  const auto digit = [&](std::size_t i) {
    return text[i] >= '0' && text[i] <= '9';
  };
  if (text.size() == 5 && digit(0) && digit(1) && text[2] == ':' && digit(3) &&
      digit(4)) {
    const int hour = (text[0] - '0') * 10 + (text[1] - '0');
    const int minute = (text[3] - '0') * 10 + (text[4] - '0');
    if (hour < 24 && minute < 60) return hour * 60 + minute;
    if (is_end && hour == 24 && minute == 0) return kMinutesPerDay;
  }
  return Bad(json::ChildPath(r.path(), key),
             is_end ? "expected HH:MM from 00:00 to 24:00"
                    : "expected HH:MM from 00:00 to 23:59");
}

Result<TimeWindow> ReadWindow(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(value, path));
  TimeWindow w;
  ASSIGN_OR_RETURN(const Json* days, r.Array("days"));
  const std::string days_path = json::ChildPath(path, "days");
  ASSIGN_OR_RETURN(auto names, ReadStrings(*days, days_path, 16));
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto it = std::find(std::begin(kDayNames), std::end(kDayNames),
                              std::string_view(names[i]));
    if (it == std::end(kDayNames)) {
      return Bad(json::IndexPath(days_path, i),
                 "expected one of mon tue wed thu fri sat sun");
    }
    const auto bit =
        static_cast<std::uint8_t>(1u << (it - std::begin(kDayNames)));
    if ((w.days & bit) != 0) {
      return Bad(json::IndexPath(days_path, i), "duplicate day");
    }
    w.days = static_cast<std::uint8_t>(w.days | bit);
  }
  ASSIGN_OR_RETURN(w.start_minute, ReadClock(r, "start", /*is_end=*/false));
  ASSIGN_OR_RETURN(w.end_minute, ReadClock(r, "end", /*is_end=*/true));
  if (w.start_minute == w.end_minute) {
    return Bad(path, "start and end are equal");
  }
  RETURN_IF_ERROR(r.Finish());
  return w;
}

Result<std::int64_t> ReadTime(json::ObjectReader& r, std::string_view key) {
  ASSIGN_OR_RETURN(std::string text, r.String(key));
  auto t = ParseRfc3339Seconds(text);
  if (!t.ok()) return t.status().Within(json::ChildPath(r.path(), key));
  return t;
}

bool EqualsFoldCase(std::string_view lower, std::string_view text) {
  if (lower.size() != text.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

bool TimeWindow::Contains(std::int64_t micros) const {
  std::int64_t minutes = micros / kMicrosPerMinute;
  if (micros % kMicrosPerMinute < 0) --minutes;
  std::int64_t day = minutes / kMinutesPerDay;
  auto minute_of_day = static_cast<int>(minutes % kMinutesPerDay);
  if (minute_of_day < 0) {
    minute_of_day += kMinutesPerDay;
    --day;
  }
  // 1970-01-01 was a Thursday (index 3 with Monday as 0).
  int weekday = static_cast<int>((day + 3) % 7);
  if (weekday < 0) weekday += 7;
  const int yesterday = (weekday + 6) % 7;
  const auto listed = [&](int d) { return ((days >> d) & 1u) != 0; };
  if (start_minute < end_minute) {
    return listed(weekday) && minute_of_day >= start_minute &&
           minute_of_day < end_minute;
  }
  return (listed(weekday) && minute_of_day >= start_minute) ||
         (listed(yesterday) && minute_of_day < end_minute);
}

Result<ScopeManifest> ScopeManifest::ParsePayload(std::string_view payload) {
  auto doc = json::ParseStrict(payload, {.max_bytes = kMaxScopeBytes});
  if (!doc.ok()) return doc.status().Within("scope manifest");
  auto parsed = [&]() -> Result<ScopeManifest> {
    ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*doc, "$"));
    ScopeManifest m;
    ASSIGN_OR_RETURN(m.agent_, r.String("agent"));
    if (Status s = ValidatePrincipalName(m.agent_); !s.ok()) {
      return s.Within("$.agent");
    }
    ASSIGN_OR_RETURN(m.version_, r.Int("version"));
    if (m.version_ < 1) return Bad("$.version", "must be at least 1");
    ASSIGN_OR_RETURN(m.not_before_, ReadTime(r, "not_before"));
    ASSIGN_OR_RETURN(m.expires_, ReadTime(r, "expires"));
    if (m.expires_ <= m.not_before_) {
      return Bad("$.expires", "must be after not_before");
    }

    std::set<std::string> ids;
    const auto claim_id = [&](const std::string& id,
                              const std::string& path) -> Status {
      if (!ids.insert(id).second) {
        return Bad(path + ".id", "duplicate id \"" + id +
                                     "\" (grants and forbids share ids)");
      }
      return Status::Ok();
    };
    ASSIGN_OR_RETURN(const Json* grants, r.Array("grants"));
    if (grants->empty()) return Bad("$.grants", "at least one grant");
    for (std::size_t i = 0; i < grants->size(); ++i) {
      const std::string path = json::IndexPath("$.grants", i);
      ASSIGN_OR_RETURN(Grant g, ReadGrant((*grants)[i], path));
      RETURN_IF_ERROR(claim_id(g.id, path));
      m.grants_.push_back(std::move(g));
    }
    ASSIGN_OR_RETURN(const Json* forbids, r.OptionalArray("forbid"));
    for (std::size_t i = 0; forbids != nullptr && i < forbids->size(); ++i) {
      const std::string path = json::IndexPath("$.forbid", i);
      ASSIGN_OR_RETURN(Forbid f, ReadForbid((*forbids)[i], path));
      RETURN_IF_ERROR(claim_id(f.id, path));
      m.forbids_.push_back(std::move(f));
    }

    ASSIGN_OR_RETURN(const Json* limits, r.OptionalObject("limits"));
    if (limits != nullptr) {
      ASSIGN_OR_RETURN(auto l, json::ObjectReader::Create(*limits, "$.limits"));
      ASSIGN_OR_RETURN(m.actions_per_hour_,
                       ReadPositive(l, "actions_per_hour"));
      ASSIGN_OR_RETURN(m.deletions_per_day_,
                       ReadPositive(l, "deletions_per_day"));
      RETURN_IF_ERROR(l.Finish());
    }
    ASSIGN_OR_RETURN(const Json* windows, r.OptionalArray("windows"));
    if (windows != nullptr) {
      // An empty list could mean "never" or "always": omit the field for
      // no restriction.
      if (windows->empty()) {
        return Bad("$.windows", "must not be empty (omit it for no window)");
      }
      for (std::size_t i = 0; i < windows->size(); ++i) {
        ASSIGN_OR_RETURN(
            TimeWindow w,
            ReadWindow((*windows)[i], json::IndexPath("$.windows", i)));
        m.windows_.push_back(w);
      }
    }
    ASSIGN_OR_RETURN(const Json* successors, r.OptionalObject("successors"));
    if (successors != nullptr) {
      for (const auto& [target, role] : successors->items()) {
        const std::string path = json::ChildPath("$.successors", target);
        if (!role.is_string()) return Bad(path, "must be a role name");
        const std::string name = role.get<std::string>();
        bool ok = !name.empty() && name.size() <= 63 &&
                  ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
        for (char c : name) {
          ok = ok &&
               ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
        }
        if (!ok) return Bad(path, "a role name of [a-z0-9_], 1-63 bytes");
        m.successors_[target] = name;
      }
    }
    RETURN_IF_ERROR(r.Finish());
    return m;
  }();
  if (!parsed.ok()) return std::move(parsed).status().Within("scope manifest");
  ScopeManifest m = std::move(parsed).value();
  m.payload_.assign(payload);
  m.digest_ = keys::Sha256Hex(AsBytes(payload));
  return m;
}

Result<ScopeManifest> ScopeManifest::Verify(const keys::Envelope& envelope,
                                            const TrustRoot& trust,
                                            std::string_view agent_id,
                                            std::int64_t highest_accepted,
                                            std::int64_t now_micros) {
  if (envelope.payload_type != kScopeType) {
    return Status::PermissionDenied("envelope payloadType \"" +
                                    envelope.payload_type.substr(0, 80) +
                                    "\" is not a scope manifest");
  }
  if (envelope.payload.size() > kMaxScopeBytes) {
    return Status::ResourceExhausted(
        "scope manifest is " + std::to_string(envelope.payload.size()) +
        " bytes, over the limit of " + std::to_string(kMaxScopeBytes));
  }
  // Signatures first: nothing unsigned reaches the schema reader.
  auto verified =
      keys::VerifyEnvelope(envelope, trust.OwnerKeyring(), kScopeType);
  if (!verified.ok()) return verified.status().Within("scope manifest");
  const int owners = trust.CountOwners(verified->signers);
  if (owners < trust.thresholds().scope_grant) {
    return Status::PermissionDenied(
        "scope manifest signed by " + std::to_string(owners) +
        " distinct owner(s), needs " +
        std::to_string(trust.thresholds().scope_grant));
  }
  ASSIGN_OR_RETURN(ScopeManifest m, ParsePayload(envelope.payload));
  if (m.agent_ != agent_id || trust.FindAgent(agent_id) == nullptr) {
    return Status::PermissionDenied(
        "manifest for another agent: it names \"" + m.agent_ +
        "\", this is \"" + std::string(agent_id.substr(0, 64)) + "\"" +
        (trust.FindAgent(agent_id) == nullptr ? ", which the trust root lacks"
                                              : ""));
  }
  if (m.version_ <= highest_accepted) {
    return Status::PermissionDenied("rollback: version " +
                                    std::to_string(m.version_) +
                                    " is not above the highest accepted " +
                                    std::to_string(highest_accepted));
  }
  if (now_micros < m.not_before_) {
    return Status::FailedPrecondition(
        "scope manifest version " + std::to_string(m.version_) +
        " is not yet valid until " + FormatRfc3339Seconds(m.not_before_));
  }
  if (now_micros >= m.expires_) {
    return Status::FailedPrecondition(
        "scope manifest version " + std::to_string(m.version_) +
        " expired at " + FormatRfc3339Seconds(m.expires_) +
        ": the agent is frozen");
  }
  if (now_micros >= trust.expires()) {
    return Status::FailedPrecondition("trust root expired at " +
                                      FormatRfc3339Seconds(trust.expires()) +
                                      ": the agent is frozen");
  }
  std::set<std::string> seen;
  for (const auto& signer : verified->signers) {
    const Principal* owner = trust.OwnerOfKey(signer);
    if (owner != nullptr && seen.insert(owner->name).second) {
      m.signed_by_.push_back(owner->name);
    }
  }
  return m;
}

bool MatchesResource(const ResourcePattern& pattern,
                     std::string_view resource) {
  auto dn = Dn::Parse(resource);
  if (dn.ok() && !dn->empty()) {
    switch (pattern.kind) {
      case ResourcePattern::Kind::kSubtree:
        return pattern.subtree.has_value() && dn->IsWithin(*pattern.subtree);
      case ResourcePattern::Kind::kList: {
        const std::string canonical = dn->Canonical();
        return std::find(pattern.values.begin(), pattern.values.end(),
                         canonical) != pattern.values.end();
      }
      case ResourcePattern::Kind::kNames: {
        const std::string canonical = dn->Canonical();
        return std::any_of(pattern.globs.begin(), pattern.globs.end(),
                           [&](const std::string& glob) {
                             return GlobMatch(glob, canonical, true);
                           });
      }
    }
    return false;
  }
  switch (pattern.kind) {
    case ResourcePattern::Kind::kSubtree:
      return false;
    case ResourcePattern::Kind::kList:
      return std::any_of(pattern.values.begin(), pattern.values.end(),
                         [&](const std::string& value) {
                           return EqualsFoldCase(value, resource);
                         });
    case ResourcePattern::Kind::kNames:
      return std::any_of(pattern.globs.begin(), pattern.globs.end(),
                         [&](const std::string& glob) {
                           return GlobMatch(glob, resource, true);
                         });
  }
  return false;
}

}  // namespace deputy::policy
