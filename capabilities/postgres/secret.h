// New passwords for rotate_password, and their delivery: sealed to the
// recipient's X25519 public key (libsodium crypto_box_seal), identified in
// logs only by a fingerprint. Stateless and thread-safe (libsodium is
// initialised on first use; a failure there aborts, as it means no
// randomness).
#pragma once

#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/status.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::postgres {

// 40 characters drawn uniformly from [A-Za-z0-9] (about 238 bits): no
// character that needs quoting anywhere it might be typed or pasted.
inline constexpr std::size_t kPasswordLength = 40;
protocol::WipedString GeneratePassword();

// crypto_box_seal(secret, recipient) in standard base64. Only the holder
// of the recipient's secret key can open it. `recipient` must be 32 bytes.
Result<std::string> SealToRecipient(std::string_view secret,
                                    ByteSpan recipient);

// "sha256:" + lower-case hex of SHA-256(secret): names the secret in logs
// and lets its holder confirm which one they have, without revealing it
// (the secret is random, so the hash cannot be inverted by guessing).
std::string Fingerprint(std::string_view secret);

}  // namespace deputy::postgres
