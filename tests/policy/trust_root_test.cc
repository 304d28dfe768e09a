#include "policy/trust_root.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "keys/private_key.h"
#include "keys/sha256.h"
#include "policy/scope.h"

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
  line.pop_back();  // The JSON field holds the line without its newline.
  return line;
}

bool Contains(const Status& s, std::string_view needle) {
  return s.message().find(needle) != std::string::npos;
}

// Keys are generated once for the whole suite: Ed25519 key generation is
// cheap, but there is no reason to repeat it per test.
struct Keys {
  Keys() {
    for (const char* name : {"alice", "alice-laptop", "bob", "carol", "agent-1",
                             "dave", "mallory"}) {
      auto k = keys::PrivateKey::Generate(name);
      if (!k.ok()) std::abort();
      all.push_back(std::move(*k));
    }
  }
  std::vector<keys::PrivateKey> all;
};
const Keys& K() {
  static const Keys* keys = new Keys();
  return *keys;
}
const keys::PrivateKey& alice() { return K().all[0]; }
const keys::PrivateKey& alice_laptop() { return K().all[1]; }
const keys::PrivateKey& bob() { return K().all[2]; }
const keys::PrivateKey& carol() { return K().all[3]; }
const keys::PrivateKey& agent() { return K().all[4]; }
const keys::PrivateKey& dave() { return K().all[5]; }
const keys::PrivateKey& mallory() { return K().all[6]; }

const std::int64_t kNow = *ParseRfc3339Seconds("2027-06-01T12:00:00Z");

// Owners alice (two keys) and bob, auditor carol, agent-1; both
// thresholds 2.
Json Doc(std::int64_t version = 1) {
  return Json{
      {"version", version},
      {"expires", "2028-01-01T00:00:00Z"},
      {"owners",
       {{{"name", "alice"},
         {"contact", "alice@example.org"},
         {"keys", {KeyLine(alice()), KeyLine(alice_laptop())}},
         {"accounts", {"uid=alice,ou=people,dc=example,dc=org", "alice"}}},
        {{"name", "bob"},
         {"contact", "bob@example.org"},
         {"keys", {KeyLine(bob())}}}}},
      {"auditors",
       {{{"name", "carol"},
         {"contact", "carol@example.org"},
         {"keys", {KeyLine(carol())}}}}},
      {"agents",
       {{{"id", "agent-1"},
         {"key", KeyLine(agent())},
         {"owner", "alice"},
         {"backup_owner", "bob"},
         {"accounts",
          {"cn=deputy,ou=services,dc=example,dc=org", "deputy_svc"}}}}},
      {"thresholds",
       {{"trust_change", 2}, {"scope_grant", 2}, {"revocation", 1}}}};
}

keys::Envelope Sign(const Json& doc,
                    std::vector<const keys::PrivateKey*> signers) {
  keys::Envelope env =
      keys::SignEnvelope(kTrustRootType, doc.dump(), *signers.at(0));
  for (std::size_t i = 1; i < signers.size(); ++i) {
    EXPECT_TRUE(keys::AddSignature(env, *signers[i]).ok());
  }
  return env;
}

std::string Pin(const keys::Envelope& env) {
  return keys::Sha256Hex(AsBytes(env.payload));
}

Status ParseError(const Json& doc) {
  return TrustRoot::ParsePayload(doc.dump()).status();
}

