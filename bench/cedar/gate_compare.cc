// gate_compare OUT_DIR: writes the policy gate's benchmark workload
// (bench/gate_workload.h) for deputy and for Cedar, with deputy's decision
// on every request and deputy's timing over the stream, for
// bench/cedar/run.mjs to check and time Cedar against (see
// bench/gate_vs_cedar.sh). Files written:
//
//   trust-root.json, scope.json  the deputy payloads; scope.dsse.json the
//                                signed scope (2 of 3 owners)
//   policies.cedar   one Cedar policy per grant and per forbid, plus the
//                    gate's three built-in invariants as forbids
//   requests.json    per request: principal, action, resource, context and
//                    the entities the request needs
//   deputy.json      deputy's decisions and timing
//
// The translation. A resource is Resource::"<target>:<canonical name>"
// with attributes target and name; a DN resource has as parents
// Dn::"<itself>" and Dn::"<each ancestor>", so a subtree is `in Dn::"..."`.
// Exact lists are `name == ...`, globs `name like ...`. An action's
// subject (a group member) is context.subject, an entity of the same
// shape: forbids and invariants test it as deputy does, grants do not.
// Approval-required grants are ordinary permits annotated
// @approval("required"): run.mjs reads an allow whose satisfied permits
// all carry it as needs_approval, which is the gate's own rule. Cedar is
// given canonical names (the generator's, not deputy's normaliser), so
// letter case and spacing are deputy's work only.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench/gate_workload.h"
#include "keys/dsse.h"
#include "policy/gate.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace {

using deputy::Result;
using deputy::Status;
using deputy::bench::CanonicalName;
using deputy::bench::GateRequest;
using deputy::bench::GateWorkload;
using deputy::bench::kWorkloadAgent;
using deputy::bench::kWorkloadNow;
using deputy::bench::RuleSpec;
using Json = nlohmann::json;
using namespace deputy::policy;

// Policy ids in the Cedar set.
constexpr std::string_view kTrustRootInvariant = "invariant:trust-root";
constexpr std::string_view kAgentInvariant = "invariant:agent-self";
constexpr std::string_view kOwnerInvariant = "invariant:owner-account";

// A Cedar string literal. The workload never produces '"' or '\', which
// would also change the meaning of a `like` pattern; refuse them.
Result<std::string> Quote(std::string_view s) {
  if (s.find_first_of("\"\\") != std::string_view::npos) {
    return Status::Invalid("cannot quote for Cedar: " + std::string(s));
  }
  return "\"" + std::string(s) + "\"";
}

// `var` (resource or context.subject) matches the rule's resources.
Result<std::string> MatchExpr(const RuleSpec& rule, std::string_view var) {
  std::string out;
  for (std::size_t i = 0; i < rule.patterns.size(); ++i) {
    ASSIGN_OR_RETURN(std::string lit, Quote(rule.patterns[i]));
    if (i > 0) out += " || ";
    switch (rule.kind) {
      case RuleSpec::Kind::kSubtree:
        out += std::string(var) + " in Dn::" + lit;
        break;
      case RuleSpec::Kind::kList:
        out += std::string(var) + ".name == " + lit;
        break;
      case RuleSpec::Kind::kNames:
        out += std::string(var) + ".name like " + lit;
        break;
    }
  }
  return rule.patterns.size() > 1 ? "(" + out + ")" : out;
}

Result<std::string> ActionScope(const std::vector<std::string>& ops) {
  if (ops.size() == 1 && ops.front() == "*") return std::string("action");
  if (ops.size() == 1) {
    ASSIGN_OR_RETURN(std::string lit, Quote(ops.front()));
    return "action == Action::" + lit;
  }
  std::string out = "action in [";
  for (std::size_t i = 0; i < ops.size(); ++i) {
    ASSIGN_OR_RETURN(std::string lit, Quote(ops[i]));
    out += (i ? ", Action::" : "Action::") + lit;
  }
  return out + "]";
}

Result<std::string> GrantPolicy(const RuleSpec& g) {
  ASSIGN_OR_RETURN(std::string actions, ActionScope(g.operations));
  ASSIGN_OR_RETURN(std::string target, Quote(g.target));
  ASSIGN_OR_RETURN(std::string agent, Quote(kWorkloadAgent));
  std::string resource = "resource";
  std::string when = "resource.target == " + target;
  if (g.kind == RuleSpec::Kind::kSubtree) {
    ASSIGN_OR_RETURN(std::string dn, Quote(g.patterns.front()));
    resource = "resource in Dn::" + dn;
  } else {
    ASSIGN_OR_RETURN(std::string match, MatchExpr(g, "resource"));
    when += " && " + match;
  }
  return "@id(\"grant:" + g.id + "\")\n@approval(\"" +
         (g.needs_approval ? "required" : "none") + "\")\npermit (\n" +
         "  principal == Agent::" + agent + ",\n  " + actions + ",\n  " +
         resource + "\n)\nwhen { " + when + " };\n";
}

