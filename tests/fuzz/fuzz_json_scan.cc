// Differential fuzzing of the fast scanner against the DOM reader: for
// every input, json::ValidateStrict and a Scanner reading one value then
// the end must accept exactly when json::ParseStrict does, under the
// default limits and under a small depth limit. Also checked: error
// messages are non-empty, printable ASCII and bounded; an accepted
// Scanner::Value() is the input without surrounding whitespace; token
// methods never crash on arbitrary input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "base/json_scan.h"
#include "base/strict_json.h"

namespace {

using deputy::Result;
using deputy::Status;
using deputy::json::ParseOptions;
using deputy::json::Scanner;

constexpr std::size_t kMaxMessageBytes = 400;

std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text.substr(0, 512)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

[[noreturn]] void Fail(const char* what, std::string_view input,
                       const std::string& detail) {
  std::fprintf(stderr, "fuzz_json_scan: %s\ninput: %s\n%s\n", what,
               Printable(input).c_str(), detail.c_str());
  std::abort();
}

void CheckMessage(const Status& status, std::string_view input) {
  if (status.ok()) return;
  const std::string& message = status.message();
  bool printable = !message.empty() && message.size() <= kMaxMessageBytes;
  for (char c : message) printable = printable && c >= 0x20 && c < 0x7F;
  if (!printable) Fail("bad error message", input, Printable(message));
}

Status ScanWhole(std::string_view text, int max_depth, std::string_view* raw) {
  Scanner scanner(text, max_depth);
  Result<std::string_view> value = scanner.Value();
  if (!value.ok()) return value.status();
  *raw = *value;
  return scanner.End();
}

std::string_view TrimJsonWhitespace(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

void CheckParity(std::string_view text, const ParseOptions& options) {
  const Result<nlohmann::json> parsed =
      deputy::json::ParseStrict(text, options);
  const Status validated = deputy::json::ValidateStrict(text, options);
  CheckMessage(validated, text);
  if (parsed.ok() != validated.ok()) {
    Fail("ParseStrict and ValidateStrict disagree", text,
         "max_depth " + std::to_string(options.max_depth) +
             "\nParseStrict: " + parsed.status().ToString() +
             "\nValidateStrict: " + validated.ToString());
  }
  if (text.size() > options.max_bytes) return;  // Scanner has no size limit.
  std::string_view raw;
  const Status scanned = ScanWhole(text, options.max_depth, &raw);
  CheckMessage(scanned, text);
  if (parsed.ok() != scanned.ok()) {
    Fail("ParseStrict and Scanner disagree", text,
         "max_depth " + std::to_string(options.max_depth) + "\nParseStrict: " +
             parsed.status().ToString() + "\nScanner: " + scanned.ToString());
  }
  if (scanned.ok() && raw != TrimJsonWhitespace(text)) {
    Fail("Scanner::Value() is not the trimmed input", text, Printable(raw));
  }
}

// Reads the input as a header object with a few keys, as the log verifier
// does; any verdict is fine, but a crash or a bad message is not.
void ExerciseTokens(std::string_view text) {
  Scanner scanner(text);
  if (!scanner.Expect('{').ok()) return;
  for (int field = 0; field < 4; ++field) {
    if (field > 0 && !scanner.Expect(',').ok()) return;
    CheckMessage(scanner.ExpectKey("a"), text);
    switch (field) {
      case 0: {
        Result<std::int64_t> n = scanner.Integer();
        CheckMessage(n.status(), text);
        if (n.ok() && (*n > deputy::json::kMaxSafeInteger ||
                       *n < -deputy::json::kMaxSafeInteger)) {
          Fail("Integer() returned an unsafe integer", text,
               std::to_string(*n));
        }
        break;
      }
      case 1:
        CheckMessage(scanner.String().status(), text);
        break;
      case 2: {
        Result<std::string_view> plain = scanner.PlainString();
        CheckMessage(plain.status(), text);
        if (plain.ok() && plain->find('\\') != std::string_view::npos) {
          Fail("PlainString() returned an escape", text, Printable(*plain));
        }
        break;
      }
      default:
        CheckMessage(scanner.Value(1).status(), text);
        break;
    }
  }
  CheckMessage(scanner.Expect('}'), text);
  CheckMessage(scanner.End(), text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckParity(text, ParseOptions{});
  ParseOptions shallow;
  shallow.max_depth = 2;
  shallow.max_bytes = std::numeric_limits<std::size_t>::max();
  CheckParity(text, shallow);
  ExerciseTokens(text);
  return 0;
}