// A verified version-3 root, and its successor in which dave replaces bob.
TrustRoot Current() {
  keys::Envelope env = Sign(Doc(3), {&alice(), &bob()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  if (!root.ok()) std::abort();
  return std::move(*root);
}
Json Rotated(std::int64_t version = 4) {
  Json doc = Doc(version);
  doc["owners"][1] = {{"name", "dave"}, {"keys", {KeyLine(dave())}}};
  doc["agents"][0]["backup_owner"] = "dave";
  return doc;
}

TEST(TrustRoot, ParsesAndFormatsRfc3339WholeSecondsInUtc) {
  EXPECT_EQ(*ParseRfc3339Seconds("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Seconds("2000-03-01T00:00:00Z"),
            std::int64_t{951868800} * 1'000'000);
  EXPECT_EQ(*ParseRfc3339Seconds("2024-02-29T23:59:59Z"),
            std::int64_t{1709251199} * 1'000'000);
  for (const char* text :
       {"1970-01-01T00:00:00Z", "2000-02-29T12:34:56Z", "2027-12-31T23:59:59Z",
        "2100-03-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    EXPECT_EQ(FormatRfc3339Seconds(*ParseRfc3339Seconds(text)), text);
  }
  // Sub-second instants truncate towards the past.
  EXPECT_EQ(FormatRfc3339Seconds(1'500'000), "1970-01-01T00:00:01Z");
  EXPECT_EQ(FormatRfc3339Seconds(-1), "1969-12-31T23:59:59Z");
}

TEST(TrustRoot, RefusesEveryOtherTimeForm) {
  for (const char* text : {
           "2027-02-29T00:00:00Z",       // Not a leap year.
           "2100-02-29T00:00:00Z",       // Century, not a leap year.
           "2027-13-01T00:00:00Z",       // Month.
           "2027-00-01T00:00:00Z",       // Month.
           "2027-04-31T00:00:00Z",       // Day.
           "2027-01-00T00:00:00Z",       // Day.
           "2027-01-01T24:00:00Z",       // Hour.
           "2027-01-01T00:60:00Z",       // Minute.
           "2027-01-01T00:00:60Z",       // Leap second.
           "2027-01-01t00:00:00Z",       // Lower-case t.
           "2027-01-01T00:00:00z",       // Lower-case z.
           "2027-01-01T00:00:00+00:00",  // Offset.
           "2027-01-01T00:00:00.5Z",     // Fraction.
           "2027-01-01 00:00:00Z",       // Space.
           "1969-12-31T23:59:59Z",       // Before the epoch.
           "+027-01-01T00:00:00Z",
           "2027-1-01T00:00:00Z",
           "",
       }) {
    EXPECT_FALSE(ParseRfc3339Seconds(text).ok()) << text;
  }
}

TEST(TrustRoot, PrincipalNamesUseOnlyTheNameAlphabet) {
  EXPECT_TRUE(ValidatePrincipalName("agent-1").ok());
  EXPECT_TRUE(ValidatePrincipalName("alice@example.org").ok());
  EXPECT_FALSE(ValidatePrincipalName("").ok());
  EXPECT_FALSE(ValidatePrincipalName("a b").ok());
  EXPECT_FALSE(ValidatePrincipalName("a+b").ok());
  EXPECT_FALSE(ValidatePrincipalName(std::string(65, 'a')).ok());
}

TEST(TrustRoot, AcceptsAPinnedRootSignedByItsOwners) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->version(), 1);
  EXPECT_EQ(root->expires(), T("2028-01-01T00:00:00Z"));
  ASSERT_EQ(root->owners().size(), 2u);
  EXPECT_EQ(root->owners()[0].keys.size(), 2u);
  EXPECT_EQ(root->owners()[0].accounts.size(), 2u);
  EXPECT_EQ(root->auditors()[0].name, "carol");
  ASSERT_NE(root->FindAgent("agent-1"), nullptr);
  EXPECT_EQ(root->FindAgent("agent-1")->backup_owner, "bob");
  EXPECT_EQ(root->FindAgent("agent-2"), nullptr);
  EXPECT_EQ(root->thresholds().trust_change, 2);
  EXPECT_EQ(root->thresholds().scope_grant, 2);
  EXPECT_EQ(root->thresholds().revocation, 1);
  EXPECT_EQ(root->digest(), Pin(env));
  EXPECT_EQ(root->payload(), env.payload);
  EXPECT_EQ(root->OwnerOfKey(alice_laptop().public_key()),
            root->FindOwner("alice"));
  EXPECT_EQ(root->OwnerOfKey(carol().public_key()), nullptr);
  EXPECT_EQ(root->OwnerOfKey(agent().public_key()), nullptr);
  EXPECT_EQ(root->OwnerKeyring().keys().size(), 3u);
}

TEST(TrustRoot, RefusesAPinMismatch) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  const std::string other = keys::Sha256Hex(AsBytes("another root"));
  auto root = TrustRoot::VerifyPinned(env, other, kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(root.status(), "does not match the pinned"));
  // The same JSON encoded with one more space is another document.
  keys::Envelope respaced =
      keys::SignEnvelope(kTrustRootType, env.payload + " ", alice());
  ASSERT_TRUE(keys::AddSignature(respaced, bob()).ok());
  EXPECT_EQ(TrustRoot::VerifyPinned(respaced, Pin(env), kNow).status().code(),
            ErrorCode::kPermissionDenied);
}

TEST(TrustRoot, RefusesAMalformedPin) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  std::string upper = Pin(env);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(TrustRoot::VerifyPinned(env, upper, kNow).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(TrustRoot::VerifyPinned(env, "", kNow).ok());
}

TEST(TrustRoot, RefusesARootBelowItsOwnThreshold) {
  keys::Envelope env = Sign(Doc(), {&alice()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(root.status(), "needs 2")) << root.status().ToString();
}

TEST(TrustRoot, OneOwnerSigningWithTwoKeysCountsOnce) {
  keys::Envelope env = Sign(Doc(), {&alice(), &alice_laptop()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_TRUE(Contains(root.status(), "signed by 1 "))
      << root.status().ToString();
}

TEST(TrustRoot, ADuplicatedSignatureCountsOnce) {
  keys::Envelope env = Sign(Doc(), {&alice()});
  env.signatures.push_back(env.signatures[0]);
  env.signatures.push_back({"", env.signatures[0].sig});  // No key id.
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kPermissionDenied);
}

TEST(TrustRoot, AuditorsAgentsAndStrangersDoNotCountAsOwners) {
  keys::Envelope env = Sign(Doc(), {&alice(), &carol(), &agent(), &mallory()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kPermissionDenied);
  keys::Envelope strangers = Sign(Doc(), {&carol(), &mallory()});
  EXPECT_EQ(
      TrustRoot::VerifyPinned(strangers, Pin(strangers), kNow).status().code(),
      ErrorCode::kUnauthenticated);
}

TEST(TrustRoot, RefusesAnExpiredRoot) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  auto root = TrustRoot::VerifyPinned(env, Pin(env), T("2028-01-01T00:00:00Z"));
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(root.status(), "expired at 2028-01-01T00:00:00Z"));
}

TEST(TrustRoot, RefusesAnEnvelopeOfAnotherType) {
  const std::string payload = Doc().dump();
  keys::Envelope env = keys::SignEnvelope(kScopeType, payload, alice());
  ASSERT_TRUE(keys::AddSignature(env, bob()).ok());
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(root.status(), "payloadType"));
}

TEST(TrustRoot, ATamperedPayloadFailsEvenWithTheRightPin) {
  keys::Envelope env = Sign(Doc(), {&alice(), &bob()});
  Json doc = Doc();
  doc["thresholds"]["trust_change"] = 1;
  env.payload = doc.dump();  // Signatures are over the old payload.
  auto root = TrustRoot::VerifyPinned(env, Pin(env), kNow);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kUnauthenticated);
}

