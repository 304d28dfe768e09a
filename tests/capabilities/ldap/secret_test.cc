// A reset password leaves the module only sealed to its recipient
// (capabilities/ldap/secret.h).
#include "capabilities/ldap/secret.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <set>
#include <string>

namespace deputy::ldap {
namespace {

TEST(LdapSecret, NewPasswordsAreLongRandomAndSafeToQuote) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto p = NewPassword();
    ASSERT_TRUE(p.ok());
    const std::string& s = p->str();
    EXPECT_EQ(s.size(), 32u);
    for (char c : s) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                  c == '_')
          << s;
    }
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(LdapSecret, OnlyTheRecipientOpensTheSealedSecret) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
  unsigned char other_pk[crypto_box_PUBLICKEYBYTES],
      other_sk[crypto_box_SECRETKEYBYTES];
  crypto_box_keypair(pk, sk);
  crypto_box_keypair(other_pk, other_sk);
  const std::string secret = "correct-horse-battery-staple-0123";
  auto sealed = SealTo(secret, ByteSpan(pk, sizeof pk));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(secret), std::string::npos);
  auto box = Base64Decode(*sealed);
  ASSERT_TRUE(box.ok());
  ASSERT_EQ(box->size(), secret.size() + crypto_box_SEALBYTES);
  std::string opened(secret.size(), '\0');
  ASSERT_EQ(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(opened.data()),
                           box->data(), box->size(), pk, sk),
      0);
  EXPECT_EQ(opened, secret);
  EXPECT_NE(
      crypto_box_seal_open(reinterpret_cast<unsigned char*>(opened.data()),
                           box->data(), box->size(), other_pk, other_sk),
      0);
  EXPECT_FALSE(SealTo(secret, ByteSpan(pk, 31)).ok());
}

TEST(LdapSecret, FingerprintIsTheSha256OfTheSecret) {
  // SHA-256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(Fingerprint("abc"),
            "sha256:"
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace deputy::ldap
