#include "keys/public_key.h"

#include <sodium.h>

#include "base/files.h"
#include "keys/secret.h"
#include "keys/sha256.h"

namespace deputy::keys {
namespace {

// The order of the Ed25519 base point, L = 2^252 +
// 27742317777372353535851937790883648493, little-endian.
constexpr std::uint8_t kGroupOrder[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
    0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

constexpr std::size_t kMaxPublicKeyFileBytes = 4096;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
         c == '+' || c == '-';
}

}  // namespace

Status ValidateKeyName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Status::Invalid("name must be 1 to 64 characters");
  }
  if (name.front() == '-' || name.front() == '.') {
    return Status::Invalid("name \"" + std::string(name) +
                           "\" must not start with '-' or '.'");
  }
  for (char c : name) {
    if (!NameChar(c)) {
      return Status::Invalid(
          "name may contain only letters, digits and . _ @ + -");
    }
  }
  return Status::Ok();
}

bool IsCanonicalScalar(ByteSpan s) {
  if (s.size() != 32) return false;
  for (int i = 31; i >= 0; --i) {
    if (s[i] < kGroupOrder[i]) return true;
    if (s[i] > kGroupOrder[i]) return false;
  }
  return false;  // Equal to L.
}

Result<PublicKey> PublicKey::FromRaw(ByteSpan raw, std::string name) {
  EnsureSodium();
  if (raw.size() != kPublicKeyBytes) {
    return Status::Invalid("an Ed25519 public key is 32 bytes, got " +
                           std::to_string(raw.size()));
  }
  RETURN_IF_ERROR(ValidateKeyName(name));
  // Rejects non-canonical encodings, points off the curve, small-order
  // points and points outside the prime-order subgroup.
  if (crypto_core_ed25519_is_valid_point(raw.data()) != 1) {
    return Status::Invalid(
        "public key is not a valid Ed25519 point (non-canonical, small "
        "order or off the main subgroup)");
  }
  std::array<std::uint8_t, kPublicKeyBytes> bytes;
  std::copy(raw.begin(), raw.end(), bytes.begin());
  return PublicKey(bytes, std::move(name), Sha256Hex(raw));
}

Result<PublicKey> PublicKey::Parse(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.find('\n') != std::string_view::npos) {
    return Status::Invalid("a public key file holds exactly one line");
  }
  std::size_t a = text.find(' ');
  std::size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
  if (b == std::string_view::npos ||
      text.find(' ', b + 1) != std::string_view::npos) {
    return Status::Invalid(
        "expected \"ed25519 <base64 key> <name>\" separated by single "
        "spaces");
  }
  std::string_view algorithm = text.substr(0, a);
  if (algorithm != kAlgorithm) {
    return Status::Invalid("unsupported key algorithm \"" +
                           std::string(algorithm.substr(0, 32)) +
                           "\"; only ed25519");
  }
  auto raw = Base64Decode(text.substr(a + 1, b - a - 1));
  if (!raw.ok()) return raw.status().Within("public key");
  return FromRaw(*raw, std::string(text.substr(b + 1)));
}

Result<PublicKey> PublicKey::LoadFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text,
                   ReadFileBounded(path, kMaxPublicKeyFileBytes));
  auto key = Parse(text);
  if (!key.ok()) return key.status().Within("public key file " + path);
  return key;
}

std::string PublicKey::Serialize() const {
  return std::string(kAlgorithm) + " " + Base64() + " " + name_ + "\n";
}

Status PublicKey::Verify(ByteSpan message, ByteSpan signature) const {
  EnsureSodium();
  if (signature.size() != kSignatureBytes) {
    return Status::Unauthenticated("an Ed25519 signature is 64 bytes, got " +
                                   std::to_string(signature.size()));
  }
  if (!IsCanonicalScalar(signature.subspan(32))) {
    return Status::Unauthenticated("signature has a non-canonical S");
  }
  if (crypto_sign_verify_detached(signature.data(), message.data(),
                                  message.size(), raw_.data()) != 0) {
    return Status::Unauthenticated("signature does not verify with key " +
                                   name_ + " (" + key_id_.substr(0, 16) + ")");
  }
  return Status::Ok();
}

}  // namespace deputy::keys