TEST(TrustRoot, RefusesOneKeyUnderTwoPrincipals) {
  Json doc = Doc();
  doc["agents"][0]["key"] = KeyLine(bob());
  Status s = ParseError(doc);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "$.agents[0].key")) << s.ToString();
  EXPECT_TRUE(Contains(s, "\"bob\""));

  doc = Doc();
  doc["auditors"][0]["keys"] = {KeyLine(alice_laptop())};
  EXPECT_TRUE(Contains(ParseError(doc), "$.auditors[0].keys[0]"));

  // The same key under another label is still the same key.
  doc = Doc();
  auto relabelled = keys::PublicKey::FromRaw(bob().public_key().raw(), "bob2");
  ASSERT_TRUE(relabelled.ok());
  std::string line = relabelled->Serialize();
  line.pop_back();
  doc["owners"][0]["keys"].push_back(line);
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[1].keys[0]"));
}

TEST(TrustRoot, RefusesOneKeyListedTwiceForOnePrincipal) {
  Json doc = Doc();
  doc["owners"][1]["keys"].push_back(KeyLine(bob()));
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[1].keys[1]"));
}

TEST(TrustRoot, RefusesANameUsedTwice) {
  Json doc = Doc();
  doc["auditors"][0]["name"] = "Alice";  // Case does not make a new name.
  EXPECT_TRUE(Contains(ParseError(doc), "$.auditors[0].name"));
  doc = Doc();
  doc["agents"][0]["id"] = "bob";
  EXPECT_TRUE(Contains(ParseError(doc), "$.agents[0].id"));
}

