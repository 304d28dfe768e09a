#include "policy/revocation.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "keys/private_key.h"
#include "keys/sha256.h"

namespace deputy::policy {
namespace {

using Json = nlohmann::json;

std::string KeyLine(const keys::PrivateKey& key) {
  std::string line = key.public_key().Serialize();
  line.pop_back();
  return line;
}

bool Contains(const Status& s, std::string_view needle) {
  return s.message().find(needle) != std::string::npos;
}

// `doc` with the members of `patch` replaced or added.
Json With(Json doc, const Json& patch) {
  doc.update(patch);
  return doc;
}

// Generated once for the whole suite: owners alice (two keys) and bob,
// auditor carol, agent-1, and a stranger.
struct World {
  World() {
    for (const char* name :
         {"alice", "alice-laptop", "bob", "carol", "agent-1", "mallory"}) {
      auto k = keys::PrivateKey::Generate(name);
      if (!k.ok()) std::abort();
      keys.push_back(std::move(*k));
    }
    Json root = {
        {"version", 1},
        {"expires", "2028-01-01T00:00:00Z"},
        {"owners",
         {{{"name", "alice"}, {"keys", {KeyLine(keys[0]), KeyLine(keys[1])}}},
          {{"name", "bob"}, {"keys", {KeyLine(keys[2])}}}}},
        {"auditors", {{{"name", "carol"}, {"keys", {KeyLine(keys[3])}}}}},
        {"agents",
         {{{"id", "agent-1"},
           {"key", KeyLine(keys[4])},
           {"owner", "alice"},
           {"backup_owner", "bob"}}}},
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
const keys::PrivateKey& carol() { return W().keys[3]; }
const keys::PrivateKey& agent() { return W().keys[4]; }
const keys::PrivateKey& mallory() { return W().keys[5]; }
const TrustRoot& Trust() { return *W().trust; }

keys::Envelope Sign(std::string_view type, const Json& doc,
                    std::vector<const keys::PrivateKey*> signers) {
  keys::Envelope env = keys::SignEnvelope(type, doc.dump(), *signers.at(0));
  for (std::size_t i = 1; i < signers.size(); ++i) {
    EXPECT_TRUE(keys::AddSignature(env, *signers[i]).ok());
  }
  return env;
}

Json RevocationDoc(Json scope_version = 3) {
  return {{"agent", "agent-1"},
          {"scope_version", std::move(scope_version)},
          {"reason", "laptop stolen"},
          {"issued", "2027-02-01T12:00:00Z"}};
}

const std::string kActionDigest = keys::Sha256Hex(AsBytes("an action"));

Json ApprovalDoc(std::string approver = "alice") {
  return {{"action_digest", kActionDigest},
          {"approver", std::move(approver)},
          {"ticket", "T-1"},
          {"expires", "2027-02-01T13:00:00Z"}};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/deputy-policy-state-XXXXXX";
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

std::string Digest(char c) { return std::string(64, c); }

// --- Revocation ---

TEST(Revocation, RoundTripsOneVersion) {
  keys::Envelope env = Sign(kRevocationType, RevocationDoc(), {&bob()});
  auto parsed = keys::Envelope::Parse(env.Serialize());
  ASSERT_TRUE(parsed.ok());
  auto rev = Revocation::Verify(*parsed, Trust());
  ASSERT_TRUE(rev.ok()) << rev.status().ToString();
  EXPECT_EQ(rev->agent, "agent-1");
  EXPECT_FALSE(rev->all);
  EXPECT_EQ(rev->scope_version, 3);
  EXPECT_EQ(rev->reason, "laptop stolen");
  EXPECT_EQ(rev->issued, *ParseRfc3339Seconds("2027-02-01T12:00:00Z"));
  EXPECT_EQ(rev->signed_by, "bob");
}

TEST(Revocation, RoundTripsAll) {
  keys::Envelope env =
      Sign(kRevocationType, RevocationDoc("all"), {&alice_laptop()});
  auto rev = Revocation::Verify(env, Trust());
  ASSERT_TRUE(rev.ok()) << rev.status().ToString();
  EXPECT_TRUE(rev->all);
  EXPECT_EQ(rev->signed_by, "alice");
}

TEST(Revocation, RefusesASignatureByANonOwner) {
  for (const keys::PrivateKey* key : {&mallory(), &carol(), &agent()}) {
    auto rev = Revocation::Verify(Sign(kRevocationType, RevocationDoc(), {key}),
                                  Trust());
    ASSERT_FALSE(rev.ok()) << key->name();
    EXPECT_EQ(rev.status().code(), ErrorCode::kUnauthenticated);
  }
}

TEST(Revocation, RefusesAnEnvelopeOfAnotherType) {
  auto rev = Revocation::Verify(Sign(kApprovalType, RevocationDoc(), {&bob()}),
                                Trust());
  ASSERT_FALSE(rev.ok());
  EXPECT_EQ(rev.status().code(), ErrorCode::kPermissionDenied);
}

TEST(Revocation, RefusesBadFields) {
  const std::pair<Json, std::string> cases[] = {
      {RevocationDoc(0), "$.scope_version"},
      {RevocationDoc(-3), "$.scope_version"},
      {RevocationDoc("ALL"), "$.scope_version"},
      {RevocationDoc(2.5), "$.scope_version"},
      {RevocationDoc(Json::array({3})), "$.scope_version"},
      {With(RevocationDoc(), {{"reason", ""}}), "$.reason"},
      {With(RevocationDoc(), {{"issued", "yesterday"}}), "$.issued"},
      {With(RevocationDoc(), {{"agent", 1}}), "$.agent"},
      {With(RevocationDoc(), {{"signed_by", "bob"}}),
       "$.signed_by: unknown field"},
  };
  for (const auto& [doc, expected] : cases) {
    auto rev =
        Revocation::Verify(Sign(kRevocationType, doc, {&bob()}), Trust());
    ASSERT_FALSE(rev.ok()) << doc.dump();
    EXPECT_TRUE(Contains(rev.status(), expected))
        << doc.dump() << " " << rev.status().ToString();
  }
  Json missing = RevocationDoc();
  missing.erase("reason");
  EXPECT_TRUE(Contains(
      Revocation::Verify(Sign(kRevocationType, missing, {&bob()}), Trust())
          .status(),
      "$.reason: missing required field"));
}

TEST(Revocation, RefusesDuplicateJsonKeys) {
  std::string payload = RevocationDoc().dump();
  payload.insert(1, "\"scope_version\":\"all\",");
  auto rev = Revocation::Verify(
      keys::SignEnvelope(kRevocationType, payload, bob()), Trust());
  ASSERT_FALSE(rev.ok());
  EXPECT_TRUE(Contains(rev.status(), "duplicate key"));
}

TEST(Revocation, RefusesAnAgentTheTrustRootDoesNotList) {
  auto rev = Revocation::Verify(
      Sign(kRevocationType, With(RevocationDoc(), {{"agent", "agent-7"}}),
           {&bob()}),
      Trust());
  ASSERT_FALSE(rev.ok());
  EXPECT_EQ(rev.status().code(), ErrorCode::kPermissionDenied);
}

// --- Approval ---

TEST(Approval, RoundTrips) {
  keys::Envelope env = Sign(kApprovalType, ApprovalDoc(), {&alice()});
  auto parsed = keys::Envelope::Parse(env.Serialize());
  ASSERT_TRUE(parsed.ok());
  auto approval = Approval::Verify(*parsed, Trust());
  ASSERT_TRUE(approval.ok()) << approval.status().ToString();
  EXPECT_EQ(approval->action_digest, kActionDigest);
  EXPECT_EQ(approval->approver, "alice");
  EXPECT_EQ(approval->ticket, "T-1");
  EXPECT_EQ(approval->expires, *ParseRfc3339Seconds("2027-02-01T13:00:00Z"));
  EXPECT_EQ(approval->envelope_digest, keys::Sha256Hex(AsBytes(env.payload)));
  // Any of the approver's keys will do.
  EXPECT_TRUE(
      Approval::Verify(Sign(kApprovalType, ApprovalDoc(), {&alice_laptop()}),
                       Trust())
          .ok());
}

TEST(Approval, RefusesASignatureByANonOwner) {
  for (const keys::PrivateKey* key : {&mallory(), &carol(), &agent()}) {
    auto approval =
        Approval::Verify(Sign(kApprovalType, ApprovalDoc(), {key}), Trust());
    ASSERT_FALSE(approval.ok()) << key->name();
    EXPECT_EQ(approval.status().code(), ErrorCode::kUnauthenticated);
  }
  // An owner's signature does not launder a stranger's.
  auto mixed = Approval::Verify(
      Sign(kApprovalType, ApprovalDoc(), {&alice(), &mallory()}), Trust());
  ASSERT_FALSE(mixed.ok());
  EXPECT_EQ(mixed.status().code(), ErrorCode::kPermissionDenied);
}

TEST(Approval, RefusesANamedApproverWhoDidNotSign) {
  auto approval = Approval::Verify(
      Sign(kApprovalType, ApprovalDoc("bob"), {&alice()}), Trust());
  ASSERT_FALSE(approval.ok());
  EXPECT_EQ(approval.status().code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(
      Contains(approval.status(), "names \"bob\" but is signed by \"alice\""))
      << approval.status().ToString();
  // Co-signed by the named approver and another owner: still one person's
  // word only.
  auto both = Approval::Verify(
      Sign(kApprovalType, ApprovalDoc("bob"), {&bob(), &alice()}), Trust());
  EXPECT_EQ(both.status().code(), ErrorCode::kPermissionDenied);
}

TEST(Approval, RefusesAnApproverWhoIsNotAnOwner) {
  auto approval = Approval::Verify(
      Sign(kApprovalType, ApprovalDoc("carol"), {&alice()}), Trust());
  ASSERT_FALSE(approval.ok());
  EXPECT_TRUE(Contains(approval.status(), "not an owner"));
}

TEST(Approval, RefusesAnEnvelopeOfAnotherType) {
  auto approval = Approval::Verify(
      Sign(kRevocationType, ApprovalDoc(), {&alice()}), Trust());
  EXPECT_EQ(approval.status().code(), ErrorCode::kPermissionDenied);
}

TEST(Approval, RefusesBadFields) {
  std::string upper = kActionDigest;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  const std::pair<Json, std::string> cases[] = {
      {With(ApprovalDoc(), {{"action_digest", upper}}), "$.action_digest"},
      {With(ApprovalDoc(), {{"action_digest", "abc"}}), "$.action_digest"},
      {With(ApprovalDoc(), {{"ticket", ""}}), "$.ticket"},
      {With(ApprovalDoc(), {{"expires", 1700000000}}), "$.expires"},
      {With(ApprovalDoc(), {{"requester", "bob"}}),
       "$.requester: unknown field"},
  };
  for (const auto& [doc, expected] : cases) {
    auto approval =
        Approval::Verify(Sign(kApprovalType, doc, {&alice()}), Trust());
    ASSERT_FALSE(approval.ok()) << doc.dump();
    EXPECT_TRUE(Contains(approval.status(), expected))
        << approval.status().ToString();
  }
}

// --- PolicyState ---

TEST(PolicyState, AMissingFileIsAnEmptyState) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->highest_scope_version(), 0);
  EXPECT_FALSE(state->IsRevoked(1));
  EXPECT_FALSE(state->ApprovalUsed(Digest('a')));
  EXPECT_FALSE(std::filesystem::exists(dir.File("state.json")));
}

TEST(PolicyState, PersistsAcrossReloads) {
  TempDir dir;
  const std::string path = dir.File("state.json");
  {
    auto state = PolicyState::Load(path);
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->RecordScopeAccepted(4).ok());
    Revocation one;
    one.agent = "agent-1";
    one.scope_version = 9;
    ASSERT_TRUE(state->RecordRevocation(one).ok());
    ASSERT_TRUE(state->RecordApprovalUsed(Digest('b')).ok());
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto state = PolicyState::Load(path);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->highest_scope_version(), 4);
  EXPECT_TRUE(state->IsRevoked(9));
  EXPECT_FALSE(state->IsRevoked(4));
  EXPECT_TRUE(state->ApprovalUsed(Digest('b')));
  EXPECT_FALSE(state->ApprovalUsed(Digest('c')));
}

TEST(PolicyState, RefusesRollback) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->RecordScopeAccepted(5).ok());
  Status same = state->RecordScopeAccepted(5);
  EXPECT_EQ(same.code(), ErrorCode::kPermissionDenied);
  EXPECT_TRUE(Contains(
      same, "rollback: version 5 is not above the highest accepted 5"));
  EXPECT_FALSE(state->RecordScopeAccepted(2).ok());
  EXPECT_TRUE(state->RecordScopeAccepted(6).ok());
  auto reloaded = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_FALSE(reloaded->RecordScopeAccepted(6).ok());
}

TEST(PolicyState, RevokingAllCoversEveryVersionAcceptedSoFar) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->RecordScopeAccepted(7).ok());
  Revocation all;
  all.agent = "agent-1";
  all.all = true;
  ASSERT_TRUE(state->RecordRevocation(all).ok());
  for (std::int64_t v : {1, 6, 7}) EXPECT_TRUE(state->IsRevoked(v)) << v;
  EXPECT_FALSE(state->IsRevoked(8));
  // A new, higher manifest restores service.
  EXPECT_TRUE(state->RecordScopeAccepted(8).ok());
  auto reloaded = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE(reloaded->IsRevoked(7));
  EXPECT_FALSE(reloaded->IsRevoked(8));
}

