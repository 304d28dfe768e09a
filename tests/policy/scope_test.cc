#include "policy/scope.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "keys/private_key.h"
#include "policy/revocation.h"

namespace deputy::policy {
namespace {

using Json = nlohmann::json;

std::int64_t T(std::string_view text) {
  auto t = ParseRfc3339Seconds(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

std::string KeyLine(const keys::PrivateKey& key) {
  std::string line = key.public_key().Serialize();
  line.pop_back();
  return line;
}

bool Contains(const Status& s, std::string_view needle) {
  return s.message().find(needle) != std::string::npos;
}

// Generated once for the whole suite.
struct World {
  World() {
    for (const char* name :
         {"alice", "alice-laptop", "bob", "agent-1", "agent-2", "mallory"}) {
      auto k = keys::PrivateKey::Generate(name);
      if (!k.ok()) std::abort();
      keys.push_back(std::move(*k));
    }
    // Owners alice (two keys) and bob; agents agent-1 and agent-2.
    Json root = {
        {"version", 1},
        {"expires", "2028-01-01T00:00:00Z"},
        {"owners",
         {{{"name", "alice"}, {"keys", {KeyLine(keys[0]), KeyLine(keys[1])}}},
          {{"name", "bob"}, {"keys", {KeyLine(keys[2])}}}}},
        {"agents",
         {{{"id", "agent-1"},
           {"key", KeyLine(keys[3])},
           {"owner", "alice"},
           {"backup_owner", "bob"}},
          {{"id", "agent-2"},
           {"key", KeyLine(keys[4])},
           {"owner", "bob"},
           {"backup_owner", "alice"}}}},
        {"thresholds",
         {{"trust_change", 2}, {"scope_grant", 2}, {"revocation", 1}}}};
    auto parsed = TrustRoot::ParsePayload(root.dump());
    if (!parsed.ok()) std::abort();
    trust.emplace(std::move(*parsed));
  }
  std::vector<keys::PrivateKey> keys;
  std::optional<TrustRoot> trust;
};
const World& W() {
  static const World* world = new World();
  return *world;
}
const keys::PrivateKey& alice() { return W().keys[0]; }
const keys::PrivateKey& alice_laptop() { return W().keys[1]; }
const keys::PrivateKey& bob() { return W().keys[2]; }
const keys::PrivateKey& mallory() { return W().keys[5]; }
const TrustRoot& Trust() { return *W().trust; }

const std::int64_t kNow = *ParseRfc3339Seconds("2027-02-01T12:00:00Z");

Json Doc(std::int64_t version = 3, std::string agent = "agent-1") {
  Json doc = Json::parse(R"({
    "agent": "agent-1", "version": 3,
    "not_before": "2027-01-01T00:00:00Z", "expires": "2027-03-01T00:00:00Z",
    "grants": [
      {"id": "ldap-leavers", "target": "ldap",
       "operations": ["disable", "remove_member", "delete"],
       "resources": {"subtree": "ou=People, dc=Example,dc=org"},
       "limits": {"per_hour": 100}, "approval": "none"},
      {"id": "pg-app-roles", "target": "postgres",
       "operations": ["grant_role", "revoke_role"],
       "resources": {"names": ["app_*"]}, "approval": "required"}],
    "forbid": [
      {"id": "no-admins", "target": "*", "operations": ["*"],
       "resources": {"list": ["uid=root,ou=people,dc=example,dc=org",
                              "Postgres"]}}],
    "limits": {"actions_per_hour": 500, "deletions_per_day": 50},
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                 "start": "06:00", "end": "20:00"}]
  })");
  doc["version"] = version;
  doc["agent"] = std::move(agent);
  return doc;
}

keys::Envelope Sign(const Json& doc,
                    std::vector<const keys::PrivateKey*> signers,
                    std::string_view type = kScopeType) {
  keys::Envelope env = keys::SignEnvelope(type, doc.dump(), *signers.at(0));
  for (std::size_t i = 1; i < signers.size(); ++i) {
    EXPECT_TRUE(keys::AddSignature(env, *signers[i]).ok());
  }
  return env;
}

Result<ScopeManifest> Verify(const keys::Envelope& env,
                             std::int64_t highest = 0,
                             std::string_view agent = "agent-1") {
  return ScopeManifest::Verify(env, Trust(), agent, highest, kNow);
}

Status ParseError(const Json& doc) {
  return ScopeManifest::ParsePayload(doc.dump()).status();
}

// The pattern of a grant whose resources are `resources`.
ResourcePattern Pattern(const Json& resources) {
  Json doc = Doc();
  doc["grants"][0]["resources"] = resources;
  auto m = ScopeManifest::ParsePayload(doc.dump());
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? m->grants()[0].resources : ResourcePattern{};
}

// A temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/deputy-scope-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(std::string_view name) const {
    return path_ + "/" + std::string(name);
  }

 private:
  std::string path_;
};

