// libFuzzer target: the scope manifest and trust root readers, and the
// revocation and approval readers behind a valid signature. Any input must
// give a value or a Status, never a crash. An accepted manifest must hold
// only what the schema allows, match fixed resources without crashing,
// and verify when signed by the owner of a fixed trust root exactly when
// it names that root's agent; an accepted trust root must satisfy its
// cross-field rules.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "keys/dsse.h"
#include "keys/private_key.h"
#include "policy/revocation.h"
#include "policy/scope.h"
#include "policy/trust_root.h"

namespace {

using namespace deputy;
using namespace deputy::policy;

[[noreturn]] void Fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_scope: %s %s\n", what, detail.c_str());
  std::abort();
}

void Check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) Fail(what, detail);
}

// One owner, "owner", whose key signs every document here, and one agent.
struct World {
  keys::PrivateKey owner;
  keys::PrivateKey backup;
  TrustRoot trust;
};

std::string KeyLine(const keys::PrivateKey& key) {
  std::string line = key.public_key().Serialize();
  line.pop_back();
  return line;
}

const World& GetWorld() {
  static const World* world = [] {
    auto owner = keys::PrivateKey::Generate("owner");
    auto backup = keys::PrivateKey::Generate("backup");
    auto agent = keys::PrivateKey::Generate("agent-1");
    if (!owner.ok() || !backup.ok() || !agent.ok()) Fail("key generation");
    const std::string payload =
        R"({"version":1,"expires":"9999-12-31T23:59:59Z","owners":[)"
        R"({"name":"owner","keys":[")" +
        KeyLine(*owner) + R"("]},{"name":"backup","keys":[")" +
        KeyLine(*backup) + R"("]}],"agents":[{"id":"agent-1","key":")" +
        KeyLine(*agent) +
        R"(","owner":"owner","backup_owner":"backup"}],)"
        R"("thresholds":{"trust_change":1,"scope_grant":1,"revocation":1}})";
    auto trust = TrustRoot::ParsePayload(payload);
    if (!trust.ok()) Fail("fixed trust root", trust.status().ToString());
    return new World{std::move(*owner), std::move(*backup), std::move(*trust)};
  }();
  return *world;
}

constexpr std::string_view kResources[] = {
    "uid=bob,ou=people,dc=example,dc=org",
    "UID=Bob , OU=People,DC=Example,DC=Org",
    "cn=admins,ou=groups,dc=example,dc=org",
    "ou=people,dc=example,dc=org",
    "dc=org",
    "app_reporting",
    "APP_*",
    "",
    "uid=a\\2a,ou=x",
    "cn=#04024869",
    "not a dn",
    "uid=",
};

