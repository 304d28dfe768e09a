#include "base/strict_json.h"

#include <cmath>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace deputy::json {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
// nlohmann echoes the offending token in its messages; a long string token
// would otherwise copy up to a whole body into the error.
constexpr std::size_t kMaxEchoedTokenBytes = 40;
constexpr std::string_view kLastRead = "; last read: '";
// nlohmann's id for "number overflow" (a literal that does not fit a double).
constexpr int kNumberOverflowId = 406;

bool IsIdentifier(std::string_view key) {
  if (key.empty()) return false;
  const auto is_alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!is_alpha(key.front())) return false;
  for (char c : key.substr(1)) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// The lexer hands over the raw literal of every number it could not store
// as a 64-bit integer; without a fraction or exponent it was written as an
// integer, and a reader with 64-bit or double integers would disagree on it.
bool IsIntegerLiteral(std::string_view literal) {
  return literal.find_first_of(".eE") == std::string_view::npos;
}

// Quotes `text` as a JSON string. Invalid UTF-8 becomes U+FFFD rather than
// an exception, because paths are built from caller-supplied keys too.
std::string Quote(std::string_view text) {
  return Json(std::string(text))
      .dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Error messages end up in logs and in JSON error replies, so they must be
// printable ASCII whatever bytes the input held.
void AppendPrintable(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix,
// with the echoed token (`last_token`) shortened to its tail, where the
// fault is, and every byte made printable.
std::string DescribeException(const Json::exception& ex,
                              std::string_view last_token = {}) {
  std::string_view message = ex.what();
  if (message.starts_with("[json.exception.")) {
    const std::size_t end = message.find("] ");
    if (end != std::string_view::npos) message.remove_prefix(end + 2);
  }
  std::string out;
  std::size_t echo = message.find(kLastRead);
  if (echo != std::string_view::npos) echo += kLastRead.size();
  if (echo == std::string_view::npos ||
      !message.substr(echo).starts_with(last_token) ||
      last_token.size() <= kMaxEchoedTokenBytes) {
    AppendPrintable(message, out);
    return out;
  }
  AppendPrintable(message.substr(0, echo), out);
  out += "...";
  AppendPrintable(last_token.substr(last_token.size() - kMaxEchoedTokenBytes),
                  out);
  AppendPrintable(message.substr(echo + last_token.size()), out);
  return out;
}

std::string IntegerBeyondSafe(std::string_view path) {
  std::string message(path);
  message += ": integer beyond 2^53 - 1 in magnitude";
  return message;
}

// Builds the DOM the way nlohmann's json_sax_dom_parser does (a stack of
// open containers, values stored in place) while refusing every construct
// that two conforming parsers could read differently. Paths are computed
// only when an error is reported, so the happy path does no string work
// beyond the DOM itself. The handler never throws except for bad_alloc.
class StrictDomBuilder final : public nlohmann::json_sax<Json> {
 public:
  StrictDomBuilder(Json& root, int max_depth, std::size_t text_size)
      : root_(root), max_depth_(max_depth), text_size_(text_size) {}

  // The first error reported; OK if parsing stopped for no reported reason.
  Status TakeError() { return std::move(error_); }

  bool null() override {
    Put(nullptr);
    return true;
  }

  bool boolean(bool value) override {
    Put(value);
    return true;
  }

  bool number_integer(number_integer_t value) override {
    if (value < -kMaxSafeInteger || value > kMaxSafeInteger) {
      return Fail(IntegerBeyondSafe(PendingPath()));
    }
    Put(value);
    return true;
  }

  bool number_unsigned(number_unsigned_t value) override {
    if (value > static_cast<number_unsigned_t>(kMaxSafeInteger)) {
      return Fail(IntegerBeyondSafe(PendingPath()));
    }
    Put(value);
    return true;
  }

  bool number_float(number_float_t value, const string_t& literal) override {
    if (IsIntegerLiteral(literal))
      return Fail(IntegerBeyondSafe(PendingPath()));
    // nlohmann already reports overflow to infinity as a parse error; this
    // keeps the guarantee should that ever change.
    if (!std::isfinite(value)) {
      return Fail(PendingPath() + ": number is not finite");
    }
    Put(value);
    return true;
  }

  bool string(string_t& value) override {
    Put(std::move(value));
    return true;
  }

  bool binary(binary_t& /*value*/) override {
    // Only the binary formats (CBOR, MessagePack, ...) produce these.
    return Fail(PendingPath() + ": binary value in a JSON text");
  }

  bool start_object(std::size_t /*elements*/) override {
    if (!CheckDepth()) return false;
    Json* object = Put(Json::value_t::object);
    stack_.push_back({.object = object->get_ptr<Json::object_t*>()});
    return true;
  }

  // The object under construction is itself the set of keys seen so far,
  // so one map insertion both stores the member and detects the duplicate.
  // `key` arrives unescaped, so "a" and "\u0061" collide as they should.
  bool key(string_t& key) override {
    Frame& top = stack_.back();
    auto [it, inserted] = top.object->try_emplace(std::move(key));
    if (!inserted) {
      // try_emplace leaves `key` intact when it finds a match.
      return Fail(ChildPath(OpenPath(), key) + ": duplicate key " + Quote(key));
    }
    top.key = &it->first;
    member_ = &it->second;
    return true;
  }

  bool end_object() override {
    stack_.pop_back();
    return true;
  }

  bool start_array(std::size_t /*elements*/) override {
    if (!CheckDepth()) return false;
    Json* array = Put(Json::value_t::array);
    stack_.push_back({.array = array->get_ptr<Json::array_t*>()});
    return true;
  }

  bool end_array() override {
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    // A number too large for a double is a value error rather than a
    // syntax error, so it is named by its path like the other range errors.
    // A literal of hundreds of digits is still an integer beyond 2^53.
    if (ex.id == kNumberOverflowId) {
      if (IsIntegerLiteral(last_token)) {
        return Fail(IntegerBeyondSafe(PendingPath()));
      }
      return Fail(PendingPath() + ": number too large for a double");
    }
    // `position` counts the characters read, including the offending one
    // (or the end of input), so the 0-based offset is one less.
    std::size_t offset = position == 0 ? 0 : position - 1;
    if (offset > text_size_) offset = text_size_;
    return Fail("byte " + std::to_string(offset) + ": " +
                DescribeException(ex, last_token));
  }

 private:
  struct Frame {
    // Exactly one of these is set. They point into the DOM, and stay valid
    // because only the innermost open container is ever appended to.
    Json::object_t* object = nullptr;
    Json::array_t* array = nullptr;
    // The object's most recent key, which names the member being filled.
    const std::string* key = nullptr;
  };

  // Stores a value where the parser is (root, array element or the member
  // whose key was just read) and returns where it went.
  template <typename Value>
  Json* Put(Value&& value) {
    if (stack_.empty()) {
      root_ = Json(std::forward<Value>(value));
      return &root_;
    }
    Frame& top = stack_.back();
    if (top.array != nullptr) {
      top.array->emplace_back(std::forward<Value>(value));
      return &top.array->back();
    }
    *member_ = Json(std::forward<Value>(value));
    return member_;
  }

  bool CheckDepth() {
    if (stack_.size() <
        static_cast<std::size_t>(max_depth_ < 0 ? 0 : max_depth_)) {
      return true;
    }
    return Fail(PendingPath() + ": nesting deeper than the limit of " +
                std::to_string(max_depth_));
  }

  // The path of the innermost open container ("$" for the root).
  std::string OpenPath() const {
    std::string path = "$";
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const Frame& parent = stack_[i - 1];
      // The child container was already stored in its parent: it is the
      // member under the parent's latest key, or the parent's last element.
      path = parent.object != nullptr
                 ? ChildPath(path, *parent.key)
                 : IndexPath(path, parent.array->size() - 1);
    }
    return path;
  }

  // The path of the value the parser is about to store.
  std::string PendingPath() const {
    if (stack_.empty()) return "$";
    const Frame& top = stack_.back();
    if (top.array != nullptr) return IndexPath(OpenPath(), top.array->size());
    // Values in an object always follow a key; the check keeps a parser
    // change from turning into a null dereference.
    return top.key != nullptr ? ChildPath(OpenPath(), *top.key) : OpenPath();
  }

  bool Fail(std::string message) {
    if (error_.ok()) error_ = Status::Invalid(std::move(message));
    return false;
  }

  Json& root_;
  const int max_depth_;
  const std::size_t text_size_;
  std::vector<Frame> stack_;
  Json* member_ = nullptr;  // The member awaiting its value, in an object.
  Status error_;
};

// The `found ...` part of a type error.
std::string_view Found(const Json& value) {
  return value.is_number_float() ? "a floating-point number" : TypeName(value);
}

Status WrongType(std::string_view path, std::string_view key,
                 std::string_view expected, const Json& value) {
  std::string message = ChildPath(path, key);
  message += ": expected ";
  message += expected;
  message += ", found ";
  message += Found(value);
  return Status::Invalid(std::move(message));
}

Result<std::string> ReadString(const Json& value, std::string_view path,
                               std::string_view key) {
  if (!value.is_string()) return WrongType(path, key, "a string", value);
  return value.get_ref<const std::string&>();
}

Result<std::int64_t> ReadInt(const Json& value, std::string_view path,
                             std::string_view key) {
  if (!value.is_number_integer()) {
    return WrongType(path, key, "an integer", value);
  }
  // Documents built in code (not by ParseStrict) may hold any 64-bit value.
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<std::uint64_t>();
    if (unsigned_value > static_cast<std::uint64_t>(kMaxSafeInteger)) {
      return Status::Invalid(IntegerBeyondSafe(ChildPath(path, key)));
    }
    return static_cast<std::int64_t>(unsigned_value);
  }
  const auto signed_value = value.get<std::int64_t>();
  if (signed_value < -kMaxSafeInteger || signed_value > kMaxSafeInteger) {
    return Status::Invalid(IntegerBeyondSafe(ChildPath(path, key)));
  }
  return signed_value;
}