TEST(ScopeManifest, AcceptsAManifestSignedByTheOwnerThreshold) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  auto m = Verify(env);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->agent(), "agent-1");
  EXPECT_EQ(m->version(), 3);
  EXPECT_EQ(m->not_before(), T("2027-01-01T00:00:00Z"));
  EXPECT_EQ(m->expires(), T("2027-03-01T00:00:00Z"));
  ASSERT_EQ(m->grants().size(), 2u);
  const Grant& ldap = m->grants()[0];
  EXPECT_EQ(ldap.id, "ldap-leavers");
  EXPECT_EQ(ldap.target, "ldap");
  EXPECT_EQ(ldap.operations,
            (std::vector<std::string>{"disable", "remove_member", "delete"}));
  EXPECT_EQ(ldap.resources.kind, ResourcePattern::Kind::kSubtree);
  ASSERT_TRUE(ldap.resources.subtree.has_value());
  EXPECT_EQ(ldap.resources.subtree->Canonical(), "ou=people,dc=example,dc=org");
  EXPECT_EQ(ldap.per_hour, 100);
  EXPECT_FALSE(ldap.needs_approval);
  EXPECT_TRUE(m->grants()[1].needs_approval);
  EXPECT_EQ(m->grants()[1].per_hour, std::nullopt);
  ASSERT_EQ(m->forbids().size(), 1u);
  EXPECT_EQ(m->forbids()[0].target, "*");
  EXPECT_EQ(m->forbids()[0].resources.values,
            (std::vector<std::string>{"uid=root,ou=people,dc=example,dc=org",
                                      "postgres"}));
  EXPECT_EQ(m->actions_per_hour(), 500);
  EXPECT_EQ(m->deletions_per_day(), 50);
  ASSERT_EQ(m->windows().size(), 1u);
  EXPECT_EQ(m->windows()[0].days, 0x1F);
  EXPECT_EQ(m->windows()[0].start_minute, 6 * 60);
  EXPECT_EQ(m->windows()[0].end_minute, 20 * 60);
  EXPECT_EQ(m->signed_by(), (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(m->payload(), env.payload);
  EXPECT_EQ(m->digest().size(), 64u);
}

TEST(ScopeManifest, OptionalPartsMayBeOmitted) {
  Json doc = Doc();
  doc.erase("forbid");
  doc.erase("limits");
  doc.erase("windows");
  auto m = ScopeManifest::ParsePayload(doc.dump());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->forbids().empty());
  EXPECT_EQ(m->actions_per_hour(), std::nullopt);
  EXPECT_TRUE(m->windows().empty());
}

TEST(ScopeManifest, RefusesRollbackToTheSameOrALowerVersion) {
  keys::Envelope env = Sign(Doc(5), {&alice(), &bob()});
  auto same = Verify(env, 5);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(same.status(),
                       "rollback: version 5 is not above the highest "
                       "accepted 5"));
  keys::Envelope old = Sign(Doc(3), {&alice(), &bob()});
  auto lower = Verify(old, 5);
  ASSERT_FALSE(lower.ok());
  EXPECT_TRUE(Contains(lower.status(),
                       "rollback: version 3 is not above the highest "
                       "accepted 5"));
  EXPECT_TRUE(Verify(Sign(Doc(6), {&alice(), &bob()}), 5).ok());
}

TEST(ScopeManifest, RefusesRollbackAcrossRestarts) {
  TempDir dir;
  const std::string path = dir.File("policy-state.json");
  {
    auto state = PolicyState::Load(path);
    ASSERT_TRUE(state.ok());
    auto m = Verify(Sign(Doc(5), {&alice(), &bob()}),
                    state->highest_scope_version());
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE(state->RecordScopeAccepted(m->version()).ok());
  }
  // A restart: the high-water mark comes back from disk.
  auto state = PolicyState::Load(path);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->highest_scope_version(), 5);
  auto old =
      Verify(Sign(Doc(4), {&alice(), &bob()}), state->highest_scope_version());
  ASSERT_FALSE(old.ok());
  EXPECT_TRUE(Contains(old.status(), "rollback"));
  EXPECT_EQ(state->RecordScopeAccepted(5).code(), ErrorCode::kPermissionDenied);
}

