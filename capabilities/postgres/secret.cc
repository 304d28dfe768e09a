#include "capabilities/postgres/secret.h"

#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace deputy::postgres {
namespace {

void InitSodium() {
  // sodium_init is idempotent and thread-safe; -1 means no randomness.
  if (sodium_init() < 0) std::abort();
}

}  // namespace

protocol::WipedString GeneratePassword() {
  InitSodium();
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr std::uint32_t kSize = sizeof kAlphabet - 1;
  // Reserve first: the string must never reallocate and leave a copy.
  std::string pw;
  pw.reserve(kPasswordLength + 1);
  for (std::size_t i = 0; i < kPasswordLength; ++i) {
    pw.push_back(kAlphabet[randombytes_uniform(kSize)]);
  }
  return protocol::WipedString(std::move(pw));
}

Result<std::string> SealToRecipient(std::string_view secret,
                                    ByteSpan recipient) {
  InitSodium();
  if (recipient.size() != crypto_box_PUBLICKEYBYTES) {
    return Status::Invalid("recipient: not a 32-byte X25519 public key");
  }
  Bytes sealed(secret.size() + crypto_box_SEALBYTES);
  if (crypto_box_seal(sealed.data(),
                      reinterpret_cast<const unsigned char*>(secret.data()),
                      secret.size(), recipient.data()) != 0) {
    return Status::Invalid("recipient: the public key was refused");
  }
  return Base64Encode(sealed);
}

std::string Fingerprint(std::string_view secret) {
  InitSodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  std::string out = "sha256:" + HexEncode(ByteSpan(digest, sizeof digest));
  sodium_memzero(digest, sizeof digest);
  return out;
}

}  // namespace deputy::postgres
