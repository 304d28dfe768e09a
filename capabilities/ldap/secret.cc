#include "capabilities/ldap/secret.h"

#include <sodium.h>

#include <algorithm>
#include <vector>

namespace deputy::ldap {
namespace {

Status InitSodium() {
  return sodium_init() < 0 ? Status::Internal("libsodium failed to initialise")
                           : Status::Ok();
}

}  // namespace

Result<protocol::WipedString> NewPassword() {
  RETURN_IF_ERROR(InitSodium());
  unsigned char raw[24];
  randombytes_buf(raw, sizeof raw);
  // sodium_bin2base64 writes into a caller buffer we wipe, unlike a
  // std::string that might reallocate and leave copies behind.
  char text[sodium_base64_ENCODED_LEN(
      sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  protocol::WipedString out{std::string(text)};
  sodium_memzero(text, sizeof text);
  return out;
}

Result<std::string> SealTo(std::string_view secret, ByteSpan recipient) {
  RETURN_IF_ERROR(InitSodium());
  if (recipient.size() != crypto_box_PUBLICKEYBYTES) {
    return Status::Invalid("the recipient key is not 32 bytes");
  }
  std::vector<unsigned char> sealed(crypto_box_SEALBYTES + secret.size());
  if (crypto_box_seal(sealed.data(),
                      reinterpret_cast<const unsigned char*>(secret.data()),
                      secret.size(), recipient.data()) != 0) {
    return Status::Internal("crypto_box_seal failed");
  }
  return Base64Encode(ByteSpan(sealed.data(), sealed.size()));
}

std::string Fingerprint(std::string_view secret) {
  (void)InitSodium();  // SHA-256 needs no choice of implementation.
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest,
                     reinterpret_cast<const unsigned char*>(secret.data()),
                     secret.size());
  return "sha256:" + HexEncode(ByteSpan(digest, sizeof digest));
}

}  // namespace deputy::ldap