Result<std::string> ForbidPolicy(const RuleSpec& f) {
  ASSIGN_OR_RETURN(std::string actions, ActionScope(f.operations));
  ASSIGN_OR_RETURN(std::string on_resource, MatchExpr(f, "resource"));
  ASSIGN_OR_RETURN(std::string on_subject, MatchExpr(f, "context.subject"));
  std::string when =
      on_resource + " || (context has subject && " + on_subject + ")";
  if (f.target != "*") {
    ASSIGN_OR_RETURN(std::string target, Quote(f.target));
    when = "resource.target == " + target + " && (" + when + ")";
  }
  return "@id(\"forbid:" + f.id + "\")\nforbid (principal, " + actions +
         ", resource)\nwhen { " + when + " };\n";
}

Result<std::string> SetLiteral(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    ASSIGN_OR_RETURN(std::string lit, Quote(values[i]));
    out += (i ? ", " : "") + lit;
  }
  return out + "]";
}

Result<std::string> CedarPolicies(const GateWorkload& w) {
  std::string out =
      "// Generated by gate_compare from deputy's benchmark scope: one\n"
      "// permit per grant, one forbid per forbid, and the gate's built-in\n"
      "// invariants. Policy ids are in the @id annotations.\n\n";
  ASSIGN_OR_RETURN(std::string agents, SetLiteral(w.agent_identities));
  ASSIGN_OR_RETURN(std::string owners, SetLiteral(w.owner_identities));
  out += "@id(\"" + std::string(kTrustRootInvariant) +
         "\")\nforbid (principal, action, resource)\n"
         "when { resource.target == \"deputy\" };\n\n";
  for (const auto& [id, set] : {std::pair{kAgentInvariant, agents},
                                std::pair{kOwnerInvariant, owners}}) {
    out += "@id(\"" + std::string(id) +
           "\")\nforbid (principal, action, resource)\nwhen { " + set +
           ".contains(resource.name) ||\n       (context has subject && " +
           set + ".contains(context.subject.name)) };\n\n";
  }
  for (const RuleSpec& g : w.grants) {
    ASSIGN_OR_RETURN(std::string p, GrantPolicy(g));
    out += p + "\n";
  }
  for (const RuleSpec& f : w.forbids) {
    ASSIGN_OR_RETURN(std::string p, ForbidPolicy(f));
    out += p + "\n";
  }
  return out;
}

std::string EntityId(const std::string& target, const CanonicalName& name) {
  return target + ":" + name.text;
}

Json Entity(const std::string& target, const CanonicalName& name) {
  Json parents = Json::array();
  if (name.is_dn) {
    parents.push_back({{"type", "Dn"}, {"id", name.text}});
    for (const auto& a : name.ancestors) {
      parents.push_back({{"type", "Dn"}, {"id", a}});
    }
  }
  return {{"uid", {{"type", "Resource"}, {"id", EntityId(target, name)}}},
          {"attrs", {{"target", target}, {"name", name.text}}},
          {"parents", parents}};
}

Json CedarRequest(const GateRequest& r) {
  Json context = Json::object();
  Json entities = {Entity(r.target, r.resource)};
  if (!r.subject.text.empty()) {
    context["subject"] = {
        {"__entity",
         {{"type", "Resource"}, {"id", EntityId(r.target, r.subject)}}}};
    entities.push_back(Entity(r.target, r.subject));
  }
  return {{"principal", {{"type", "Agent"}, {"id", kWorkloadAgent}}},
          {"action", {{"type", "Action"}, {"id", r.operation}}},
          {"resource",
           {{"type", "Resource"}, {"id", EntityId(r.target, r.resource)}}},
          {"context", context},
          {"entities", entities}};
}

// Deputy's decision in the comparison's terms: the effect, the grants
// that matched, and the Cedar id of the rule that denied (empty for
// "no grant").
Result<Json> Expected(const Decision& d, const Action& a) {
  std::string rule;
  const std::string& reason = d.reasons.front();
  if (reason == "forbidden") {
    rule = d.failed_clause;  // "forbid:<id>", as the Cedar ids.
  } else if (reason == "invariant_trust_root") {
    rule = kTrustRootInvariant;
  } else if (reason == "invariant_agent_self") {
    rule = kAgentInvariant;
  } else if (reason == "invariant_owner_account") {
    rule = kOwnerInvariant;
  } else if (reason != "no_matching_grant" && reason != "grant_matched" &&
             reason != "approval_required") {
    return Status::Internal(
        "the stream produced a decision the comparison "
        "does not model: " +
        reason + " for " + a.ToJson().dump());
  }
  Json grants = Json::array();
  for (const auto& g : d.grants) grants.push_back("grant:" + g);
  return Json{{"effect", EffectName(d.effect)},
              {"reason", reason},
              {"grants", grants},
              {"rule", rule},
              {"sent", a.ToJson()}};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Quantile(std::vector<std::int64_t>& v, double q) {
  auto k =
      std::min(v.size() - 1,
               static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]);
}

