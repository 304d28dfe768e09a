// Ed25519 public keys, their one-line text form and their key ids.
//
// Text form (one line, fields separated by one space):
//   ed25519 <base64 of the 32-byte key> <name>
// The key id is the lower-case hex SHA-256 of the 32 raw key bytes, so it
// is derived from the key, never chosen by a message. Keys are checked at
// load time: non-canonical encodings and points of small order (which would
// let one signature verify for many messages) are refused.
// PublicKey is an immutable value; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/status.h"

namespace deputy::keys {

inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::string_view kAlgorithm = "ed25519";

using Signature = std::array<std::uint8_t, kSignatureBytes>;

// Names of keys and owners: 1-64 of [A-Za-z0-9._@+-], not starting with
// '-' or '.', so a name can be a file name and a command-line value.
Status ValidateKeyName(std::string_view name);

class PublicKey {
 public:
  // Checks the point (canonical, on the curve, not of small order).
  static Result<PublicKey> FromRaw(ByteSpan raw, std::string name);
  // Parses the one-line text form; one trailing newline is allowed.
  static Result<PublicKey> Parse(std::string_view text);
  static Result<PublicKey> LoadFile(const std::string& path);

  const std::array<std::uint8_t, kPublicKeyBytes>& raw() const { return raw_; }
  const std::string& name() const { return name_; }
  const std::string& key_id() const { return key_id_; }
  std::string Base64() const { return Base64Encode(raw_); }
  // The text form, with a trailing newline.
  std::string Serialize() const;

  // OK when `signature` is a valid Ed25519 signature of `message` by this
  // key. Signatures whose S is not reduced modulo the group order are
  // refused (they are malleable).
  Status Verify(ByteSpan message, ByteSpan signature) const;

  // Same key bytes (names are labels and do not count).
  bool SameKey(const PublicKey& other) const { return raw_ == other.raw_; }

 private:
  PublicKey(const std::array<std::uint8_t, kPublicKeyBytes>& raw,
            std::string name, std::string key_id)
      : raw_(raw), name_(std::move(name)), key_id_(std::move(key_id)) {}

  std::array<std::uint8_t, kPublicKeyBytes> raw_;
  std::string name_;
  std::string key_id_;
};

// True when the scalar S (the second half of an Ed25519 signature) is below
// the group order L, i.e. in its unique canonical form.
bool IsCanonicalScalar(ByteSpan s32);

}  // namespace deputy::keys
