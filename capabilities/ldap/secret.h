// The new password a reset_credential makes, and how it leaves the module:
// only sealed (libsodium's crypto_box_seal, anonymous X25519 + XSalsa20-
// Poly1305) to the recipient's public key, plus a fingerprint that names
// it without revealing it. Pure functions over values; thread-safe once
// libsodium is initialised (each function initialises it).
#pragma once

#include <string>
#include <string_view>

#include "base/encoding.h"
#include "base/status.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::ldap {

// 24 random bytes as unpadded URL-safe base64: 32 characters, 192 bits.
// Letters, digits, '-' and '_' only, so no server or shell quoting issue.
Result<protocol::WipedString> NewPassword();

// Base64 of crypto_box_seal(secret, recipient): only the holder of the
// recipient's secret key opens it. `recipient` is 32 bytes.
Result<std::string> SealTo(std::string_view secret, ByteSpan recipient);

// "sha256:" + lower-case hex of SHA-256(secret). The secret is 192 random
// bits, so the fingerprint cannot be inverted; the recipient recomputes it
// to check that the password they opened is the one deputy set.
std::string Fingerprint(std::string_view secret);

}  // namespace deputy::ldap
