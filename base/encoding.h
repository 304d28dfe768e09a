// Hex and base64 (RFC 4648, standard alphabet, padded) encodings.
//
// Decoders are strict: they accept only the canonical encoding (no
// whitespace, correct padding, zero trailing bits), so one byte string has
// exactly one accepted text form. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace deputy {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

std::string HexEncode(ByteSpan bytes);
// Lower- or upper-case hex of even length.
Result<Bytes> HexDecode(std::string_view hex);

std::string Base64Encode(ByteSpan bytes);
Result<Bytes> Base64Decode(std::string_view text);

}  // namespace deputy