bool IsOperation(const std::string& op, bool forbid) {
  if (forbid && op == "*") return true;
  if (op.empty()) return false;
  for (char c : op) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

void CheckPattern(const ResourcePattern& p) {
  switch (p.kind) {
    case ResourcePattern::Kind::kSubtree:
      Check(p.subtree.has_value(), "subtree pattern without a DN");
      break;
    case ResourcePattern::Kind::kNames:
      Check(!p.globs.empty(), "names pattern without globs");
      for (const auto& g : p.globs) {
        for (char c : g) Check(!(c >= 'A' && c <= 'Z'), "upper-case glob", g);
      }
      break;
    case ResourcePattern::Kind::kList:
      Check(!p.values.empty(), "list pattern without values");
      break;
  }
  for (std::string_view r : kResources) (void)MatchesResource(p, r);
}

void CheckManifest(const ScopeManifest& m, std::string_view input) {
  Check(!m.grants().empty(), "manifest without grants");
  Check(m.version() >= 1, "version below 1");
  Check(m.not_before() < m.expires(), "expires not after not_before");
  Check(m.payload() == input, "payload differs from the input");
  Check(m.digest().size() == 64, "digest length");
  for (const auto& g : m.grants()) {
    Check(g.target != "*", "wildcard target in a grant");
    Check(!g.operations.empty(), "grant without operations");
    for (const auto& op : g.operations) {
      Check(IsOperation(op, false), "bad grant operation", op);
    }
    Check(!g.per_hour.has_value() || *g.per_hour > 0, "per_hour not positive");
    Check(g.resources.kind != ResourcePattern::Kind::kSubtree ||
              !g.resources.subtree->empty(),
          "grant on the root DN");
    CheckPattern(g.resources);
  }
  for (const auto& f : m.forbids()) {
    for (const auto& op : f.operations) {
      Check(IsOperation(op, true), "bad forbid operation", op);
    }
    CheckPattern(f.resources);
  }
  Check(!m.actions_per_hour().has_value() || *m.actions_per_hour() > 0,
        "actions_per_hour not positive");
  for (const auto& w : m.windows()) {
    Check(w.days != 0 && w.days < 0x80, "window days");
    Check(w.start_minute >= 0 && w.start_minute < 1440, "window start");
    Check(w.end_minute >= 0 && w.end_minute <= 1440, "window end");
    Check(w.start_minute != w.end_minute, "empty window");
    (void)w.Contains(m.not_before());
    (void)w.Contains(m.expires());
  }
  // Times print back to what parses to the same instant.
  auto again = ParseRfc3339Seconds(FormatRfc3339Seconds(m.not_before()));
  Check(again.ok() && *again == m.not_before(), "time round trip");

  // Signed by the fixed root's owner, it verifies exactly when it names
  // the root's agent.
  const World& w = GetWorld();
  keys::Envelope env = keys::SignEnvelope(kScopeType, input, w.owner);
  auto verified = ScopeManifest::Verify(env, w.trust, m.agent(),
                                        m.version() - 1, m.not_before());
  Check(verified.ok() == (m.agent() == "agent-1"), "signed manifest verdict",
        verified.status().ToString());
  if (verified.ok()) {
    Check(verified->signed_by().size() == 1, "signed_by");
    Check(!ScopeManifest::Verify(env, w.trust, m.agent(), m.version(),
                                 m.not_before())
               .ok(),
          "rollback accepted");
    Check(!ScopeManifest::Verify(env, w.trust, m.agent(), 0, m.expires()).ok(),
          "expired manifest accepted");
  }
}

void CheckTrustRoot(const TrustRoot& root) {
  Check(!root.owners().empty(), "trust root without owners");
  const int owners = static_cast<int>(root.owners().size());
  const Thresholds& t = root.thresholds();
  Check(t.trust_change >= 1 && t.trust_change <= owners, "trust_change");
  Check(t.scope_grant >= 1 && t.scope_grant <= owners, "scope_grant");
  Check(t.revocation == 1, "revocation threshold");
  std::vector<keys::PublicKey> all;
  for (const auto& o : root.owners()) {
    Check(!o.keys.empty(), "owner without keys", o.name);
    for (const auto& k : o.keys) {
      Check(root.OwnerOfKey(k) == &o, "key of two owners", o.name);
      all.push_back(k);
    }
  }
  Check(root.OwnerKeyring().keys().size() == all.size(), "keyring size");
  Check(root.CountOwners(all) == owners, "CountOwners");
  for (const auto& a : root.agents()) {
    Check(root.FindOwner(a.owner) != nullptr, "agent owner", a.id);
    Check(root.FindOwner(a.backup_owner) != nullptr, "agent backup", a.id);
    Check(a.owner != a.backup_owner, "agent owner twice", a.id);
    Check(root.OwnerOfKey(a.key) == nullptr, "agent key is an owner key");
    Check(root.FindAgent(a.id) == &a, "FindAgent", a.id);
  }
  for (const auto& p : root.auditors()) {
    for (const auto& k : p.keys) {
      Check(root.OwnerOfKey(k) == nullptr, "auditor key is an owner key");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto manifest = ScopeManifest::ParsePayload(input);
  if (manifest.ok()) CheckManifest(*manifest, input);

  auto root = TrustRoot::ParsePayload(input);
  if (root.ok()) CheckTrustRoot(*root);

  // Revocations and approvals are parsed only behind a good signature.
  const World& w = GetWorld();
  auto revocation = Revocation::Verify(
      keys::SignEnvelope(kRevocationType, input, w.owner), w.trust);
  if (revocation.ok()) {
    Check(revocation->signed_by == "owner", "revocation signer");
    Check(revocation->all || revocation->scope_version >= 1,
          "revocation version");
  }
  auto approval = Approval::Verify(
      keys::SignEnvelope(kApprovalType, input, w.backup), w.trust);
  if (approval.ok()) {
    Check(approval->approver == "backup", "approval by another owner");
  }

  if (size == 20) {
    auto t = ParseRfc3339Seconds(input);
    if (t.ok()) {
      Check(FormatRfc3339Seconds(*t) == input, "time does not round-trip",
            std::string(input));
    }
  }
  return 0;
}