TEST(TrustRoot, RefusesBadNames) {
  Json doc = Doc();
  doc["owners"][0]["name"] = "alice smith";
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[0].name"));
  doc = Doc();
  doc["agents"][0]["id"] = "";
  EXPECT_TRUE(Contains(ParseError(doc), "$.agents[0].id"));
}

TEST(TrustRoot, AgentOwnersMustBeTwoDistinctOwners) {
  Json doc = Doc();
  doc["agents"][0]["owner"] = "carol";  // An auditor, not an owner.
  EXPECT_TRUE(Contains(ParseError(doc), "$.agents[0].owner"));
  doc = Doc();
  doc["agents"][0]["backup_owner"] = "nobody";
  EXPECT_TRUE(Contains(ParseError(doc), "$.agents[0].backup_owner"));
  doc = Doc();
  doc["agents"][0]["backup_owner"] = "alice";
  Status s = ParseError(doc);
  EXPECT_TRUE(Contains(s, "$.agents[0].backup_owner")) << s.ToString();
  EXPECT_TRUE(Contains(s, "another owner"));
}

TEST(TrustRoot, ThresholdsLieBetweenOneAndTheNumberOfOwners) {
  for (int bad : {0, 3, -1}) {
    Json doc = Doc();
    doc["thresholds"]["trust_change"] = bad;
    EXPECT_TRUE(Contains(ParseError(doc), "$.thresholds.trust_change")) << bad;
    doc = Doc();
    doc["thresholds"]["scope_grant"] = bad;
    EXPECT_TRUE(Contains(ParseError(doc), "$.thresholds.scope_grant")) << bad;
  }
  Json doc = Doc();
  doc["thresholds"]["revocation"] = 2;
  Status s = ParseError(doc);
  EXPECT_TRUE(Contains(s, "$.thresholds.revocation")) << s.ToString();
  EXPECT_TRUE(Contains(s, "any single owner can revoke"));
  doc = Doc();
  doc["thresholds"].erase("revocation");
  EXPECT_TRUE(Contains(ParseError(doc), "missing required field"));
}

TEST(TrustRoot, RefusesARootWithoutOwnersOrKeys) {
  Json doc = Doc();
  doc["owners"] = Json::array();
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners"));
  doc = Doc();
  doc["owners"][1]["keys"] = Json::array();
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[1].keys"));
  doc = Doc();
  doc["version"] = 0;
  EXPECT_TRUE(Contains(ParseError(doc), "$.version"));
}

TEST(TrustRoot, RefusesUnknownFields) {
  Json doc = Doc();
  doc["_comment"] = "demo";
  EXPECT_TRUE(Contains(ParseError(doc), "$._comment: unknown field"));
  doc = Doc();
  doc["owners"][0]["role"] = "admin";
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[0].role: unknown field"));
  doc = Doc();
  doc["thresholds"]["audit"] = 1;
  EXPECT_TRUE(Contains(ParseError(doc), "$.thresholds.audit: unknown field"));
}

TEST(TrustRoot, RefusesDuplicateKeys) {
  std::string text = Doc().dump();
  text.insert(1, "\"version\":7,");
  auto root = TrustRoot::ParsePayload(text);
  ASSERT_FALSE(root.ok());
  EXPECT_TRUE(Contains(root.status(), "duplicate key"));
}