TEST(ScopeManifest, RefusesARevokedVersion) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok());
  Revocation revocation;
  revocation.agent = "agent-1";
  revocation.scope_version = 6;
  ASSERT_TRUE(state->RecordRevocation(revocation).ok());
  auto m =
      Verify(Sign(Doc(6), {&alice(), &bob()}), state->highest_scope_version());
  ASSERT_TRUE(m.ok());  // The signatures are fine; the state says no.
  EXPECT_TRUE(state->IsRevoked(m->version()));
  Status accepted = state->RecordScopeAccepted(m->version());
  EXPECT_EQ(accepted.code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(accepted, "revoked"));
}

TEST(ScopeManifest, FreezesWhenExpired) {
  Json doc = Doc();
  doc["expires"] = "2027-02-01T12:00:00Z";  // Exactly now: not valid.
  auto m = Verify(Sign(doc, {&alice(), &bob()}));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(m.status(),
                       "expired at 2027-02-01T12:00:00Z: the agent is frozen"))
      << m.status().ToString();
}

TEST(ScopeManifest, FreezesWhenTheTrustRootExpired) {
  Json doc = Doc();
  doc["expires"] = "2029-01-01T00:00:00Z";
  auto m = ScopeManifest::Verify(Sign(doc, {&alice(), &bob()}), Trust(),
                                 "agent-1", 0, T("2028-06-01T00:00:00Z"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(m.status(), "trust root expired"));
}

TEST(ScopeManifest, RefusesAManifestNotYetValid) {
  Json doc = Doc();
  doc["not_before"] = "2027-02-01T12:00:01Z";
  auto m = Verify(Sign(doc, {&alice(), &bob()}));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(m.status(), "not yet valid until 2027-02-01T12:00:01Z"));
  doc["not_before"] = "2027-02-01T12:00:00Z";  // Exactly now: valid.
  EXPECT_TRUE(Verify(Sign(doc, {&alice(), &bob()})).ok());
}

TEST(ScopeManifest, RefusesAManifestForAnotherAgent) {
  // Signed, correctly, for agent-2; offered to agent-1.
  keys::Envelope env = Sign(Doc(3, "agent-2"), {&alice(), &bob()});
  ASSERT_TRUE(Verify(env, 0, "agent-2").ok());
  auto m = Verify(env, 0, "agent-1");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(m.status(), "manifest for another agent"));
  // An agent the trust root does not list gets nothing, even when named.
  keys::Envelope stranger = Sign(Doc(3, "agent-9"), {&alice(), &bob()});
  auto s = Verify(stranger, 0, "agent-9");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.status(), "manifest for another agent"));
}

TEST(ScopeManifest, RefusesAnUnknownSigner) {
  auto m = Verify(Sign(Doc(), {&mallory()}));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kUnauthenticated);
  // A stranger does not make up for a missing owner either.
  auto half = Verify(Sign(Doc(), {&alice(), &mallory()}));
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(
      Contains(half.status(), "signed by 1 distinct owner(s), needs 2"));
}

TEST(ScopeManifest, OneSignerCountsOnce) {
  // The same owner's signature duplicated.
  keys::Envelope dup = Sign(Doc(), {&alice()});
  dup.signatures.push_back(dup.signatures[0]);
  EXPECT_EQ(Verify(dup).status().code(), ErrorCode::kPermissionDenied);
  // The same key listed twice, once without a key id.
  keys::Envelope twice = Sign(Doc(), {&alice()});
  twice.signatures.push_back({"", twice.signatures[0].sig});
  EXPECT_EQ(Verify(twice).status().code(), ErrorCode::kPermissionDenied);
  // One owner with two keys, signing with both.
  auto both = Verify(Sign(Doc(), {&alice(), &alice_laptop()}));
  ASSERT_FALSE(both.ok());
  EXPECT_TRUE(Contains(both.status(), "signed by 1 distinct owner(s)"));
  // With bob as well it is two owners, and alice is named once.
  auto ok = Verify(Sign(Doc(), {&alice(), &alice_laptop(), &bob()}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->signed_by(), (std::vector<std::string>{"alice", "bob"}));
}

TEST(ScopeManifest, RefusesAnEnvelopeOfAnotherType) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()}, kTrustRootType);
  auto m = Verify(env);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(m.status(), "payloadType"));
  // Relabelling the type breaks the signatures.
  env.payload_type = std::string(kScopeType);
  EXPECT_EQ(Verify(env).status().code(), ErrorCode::kUnauthenticated);
}