// Deputy's per-decision time over the stream, explanation included:
// the mean of whole passes (median of 25), and p50/p99 over at least
// 1,000,000 decisions timed one by one.
Json TimeDeputy(const Gate& gate, const std::vector<Action>& actions) {
  using Clock = std::chrono::steady_clock;
  DecisionContext ctx;
  ctx.now_micros = kWorkloadNow;
  const auto decide = [&](const Action& a) {
    const Decision d = gate.Decide(a, ctx);
    return d.Explain(a).size();
  };
  std::size_t sink = 0;
  for (const Action& a : actions) sink += decide(a);  // Warm-up.
  std::vector<double> pass_ns;
  for (int pass = 0; pass < 25; ++pass) {
    const auto t0 = Clock::now();
    for (const Action& a : actions) sink += decide(a);
    const auto t1 = Clock::now();
    pass_ns.push_back(
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
                .count()) /
        static_cast<double>(actions.size()));
  }
  const std::size_t passes = (1000000 + actions.size() - 1) / actions.size();
  std::vector<std::int64_t> ns;
  ns.reserve(passes * actions.size());
  for (std::size_t pass = 0; pass < passes; ++pass) {
    for (const Action& a : actions) {
      const auto t0 = Clock::now();
      sink += decide(a);
      const auto t1 = Clock::now();
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0)
                       .count());
    }
  }
  return {{"mean_ns", Median(pass_ns)},     {"pass_mean_ns", pass_ns},
          {"samples", ns.size()},           {"p50_ns", Quantile(ns, 0.50)},
          {"p90_ns", Quantile(ns, 0.90)},   {"p99_ns", Quantile(ns, 0.99)},
          {"p999_ns", Quantile(ns, 0.999)}, {"explain_bytes", sink}};
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Status::Io("cannot write " + path);
  return Status::Ok();
}

Status Run(const std::string& dir) {
  ASSIGN_OR_RETURN(GateWorkload w, deputy::bench::MakeGateWorkload());
  ASSIGN_OR_RETURN(TrustRoot trust, TrustRoot::ParsePayload(w.trust_payload));
  ASSIGN_OR_RETURN(deputy::keys::Envelope envelope,
                   deputy::keys::Envelope::Parse(w.signed_scope));
  ASSIGN_OR_RETURN(
      ScopeManifest scope,
      ScopeManifest::Verify(envelope, trust, kWorkloadAgent, 0, kWorkloadNow));
  ASSIGN_OR_RETURN(Gate gate,
                   Gate::Create(trust, std::string(kWorkloadAgent), &scope));

  // Timed first, before the output documents take up the heap.
  std::vector<Action> actions;
  for (const GateRequest& r : w.requests) actions.push_back(r.action);
  const Json timing = TimeDeputy(gate, actions);

  Json decisions = Json::array();
  Json requests = Json::array();
  std::map<std::string, int> mix;
  DecisionContext ctx;
  ctx.now_micros = kWorkloadNow;
  for (const GateRequest& r : w.requests) {
    const Decision d = gate.Decide(r.action, ctx);
    ASSIGN_OR_RETURN(Json expected, Expected(d, r.action));
    ++mix[d.effect == Effect::kDeny ? d.reasons.front()
                                    : std::string(EffectName(d.effect))];
    decisions.push_back(std::move(expected));
    requests.push_back(CedarRequest(r));
  }
  ASSIGN_OR_RETURN(std::string policies, CedarPolicies(w));
  const Json deputy = {
      {"grants", w.grants.size()},
      {"forbids", w.forbids.size()},
      {"cedar_policies", w.grants.size() + w.forbids.size() + 3},
      {"requests", w.requests.size()},
      {"mix", mix},
      {"timing", timing},
      {"decisions", decisions}};

  RETURN_IF_ERROR(WriteFile(dir + "/trust-root.json", w.trust_payload + "\n"));
  RETURN_IF_ERROR(WriteFile(dir + "/scope.json", w.scope_payload + "\n"));
  RETURN_IF_ERROR(WriteFile(dir + "/scope.dsse.json", w.signed_scope));
  RETURN_IF_ERROR(WriteFile(dir + "/policies.cedar", policies));
  RETURN_IF_ERROR(WriteFile(dir + "/requests.json", requests.dump() + "\n"));
  RETURN_IF_ERROR(WriteFile(dir + "/deputy.json", deputy.dump(1) + "\n"));
  std::printf("gate_compare: %zu grants, %zu forbids, %zu requests -> %s\n",
              w.grants.size(), w.forbids.size(), w.requests.size(),
              dir.c_str());
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gate_compare OUT_DIR\n");
    return 2;
  }
  const Status s = Run(argv[1]);
  if (!s.ok()) {
    std::fprintf(stderr, "gate_compare: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
