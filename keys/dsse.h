// Signed envelopes in the DSSE format (github.com/secure-systems-lab/dsse):
//
//   {"payload": <base64>, "payloadType": <string>,
//    "signatures": [{"keyid": <hex key id>, "sig": <base64>}]}
//
// Signatures cover DSSE's pre-authentication encoding of (type, payload)
// bytes, so no JSON canonicalisation is ever needed. Verification uses only
// keys the caller pins in a Keyring; a keyid in the message merely selects
// among them and nothing in the message chooses an algorithm. Signers are
// counted by distinct public key, never by key id. Pure functions over
// immutable values; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/encoding.h"
#include "base/status.h"
#include "keys/private_key.h"
#include "keys/public_key.h"

namespace deputy::keys {

inline constexpr std::size_t kMaxEnvelopeBytes = 1 << 20;
inline constexpr std::size_t kMaxEnvelopeSignatures = 32;

// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
std::string PreAuthEncoding(std::string_view payload_type,
                            std::string_view payload);

struct EnvelopeSignature {
  std::string keyid;
  Bytes sig;
};

// A parsed, not yet verified envelope.
struct Envelope {
  std::string payload_type;
  std::string payload;  // Raw bytes.
  std::vector<EnvelopeSignature> signatures;

  // Strict parse: unknown fields, duplicate keys, bad base64, more than
  // kMaxEnvelopeSignatures signatures or bodies over `max_bytes` fail.
  static Result<Envelope> Parse(std::string_view text,
                                std::size_t max_bytes = kMaxEnvelopeBytes);
  // One line of JSON followed by a newline.
  std::string Serialize() const;
};

// Creates an envelope signed by `key`.
Envelope SignEnvelope(std::string_view payload_type, std::string_view payload,
                      const PrivateKey& key);
// Adds `key`'s signature to `envelope` (co-signing). Adding a second
// signature by the same key is AlreadyExists.
Status AddSignature(Envelope& envelope, const PrivateKey& key);

// The public keys a verifier trusts for one purpose.
class Keyring {
 public:
  Keyring() = default;
  // The same key twice (under any name) is kept once.
  explicit Keyring(const std::vector<PublicKey>& keys);
  void Add(const PublicKey& key);
  const PublicKey* FindByKeyId(std::string_view keyid) const;
  const std::vector<PublicKey>& keys() const { return keys_; }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<PublicKey> keys_;
};

struct VerifiedEnvelope {
  std::string payload_type;
  std::string payload;
  // Distinct keyring keys whose signatures verified, in envelope order.
  std::vector<PublicKey> signers;
  // Signatures whose keyid names no keyring key (ignored, reported).
  std::size_t unknown_signatures = 0;
};

// Verifies `envelope` against `keyring`: the payload type must equal
// `expected_type`; every signature that names a keyring key must verify
// (a bad one fails the whole envelope, loudly); at least one must.
Result<VerifiedEnvelope> VerifyEnvelope(const Envelope& envelope,
                                        const Keyring& keyring,
                                        std::string_view expected_type);

}  // namespace deputy::keys