TEST(ScopeManifest, RefusesAnOversizedManifest) {
  Json doc = Doc();
  doc["grants"][0]["id"] = std::string(kMaxScopeBytes, 'a');
  keys::Envelope env = Sign(doc, {&alice(), &bob()});
  EXPECT_EQ(Verify(env).status().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(ParseError(doc).code(), ErrorCode::kResourceExhausted);
}

TEST(ScopeManifest, RefusesDuplicateJsonKeys) {
  std::string text = Doc().dump();
  const std::string grant = "\"id\":\"ldap-leavers\"";
  const std::size_t at = text.find(grant);
  ASSERT_NE(at, std::string::npos);
  text.insert(at, "\"approval\":\"required\",");
  auto m = ScopeManifest::ParsePayload(text);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(Contains(m.status(), "$.grants[0].approval: duplicate key"))
      << m.status().ToString();
}

TEST(ScopeManifest, RefusesUnknownFields) {
  Json doc = Doc();
  doc["comment"] = "x";
  EXPECT_TRUE(Contains(ParseError(doc), "$.comment: unknown field"));
  doc = Doc();
  doc["grants"][1]["expires"] = "2027-01-02T00:00:00Z";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].expires: unknown field"));
  doc = Doc();
  doc["grants"][0]["resources"]["regex"] = ".*";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].resources.regex"));
  doc = Doc();
  doc["limits"]["per_minute"] = 1;
  EXPECT_TRUE(Contains(ParseError(doc), "$.limits.per_minute: unknown field"));
  doc = Doc();
  doc["windows"][0]["tz"] = "CET";
  EXPECT_TRUE(Contains(ParseError(doc), "$.windows[0].tz: unknown field"));
  doc = Doc();
  doc["forbids"] = doc["forbid"];  // A misspelt section is not ignored.
  EXPECT_TRUE(Contains(ParseError(doc), "$.forbids: unknown field"));
}

TEST(ScopeManifest, RefusesWrongTypes) {
  struct Case {
    const char* pointer;
    Json value;
    const char* path;  // What the error message must name.
  };
  const Case cases[] = {
      {"/version", "3", "$.version"},
      {"/version", 3.5, "$.version"},
      {"/agent", 1, "$.agent"},
      {"/grants", Json::object(), "$.grants"},
      {"/grants/0/operations", "delete", "$.grants[0].operations"},
      {"/grants/0/operations/0", 1, "$.grants[0].operations[0]"},
      {"/grants/0/resources", "ou=x", "$.grants[0].resources"},
      {"/grants/0/resources/subtree", Json::array(),
       "$.grants[0].resources.subtree"},
      {"/grants/0/limits/per_hour", true, "$.grants[0].limits.per_hour"},
      {"/grants/0/approval", false, "$.grants[0].approval"},
      {"/forbid/0/resources/list", "uid=root", "$.forbid[0].resources.list"},
      {"/windows/0/days", "mon", "$.windows[0].days"},
      {"/windows/0/start", 600, "$.windows[0].start"},
      {"/limits/actions_per_hour", nullptr, "$.limits.actions_per_hour"},
  };
  for (const Case& c : cases) {
    Json doc = Doc();
    doc[Json::json_pointer(c.pointer)] = c.value;
    Status s = ParseError(doc);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument) << c.pointer;
    EXPECT_TRUE(Contains(s, c.path)) << c.path << " / " << s.ToString();
  }
}