TEST(PolicyState, RefusesToAcceptARevokedVersion) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok());
  Revocation one;
  one.agent = "agent-1";
  one.scope_version = 3;
  ASSERT_TRUE(state->RecordRevocation(one).ok());
  EXPECT_EQ(state->RecordScopeAccepted(3).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(state->highest_scope_version(), 0);
  EXPECT_TRUE(state->RecordScopeAccepted(4).ok());
}

TEST(PolicyState, AnApprovalIsUsedOnce) {
  TempDir dir;
  auto state = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->RecordApprovalUsed(Digest('d')).ok());
  EXPECT_EQ(state->RecordApprovalUsed(Digest('d')).code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(state->RecordApprovalUsed("not a digest").code(),
            ErrorCode::kInvalidArgument);
  auto reloaded = PolicyState::Load(dir.File("state.json"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->RecordApprovalUsed(Digest('d')).code(),
            ErrorCode::kAlreadyExists);
}

TEST(PolicyState, ATruncatedFileIsAnErrorNotAReset) {
  TempDir dir;
  const std::string path = dir.File("state.json");
  {
    auto state = PolicyState::Load(path);
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->RecordScopeAccepted(12).ok());
    ASSERT_TRUE(state->RecordApprovalUsed(Digest('e')).ok());
  }
  auto text = ReadFileBounded(path, 1 << 20);
  ASSERT_TRUE(text.ok());
  for (std::size_t keep :
       {std::size_t{0}, std::size_t{1}, text->size() / 2, text->size() - 2}) {
    ASSERT_TRUE(
        WriteFileAtomic(path, text->substr(0, keep), 0600, Overwrite::kReplace)
            .ok());
    auto state = PolicyState::Load(path);
    ASSERT_FALSE(state.ok()) << keep;
    EXPECT_EQ(state.status().code(), ErrorCode::kDataLoss) << keep;
    EXPECT_TRUE(Contains(state.status(), "corrupt"));
  }
}

