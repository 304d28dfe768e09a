// Ed25519 signing keys and their encrypted file form.
//
// A PrivateKey holds its 64-byte secret in guarded memory (SecretBytes),
// wiped when the key dies; it is move-only and never printable. At rest a
// key is a JSON document (docs/keys.md) whose 32-byte seed is sealed with
// XChaCha20-Poly1305 under a key derived from a passphrase with Argon2id;
// the name, public key and KDF parameters are bound as associated data.
// Unencrypted key files exist only for tests and examples and need the
// explicit UnencryptedKeys::kAllowInsecure token on both write and load.
// Signing is const and thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "base/encoding.h"
#include "base/status.h"
#include "keys/public_key.h"
#include "keys/secret.h"

namespace deputy::keys {

// The explicit, greppable permission to use an unencrypted private key.
enum class UnencryptedKeys { kRefuse, kAllowInsecure };

// Argon2id work factors. kInteractive (64 MiB, 2 passes) suits tests and
// keys unlocked often; kModerate (256 MiB, 3 passes) is the default for
// owner keys.
struct KdfCost {
  std::uint64_t opslimit;
  std::uint64_t memlimit;
  static KdfCost Interactive();
  static KdfCost Moderate();
};

inline constexpr std::size_t kMaxPrivateKeyFileBytes = 16 * 1024;

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(std::string name);
  // Parses a key file. `passphrase` may be empty only for unencrypted
  // files, which also need kAllowInsecure.
  static Result<PrivateKey> Parse(std::string_view text,
                                  std::string_view passphrase,
                                  UnencryptedKeys unencrypted);
  // Reads a key file, refusing one that group or others can read.
  static Result<PrivateKey> LoadFile(const std::string& path,
                                     std::string_view passphrase,
                                     UnencryptedKeys unencrypted);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  const PublicKey& public_key() const { return public_key_; }
  const std::string& name() const { return public_key_.name(); }

  Signature Sign(ByteSpan message) const;

  // The encrypted file form. The passphrase must not be empty.
  Result<std::string> SerializeEncrypted(std::string_view passphrase,
                                         KdfCost cost) const;
  // The unencrypted file form: tests and examples only.
  std::string SerializeUnencryptedInsecure() const;

 private:
  PrivateKey(SecretBytes secret, PublicKey public_key)
      : secret_(std::move(secret)), public_key_(std::move(public_key)) {}
  static Result<PrivateKey> FromSeed(ByteSpan seed, std::string name);

  SecretBytes secret_;  // libsodium's 64-byte form: seed || public key.
  PublicKey public_key_;
};

// Metadata of a private key file, readable without the passphrase (for
// `deputy keys show`).
struct PrivateKeyInfo {
  PublicKey public_key;
  bool encrypted;
  std::string kdf;  // "argon2id13", empty when unencrypted.
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;
  std::string cipher;  // "xchacha20poly1305-ietf", empty when unencrypted.
};
Result<PrivateKeyInfo> InspectPrivateKey(std::string_view text);

// Reads a passphrase from a file (mode must deny group and others) or from
// an open descriptor; one trailing newline is dropped; empty is an error.
Result<SecretBytes> ReadPassphraseFile(const std::string& path);
Result<SecretBytes> ReadPassphraseFd(int fd);

}  // namespace deputy::keys
