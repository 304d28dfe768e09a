// Fuzzes ParseStrict and ObjectReader. Properties checked on every input:
// no crash, no exception and no sanitizer report; an accepted document
// holds no NUL or byte-order mark, equals what nlohmann's own DOM parser
// reads from the same bytes, and survives dump-and-reparse unchanged; an
// ObjectReader reads every member of every object with the accessor for its
// type, at every depth, and Finish() fails exactly while a member is
// still unread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "base/strict_json.h"

namespace {

using Json = nlohmann::json;
using deputy::json::ObjectReader;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_strict_json: %s: %s\n", what, detail.c_str());
  std::abort();
}

void Check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) Fail(what, detail);
}

// Reads `key` with the accessor matching its type and checks the result
// agrees with the DOM, including the accessors that must refuse it.
void ReadMember(ObjectReader& reader, const std::string& key,
                const Json& value) {
  Check(reader.Has(key), "Has() misses a member", key);
  switch (value.type()) {
    case Json::value_t::string: {
      auto text = reader.String(key);
      Check(text.ok() && *text == value.get_ref<const std::string&>(),
            "String() disagrees", key);
      Check(!reader.Int(key).ok(), "Int() accepted a string", key);
      break;
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
      auto number = reader.Int(key);
      Check(number.ok() && Json(*number) == value, "Int() disagrees", key);
      Check(!reader.String(key).ok(), "String() accepted a number", key);
      break;
    }
    case Json::value_t::number_float:
      Check(!reader.Int(key).ok(), "Int() accepted a float", key);
      Check(reader.Any(key).ok(), "Any() refused a float", key);
      break;
    case Json::value_t::boolean: {
      auto flag = reader.OptionalBool(key);
      Check(flag.ok() && **flag == value.get<bool>(),
            "OptionalBool() disagrees", key);
      break;
    }
    case Json::value_t::null:
      Check(!reader.OptionalString(key).ok(), "OptionalString() took null",
            key);
      Check(reader.Any(key).ok(), "Any() refused null", key);
      break;
    case Json::value_t::array: {
      auto array = reader.Array(key);
      Check(array.ok() && *array == &value, "Array() disagrees", key);
      Check(!reader.OptionalObject(key).ok(), "OptionalObject() took array",
            key);
      break;
    }
    case Json::value_t::object: {
      auto object = reader.OptionalObject(key);
      Check(object.ok() && *object == &value, "OptionalObject() disagrees",
            key);
      Check(!reader.Array(key).ok(), "Array() took an object", key);
      break;
    }
    case Json::value_t::binary:
    case Json::value_t::discarded:
      Fail("parser produced a non-JSON value", key);
  }
}

void CheckReader(const Json& value, const std::string& path) {
  if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      CheckReader(value[i], deputy::json::IndexPath(path, i));
    }
  }
  auto reader = ObjectReader::Create(value, path);
  Check(reader.ok() == value.is_object(), "Create() disagrees with type", path);
  if (!reader.ok()) return;
  const auto& members = value.get_ref<const Json::object_t&>();
  Check(reader->Finish().ok() == members.empty(),
        "Finish() before reading disagrees", path);
  Check(!reader->Has(std::string_view("\xFF", 1)), "Has() found a bad key");
  for (const auto& [key, member] : members) {
    ReadMember(*reader, key, member);
    CheckReader(member, deputy::json::ChildPath(path, key));
  }
  Check(reader->Finish().ok(), "Finish() after reading all fails", path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  deputy::Result<Json> parsed = deputy::json::ParseStrict(text);
  if (!parsed.ok()) {
    Check(!parsed.status().message().empty(), "empty error message");
    return 0;
  }
  const Json& doc = *parsed;

  Check(text.find('\0') == std::string_view::npos, "accepted a NUL byte");
  Check(!text.starts_with("\xEF\xBB\xBF"), "accepted a byte-order mark");

  // Our SAX builder must produce exactly the DOM nlohmann's own parser
  // builds, given that the strict checks passed.
  const Json reference = Json::parse(text.begin(), text.end());
  Check(reference == doc, "DOM differs from nlohmann::json::parse");

  // Dumping can lengthen a document ("1E2" becomes "100.0"), so the
  // reparse lifts the size limit; depth is unchanged by dumping.
  const std::string dumped = doc.dump();
  deputy::json::ParseOptions unlimited;
  unlimited.max_bytes = std::numeric_limits<std::size_t>::max();
  deputy::Result<Json> reparsed = deputy::json::ParseStrict(dumped, unlimited);
  Check(reparsed.ok(), "dump does not reparse", reparsed.status().ToString());
  Check(*reparsed == doc, "dump reparses to a different value", dumped);

  CheckReader(doc, "$");
  return 0;
}