TEST(PolicyState, RefusesAStateFileThatIsNotExactlyTheSchema) {
  TempDir dir;
  const std::string path = dir.File("state.json");
  const Json good = {{"version", 1},
                     {"highest_scope_version", 3},
                     {"revoked", {2}},
                     {"revoked_all_upto", 0},
                     {"used_approvals", {Digest('a')}}};
  ASSERT_TRUE(
      WriteFileAtomic(path, good.dump(), 0600, Overwrite::kReplace).ok());
  ASSERT_TRUE(PolicyState::Load(path).ok());
  const std::pair<Json, std::string> cases[] = {
      {With(good, {{"version", 2}}), "$.version"},
      {With(good, {{"highest_scope_version", -1}}), "$.highest_scope_version"},
      {With(good, {{"highest_scope_version", "3"}}), "$.highest_scope_version"},
      {With(good, {{"revoked", {2, 2}}}), "$.revoked[1]"},
      {With(good, {{"revoked", {0}}}), "$.revoked[0]"},
      {With(good, {{"used_approvals", {"xyz"}}}), "$.used_approvals[0]"},
      {With(good, {{"extra", true}}), "$.extra: unknown field"},
  };
  for (const auto& [doc, expected] : cases) {
    ASSERT_TRUE(
        WriteFileAtomic(path, doc.dump(), 0600, Overwrite::kReplace).ok());
    auto state = PolicyState::Load(path);
    ASSERT_FALSE(state.ok()) << doc.dump();
    EXPECT_EQ(state.status().code(), ErrorCode::kDataLoss);
    EXPECT_TRUE(Contains(state.status(), expected))
        << state.status().ToString();
  }
  std::string duplicated = good.dump();
  duplicated.insert(1, "\"highest_scope_version\":0,");
  ASSERT_TRUE(
      WriteFileAtomic(path, duplicated, 0600, Overwrite::kReplace).ok());
  EXPECT_EQ(PolicyState::Load(path).status().code(), ErrorCode::kDataLoss);
}

TEST(PolicyState, AFailedWriteLeavesTheStateUnchanged) {
  TempDir dir;
  // The directory does not exist: loading gives an empty state, but no
  // mutation can be made durable.
  auto state = PolicyState::Load(dir.File("missing/state.json"));
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->RecordScopeAccepted(3).ok());
  EXPECT_EQ(state->highest_scope_version(), 0);
  Revocation one;
  one.scope_version = 2;
  EXPECT_FALSE(state->RecordRevocation(one).ok());
  EXPECT_FALSE(state->IsRevoked(2));
  EXPECT_FALSE(state->RecordApprovalUsed(Digest('f')).ok());
  EXPECT_FALSE(state->ApprovalUsed(Digest('f')));
}

}  // namespace
}  // namespace deputy::policy
