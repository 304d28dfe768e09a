#include "keys/public_key.h"

#include <gtest/gtest.h>

#include "keys/private_key.h"
#include "keys/sha256.h"

namespace deputy::keys {
namespace {

Bytes Hex(std::string_view h) { return *HexDecode(h); }

TEST(PublicKey, TextFormRoundTripsAndKeyIdIsSha256OfRawKey) {
  auto key = PrivateKey::Generate("alice@example.org");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const PublicKey& pub = key->public_key();
  std::string text = pub.Serialize();
  EXPECT_EQ(text.rfind("ed25519 ", 0), 0u);
  EXPECT_EQ(text.back(), '\n');
  auto back = PublicKey::Parse(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->SameKey(pub));
  EXPECT_EQ(back->name(), "alice@example.org");
  EXPECT_EQ(back->key_id(), Sha256Hex(pub.raw()));
  EXPECT_EQ(back->key_id().size(), 64u);
}

// RFC 8032 section 7.1, TEST 1: public key and signature of the empty
// message, to pin the algorithm against an independent vector.
TEST(PublicKey, VerifiesRfc8032Vector) {
  auto pub = PublicKey::FromRaw(
      Hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
      "rfc8032");
  ASSERT_TRUE(pub.ok());
  Bytes sig =
      Hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
          "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(pub->Verify({}, sig).ok());
  EXPECT_FALSE(pub->Verify(AsBytes("x"), sig).ok());
}

TEST(PublicKey, RefusesSmallOrderAndNonCanonicalPoints) {
  const char* bad[] = {
      // The identity point (order 1).
      "0100000000000000000000000000000000000000000000000000000000000000",
      // A point of order 4 (y = 0).
      "0000000000000000000000000000000000000000000000000000000000000000",
      // A point of order 8.
      "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
      // y = p: a non-canonical encoding of y = 0.
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      // y = p + 1: a non-canonical encoding of the identity.
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  for (const char* hex : bad) {
    auto key = PublicKey::FromRaw(Hex(hex), "x");
    EXPECT_FALSE(key.ok()) << hex;
    if (!key.ok()) {
      EXPECT_NE(key.status().message().find("not a valid Ed25519 point"),
                std::string::npos);
    }
  }
}

TEST(PublicKey, ParseGivesSpecificErrors) {
  auto key = PrivateKey::Generate("bob");
  ASSERT_TRUE(key.ok());
  std::string b64 = key->public_key().Base64();
  struct Case {
    std::string text;
    std::string expect;
  } cases[] = {
      {"rsa " + b64 + " bob", "unsupported key algorithm"},
      {"ed25519 " + b64 + " bob extra", "single spaces"},
      {"ed25519  " + b64 + " bob", "single spaces"},
      {"ed25519 " + b64.substr(1) + "! bob", "base64"},
      {"ed25519 " + b64.substr(4) + " bob", "32 bytes"},
      {"ed25519 " + b64 + " b/ob", "name may contain only"},
      {"ed25519 " + b64 + " -bob", "must not start"},
      {"ed25519 " + b64 + " bob\n\n", "exactly one line"},
      {"", "single spaces"},
  };
  for (const auto& c : cases) {
    auto r = PublicKey::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

TEST(PublicKey, SignatureByAnotherKeyOrOverOtherBytesFails) {
  auto alice = PrivateKey::Generate("alice");
  auto mallory = PrivateKey::Generate("mallory");
  ASSERT_TRUE(alice.ok() && mallory.ok());
  Signature sig = alice->Sign(AsBytes("grant admin"));
  EXPECT_TRUE(alice->public_key().Verify(AsBytes("grant admin"), sig).ok());
  EXPECT_EQ(alice->public_key().Verify(AsBytes("grant admiN"), sig).code(),
            ErrorCode::kUnauthenticated);
  EXPECT_FALSE(mallory->public_key().Verify(AsBytes("grant admin"), sig).ok());
  EXPECT_FALSE(alice->public_key()
                   .Verify(AsBytes("grant admin"), ByteSpan(sig).first(63))
                   .ok());
}

// S + L verifies under a lax check (the group equation still holds) but is
// a second encoding of the same signature: refused.
TEST(PublicKey, RefusesSignatureWithNonCanonicalS) {
  auto key = PrivateKey::Generate("alice");
  ASSERT_TRUE(key.ok());
  Signature sig = key->Sign(AsBytes("m"));
  const std::uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                              0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                              0,    0,    0,    0,    0,    0,    0,    0,
                              0,    0,    0,    0,    0,    0,    0,    0x10};
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    unsigned v = sig[32 + i] + L[i] + carry;
    sig[32 + i] = static_cast<std::uint8_t>(v);
    carry = v >> 8;
  }
  ASSERT_EQ(carry, 0u);
  Status s = key->public_key().Verify(AsBytes("m"), sig);
  EXPECT_EQ(s.code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(s.message().find("non-canonical S"), std::string::npos);
}

TEST(PublicKey, CanonicalScalarBoundary) {
  std::uint8_t l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                        0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                        0,    0,    0,    0,    0,    0,    0,    0,
                        0,    0,    0,    0,    0,    0,    0,    0x10};
  EXPECT_FALSE(IsCanonicalScalar(l));  // L itself.
  l[0] = 0xec;
  EXPECT_TRUE(IsCanonicalScalar(l));  // L - 1.
}

}  // namespace
}  // namespace deputy::keys
