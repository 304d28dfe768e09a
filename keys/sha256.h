// SHA-256 through OpenSSL's EVP interface, which uses the SHA-NI
// instructions where the CPU has them (several times faster than
// libsodium's portable code). Sha256Hasher is a value owning one EVP
// context: not thread-safe, but independent hashers may run in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "base/encoding.h"

namespace deputy::keys {

using Digest = std::array<std::uint8_t, 32>;

Digest Sha256(ByteSpan data);
inline Digest Sha256(std::string_view data) { return Sha256(AsBytes(data)); }
std::string Sha256Hex(ByteSpan data);

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;

  Sha256Hasher& Update(ByteSpan data);
  Sha256Hasher& Update(std::string_view data) { return Update(AsBytes(data)); }
  // Returns the digest and resets the hasher for reuse.
  Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace deputy::keys