TEST(ScopeManifest, RefusesUpperCaseOperations) {
  Json doc = Doc();
  doc["grants"][0]["operations"][1] = "Remove_Member";
  Status s = ParseError(doc);
  EXPECT_TRUE(Contains(s, "$.grants[0].operations[1]")) << s.ToString();
  EXPECT_TRUE(Contains(s, "lower-case"));
  doc = Doc();
  doc["forbid"][0]["operations"] = {"DELETE"};
  EXPECT_TRUE(Contains(ParseError(doc), "$.forbid[0].operations[0]"));
  for (const char* bad : {"delete-user", "delete user", "", "dëlete"}) {
    doc = Doc();
    doc["grants"][0]["operations"][0] = bad;
    EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].operations[0]")) << bad;
  }
}

TEST(ScopeManifest, WildcardsAreForForbidsOnly) {
  Json doc = Doc();
  doc["grants"][0]["operations"] = {"*"};
  EXPECT_TRUE(Contains(ParseError(doc), "only in a forbid"));
  doc = Doc();
  doc["grants"][0]["target"] = "*";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].target"));
  doc = Doc();
  doc["forbid"][0]["operations"] = {"*", "delete"};
  EXPECT_TRUE(Contains(ParseError(doc), "must be the only operation"));
  doc = Doc();
  doc["grants"][0]["target"] = "LDAP";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].target"));
  doc = Doc();
  doc["grants"][0]["resources"] = {{"subtree", ""}};
  EXPECT_TRUE(Contains(ParseError(doc), "root DN"));
}

TEST(ScopeManifest, ResourcesHaveExactlyOneKind) {
  Json doc = Doc();
  doc["grants"][1]["resources"] = {{"names", {"a"}}, {"list", {"b"}}};
  EXPECT_TRUE(
      Contains(ParseError(doc),
               "$.grants[1].resources: exactly one of subtree, names, list"));
  doc["grants"][1]["resources"] = Json::object();
  EXPECT_TRUE(Contains(ParseError(doc), "exactly one of subtree, names, list"));
  doc["grants"][1]["resources"] = {{"names", Json::array()}};
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].resources.names"));
  doc["grants"][1]["resources"] = {{"subtree", "not a dn"}};
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].resources.subtree"));
}

TEST(ScopeManifest, GrantAndForbidIdsAreUnique) {
  Json doc = Doc();
  doc["grants"][1]["id"] = "ldap-leavers";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].id: duplicate id"));
  doc = Doc();
  doc["forbid"][0]["id"] = "pg-app-roles";
  EXPECT_TRUE(Contains(ParseError(doc), "$.forbid[0].id: duplicate id"));
  doc = Doc();
  doc["grants"] = Json::array();
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants"));
}

TEST(ScopeManifest, RefusesBadLimitsTimesAndApprovals) {
  Json doc = Doc();
  doc["limits"]["deletions_per_day"] = 0;
  EXPECT_TRUE(Contains(ParseError(doc), "$.limits.deletions_per_day"));
  doc = Doc();
  doc["grants"][0]["limits"]["per_hour"] = -5;
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].limits.per_hour"));
  doc = Doc();
  doc["grants"][0]["approval"] = "maybe";
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].approval"));
  doc = Doc();
  doc["grants"][0].erase("approval");
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[0].approval: missing"));
  doc = Doc();
  doc["expires"] = doc["not_before"];
  EXPECT_TRUE(Contains(ParseError(doc), "$.expires: must be after"));
  doc = Doc();
  doc["not_before"] = "2027-01-01T00:00:00+01:00";
  EXPECT_TRUE(Contains(ParseError(doc), "$.not_before"));
  doc = Doc();
  doc["version"] = 0;
  EXPECT_TRUE(Contains(ParseError(doc), "$.version"));
}

