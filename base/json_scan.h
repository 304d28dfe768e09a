// A fast, allocation-free validating scanner for strict JSON.
//
// The evidence log verifier reads a million lines a second; building a DOM
// for each is too slow. Scanner walks the bytes once, validating under the
// same rules as json::ParseStrict (strict_json.h): RFC 8259 syntax, valid
// UTF-8, no lone surrogates, no NaN/Infinity, integers within
// +-kMaxSafeInteger, no duplicate keys (compared after unescaping), no NUL
// byte, no byte-order mark, a depth limit. It also lets a caller read an
// object with a known field order (a log entry header) token by token.
// A Scanner borrows the text; not thread-safe (one per thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/strict_json.h"

namespace deputy::json {

// Accepts exactly the documents ParseStrict(text, options) accepts.
Status ValidateStrict(std::string_view text, const ParseOptions& options = {});

class Scanner {
 public:
  explicit Scanner(std::string_view text, int max_depth = kDefaultMaxDepth)
      : text_(text), max_depth_(max_depth) {}

  // Every call below first skips JSON whitespace. Errors are Invalid and
  // name the byte offset ("byte 17: expected ':'").

  // Consumes exactly the character `c` (one of { } [ ] : ,).
  Status Expect(char c);
  // Consumes `"key":` where the key, after unescaping, equals `key`.
  Status ExpectKey(std::string_view key);
  // Consumes an integer literal within +-kMaxSafeInteger.
  Result<std::int64_t> Integer();
  // Consumes a string and returns it unescaped (validated UTF-8).
  Result<std::string> String();
  // Consumes a string and returns its raw bytes between the quotes when it
  // has no escape sequences (the common case, no copy); a string with
  // escapes is an error naming the offset. For fixed-format fields such as
  // hex hashes and timestamps.
  Result<std::string_view> PlainString();
  // Consumes one complete JSON value of any type, validating it fully
  // (nesting counted from `depth`, duplicate keys, numbers, UTF-8), and
  // returns its exact raw text.
  Result<std::string_view> Value(int depth = 0);
  // Skips trailing whitespace and fails unless the text is exhausted.
  Status End();

  std::size_t offset() const { return pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  int max_depth_;
};

}  // namespace deputy::json