Result<bool> ReadBool(const Json& value, std::string_view path,
                      std::string_view key) {
  if (!value.is_boolean()) return WrongType(path, key, "a boolean", value);
  return value.get<bool>();
}

Result<const Json*> ReadObject(const Json* value, std::string_view path,
                               std::string_view key) {
  if (!value->is_object()) return WrongType(path, key, "an object", *value);
  return value;
}

Result<const Json*> ReadArray(const Json* value, std::string_view path,
                              std::string_view key) {
  if (!value->is_array()) return WrongType(path, key, "an array", *value);
  return value;
}

}  // namespace

Result<nlohmann::json> ParseStrict(std::string_view text,
                                   const ParseOptions& options) {
  if (text.size() > options.max_bytes) {
    return Status::ResourceExhausted(
        "JSON body is " + std::to_string(text.size()) +
        " bytes, over the limit of " + std::to_string(options.max_bytes));
  }
  // nlohmann skips a BOM silently; RFC 8259 forbids emitting one and other
  // readers reject it, so a signed document must not start with one.
  if (text.starts_with(kByteOrderMark)) {
    return Status::Invalid("byte 0: byte-order mark not allowed");
  }
  // nlohmann's lexer takes a NUL byte for the end of input (for C strings),
  // so "{}\0<anything>" would parse as "{}". A NUL is never valid JSON
  // outside a string, and must be escaped inside one, so any NUL is an error.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return Status::Invalid("byte " + std::to_string(nul) +
                           ": NUL byte not allowed");
  }
  Json root;
  StrictDomBuilder builder(root, options.max_depth, text.size());
  try {
    const char* begin = text.data();
    if (!Json::sax_parse(begin, begin + text.size(), &builder,
                         Json::input_format_t::json, /*strict=*/true)) {
      Status error = builder.TakeError();
      if (error.ok()) return Status::Internal("JSON parser stopped silently");
      return error;
    }
  } catch (const Json::exception& ex) {
    return Status::Invalid("JSON parser failed: " + DescribeException(ex));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory parsing JSON");
  }
  return root;
}

