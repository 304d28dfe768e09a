#include "keys/dsse.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace deputy::keys {
namespace {

using namespace std::string_literals;

constexpr std::string_view kType = "application/vnd.deputy.test+json";

class DsseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alice", "bob", "mallory"}) {
      auto k = PrivateKey::Generate(name);
      ASSERT_TRUE(k.ok());
      keys_.push_back(std::move(*k));
    }
  }
  const PrivateKey& alice() { return keys_[0]; }
  const PrivateKey& bob() { return keys_[1]; }
  const PrivateKey& mallory() { return keys_[2]; }
  Keyring Trusted() {
    return Keyring({alice().public_key(), bob().public_key()});
  }
  std::vector<PrivateKey> keys_;
};

// The example from the DSSE protocol description.
TEST(Dsse, PreAuthEncodingMatchesTheSpecification) {
  EXPECT_EQ(PreAuthEncoding("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(PreAuthEncoding("", ""), "DSSEv1 0  0 ");
}

TEST_F(DsseTest, RoundTripVerifiesAndReturnsThePayload) {
  std::string payload = "{\"grant\":\"x\"}\n\0binary"s;
  Envelope env = SignEnvelope(kType, payload, alice());
  auto parsed = Envelope::Parse(env.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto v = VerifyEnvelope(*parsed, Trusted(), kType);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->payload, payload);
  ASSERT_EQ(v->signers.size(), 1u);
  EXPECT_TRUE(v->signers[0].SameKey(alice().public_key()));
}

TEST_F(DsseTest, TamperedPayloadFails) {
  Envelope env = SignEnvelope(kType, "rm -rf /home/alice", alice());
  env.payload = "rm -rf /home/bob..";
  auto v = VerifyEnvelope(env, Trusted(), kType);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), ErrorCode::kUnauthenticated);
}

TEST_F(DsseTest, DifferentPayloadTypeIsRefused) {
  Envelope env =
      SignEnvelope("application/vnd.deputy.approval+json", "{}", alice());
  auto v = VerifyEnvelope(env, Trusted(), kType);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), ErrorCode::kPermissionDenied);
  // Relabelling the type breaks the signature: the type is signed.
  env.payload_type = std::string(kType);
  EXPECT_EQ(VerifyEnvelope(env, Trusted(), kType).status().code(),
            ErrorCode::kUnauthenticated);
}

TEST_F(DsseTest, SignatureByAnUntrustedKeyIsNotEnough) {
  Envelope env = SignEnvelope(kType, "{}", mallory());
  auto v = VerifyEnvelope(env, Trusted(), kType);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("no signature by a trusted key"),
            std::string::npos);
}

TEST_F(DsseTest, ForgedSignatureUnderATrustedKeyIdFailsLoudly) {
  Envelope env = SignEnvelope(kType, "{}", mallory());
  env.signatures[0].keyid = alice().public_key().key_id();
  auto v = VerifyEnvelope(env, Trusted(), kType);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("signature 0"), std::string::npos);
}

TEST_F(DsseTest, SameKeyTwiceCountsOnce) {
  Envelope env = SignEnvelope(kType, "{}", alice());
  // The same signature again without a keyid, and the keyring holding the
  // same key under two names: still one signer.
  env.signatures.push_back({"", env.signatures[0].sig});
  auto renamed = PublicKey::FromRaw(alice().public_key().raw(), "alias");
  ASSERT_TRUE(renamed.ok());
  Keyring ring({alice().public_key(), *renamed, bob().public_key()});
  EXPECT_EQ(ring.keys().size(), 2u);
  auto v = VerifyEnvelope(env, ring, kType);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signers.size(), 1u);
  EXPECT_EQ(AddSignature(env, alice()).code(), ErrorCode::kAlreadyExists);
}

TEST_F(DsseTest, CosignedEnvelopeCountsDistinctSigners) {
  Envelope env = SignEnvelope(kType, "{\"v\":1}", alice());
  ASSERT_TRUE(AddSignature(env, bob()).ok());
  ASSERT_TRUE(AddSignature(env, mallory()).ok());
  auto v = VerifyEnvelope(*Envelope::Parse(env.Serialize()), Trusted(), kType);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->signers.size(), 2u);
  EXPECT_EQ(v->unknown_signatures, 1u);
}

TEST_F(DsseTest, ParseRejectsMalformedEnvelopes) {
  std::string good = SignEnvelope(kType, "{}", alice()).Serialize();
  auto doc = nlohmann::json::parse(good);
  std::string sig = doc["signatures"][0]["sig"];
  struct Case {
    std::string text;
    std::string expect;
  } cases[] = {
      {"{\"payloadType\":\"a\",\"payloadType\":\"b\",\"payload\":\"\","
       "\"signatures\":[{\"sig\":\"" +
           sig + "\"}]}",
       "duplicate key"},
      {"{\"payloadType\":\"a\",\"payload\":\"e30=\",\"signatures\":[]}",
       "no signatures"},
      {"{\"payloadType\":\"a\",\"payload\":\"e30\",\"signatures\":[{\"sig\":"
       "\"" +
           sig + "\"}]}",
       "$.payload"},
      {"{\"payloadType\":\"a\",\"payload\":\"e30=\",\"signatures\":[{\"sig\":"
       "\"" +
           sig + "\",\"alg\":\"none\"}]}",
       "$.signatures[0].alg: unknown field"},
      {"{\"payloadType\":1,\"payload\":\"e30=\",\"signatures\":[]}",
       "$.payloadType: expected a string"},
      {"[]", "expected an object"},
      {good.substr(0, good.size() / 2), "byte"},
  };
  for (const auto& c : cases) {
    auto r = Envelope::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

TEST_F(DsseTest, OversizedEnvelopeIsRefusedBeforeParsing) {
  std::string big =
      SignEnvelope(kType, std::string(2 << 20, 'x'), alice()).Serialize();
  auto r = Envelope::Parse(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace deputy::keys