TEST(TrustRoot, RefusesWrongTypes) {
  Json doc = Doc();
  doc["version"] = "1";
  EXPECT_TRUE(Contains(ParseError(doc), "$.version: expected an integer"));
  doc = Doc();
  doc["owners"][0]["keys"] = KeyLine(alice());
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[0].keys: expected an array"));
  doc = Doc();
  doc["owners"][0]["accounts"] = {1};
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[0].accounts[0]"));
  doc = Doc();
  doc["expires"] = "2028-01-01";
  EXPECT_TRUE(Contains(ParseError(doc), "$.expires"));
  doc = Doc();
  doc["owners"][0]["keys"][0] = "ed25519 AAAA alice";
  EXPECT_TRUE(Contains(ParseError(doc), "$.owners[0].keys[0]"));
}

TEST(TrustRoot, RefusesAnOversizedRoot) {
  Json doc = Doc();
  doc["owners"][0]["contact"] = std::string(kMaxTrustRootBytes, 'x');
  EXPECT_EQ(ParseError(doc).code(), ErrorCode::kResourceExhausted);
}

TEST(TrustRoot, AcceptsAnUpdateSignedByOldAndNewOwners) {
  const TrustRoot current = Current();
  keys::Envelope env = Sign(Rotated(), {&alice(), &bob(), &dave()});
  auto next = TrustRoot::VerifyUpdate(current, env, kNow);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->version(), 4);
  EXPECT_NE(next->FindOwner("dave"), nullptr);
  EXPECT_EQ(next->FindOwner("bob"), nullptr);
}

TEST(TrustRoot, RefusesAnUpdateSignedOnlyByOldOwners) {
  const TrustRoot current = Current();
  keys::Envelope env = Sign(Rotated(), {&alice(), &bob()});
  auto next = TrustRoot::VerifyUpdate(current, env, kNow);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(next.status(), "new owners"))
      << next.status().ToString();
}

TEST(TrustRoot, RefusesAnUpdateSignedOnlyByNewOwners) {
  const TrustRoot current = Current();
  keys::Envelope env = Sign(Rotated(), {&dave(), &alice_laptop()});
  auto next = TrustRoot::VerifyUpdate(current, env, kNow);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(next.status(), "current owners"))
      << next.status().ToString();
  // Only dave: not even one current owner.
  keys::Envelope dave_only = Sign(Rotated(), {&dave()});
  EXPECT_EQ(TrustRoot::VerifyUpdate(current, dave_only, kNow).status().code(),
            ErrorCode::kUnauthenticated);
}

TEST(TrustRoot, RefusesAnUpdateToALowerOrEqualVersion) {
  const TrustRoot current = Current();
  for (std::int64_t version : {3, 2}) {
    Json doc = Rotated(version);
    keys::Envelope env = Sign(doc, {&alice(), &bob(), &dave()});
    auto next = TrustRoot::VerifyUpdate(current, env, kNow);
    ASSERT_FALSE(next.ok());
    EXPECT_TRUE(Contains(next.status(), "rollback"))
        << next.status().ToString();
  }
}

TEST(TrustRoot, RefusesAnExpiredUpdate) {
  const TrustRoot current = Current();
  Json doc = Rotated();
  doc["expires"] = "2027-01-01T00:00:00Z";
  keys::Envelope env = Sign(doc, {&alice(), &bob(), &dave()});
  EXPECT_EQ(TrustRoot::VerifyUpdate(current, env, kNow).status().code(),
            ErrorCode::kFailedPrecondition);
}

TEST(TrustRoot, AnExpiredCurrentRootCanStillBeUpdated) {
  const TrustRoot current = Current();
  Json doc = Rotated();
  doc["expires"] = "2029-01-01T00:00:00Z";
  keys::Envelope env = Sign(doc, {&alice(), &bob(), &dave()});
  EXPECT_TRUE(
      TrustRoot::VerifyUpdate(current, env, T("2028-06-01T00:00:00Z")).ok());
}

TEST(TrustRoot, CountOwnersCountsPeopleNotKeys) {
  const TrustRoot root = Current();
  EXPECT_EQ(root.CountOwners({}), 0);
  EXPECT_EQ(root.CountOwners({alice().public_key(), alice_laptop().public_key(),
                              alice().public_key()}),
            1);
  EXPECT_EQ(root.CountOwners({alice().public_key(), bob().public_key(),
                              mallory().public_key(), carol().public_key()}),
            2);
}

}  // namespace
}  // namespace deputy::policy
