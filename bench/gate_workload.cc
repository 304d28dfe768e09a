#include "bench/gate_workload.h"

#include <array>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string_view>
#include <utility>

#include "keys/dsse.h"
#include "policy/scope.h"

namespace deputy::bench {
namespace {

using Json = nlohmann::json;

// A DN as (type, value) pairs, leaf first, already canonical: lower case,
// single inner spaces, nothing that needs escaping.
using DnParts = std::vector<std::pair<std::string, std::string>>;

constexpr std::array<std::string_view, 30> kDepts = {
    "engineering", "sales",      "operations",  "finance",    "legal",
    "hr",          "support",    "marketing",   "research",   "it",
    "security",    "facilities", "procurement", "design",     "data",
    "qa",          "platform",   "mobile",      "web",        "infra",
    "billing",     "payments",   "risk",        "compliance", "audit",
    "training",    "partners",   "logistics",   "retail",     "media"};
constexpr std::array<std::string_view, 10> kTeams = {
    "alpha",   "bravo", "charlie", "delta", "echo",
    "foxtrot", "golf",  "hotel",   "india", "juliet"};
constexpr std::array<std::string_view, 15> kAreas = {
    "engineering", "sales", "finance",  "support",   "it",
    "security",    "data",  "product",  "marketing", "legal",
    "hr",          "ops",   "research", "platform",  "vendors"};
constexpr std::array<std::string_view, 35> kApps = {
    "billing", "payroll", "crm",      "erp",       "wiki",     "jira",
    "gitlab",  "grafana", "kibana",   "airflow",   "superset", "metabase",
    "hubspot", "zendesk", "intranet", "lms",       "hris",     "ats",
    "expense", "travel",  "vault",    "ldapsync",  "backup",   "mailer",
    "search",  "catalog", "orders",   "inventory", "shipping", "pricing",
    "reports", "ledger",  "tickets",  "chat",      "docs"};

constexpr int kUsers = 30000;  // User n is in dept n % 30, team n / 30 % 10.
constexpr int kGroups = 1500;  // Group g is in area g % 15.
constexpr int kTeamCount = static_cast<int>(kDepts.size() * kTeams.size());

// Departments with grants on their people: 0..24 (25..29 have none), and
// with an approval-required delete grant: 0..14. Group areas with grants:
// 0..14 (all). Apps whose service accounts are granted: 0..14 (0..9
// without approval); whose roles are granted: 0..19; whose roles may be
// dropped with approval: 0..9.
constexpr int kGrantedDepts = 25;
constexpr int kDeleteDepts = 15;
constexpr int kServiceApps = 15;
constexpr int kServiceAppsNoApproval = 10;
constexpr int kRoleApps = 20;
constexpr int kDropApps = 10;

std::string Num(int n, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*d", width, n);
  return buf;
}

DnParts Base() { return {{"dc", "example"}, {"dc", "org"}}; }
DnParts Under(DnParts leaf, const DnParts& parent) {
  leaf.insert(leaf.end(), parent.begin(), parent.end());
  return leaf;
}
DnParts PeopleOf(int dept) {
  return Under({{"ou", std::string(kDepts[dept])}, {"ou", "people"}}, Base());
}
int TeamOfUser(int n) { return (n % 30) * 10 + (n / 30) % 10; }
DnParts Team(int team) {
  return Under({{"ou", std::string(kTeams[team % 10])}}, PeopleOf(team / 10));
}
DnParts User(int n) {
  return Under({{"uid", "u" + Num(n, 5)}}, Team(TeamOfUser(n)));
}
DnParts TeamAdmin(int team, int k) {
  return Under({{"uid", "admin" + std::to_string(k)}}, Team(team));
}
DnParts GroupArea(int area) {
  return Under({{"ou", std::string(kAreas[area])}, {"ou", "groups"}}, Base());
}
int AreaOfGroup(int g) { return g % 15; }
DnParts Group(int g) {
  return Under(
      {{"cn", std::string(kAreas[AreaOfGroup(g)]) + " team " + Num(g, 4)}},
      GroupArea(AreaOfGroup(g)));
}
DnParts Service(int app, int k) {
  return Under(
      {{"cn", "svc-" + std::string(kApps[app]) + "-" + std::to_string(k)},
       {"ou", "services"}},
      Base());
}
DnParts Partner(int n) {
  return Under({{"uid", "p" + Num(n, 4)}, {"ou", "partners"}}, Base());
}
DnParts OwnerDn(std::string_view name) {
  return Under({{"uid", std::string(name)}, {"ou", "people"}}, Base());
}

std::string Join(const DnParts& dn, std::size_t from = 0) {
  std::string out;
  for (std::size_t i = from; i < dn.size(); ++i) {
    if (i > from) out += ',';
    out += dn[i].first + "=" + dn[i].second;
  }
  return out;
}

CanonicalName DnName(const DnParts& dn) {
  CanonicalName name;
  name.text = Join(dn);
  name.is_dn = true;
  for (std::size_t i = 1; i < dn.size(); ++i) {
    name.ancestors.push_back(Join(dn, i));
  }
  return name;
}

CanonicalName PlainName(std::string text) {
  CanonicalName name;
  name.text = std::move(text);
  return name;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string Title(std::string_view s) {
  std::string out(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') {
    out[0] = static_cast<char>(out[0] - 'a' + 'A');
  }
  return out;
}

// Builds the scope, the trust root and the request stream from one seeded
// generator, remembering which users, groups and teams the forbids cover
// so that each category of request can aim at the outcome it stands for.
// The outcome itself is whatever the gate decides.
class Generator {
 public:
  explicit Generator(std::uint32_t seed) : rng_(seed) {}

  Status Run(GateWorkload& w);

 private:
  bool Coin(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Uniform(int lo, int hi) {  // Inclusive.
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<std::size_t>(
        Uniform(0, static_cast<int>(v.size()) - 1))];
  }

  // A DN as a person or a script would type it: types and values in any
  // case, spaces after commas and around '=', inner spaces doubled, and
  // (when `edges`) stray spaces at either end.
  std::string Noisy(const DnParts& dn, bool edges);
  std::string NoisyWord(std::string_view word);

  void AddGrant(std::string id, std::string target,
                std::vector<std::string> ops, RuleSpec::Kind kind,
                std::vector<std::string> written,
                std::vector<std::string> canonical, bool approval,
                int per_hour);
  void AddForbid(std::string id, std::string target,
                 std::vector<std::string> ops, RuleSpec::Kind kind,
                 std::vector<std::string> written,
                 std::vector<std::string> canonical);
  void BuildRules();
  void BuildRequests(std::vector<GateRequest>& out);

  // Request builders; each aims at one outcome.
  void Request(std::vector<GateRequest>& out, std::string target,
               std::string op, CanonicalName resource,
               std::string resource_text, CanonicalName subject = {},
               std::string subject_text = "");
  void Dn(std::vector<GateRequest>& out, std::string target, std::string op,
          const DnParts& resource, const DnParts* subject = nullptr);
  void Role(std::vector<GateRequest>& out, std::string op, std::string role);
  int UserWhere(int dept_lo, int dept_hi, const std::string& op,
                bool want_clean);
  bool UserClean(int n, const std::string& op) const;
  int CleanGroup();

  std::mt19937 rng_;
  Json grants_json_ = Json::array();
  Json forbids_json_ = Json::array();
  std::vector<RuleSpec> grants_;
  std::vector<RuleSpec> forbids_;
  std::set<int> vip_users_;
  std::set<int> forbidden_groups_;
  std::map<int, std::set<std::string>> team_holds_;  // Team -> ops ("*").
  std::vector<int> admin_glob_teams_;
  std::vector<int> star_held_teams_;
  std::vector<int> delete_held_teams_;
  std::vector<int> vip_list_;
  int task_ = 0;
};

std::string Generator::NoisyWord(std::string_view word) {
  const int mode = Uniform(0, 19);
  if (mode < 3) return Title(word);
  if (mode < 4) return Upper(word);
  return std::string(word);
}

std::string Generator::Noisy(const DnParts& dn, bool edges) {
  std::string out = edges && Coin(0.05) ? " " : "";
  for (std::size_t i = 0; i < dn.size(); ++i) {
    if (i > 0) out += Coin(0.3) ? ", " : ",";
    out += Coin(0.25) ? Upper(dn[i].first) : dn[i].first;
    out += Coin(0.1) ? " = " : "=";
    const int mode = Uniform(0, 19);
    std::string value = mode < 5   ? Title(dn[i].second)
                        : mode < 8 ? Upper(dn[i].second)
                                   : dn[i].second;
    for (char c : value) {
      out += c;
      if (c == ' ' && Coin(0.5)) out += ' ';
    }
  }
  if (edges && Coin(0.05)) out += ' ';
  return out;
}

void Generator::AddGrant(std::string id, std::string target,
                         std::vector<std::string> ops, RuleSpec::Kind kind,
                         std::vector<std::string> written,
                         std::vector<std::string> canonical, bool approval,
                         int per_hour) {
  const char* key = kind == RuleSpec::Kind::kSubtree ? "subtree"
                    : kind == RuleSpec::Kind::kNames ? "names"
                                                     : "list";
  Json resources = kind == RuleSpec::Kind::kSubtree
                       ? Json{{key, written.front()}}
                       : Json{{key, written}};
  Json g = {{"id", id},
            {"target", target},
            {"operations", ops},
            {"resources", resources},
            {"approval", approval ? "required" : "none"}};
  if (per_hour > 0) g["limits"] = {{"per_hour", per_hour}};
  grants_json_.push_back(std::move(g));
  grants_.push_back({std::move(id), std::move(target), std::move(ops), kind,
                     std::move(canonical), approval});
}

void Generator::AddForbid(std::string id, std::string target,
                          std::vector<std::string> ops, RuleSpec::Kind kind,
                          std::vector<std::string> written,
                          std::vector<std::string> canonical) {
  const char* key = kind == RuleSpec::Kind::kSubtree ? "subtree"
                    : kind == RuleSpec::Kind::kNames ? "names"
                                                     : "list";
  Json resources = kind == RuleSpec::Kind::kSubtree
                       ? Json{{key, written.front()}}
                       : Json{{key, written}};
  forbids_json_.push_back({{"id", id},
                           {"target", target},
                           {"operations", ops},
                           {"resources", resources}});
  forbids_.push_back({std::move(id), std::move(target), std::move(ops), kind,
                      std::move(canonical), false});
}

void Generator::BuildRules() {
  using Kind = RuleSpec::Kind;
  // --- 100 grants ---------------------------------------------------------
  for (int d = 0; d < kGrantedDepts; ++d) {
    const std::string dept(kDepts[d]);
    AddGrant("people-" + dept, "ldap", {"disable", "modify_attributes", "move"},
             Kind::kSubtree, {Noisy(PeopleOf(d), false)}, {Join(PeopleOf(d))},
             false, 200);
  }
  for (int d = 0; d < kDeleteDepts; ++d) {
    const std::string dept(kDepts[d]);
    AddGrant("people-" + dept + "-delete", "ldap", {"delete"}, Kind::kSubtree,
             {Noisy(PeopleOf(d), false)}, {Join(PeopleOf(d))}, true, 20);
  }
  for (int a = 0; a < static_cast<int>(kAreas.size()); ++a) {
    AddGrant("groups-" + std::string(kAreas[a]), "ldap",
             {"add_member", "remove_member"}, Kind::kSubtree,
             {Noisy(GroupArea(a), false)}, {Join(GroupArea(a))}, false, 300);
  }
  for (int app = 0; app < kServiceApps; ++app) {
    std::vector<std::string> written;
    std::vector<std::string> canonical;
    for (int k = 0; k < 4; ++k) {
      written.push_back(Noisy(Service(app, k), false));
      canonical.push_back(Join(Service(app, k)));
    }
    AddGrant("svc-" + std::string(kApps[app]), "ldap",
             {"reset_password", "disable"}, Kind::kList, written, canonical,
             app >= kServiceAppsNoApproval, 0);
  }
  for (int app = 0; app < kRoleApps; ++app) {
    const std::string glob = std::string(kApps[app]) + "_*";
    AddGrant("pg-" + std::string(kApps[app]), "postgres",
             {"grant_role", "revoke_role"}, Kind::kNames, {glob}, {glob}, false,
             100);
  }
  for (int app = 0; app < kDropApps; ++app) {
    const std::string glob = std::string(kApps[app]) + "_*";
    AddGrant("pg-" + std::string(kApps[app]) + "-drop", "postgres",
             {"drop_role"}, Kind::kNames, {glob}, {glob}, true, 5);
  }

  // --- 1,000 forbids ------------------------------------------------------
  // 300 exact lists of people (executives, legal holds on one person).
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> written;
    std::vector<std::string> canonical;
    const int count = Uniform(1, 3);
    for (int k = 0; k < count; ++k) {
      const int n = Uniform(0, kUsers - 1);
      vip_users_.insert(n);
      vip_list_.push_back(n);
      written.push_back(Noisy(User(n), false));
      canonical.push_back(Join(User(n)));
    }
    AddForbid("vip-" + Num(i, 3), i % 10 == 0 ? "*" : "ldap", {"*"},
              Kind::kList, written, canonical);
  }
  // 100 exact lists of privileged groups.
  for (int i = 0; i < 100; ++i) {
    std::vector<std::string> written;
    std::vector<std::string> canonical;
    const int count = Uniform(1, 2);
    for (int k = 0; k < count; ++k) {
      const int g = Uniform(0, kGroups - 1);
      forbidden_groups_.insert(g);
      written.push_back(Noisy(Group(g), false));
      canonical.push_back(Join(Group(g)));
    }
    AddForbid("priv-group-" + Num(i, 3), "ldap",
              i % 4 == 0
                  ? std::vector<std::string>{"*"}
                  : std::vector<std::string>{"add_member", "remove_member"},
              Kind::kList, written, canonical);
  }
  // 200 subtrees: holds on whole teams, for every operation or some.
  for (int i = 0; i < 200; ++i) {
    const int team = Uniform(0, kTeamCount - 1);
    const int kind = Uniform(0, 19);
    std::vector<std::string> ops = kind < 3 ? std::vector<std::string>{"*"}
                                   : kind < 14
                                       ? std::vector<std::string>{"delete"}
                                       : std::vector<std::string>{"move"};
    team_holds_[team].insert(ops.front());
    if (ops.front() == "*") star_held_teams_.push_back(team);
    if (ops.front() == "delete") delete_held_teams_.push_back(team);
    AddForbid("hold-" + Num(i, 3), "ldap", ops, Kind::kSubtree,
              {Noisy(Team(team), false)}, {Join(Team(team))});
  }
  // 250 role-name globs on postgres, mostly prefixes ("svc_*" style).
  const std::array<std::pair<std::string, std::string>, 7> variants = {{
      {"", "_admin*"},
      {"", "_prod_*"},
      {"svc_", "*"},
      {"", "_owner"},
      {"", "_etl_*"},
      {"", "_migr*"},
      {"", "_dba*"},
  }};
  for (int i = 0; i < 245; ++i) {
    const auto& [prefix, suffix] = variants[static_cast<std::size_t>(i / 35)];
    const std::string glob = prefix + std::string(kApps[i % 35]) + suffix;
    AddForbid("pg-protect-" + Num(i, 3), "postgres",
              i / 35 == 4 ? std::vector<std::string>{"grant_role"}
                          : std::vector<std::string>{"*"},
              Kind::kNames, {glob}, {glob});
  }
  const std::array<std::string, 5> fixed = {"pg_*", "postgres", "*_superuser",
                                            "*_replication", "rds*"};
  for (std::size_t i = 0; i < fixed.size(); ++i) {
    AddForbid("pg-system-" + std::to_string(i), i == 2 ? "*" : "postgres",
              {"*"}, Kind::kNames, {fixed[i]}, {fixed[i]});
  }
  // 150 DN globs: service accounts by number, team admin accounts, and a
  // few "everything below this team" patterns.
  for (int app = 0; app < static_cast<int>(kApps.size()); ++app) {
    for (int k : {2, 3}) {
      const std::string glob =
          "cn=svc-" + std::string(kApps[app]) + "-" + std::to_string(k) + "*";
      AddForbid(
          "svc-guard-" + std::string(kApps[app]) + "-" + std::to_string(k),
          "ldap",
          {k == 3 ? std::string("disable") : std::string("reset_password")},
          Kind::kNames,
          {Noisy({{"cn", "svc-" + std::string(kApps[app]) + "-" +
                             std::to_string(k) + "*"},
                  {"ou", "services"},
                  {"dc", "example"},
                  {"dc", "org"}},
                 false)},
          {glob + ",ou=services,dc=example,dc=org"});
    }
  }
  for (int i = 0; i < 70; ++i) {
    const int team = Uniform(0, kTeamCount - 1);
    admin_glob_teams_.push_back(team);
    DnParts pattern = Under({{"uid", "admin*"}}, Team(team));
    AddForbid("team-admins-" + Num(i, 3), "ldap", {"*"}, Kind::kNames,
              {Noisy(pattern, false)}, {Join(pattern)});
  }
  for (int i = 0; i < 10; ++i) {
    const int team = Uniform(0, kTeamCount - 1);
    team_holds_[team].insert("delete");
    delete_held_teams_.push_back(team);
    AddForbid("below-team-" + Num(i, 3), "ldap", {"delete"}, Kind::kNames,
              {"*," + Noisy(Team(team), false)}, {"*," + Join(Team(team))});
  }
}

bool Generator::UserClean(int n, const std::string& op) const {
  if (vip_users_.count(n) != 0) return false;
  auto it = team_holds_.find(TeamOfUser(n));
  if (it == team_holds_.end()) return true;
  return it->second.count("*") == 0 && it->second.count(op) == 0;
}

// A user in departments [dept_lo, dept_hi] that no forbid covers for `op`
// (or, when !want_clean, any user there).
int Generator::UserWhere(int dept_lo, int dept_hi, const std::string& op,
                         bool want_clean) {
  for (int tries = 0;; ++tries) {
    const int dept = Uniform(dept_lo, dept_hi);
    const int n = dept + 30 * Uniform(0, kUsers / 30 - 1);
    if (!want_clean || UserClean(n, op) || tries > 1000) return n;
  }
}

int Generator::CleanGroup() {
  for (;;) {
    const int g = Uniform(0, kGroups - 1);
    if (forbidden_groups_.count(g) == 0) return g;
  }
}

void Generator::Request(std::vector<GateRequest>& out, std::string target,
                        std::string op, CanonicalName resource,
                        std::string resource_text, CanonicalName subject,
                        std::string subject_text) {
  GateRequest r;
  r.action.target = Coin(0.1) ? Upper(target) : target;
  r.action.operation = NoisyWord(op);
  r.action.resource = std::move(resource_text);
  r.action.subject = std::move(subject_text);
  r.action.task = "T-" + std::to_string(1000 + task_++);
  r.action.requester = Coin(0.5) ? "hr-sync" : "it-helpdesk";
  r.target = std::move(target);
  r.operation = std::move(op);
  r.resource = std::move(resource);
  r.subject = std::move(subject);
  out.push_back(std::move(r));
}

void Generator::Dn(std::vector<GateRequest>& out, std::string target,
                   std::string op, const DnParts& resource,
                   const DnParts* subject) {
  if (subject == nullptr) {
    Request(out, std::move(target), std::move(op), DnName(resource),
            Noisy(resource, true));
  } else {
    Request(out, std::move(target), std::move(op), DnName(resource),
            Noisy(resource, true), DnName(*subject), Noisy(*subject, true));
  }
}

void Generator::Role(std::vector<GateRequest>& out, std::string op,
                     std::string role) {
  std::string text = NoisyWord(role);
  Request(out, "postgres", std::move(op), PlainName(std::move(role)),
          std::move(text));
}

void Generator::BuildRequests(std::vector<GateRequest>& out) {
  enum Category {
    kPeopleAllowed,
    kPeopleDelete,
    kGroupMember,
    kService,
    kRoleGrant,
    kRoleDrop,
    kForbidden,
    kNoGrant,
    kInvariant,
  };
  std::discrete_distribution<int> category(
      {290, 70, 120, 60, 120, 40, 190, 110, 20});
  const std::vector<std::string> people_ops = {"disable", "modify_attributes",
                                               "move"};
  const std::vector<std::string> member_ops = {"add_member", "remove_member"};
  const std::vector<std::string> role_ops = {"grant_role", "revoke_role"};
  const std::vector<std::string> role_kinds = {"read", "write", "report",
                                               "analyst"};
  const auto app = [&](int lo, int hi) {
    return std::string(kApps[static_cast<std::size_t>(Uniform(lo, hi))]);
  };
  while (out.size() < kWorkloadRequests) {
    switch (category(rng_)) {
      case kPeopleAllowed: {
        const std::string op = Pick(people_ops);
        Dn(out, "ldap", op, User(UserWhere(0, kGrantedDepts - 1, op, true)));
        break;
      }
      case kPeopleDelete:
        Dn(out, "ldap", "delete",
           User(UserWhere(0, kDeleteDepts - 1, "delete", true)));
        break;
      case kGroupMember: {
        const DnParts member =
            User(UserWhere(0, 29, "remove_member", /*want_clean=*/true));
        Dn(out, "ldap", Pick(member_ops), Group(CleanGroup()), &member);
        break;
      }
      case kService: {
        const int a = Uniform(0, kServiceApps - 1);
        Dn(out, "ldap", Coin(0.5) ? "reset_password" : "disable",
           Service(a, Uniform(0, 3)));
        break;
      }
      case kRoleGrant:
        Role(out, Pick(role_ops),
             app(0, kRoleApps - 1) + "_" + Pick(role_kinds));
        break;
      case kRoleDrop:
        Role(out, "drop_role",
             app(0, kDropApps - 1) + "_tmp_" + std::to_string(Uniform(1, 99)));
        break;
      case kForbidden:
        switch (Uniform(0, 7)) {
          case 0:  // A listed person.
            Dn(out, "ldap", Pick(people_ops),
               User(vip_list_[static_cast<std::size_t>(
                   Uniform(0, static_cast<int>(vip_list_.size()) - 1))]));
            break;
          case 1: {  // Anyone in a team on hold for every operation.
            const int team = Pick(star_held_teams_);
            const int n = team / 10 + 30 * (team % 10 + 10 * Uniform(0, 99));
            Dn(out, "ldap", Pick(people_ops), User(n));
            break;
          }
          case 2:  // A team's admin account.
            Dn(out, "ldap", "disable",
               TeamAdmin(Pick(admin_glob_teams_), Uniform(1, 9)));
            break;
          case 3:  // A privileged group.
            Dn(out, "ldap", "add_member",
               Group(*std::next(
                   forbidden_groups_.begin(),
                   Uniform(0, static_cast<int>(forbidden_groups_.size()) - 1))),
               nullptr);
            break;
          case 4: {  // Removing a listed person from an ordinary group.
            const DnParts member = User(Pick(vip_list_));
            Dn(out, "ldap", "remove_member", Group(CleanGroup()), &member);
            break;
          }
          case 5:
            Role(out, "grant_role",
                 app(0, kRoleApps - 1) + (Coin(0.5) ? "_admin" : "_prod_rw"));
            break;
          case 6: {  // Deleting in a team on a deletion hold.
            const int team = Pick(delete_held_teams_);
            const int n = team / 10 + 30 * (team % 10 + 10 * Uniform(0, 99));
            Dn(out, "ldap", "delete", User(n));
            break;
          }
          default:
            Role(out, Coin(0.5) ? "grant_role" : "revoke_role",
                 Coin(0.5) ? "pg_monitor" : "replica_superuser");
            break;
        }
        break;
      case kNoGrant:
        switch (Uniform(0, 5)) {
          case 0:  // A department without a grant.
            Dn(out, "ldap", "disable",
               User(UserWhere(kGrantedDepts, 29, "disable", true)));
            break;
          case 1:  // An operation no grant names.
            Dn(out, "ldap", "reset_password",
               User(UserWhere(0, kGrantedDepts - 1, "reset_password", true)));
            break;
          case 2:
            Role(out, "grant_role",
                 app(kRoleApps, static_cast<int>(kApps.size()) - 1) + "_read");
            break;
          case 3: {  // A target no grant names.
            const std::string name = "u" + Num(Uniform(0, kUsers - 1), 5);
            Request(out, "mysql", "disable", PlainName(name), NoisyWord(name));
            break;
          }
          case 4:
            Dn(out, "ldap", "disable", Partner(Uniform(0, 9999)));
            break;
          default:  // Deleting a group: the group grants do not cover it.
            Dn(out, "ldap", "delete", Group(CleanGroup()));
            break;
        }
        break;
      case kInvariant:
        switch (Uniform(0, 4)) {
          case 0:
            Dn(out, "ldap", "disable", OwnerDn(Coin(0.5) ? "alice" : "carol"));
            break;
          case 1:
            Role(out, "revoke_role", Coin(0.5) ? "deputy_svc" : "alice_dba");
            break;
          case 2:
            Request(out, "deputy", "rotate_key", PlainName("agent-1"),
                    "Agent-1");
            break;
          case 3: {
            const DnParts owner = OwnerDn("bob");
            Dn(out, "ldap", "remove_member", Group(CleanGroup()), &owner);
            break;
          }
          default:
            Dn(out, "ldap", "disable",
               Under({{"cn", "deputy"}, {"ou", "services"}}, Base()));
            break;
        }
        break;
    }
  }
}

Status Generator::Run(GateWorkload& w) {
  for (const char* name : {"alice", "bob", "carol"}) {
    ASSIGN_OR_RETURN(keys::PrivateKey key, keys::PrivateKey::Generate(name));
    w.owner_keys.push_back(std::move(key));
  }
  ASSIGN_OR_RETURN(keys::PrivateKey agent_key,
                   keys::PrivateKey::Generate(std::string(kWorkloadAgent)));
  ASSIGN_OR_RETURN(keys::PrivateKey auditor_key,
                   keys::PrivateKey::Generate("erin"));
  const auto key_line = [](const keys::PrivateKey& k) {
    std::string line = k.public_key().Serialize();
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
  };
  const std::map<std::string, std::vector<std::string>> owner_accounts = {
      {"alice", {Join(OwnerDn("alice")), "alice_dba"}},
      {"bob", {Join(OwnerDn("bob"))}},
      {"carol", {Join(OwnerDn("carol")), "carol"}}};
  Json owners = Json::array();
  for (const auto& key : w.owner_keys) {
    const auto& accounts = owner_accounts.at(key.name());
    owners.push_back({{"name", key.name()},
                      {"contact", key.name() + "@example.org"},
                      {"keys", {key_line(key)}},
                      {"accounts", accounts}});
    w.owner_identities.push_back(key.name());
    w.owner_identities.insert(w.owner_identities.end(), accounts.begin(),
                              accounts.end());
  }
  const std::vector<std::string> agent_accounts = {
      Join(Under({{"cn", "deputy"}, {"ou", "services"}}, Base())),
      "deputy_svc"};
  w.agent_identities.push_back(std::string(kWorkloadAgent));
  w.agent_identities.insert(w.agent_identities.end(), agent_accounts.begin(),
                            agent_accounts.end());
  const Json trust = {
      {"version", 1},
      {"expires", "2027-12-03T00:00:00Z"},
      {"owners", owners},
      {"auditors",
       {{{"name", "erin"},
         {"contact", "erin@example.org"},
         {"keys", {key_line(auditor_key)}}}}},
      {"agents",
       {{{"id", kWorkloadAgent},
         {"key", key_line(agent_key)},
         {"owner", "alice"},
         {"backup_owner", "bob"},
         {"accounts", agent_accounts}}}},
      {"thresholds",
       {{"trust_change", 2}, {"scope_grant", 2}, {"revocation", 1}}}};
  w.trust_payload = trust.dump();

  BuildRules();
  if (grants_.size() != kWorkloadGrants ||
      forbids_.size() != kWorkloadForbids) {
    return Status::Internal("workload: " + std::to_string(grants_.size()) +
                            " grants and " + std::to_string(forbids_.size()) +
                            " forbids generated");
  }
  const Json scope = {
      {"agent", kWorkloadAgent},
      {"version", 7},
      {"not_before", "2026-12-01T00:00:00Z"},
      {"expires", "2027-03-01T00:00:00Z"},
      {"grants", grants_json_},
      {"forbid", forbids_json_},
      {"limits", {{"actions_per_hour", 5000}, {"deletions_per_day", 500}}},
      {"windows",
       {{{"days", {"mon", "tue", "wed", "thu", "fri"}},
         {"start", "06:00"},
         {"end", "20:00"}}}}};
  w.scope_payload = scope.dump();
  keys::Envelope envelope =
      keys::SignEnvelope(policy::kScopeType, w.scope_payload, w.owner_keys[0]);
  RETURN_IF_ERROR(keys::AddSignature(envelope, w.owner_keys[1]));
  w.signed_scope = envelope.Serialize();
  w.grants = grants_;
  w.forbids = forbids_;
  BuildRequests(w.requests);
  return Status::Ok();
}

}  // namespace

Result<GateWorkload> MakeGateWorkload(std::uint32_t seed) {
  GateWorkload w;
  Generator generator(seed);
  RETURN_IF_ERROR(generator.Run(w));
  return w;
}

}  // namespace deputy::bench