std::string ChildPath(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (IsIdentifier(key)) {
    path.push_back('.');
    path += key;
  } else {
    path.push_back('[');
    path += Quote(key);
    path.push_back(']');
  }
  return path;
}

std::string IndexPath(std::string_view parent, std::size_t index) {
  std::string path(parent);
  path.push_back('[');
  path += std::to_string(index);
  path.push_back(']');
  return path;
}

Result<ObjectReader> ObjectReader::Create(const nlohmann::json& value,
                                          std::string path) {
  if (!value.is_object()) {
    std::string message = path;
    message += ": expected an object, found ";
    message += TypeName(value);
    return Status::Invalid(std::move(message));
  }
  return ObjectReader(value, std::move(path));
}

bool ObjectReader::Has(std::string_view key) const {
  const auto& members = object_->get_ref<const Json::object_t&>();
  return members.find(key) != members.end();
}

Result<const nlohmann::json*> ObjectReader::Field(std::string_view key,
                                                  bool required) {
  const auto& members = object_->get_ref<const Json::object_t&>();
  const auto it = members.find(key);
  if (it == members.end()) {
    if (required) {
      return Status::Invalid(ChildPath(path_, key) +
                             ": missing required field");
    }
    return static_cast<const Json*>(nullptr);
  }
  seen_.emplace(key);
  return &it->second;
}