TEST(ScopeManifest, RefusesBadWindows) {
  const std::pair<Json, std::string> cases[] = {
      {{{"days", {"mon", "Tue"}}, {"start", "06:00"}, {"end", "20:00"}},
       "$.windows[0].days[1]"},
      {{{"days", {"mon", "mon"}}, {"start", "06:00"}, {"end", "20:00"}},
       "duplicate day"},
      {{{"days", Json::array()}, {"start", "06:00"}, {"end", "20:00"}},
       "$.windows[0].days"},
      {{{"days", {"mon"}}, {"start", "24:00"}, {"end", "20:00"}},
       "$.windows[0].start"},
      {{{"days", {"mon"}}, {"start", "6:00"}, {"end", "20:00"}},
       "$.windows[0].start"},
      {{{"days", {"mon"}}, {"start", "06:00"}, {"end", "24:01"}},
       "$.windows[0].end"},
      {{{"days", {"mon"}}, {"start", "06:60"}, {"end", "20:00"}},
       "$.windows[0].start"},
      {{{"days", {"mon"}}, {"start", "06:00"}, {"end", "06:00"}},
       "start and end are equal"},
  };
  for (const auto& [window, expected] : cases) {
    Json doc = Doc();
    doc["windows"] = Json::array({window});
    Status s = ParseError(doc);
    EXPECT_TRUE(Contains(s, expected)) << window.dump() << " " << s.ToString();
  }
  Json doc = Doc();
  doc["windows"] = Json::array();
  EXPECT_TRUE(Contains(ParseError(doc), "$.windows"));
  doc["windows"] = {{{"days", {"sun"}}, {"start", "22:00"}, {"end", "24:00"}}};
  auto m = ScopeManifest::ParsePayload(doc.dump());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->windows()[0].days, 0x40);
  EXPECT_EQ(m->windows()[0].end_minute, 24 * 60);
}

TEST(ScopeManifest, TimeWindowsCoverWeekdayHoursAndOvernightSpans) {
  // 2027-02-01 is a Monday.
  TimeWindow office{0x1F, 6 * 60, 20 * 60};
  EXPECT_TRUE(office.Contains(*ParseRfc3339Seconds("2027-02-01T06:00:00Z")));
  EXPECT_TRUE(office.Contains(*ParseRfc3339Seconds("2027-02-05T19:59:59Z")));
  EXPECT_FALSE(office.Contains(*ParseRfc3339Seconds("2027-02-05T20:00:00Z")));
  EXPECT_FALSE(office.Contains(*ParseRfc3339Seconds("2027-02-01T05:59:59Z")));
  EXPECT_FALSE(office.Contains(*ParseRfc3339Seconds("2027-02-06T12:00:00Z")));
  // Friday 22:00 to Saturday 02:00.
  TimeWindow night{0x10, 22 * 60, 2 * 60};
  EXPECT_TRUE(night.Contains(*ParseRfc3339Seconds("2027-02-05T23:30:00Z")));
  EXPECT_TRUE(night.Contains(*ParseRfc3339Seconds("2027-02-06T01:59:00Z")));
  EXPECT_FALSE(night.Contains(*ParseRfc3339Seconds("2027-02-06T02:00:00Z")));
  EXPECT_FALSE(night.Contains(*ParseRfc3339Seconds("2027-02-05T01:00:00Z")));
  EXPECT_FALSE(night.Contains(*ParseRfc3339Seconds("2027-02-06T23:00:00Z")));
  // Sunday until midnight.
  TimeWindow sunday{0x40, 22 * 60, 24 * 60};
  EXPECT_TRUE(sunday.Contains(*ParseRfc3339Seconds("2027-02-07T23:59:59Z")));
  EXPECT_FALSE(sunday.Contains(*ParseRfc3339Seconds("2027-02-08T00:00:00Z")));
  // Before the epoch (1969-12-31 was a Wednesday).
  TimeWindow wednesday{0x04, 0, 24 * 60};
  EXPECT_TRUE(wednesday.Contains(-1));
}

