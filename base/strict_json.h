// The strict JSON reader used for every signed or security-relevant document
// (envelopes, key files, trust roots, manifests, tickets, log entries).
//
// On top of RFC 8259 it refuses what two parsers could read differently:
// duplicate keys at any depth (compared after unescaping), invalid UTF-8,
// lone surrogates, NaN/Infinity, integers outside +-(2^53 - 1), a leading
// byte-order mark, trailing content, nesting deeper than a limit, and bodies
// over a size limit. Errors name the byte offset (syntax) or the field path
// (structure), e.g. "$.signatures[1].keyid: duplicate key".
//
// ObjectReader reads one object's fields against a fixed schema: wrong types,
// missing required fields and unknown fields are errors naming the path.
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/status.h"

namespace deputy::json {

inline constexpr std::size_t kDefaultMaxBytes = 1 << 20;  // 1 MiB.
inline constexpr int kDefaultMaxDepth = 64;
// The largest integer every JSON reader represents exactly (I-JSON).
inline constexpr std::int64_t kMaxSafeInteger = (std::int64_t{1} << 53) - 1;

struct ParseOptions {
  std::size_t max_bytes = kDefaultMaxBytes;
  int max_depth = kDefaultMaxDepth;
};

// Parses `text` strictly. Floating-point numbers are accepted only when
// finite; an integer literal is accepted only within +-kMaxSafeInteger.
Result<nlohmann::json> ParseStrict(std::string_view text,
                                   const ParseOptions& options = {});

// Path helpers: ChildPath("$.a", "b") == "$.a.b"; keys that are not plain
// identifiers are quoted: ChildPath("$", "a b") == "$[\"a b\"]".
std::string ChildPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, std::size_t index);

// Reads the fields of one JSON object. Typical use:
//
//   ASSIGN_OR_RETURN(auto r, ObjectReader::Create(doc, "$"));
//   ASSIGN_OR_RETURN(std::string type, r.String("payloadType"));
//   ASSIGN_OR_RETURN(const nlohmann::json* sigs, r.Array("signatures"));
//   RETURN_IF_ERROR(r.Finish());  // Unknown fields are errors.
//
// The reader borrows `object`, which must outlive it.
class ObjectReader {
 public:
  // Fails unless `value` is an object.
  static Result<ObjectReader> Create(const nlohmann::json& value,
                                     std::string path);

  const std::string& path() const { return path_; }
  bool Has(std::string_view key) const;

  // Required fields: missing or wrong type is an error naming the path.
  Result<std::string> String(std::string_view key);
  Result<std::int64_t> Int(std::string_view key);
  Result<bool> Bool(std::string_view key);
  Result<const nlohmann::json*> Object(std::string_view key);
  Result<const nlohmann::json*> Array(std::string_view key);
  // Any JSON value (e.g. a free-form payload).
  Result<const nlohmann::json*> Any(std::string_view key);

  // Optional fields: absent gives nullopt/nullptr; present with the wrong
  // type (including null) is an error.
  Result<std::optional<std::string>> OptionalString(std::string_view key);
  Result<std::optional<std::int64_t>> OptionalInt(std::string_view key);
  Result<std::optional<bool>> OptionalBool(std::string_view key);
  Result<const nlohmann::json*> OptionalObject(std::string_view key);
  Result<const nlohmann::json*> OptionalArray(std::string_view key);

  // Error if the object has a field that no call above asked for.
  Status Finish() const;

 private:
  ObjectReader(const nlohmann::json& object, std::string path)
      : object_(&object), path_(std::move(path)) {}
  Result<const nlohmann::json*> Field(std::string_view key, bool required);

  const nlohmann::json* object_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
};

// "string", "number", "object", ... for error messages.
std::string_view TypeName(const nlohmann::json& value);

}  // namespace deputy::json