Result<std::string> ObjectReader::String(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/true));
  return ReadString(*value, path_, key);
}

Result<std::int64_t> ObjectReader::Int(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/true));
  return ReadInt(*value, path_, key);
}

Result<bool> ObjectReader::Bool(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/true));
  return ReadBool(*value, path_, key);
}

Result<const nlohmann::json*> ObjectReader::Object(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/true));
  return ReadObject(value, path_, key);
}

Result<const nlohmann::json*> ObjectReader::Array(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/true));
  return ReadArray(value, path_, key);
}

Result<const nlohmann::json*> ObjectReader::Any(std::string_view key) {
  return Field(key, /*required=*/true);
}

Result<std::optional<std::string>> ObjectReader::OptionalString(
    std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/false));
  if (value == nullptr) return std::optional<std::string>();
  ASSIGN_OR_RETURN(std::string text, ReadString(*value, path_, key));
  return std::optional<std::string>(std::move(text));
}

Result<std::optional<std::int64_t>> ObjectReader::OptionalInt(
    std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/false));
  if (value == nullptr) return std::optional<std::int64_t>();
  ASSIGN_OR_RETURN(std::int64_t number, ReadInt(*value, path_, key));
  return std::optional<std::int64_t>(number);
}

Result<std::optional<bool>> ObjectReader::OptionalBool(std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/false));
  if (value == nullptr) return std::optional<bool>();
  ASSIGN_OR_RETURN(bool flag, ReadBool(*value, path_, key));
  return std::optional<bool>(flag);
}

Result<const nlohmann::json*> ObjectReader::OptionalObject(
    std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/false));
  if (value == nullptr) return value;
  return ReadObject(value, path_, key);
}

Result<const nlohmann::json*> ObjectReader::OptionalArray(
    std::string_view key) {
  ASSIGN_OR_RETURN(const Json* value, Field(key, /*required=*/false));
  if (value == nullptr) return value;
  return ReadArray(value, path_, key);
}

Status ObjectReader::Finish() const {
  // Members iterate in key order, so the first unknown field reported is
  // the same whatever order the document listed them in.
  for (const auto& member : object_->get_ref<const Json::object_t&>()) {
    if (!seen_.contains(member.first)) {
      return Status::Invalid(ChildPath(path_, member.first) +
                             ": unknown field");
    }
  }
  return Status::Ok();
}

std::string_view TypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    case Json::value_t::binary:
    case Json::value_t::discarded:
      return "invalid";
  }
  return "invalid";
}

}  // namespace deputy::json