TEST(ScopeManifest, SubtreeMatchesDnsThatDifferInCaseAndSpacing) {
  ResourcePattern p = Pattern({{"subtree", "OU=People, DC=Example, DC=Org"}});
  EXPECT_TRUE(MatchesResource(p, "uid=bob,ou=people,dc=example,dc=org"));
  EXPECT_TRUE(MatchesResource(p, "UID=Bob , OU=PEOPLE,dc=EXAMPLE, dc=org"));
  EXPECT_TRUE(MatchesResource(p, "ou=people,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(p, "uid=bob,ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(p, "ou=people,dc=example,dc=com"));
  EXPECT_FALSE(MatchesResource(p, "dc=example,dc=org"));
  // A name that merely ends like the subtree is not inside it.
  EXPECT_FALSE(MatchesResource(p, "uid=x,ou=otherpeople,dc=example,dc=org"));
  // Plain names and the root DN are never inside a subtree.
  EXPECT_FALSE(MatchesResource(p, "bob"));
  EXPECT_FALSE(MatchesResource(p, ""));
}

TEST(ScopeManifest, ListComparesDnsCanonicallyAndNamesIgnoringCase) {
  ResourcePattern p = Pattern(
      {{"list", {"UID=Root, OU=People,DC=example,DC=org", "App_Admin"}}});
  EXPECT_EQ(p.kind, ResourcePattern::Kind::kList);
  EXPECT_TRUE(MatchesResource(p, "uid=root,ou=people,dc=example,dc=org"));
  EXPECT_TRUE(MatchesResource(p, "uid=ROOT ,ou=People, dc=Example,dc=ORG"));
  EXPECT_FALSE(MatchesResource(p, "uid=root2,ou=people,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(p, "ou=people,dc=example,dc=org"));
  EXPECT_TRUE(MatchesResource(p, "app_admin"));
  EXPECT_TRUE(MatchesResource(p, "APP_ADMIN"));
  EXPECT_FALSE(MatchesResource(p, "app_admin2"));
  EXPECT_FALSE(MatchesResource(p, "app_"));
}

TEST(ScopeManifest, NamesGlobPlainNamesAndCanonicalDns) {
  ResourcePattern p = Pattern(
      {{"names", {"App_*", "uid=svc-?, OU=Services,dc=example,dc=org"}}});
  EXPECT_EQ(p.kind, ResourcePattern::Kind::kNames);
  EXPECT_TRUE(MatchesResource(p, "app_reporting"));
  EXPECT_TRUE(MatchesResource(p, "APP_"));
  EXPECT_FALSE(MatchesResource(p, "xapp_reporting"));
  EXPECT_TRUE(MatchesResource(p, "uid=svc-1,ou=services,dc=example,dc=org"));
  EXPECT_TRUE(MatchesResource(p, "UID=SVC-2 , ou=Services,DC=example,dc=org"));
  EXPECT_FALSE(MatchesResource(p, "uid=svc-10,ou=services,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(p, "uid=svc-1,ou=people,dc=example,dc=org"));
  // A DN glob matches only DNs; a plain glob only plain names unless it
  // is a pattern over the whole canonical DN.
  ResourcePattern any =
      Pattern({{"names", {" * , OU=People, DC=Example,dc=org"}}});
  ASSERT_EQ(any.globs.size(), 1u);
  EXPECT_EQ(any.globs[0], "*,ou=people,dc=example,dc=org");
  EXPECT_TRUE(MatchesResource(any, "uid=Bob,OU=People,dc=example,dc=org"));
  EXPECT_TRUE(MatchesResource(any, "cn=x+uid=y, ou=people,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(any, "uid=bob,ou=groups,dc=example,dc=org"));
  EXPECT_FALSE(MatchesResource(any, "ou=people,dc=example,dc=org"));
}

TEST(ScopeManifest, AnEscapedWildcardCannotWidenAGlob) {
  Json doc = Doc();
  doc["grants"][1]["resources"] = {
      {"names", {"uid=a\\2a,ou=people,dc=example,dc=org"}}};
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].resources.names[0]"));
  doc["grants"][1]["resources"] = {{"names", {"*,ou=a\\3f,dc=example,dc=org"}}};
  EXPECT_TRUE(Contains(ParseError(doc), "$.grants[1].resources.names[0]"));
}

// The example documents in examples/policy stay valid and fit together.
TEST(ScopeManifest, TheExamplesParse) {
  const std::filesystem::path examples =
      std::filesystem::path(__FILE__).parent_path() / "../../examples/policy";
  auto trust_text = ReadFileBounded(examples / "trust-root.json", 1 << 20);
  ASSERT_TRUE(trust_text.ok()) << trust_text.status().ToString();
  auto scope_text = ReadFileBounded(examples / "scope.json", 1 << 20);
  ASSERT_TRUE(scope_text.ok()) << scope_text.status().ToString();
  auto trust = TrustRoot::ParsePayload(*trust_text);
  ASSERT_TRUE(trust.ok()) << trust.status().ToString();
  auto scope = ScopeManifest::ParsePayload(*scope_text);
  ASSERT_TRUE(scope.ok()) << scope.status().ToString();
  const AgentIdentity* agent = trust->FindAgent(scope->agent());
  ASSERT_NE(agent, nullptr);
  for (const std::string& account : agent->accounts) {
    bool forbidden = false;
    for (const Forbid& f : scope->forbids()) {
      forbidden |= MatchesResource(f.resources, account);
    }
    EXPECT_TRUE(forbidden) << account;
  }
}

}  // namespace
}  // namespace deputy::policy
