#include "base/json_scan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/strict_json.h"

namespace deputy::json {
namespace {

using namespace std::literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kLogLine =
    R"({"seq":12,"time":"2026-12-03T18:00:00.123456Z","prev":")"
    R"(0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",)"
    R"("kind":"action.intent","actor":"agent-1","owner":"alice",)"
    R"("task":"T-1","action":"a-3","payload":{"target":"ldap","op":)"
    R"("disable","dn":"uid=bob,ou=people,dc=example,dc=org","n":3}})";

constexpr std::string_view kLogPayload =
    R"({"target":"ldap","op":"disable",)"
    R"("dn":"uid=bob,ou=people,dc=example,dc=org","n":3})";

// The exact halfway point between DBL_MAX and 2^1024: it and everything
// above it round to infinity, everything below to DBL_MAX.
constexpr std::string_view kHalfwayPastDoubleMax =
    "179769313486231580793728971405303415079934132710037826936173778980444968"
    "292764750946649017977587207096330286416692887910946555547851940402630657"
    "488671505820681908902000708383676273854845817711531764475730270069855571"
    "366959622842914819860834936475292719074168444365510704342711559699508093"
    "042880177904174497792";

// Every byte printable, so a failing input can be read in the test log.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text.substr(0, 300)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  if (text.size() > 300) out += "...";
  return out;
}

bool IsPrintableAscii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

std::string Repeat(std::string_view piece, std::size_t count) {
  std::string out;
  out.reserve(piece.size() * count);
  for (std::size_t i = 0; i < count; ++i) out += piece;
  return out;
}

std::string Nested(char open, char close, std::size_t depth) {
  std::string out(depth, open);
  out.append(depth, close);
  return out;
}

std::string NestedObjects(std::size_t depth) {
  std::string out = Repeat(R"({"a":)", depth);
  out += "0";
  out.append(depth, '}');
  return out;
}

Status ScanWhole(std::string_view text, int max_depth) {
  Scanner scanner(text, max_depth);
  Result<std::string_view> value = scanner.Value();
  if (!value.ok()) return value.status();
  return scanner.End();
}

// ParseStrict, ValidateStrict and a Scanner reading one value then the end
// must agree on `text`; every error must be printable and bounded.
void ExpectParity(std::string_view text, const ParseOptions& options = {}) {
  const Result<nlohmann::json> parsed = ParseStrict(text, options);
  const Status validated = ValidateStrict(text, options);
  EXPECT_EQ(parsed.ok(), validated.ok())
      << "input: " << Printable(text)
      << "\nParseStrict: " << parsed.status().ToString()
      << "\nValidateStrict: " << validated.ToString();
  if (!validated.ok()) {
    EXPECT_TRUE(IsPrintableAscii(validated.message())) << validated.message();
    EXPECT_LE(validated.message().size(), 400u) << validated.message();
  }
  if (text.size() <= options.max_bytes) {
    const Status scanned = ScanWhole(text, options.max_depth);
    EXPECT_EQ(parsed.ok(), scanned.ok())
        << "input: " << Printable(text)
        << "\nParseStrict: " << parsed.status().ToString()
        << "\nScanner: " << scanned.ToString();
    EXPECT_TRUE(IsPrintableAscii(scanned.message())) << scanned.message();
    EXPECT_LE(scanned.message().size(), 400u) << scanned.message();
  }
}

// Documents whose verdict is easy to get wrong, valid and not.
std::vector<std::string> TrickyInputs() {
  std::vector<std::string> inputs = {
      // Structure.
      "", " ", "\t\n\r ", "{}", "[]", "[", "]", "{", "}", "{]", "[}", "[,]",
      "[1,]", "[,1]", "{,}", R"({"a"})", R"({"a":})", R"({"a" 1})",
      R"({"a":1,})", R"({1:1})", R"({"a":1 "b":2})", "[1 2]", "[1,,2]",
      R"({"a":1,,"b":2})", R"({"a"::1})", R"({:1})", R"([{"a":1]})",
      R"([[[]]])", R"([[[]])", R"({"a":[1,{"b":[true,{"c":null}]}]})",
      R"({"a":{"b":{}}}})", "[]]", "{}}", R"({'a':1})", "['a']",
      // Literals.
      "true", "false", "null", "tru", "nul", "fals", "TRUE", "True", "nulll",
      "truefalse", "[true,false,null]", "[nan]", "NaN", "Infinity", "-Infinity",
      "undefined", "[t]", "[n", "nu", "[true false]",
      // Whitespace.
      "\f1", "\v1", "1\f",
      "\xC2\xA0"
      "1",
      "[1\x0B]", " [ 1 , 2 ] ", "\r\n{}\r\n", "{ \"a\" :\t1\n}", "[\n\n\n]",
      // Numbers.
      "0", "-0", "00", "-00", "01", "-01", "1.", "1.e5", ".5", "-.5", "+1",
      "1e", "1e+", "1e-", "1E5", "1e+5", "1e-5", "0.0", "-0.0", "0e0", "0E+0",
      "1.5e3", "[1.5e3,2]", "9007199254740991", "-9007199254740991",
      "9007199254740992", "-9007199254740992", "9007199254740991.0",
      "9007199254740993.0", "90071992547409910", "10000000000000000",
      "18446744073709551615", "18446744073709551616", "-9223372036854775808",
      "-9223372036854775809", "1e308", "1e309", "-1e309", "1e307",
      "1.7976931348623157e308", "1.7976931348623158e308",
      "1.7976931348623159e308", "-1.7976931348623159e308", "0.1e310", "0.1e309",
      "10e307", "10e308", "100e306", "0.00001e313", "0.00001e314", "1e-400",
      "-1e-400", "4.9e-324", "2.4e-324", "1e-99999999999999999999",
      "1e99999999999999999999", "0e99999999999999999999", "0.000e99999",
      "-0.0e99999999999999999999", "123456789012345678901234567890e280",
      "123456789012345678901234567890e279", "1" + std::string(308, '0'),
      "1" + std::string(308, '0') + ".0", "1" + std::string(309, '0') + ".0",
      "9" + std::string(308, '9') + ".0", "0." + std::string(400, '0') + "1",
      "0." + std::string(400, '0') + "1e709",
      "0." + std::string(400, '0') + "1e710", "-", "--1", "1-", "1+1", "0x10",
      "1_000", "[1.0e]", "[-]", "[1.]", "[01]", "[-0]", "1 ", " -0.5e-3 ",
      "[9007199254740991,-9007199254740991]", "1.0E+2", "1.0e-2",
      // Strings and escapes.
      R"("")", R"("a)", R"("\")", R"("\\")", R"("\/")", R"("\b\f\n\r\t")",
      R"("\a")", R"("\x41")", R"("\U0041")", R"("\u004")", R"("\u004g")",
      R"("\u00411")", R"("\uD800")", R"("\uDBFF\uDFFF")", R"("\uD800\uDBFF")",
      R"("\uD800\u0041")", R"("\uD800x")", R"("\uD800\")", R"("\uD800\u")",
      R"("\uD800\uDC0")", R"("\uDC00")", R"("\uDFFF\uD800")", R"("\u0000")",
      R"("\uFFFF")", R"("\uFEFF")", R"("\u00e9")", R"("\u00E9")",
      R"("\ud83d\ude00")", R"("\'")", R"("\)", "\"\\", "\"", "\"\t\"",
      "\"\x1F\"", "\"\x7F\"", "\"a\nb\"", "\"\r\"",
      // UTF-8, valid and not, inside and outside strings.
      "\"\xC0\x80\"", "\"\xC1\xBF\"", "\"\xC2\x80\"", "\"\xDF\xBF\"",
      "\"\xE0\x9F\xBF\"", "\"\xE0\xA0\x80\"", "\"\xED\x9F\xBF\"",
      "\"\xED\xA0\x80\"", "\"\xED\xBF\xBF\"", "\"\xEE\x80\x80\"",
      "\"\xEF\xBF\xBF\"", "\"\xF0\x8F\xBF\xBF\"", "\"\xF0\x90\x80\x80\"",
      "\"\xF4\x8F\xBF\xBF\"", "\"\xF4\x90\x80\x80\"", "\"\xF5\x80\x80\x80\"",
      "\"\xF8\x88\x80\x80\x80\"", "\"\xFF\"", "\"\x80\"", "\"\xC2\"",
      "\"\xE2\x82\"", "\"\xF0\x9F\x98\"", "\"\xC2", "\"\xE2\x82",
      "\"\xF0\x9F\x98", "\xC3\xA9", "[\xC3\xA9]",
      "\"\xE2\x82\xAC\xF0\x9F\x98\x80\"",
      "\"0123456789abcdef0123456789abcd\xC3\xA9\"",
      "\"0123456789abcdef0123456789abc\xC3\"",
      "\"0123456789abcdef\x01"
      "0123456789abcdef\"",
      // Keys and duplicates.
      R"({"a":1,"a":1})", R"({"a":1,"b":{"a":1}})", R"({"a":1,"\u0061":2})",
      R"({"\/":1,"/":2})", "{\"\xC3\xA9\":1,\"\\u00e9\":2}",
      "{\"\xF0\x9F\x98\x80\":1,\"\\ud83d\\ude00\":2}", R"({"\u0000":1,"":2})",
      R"({"a\u0000":1,"a":2})", R"({"a\u0000b":1,"a\u0000b":2})",
      R"({"":1,"":2})", R"([{"a":1},{"a":1}])", R"({"a":{},"b":{},"a":[]})",
      R"({"ab":1,"a\u0062":2})", R"({"a\nb":1,"a\u000ab":1})",
      R"({"a\nb":1,"a\u000Ab":1})", R"({"\"":1,"\u0022":2})",
      R"({"\\":1,"\u005c":2})", R"({"\\":1,"\u005C":2})", R"({"A":1,"a":2})",
      R"({"a":1,"b":2,"c":3,"b":4})", R"({"x":{"a":1,"a":2},"y":0})",
      R"({"x":[{"k":1,"k":2}]})",
      // NUL bytes and byte-order marks.
      "[1]\0"s, "\0"s, "\"a\0\""s, "{\"a\0\":1}"s, "1\0"s, " \0"s,
      "\"\\u0000\"\0"s, "\xEF\xBB\xBF{}", "\xEF\xBB{}", " \xEF\xBB\xBF{}",
      "\xEF\xBB\xBF", "\"\xEF\xBB\xBF\"",
      // Comments and trailing content.
      "//\n1", "/*x*/1", "1//", "1 /**/", "#1", "1 2", "{} {}", "[] x",
      R"("a""b")", "nulltrue", "[1]]", "{\"a\":1}\n\n",
      // Realistic documents.
      std::string(kLogLine), std::string(kLogLine) + "\n",
      std::string(kLogLine.substr(0, kLogLine.size() - 1)),
      std::string(kLogPayload)};
  // Depth around the default limit.
  for (std::size_t depth : {63u, 64u, 65u}) {
    inputs.push_back(Nested('[', ']', depth));
    inputs.push_back(NestedObjects(depth));
  }
  // Every raw control character inside a string.
  for (int c = 1; c < 0x20; ++c) {
    inputs.push_back("\"" + std::string(1, static_cast<char>(c)) + "\"");
  }
  // A long string with a special byte at every position of a vector, so
  // both the vector loop and the tail are exercised.
  for (std::size_t i = 0; i < 40; ++i) {
    for (std::string_view special : {"\x01", "\\n", "\xC3\xA9", "\xFF"}) {
      std::string text = "\"" + std::string(i, 'x');
      text += special;
      text += std::string(40 - i, 'y') + "\"";
      inputs.push_back(text);
      inputs.push_back("[" + text + "]");
    }
  }
  return inputs;
}

std::filesystem::path CorpusRoot() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "fuzz" /
         "corpus";
}

std::vector<std::string> ReadCorpus(std::string_view name) {
  std::vector<std::string> files;
  const std::filesystem::path dir = CorpusRoot() / name;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }
  return files;
}

// --- Parity --------------------------------------------------------------

TEST(JsonScan, AgreesWithParseStrictOnFuzzSeeds) {
  std::vector<std::string> seeds = ReadCorpus("fuzz_strict_json");
  ASSERT_GE(seeds.size(), 30u) << "no seeds under " << CorpusRoot();
  for (const std::string& seed : ReadCorpus("fuzz_json_scan")) {
    seeds.push_back(seed);
  }
  for (const std::string& seed : seeds) ExpectParity(seed);
}

TEST(JsonScan, AgreesWithParseStrictOnTrickyInputs) {
  for (const std::string& input : TrickyInputs()) ExpectParity(input);
}

TEST(JsonScan, AgreesWithParseStrictUnderOtherLimits) {
  for (const std::string& input : TrickyInputs()) {
    for (int depth : {-1, 0, 1, 2, 3}) {
      ParseOptions options;
      options.max_depth = depth;
      ExpectParity(input, options);
    }
    ParseOptions small;
    small.max_bytes = 8;
    ExpectParity(input, small);
  }
}

TEST(JsonScan, AgreesWithParseStrictOnEveryTwoByteSequenceInAString) {
  for (int a = 0x80; a < 0x100; ++a) {
    for (int b = 0; b < 0x100; ++b) {
      std::string text = "\"";
      text.push_back(static_cast<char>(a));
      text.push_back(static_cast<char>(b));
      text += "\"";
      ExpectParity(text);
    }
  }
}

TEST(JsonScan, AgreesWithParseStrictOnThreeAndFourByteSequences) {
  const int edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
                       0xA0, 0xBF, 0xC0, 0xF4, 0xFF};
  for (int lead = 0xE0; lead < 0x100; ++lead) {
    for (int b1 : edges) {
      for (int b2 : edges) {
        for (int b3 : {0x22, 0x41, 0x80, 0xBF, 0xC0}) {
          std::string text = "\"";
          text.push_back(static_cast<char>(lead));
          text.push_back(static_cast<char>(b1));
          text.push_back(static_cast<char>(b2));
          text.push_back(static_cast<char>(b3));
          text += "\"";
          ExpectParity(text);
        }
      }
    }
  }
}

TEST(JsonScan, AgreesWithParseStrictOnEveryEscapedBmpCodeUnitClass) {
  for (int cp = 0; cp < 0x10000; cp += 0x3F) {
    char escape[16];
    std::snprintf(escape, sizeof escape, "\\u%04x", cp);
    ExpectParity("\"" + std::string(escape) + "\"");
    ExpectParity("{\"" + std::string(escape) + "\":1,\"a\":2}");
  }
}

// Random documents built from a pool of tricky pieces, then mutated.
class DocumentGenerator {
 public:
  explicit DocumentGenerator(std::uint64_t seed) : rng_(seed) {}

  std::string Document() {
    std::string out;
    Value(out, 0);
    return out;
  }

  void Mutate(std::string& text) {
    static constexpr std::string_view kAlphabet =
        "{}[]:,\"\\ \t\n\r0123456789-+.eEtrufalsn/bu\x00\x01\x1F\x7F"
        "\x80\xBF\xC2\xC3\xE0\xED\xEF\xF0\xF4\xF5\xFF"sv;
    const int mutations = 1 + static_cast<int>(rng_() % 3);
    for (int m = 0; m < mutations; ++m) {
      const std::size_t at = text.empty() ? 0 : rng_() % (text.size() + 1);
      const char c = kAlphabet[rng_() % kAlphabet.size()];
      switch (rng_() % 6) {
        case 0:  // Insert.
          text.insert(at, 1, c);
          break;
        case 1:  // Replace.
          if (at < text.size()) text[at] = c;
          break;
        case 2:  // Delete.
          if (at < text.size()) text.erase(at, 1);
          break;
        case 3:  // Truncate.
          text.resize(at);
          break;
        case 4: {  // Duplicate a slice (often a key or a member).
          const std::size_t len = rng_() % 12;
          const std::string slice = text.substr(at, len);
          text.insert(std::min(text.size(), at + len), slice);
          break;
        }
        default:  // Insert a tricky piece.
          text.insert(at, Piece());
          break;
      }
    }
  }

  std::uint64_t Next() { return rng_(); }

 private:
  std::string_view Piece() {
    static constexpr std::string_view kPieces[] = {
        "\\u0061",  "\\ud83d\\ude00", "\\ud83d", "\\ude00", "\\u0000",
        "\xC3\xA9", "\xED\xA0\x80",   "1e400",   "-0",      "9007199254740992",
        "\"a\":1,", "{\"a\":",        "[[",      "]]",      "\"",
        "\\",       "\xEF\xBB\xBF",   "1.5e-3",  "true",    "nul"};
    return kPieces[rng_() % std::size(kPieces)];
  }

  std::string Key() {
    static constexpr std::string_view kKeys[] = {
        "a",        "\\u0061",        "b",
        "\xC3\xA9", "\\u00e9",        "\\u00E9",
        "",         "\\u0000",        "a\\u0000",
        "ab",       "a\\u0062",       "\\/",
        "/",        "\\ud83d\\ude00", "\xF0\x9F\x98\x80",
        "key",      "k\\ney",         "k\\u000aey"};
    return std::string(kKeys[rng_() % std::size(kKeys)]);
  }

  std::string Number() {
    static constexpr std::string_view kNumbers[] = {"0",
                                                    "-0",
                                                    "12",
                                                    "-7",
                                                    "9007199254740991",
                                                    "-9007199254740991",
                                                    "1.5",
                                                    "-0.0",
                                                    "1e10",
                                                    "2.5E-3",
                                                    "1e308",
                                                    "1.7976931348623157e308",
                                                    "1e-400",
                                                    "123456789",
                                                    "0.1"};
    if (rng_() % 3 == 0) {
      std::string digits = std::to_string(rng_() % 100000000000000000ULL);
      if (rng_() % 2 == 0) digits = "-" + digits;
      return digits;
    }
    return std::string(kNumbers[rng_() % std::size(kNumbers)]);
  }

  std::string String() {
    static constexpr std::string_view kParts[] = {"abc",
                                                  "\\n",
                                                  "\\\"",
                                                  "\\\\",
                                                  "\\/",
                                                  "\\t",
                                                  "\\u00e9",
                                                  "\\u0000",
                                                  "\xC3\xA9",
                                                  "\xE2\x82\xAC",
                                                  "\xF0\x9F\x98\x80",
                                                  "\\ud83d\\ude00",
                                                  " ",
                                                  "0123456789abcdef",
                                                  "2026-12-03T18:00:00Z"};
    std::string out = "\"";
    const int parts = static_cast<int>(rng_() % 5);
    for (int i = 0; i < parts; ++i) out += kParts[rng_() % std::size(kParts)];
    out += "\"";
    return out;
  }

  void Space(std::string& out) {
    static constexpr std::string_view kSpaces[] = {" ", "\n", "\t", "\r", "  "};
    if (rng_() % 8 == 0) out += kSpaces[rng_() % std::size(kSpaces)];
  }

  void Value(std::string& out, int depth) {
    Space(out);
    const int kind = static_cast<int>(rng_() % (depth < 5 ? 7 : 5));
    switch (kind) {
      case 0:
        out += Number();
        break;
      case 1:
        out += String();
        break;
      case 2:
        out += (rng_() % 3 == 0)   ? "true"
               : (rng_() % 2 == 0) ? "false"
                                   : "null";
        break;
      case 3:
      case 4:
        out += Number();
        break;
      case 5: {
        out += "[";
        const int n = static_cast<int>(rng_() % 4);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out += ",";
          Value(out, depth + 1);
        }
        Space(out);
        out += "]";
        break;
      }
      default: {
        out += "{";
        const int n = static_cast<int>(rng_() % 5);
        for (int i = 0; i < n; ++i) {
          if (i > 0) out += ",";
          Space(out);
          out += "\"" + Key() + "\"";
          Space(out);
          out += ":";
          Value(out, depth + 1);
        }
        Space(out);
        out += "}";
        break;
      }
    }
    Space(out);
  }

  std::mt19937_64 rng_;
};

TEST(JsonScan, AgreesWithParseStrictOnRandomMutations) {
  DocumentGenerator generator(20261203);
  int accepted = 0;
  constexpr int kCases = 20000;
  for (int i = 0; i < kCases; ++i) {
    std::string text = generator.Document();
    if (i % 5 != 0) generator.Mutate(text);
    ParseOptions options;
    if (i % 7 == 0) options.max_depth = static_cast<int>(generator.Next() % 4);
    ExpectParity(text, options);
    if (ValidateStrict(text, options).ok()) ++accepted;
    if (::testing::Test::HasFailure()) {
      FAIL() << "stopping after the first disagreement (case " << i << ")";
    }
  }
  // Both verdicts must be well represented for the test to mean anything.
  EXPECT_GT(accepted, kCases / 10);
  EXPECT_LT(accepted, kCases * 9 / 10);
}

// --- The individual rules ------------------------------------------------

TEST(JsonScan, AcceptsEveryValueType) {
  EXPECT_TRUE(ValidateStrict(R"({"s":"x","i":-3,"f":1.5,"t":true,"n":null,)"
                             R"("a":[1,[2],{}],"o":{"k":"v"}})")
                  .ok());
  for (std::string_view scalar : {"0", "\"x\"", "true", "false", "null"}) {
    EXPECT_TRUE(ValidateStrict(scalar).ok()) << scalar;
  }
  EXPECT_TRUE(ValidateStrict(kLogLine).ok());
}

TEST(JsonScan, RejectsBodiesOverTheSizeLimitAsResourceExhausted) {
  ParseOptions options;
  options.max_bytes = 10;
  EXPECT_TRUE(ValidateStrict("[1,2,3,45]", options).ok());
  const Status status = ValidateStrict("[1,2,3,456]", options);
  EXPECT_EQ(status.code(), ErrorCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("11 bytes"));
}

TEST(JsonScan, RejectsByteOrderMark) {
  const Status status = ValidateStrict("\xEF\xBB\xBF{}");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "byte 0: byte-order mark not allowed");
}

TEST(JsonScan, RejectsNulByteAnywhere) {
  for (const std::string& text :
       {"\0"s, "[1]\0"s, "[1]\0{\"a\":1}"s, "\"a\0b\""s, "{\"a\0\":1}"s,
        "[1,\0 2]"s, "1 \0"s}) {
    const Status status = ValidateStrict(text);
    EXPECT_FALSE(status.ok()) << Printable(text);
    EXPECT_THAT(status.message(), HasSubstr("NUL byte not allowed"));
  }
}

TEST(JsonScan, RejectsRawControlCharactersInStrings) {
  for (int c = 1; c < 0x20; ++c) {
    const std::string text =
        "\"a" + std::string(1, static_cast<char>(c)) + "\"";
    const Status status = ValidateStrict(text);
    EXPECT_FALSE(status.ok()) << c;
    EXPECT_THAT(status.message(), StartsWith("byte 2: control character"));
  }
  EXPECT_TRUE(ValidateStrict("\"a\x7F\"").ok());  // DEL is not a control.
}

TEST(JsonScan, AcceptsOnlyJsonWhitespace) {
  EXPECT_TRUE(ValidateStrict(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n").ok());
  for (std::string_view space : {"\f", "\v", "\xC2\xA0", "\xE2\x80\x80"}) {
    EXPECT_FALSE(ValidateStrict(std::string(space) + "1").ok());
    EXPECT_FALSE(ValidateStrict("[1" + std::string(space) + "]").ok());
  }
}

TEST(JsonScan, ValidatesUtf8PerRfc3629) {
  // Shortest forms of the boundaries of every sequence length.
  for (std::string_view ok :
       {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
        "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_TRUE(ValidateStrict("\"" + std::string(ok) + "\"").ok())
        << Printable(ok);
  }
  // Overlong forms, encoded surrogates, beyond U+10FFFF, stray and
  // truncated sequences.
  for (std::string_view bad :
       {"\xC0\x80", "\xC1\xBF", "\xE0\x9F\xBF", "\xF0\x8F\xBF\xBF",
        "\xED\xA0\x80", "\xED\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
        "\x80", "\xBF", "\xFE", "\xFF", "\xC2", "\xE2\x82", "\xF0\x9F\x98",
        "\xC2\x41"}) {
    const Status status = ValidateStrict("\"a" + std::string(bad) + "\"");
    EXPECT_FALSE(status.ok()) << Printable(bad);
    EXPECT_THAT(status.message(), StartsWith("byte 2: invalid UTF-8"));
  }
}

TEST(JsonScan, FindsInvalidUtf8AtEveryOffsetOfALongString) {
  for (std::size_t i = 0; i < 70; ++i) {
    std::string text =
        "\"" + std::string(i, 'a') + "\xFF" + std::string(70 - i, 'b') + "\"";
    const Status status = ValidateStrict(text);
    EXPECT_EQ(status.message(), "byte " + std::to_string(i + 1) +
                                    ": invalid UTF-8 in a string, found "
                                    "byte 0xFF");
  }
}

TEST(JsonScan, RequiresSurrogateEscapesInPairs) {
  EXPECT_TRUE(ValidateStrict(R"("\ud83d\ude00")").ok());
  EXPECT_TRUE(ValidateStrict(R"("\uDBFF\uDFFF")").ok());
  for (std::string_view bad :
       {R"("\ud83d")", R"("\ud83dx")", R"("\ud83d\u0041")", R"("\ud83d\ud83d")",
        R"("\ude00")", R"("\ude00\ud83d")", R"("\ud83d\n")"}) {
    EXPECT_FALSE(ValidateStrict(bad).ok()) << bad;
  }
}

TEST(JsonScan, AcceptsEscapedNulInValuesAndKeys) {
  EXPECT_TRUE(ValidateStrict(R"("\u0000")").ok());
  EXPECT_TRUE(ValidateStrict(R"({"\u0000":1})").ok());
  // Keys differing only after an escaped NUL are different keys.
  EXPECT_TRUE(ValidateStrict(R"({"a\u0000b":1,"a\u0000c":2})").ok());
  EXPECT_TRUE(ValidateStrict(R"({"a\u0000":1,"a":2})").ok());
  EXPECT_FALSE(ValidateStrict(R"({"a\u0000":1,"a\u0000":2})").ok());
}

TEST(JsonScan, RejectsIntegersBeyondTheSafeRange) {
  EXPECT_TRUE(ValidateStrict("[9007199254740991,-9007199254740991,0,-0]").ok());
  for (std::string_view bad :
       {"9007199254740992", "-9007199254740992", "10000000000000000",
        "18446744073709551616", "99999999999999999999"}) {
    const Status status = ValidateStrict(bad);
    EXPECT_EQ(status.message(),
              "byte 0: $: integer beyond 2^53 - 1 in magnitude");
  }
  EXPECT_FALSE(ValidateStrict("[" + std::string(400, '9') + "]").ok());
  // The same magnitude written as a float is a float, not an integer.
  EXPECT_TRUE(ValidateStrict("9007199254740993.0").ok());
  EXPECT_TRUE(ValidateStrict("1e300").ok());
}

TEST(JsonScan, AcceptsFiniteFloatsAndRejectsOverflow) {
  EXPECT_TRUE(ValidateStrict("1.7976931348623157e308").ok());
  EXPECT_TRUE(ValidateStrict("1.7976931348623158e308").ok());
  EXPECT_FALSE(ValidateStrict("1.7976931348623159e308").ok());
  EXPECT_FALSE(ValidateStrict("-1e309").ok());
  EXPECT_FALSE(ValidateStrict("1e99999999999999999999").ok());
  // Underflow to zero or a subnormal is finite, as strtod reads it.
  EXPECT_TRUE(ValidateStrict("1e-400").ok());
  EXPECT_TRUE(ValidateStrict("4.9e-324").ok());
  EXPECT_TRUE(ValidateStrict("1e-99999999999999999999").ok());
  EXPECT_TRUE(ValidateStrict("0e99999999999999999999").ok());
  // Around the exact rounding boundary: just below, at, and above it.
  const std::string halfway =
      std::string(kHalfwayPastDoubleMax.substr(0, 1)) + "." +
      std::string(kHalfwayPastDoubleMax.substr(1)) + "e308";
  std::string below = halfway;
  below[below.size() - 5] = '1';  // ...97792 -> ...97791.
  std::string above = halfway;
  above[above.size() - 5] = '3';
  for (const std::string& text : {halfway, below, above}) ExpectParity(text);
  EXPECT_TRUE(ValidateStrict(below).ok());
  EXPECT_FALSE(ValidateStrict(halfway).ok());
  EXPECT_FALSE(ValidateStrict(above).ok());
  const Status status = ValidateStrict(R"({"x":[1e400]})");
  EXPECT_EQ(status.message(), "byte 6: $.x[0]: number too large for a double");
}

TEST(JsonScan, RejectsDuplicateKeysComparedAfterUnescaping) {
  for (std::string_view bad :
       {R"({"a":1,"a":2})", R"({"a":1,"\u0061":2})", R"({"\/":1,"/":2})",
        "{\"\xC3\xA9\":1,\"\\u00e9\":2}",
        "{\"\xF0\x9F\x98\x80\":1,\"\\ud83d\\ude00\":2}", R"({"":1,"":2})",
        R"({"x":[{"b":1,"c":1,"b":2}]})", R"({"a\nb":1,"a\u000ab":1})"}) {
    EXPECT_FALSE(ValidateStrict(bad).ok()) << bad;
  }
  EXPECT_TRUE(
      ValidateStrict(R"({"a":1,"b":{"a":1},"c":[{"a":1},{"a":1}]})").ok());
  EXPECT_TRUE(ValidateStrict(R"({"A":1,"a":2,"\u0041b":3})").ok());
}

TEST(JsonScan, DuplicateKeyErrorNamesPathAndKey) {
  EXPECT_EQ(ValidateStrict(R"({"o":{"a b":{},"a b":[]}})").message(),
            R"(byte 15: $.o["a b"]: duplicate key "a b")");
  EXPECT_EQ(ValidateStrict(R"({"x":[0,{"k":1,"\u006b":2}]})").message(),
            R"(byte 15: $.x[1].k: duplicate key "k")");
}

std::string ObjectWithKeys(std::size_t count, std::string_view extra) {
  std::string text = "{";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) text += ",";
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i);
  }
  text += extra;
  text += "}";
  return text;
}

TEST(JsonScan, DetectsDuplicatesInObjectsOfTenThousandKeys) {
  EXPECT_TRUE(ValidateStrict(ObjectWithKeys(10000, "")).ok());
  const std::string last = ObjectWithKeys(10000, R"(,"k5000":0)");
  ExpectParity(last);
  EXPECT_THAT(ValidateStrict(last).message(),
              HasSubstr(R"($.k5000: duplicate key "k5000")"));
  ExpectParity(ObjectWithKeys(10000, R"(,"\u006b9999":0)"));
  ExpectParity(ObjectWithKeys(10000, R"(,"k0":0)"));
  ExpectParity(ObjectWithKeys(10000, R"(,"k10000":0)"));
  // A duplicate of an early key far into the object, inside an array.
  std::string nested = "[" + ObjectWithKeys(20, R"(,"k3":0)") + "]";
  EXPECT_THAT(ValidateStrict(nested).message(),
              HasSubstr(R"($[0].k3: duplicate key "k3")"));
  // The sort of a big inner object must not disturb the outer one's keys.
  ExpectParity(R"({"a":)" + ObjectWithKeys(100, "") + R"(,"a":1})");
  ExpectParity(R"({"a":)" + ObjectWithKeys(100, "") + R"(,"b":1})");
}

TEST(JsonScan, LargeObjectsValidateInNearLinearTime) {
  ParseOptions options;
  options.max_bytes = 4 << 20;
  // ~1 MiB of tiny keys, of long keys sharing a prefix, and of escaped ones.
  const std::string many = ObjectWithKeys(100000, "");
  std::string shared_prefix = "{";
  const std::string prefix(1000, 'p');
  for (int i = 0; i < 1000; ++i) {
    if (i > 0) shared_prefix += ",";
    shared_prefix += "\"" + prefix + std::to_string(i) + "\":0";
  }
  shared_prefix += "}";
  std::string escaped = "{";
  for (int i = 0; i < 20000; ++i) {
    if (i > 0) escaped += ",";
    escaped += "\"\\u0061\\u0062" + std::to_string(i) + "\":0";
  }
  escaped += "}";
  for (const std::string* text :
       std::vector<const std::string*>{&many, &shared_prefix, &escaped}) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(ValidateStrict(*text, options).ok());
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // Milliseconds in a release build; generous for sanitizers.
    EXPECT_LT(elapsed, std::chrono::seconds(2)) << text->size();
  }
}

TEST(JsonScan, CountsDepthLikeParseStrict) {
  EXPECT_TRUE(ValidateStrict(Nested('[', ']', 64)).ok());
  EXPECT_TRUE(ValidateStrict(NestedObjects(64)).ok());
  const Status status = ValidateStrict(Nested('[', ']', 65));
  EXPECT_THAT(status.message(),
              HasSubstr("nesting deeper than the limit of 64"));
  EXPECT_FALSE(ValidateStrict(NestedObjects(65)).ok());
  for (int max_depth : {-5, 0, 1, 2, 10}) {
    ParseOptions options;
    options.max_depth = max_depth;
    for (std::size_t depth = 0; depth <= 12; ++depth) {
      ExpectParity(Nested('[', ']', depth), options);
      ExpectParity(NestedObjects(depth), options);
      ExpectParity("[{\"a\":" + Nested('[', ']', depth) + "}]", options);
    }
  }
}

TEST(JsonScan, HugeDepthLimitCannotOverflowTheStack) {
  ParseOptions options;
  options.max_bytes = 8 << 20;
  options.max_depth = 10'000'000;
  EXPECT_TRUE(ValidateStrict(Nested('[', ']', 1'000'000), options).ok());
  EXPECT_TRUE(ValidateStrict(NestedObjects(300'000), options).ok());
  EXPECT_FALSE(ValidateStrict(std::string(1'000'000, '['), options).ok());
  const std::string deep = Nested('[', ']', 1'000'000);
  Scanner scanner(deep, 10'000'000);
  EXPECT_TRUE(scanner.Value().ok());
}

TEST(JsonScan, SyntaxErrorsNameTheByteOffset) {
  EXPECT_EQ(ValidateStrict("[1,]").message(),
            "byte 3: expected a value, found ']'");
  EXPECT_EQ(ValidateStrict(R"({"a":tru})").message(),
            "byte 5: expected a value, found 't'");
  EXPECT_EQ(ValidateStrict("[1").message(),
            "byte 2: expected ',' or ']', found end of input");
  EXPECT_EQ(ValidateStrict("{} x").message(),
            "byte 3: expected the end of the text, found 'x'");
  EXPECT_EQ(ValidateStrict("\"\xFF\"").message(),
            "byte 1: invalid UTF-8 in a string, found byte 0xFF");
  EXPECT_EQ(ValidateStrict("").message(),
            "byte 0: expected a value, found end of input");
}

TEST(JsonScan, ErrorMessagesArePrintableAndBounded) {
  const std::string long_key(5000, '\x01');
  const std::string weird_key = "\xC3\xA9\\u0001\\\"" + std::string(3000, 'z');
  const std::vector<std::string> inputs = {
      "{\"" + weird_key + "\":1,\"" + weird_key + "\":2}",
      "{\"" + std::string(3000, 'k') + "\":[" + std::string(9000, '9') + "]}",
      Repeat("{\"" + std::string(100, '\xC3') + "\":", 60),
      Repeat("{\"\\u00e9" + std::string(200, 'q') + "\":", 60) + "1e999",
      "\"" + long_key + "\"",
      // Deep paths of long unprintable keys, ending in a duplicate of one.
      Repeat("{\"\\u0001" + Repeat("\\u00ff", 100) + "\":", 10) + "{\"" +
          Repeat("\\u0002", 90) + "\":1,\"" + Repeat("\\u0002", 90) + "\":2}" +
          std::string(10, '}'),
      Repeat("[{\"" + Repeat("\\u00ff", 50) + "\":", 20) + "1e400" +
          Repeat("}]", 20),
      "[\"" + std::string(4000, 'a') + "\xFF\"]",
      ObjectWithKeys(50, ",\"\\u0001\\u00ff" + std::string(2000, 'x') +
                             "\":1,\"\\u0001\\u00ff" + std::string(2000, 'x') +
                             "\":1"),
  };
  for (const std::string& text : inputs) {
    const Status status = ValidateStrict(text);
    EXPECT_FALSE(status.ok()) << Printable(text);
    EXPECT_TRUE(IsPrintableAscii(status.message())) << status.message();
    EXPECT_LE(status.message().size(), 400u) << status.message();
  }
}

// --- Scanner -------------------------------------------------------------

TEST(Scanner, ReadsALogLineFieldByField) {
  Scanner scanner(kLogLine);
  ASSERT_TRUE(scanner.Expect('{').ok());
  ASSERT_TRUE(scanner.ExpectKey("seq").ok());
  Result<std::int64_t> seq = scanner.Integer();
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 12);
  const auto plain = [&](std::string_view key) -> std::string {
    EXPECT_TRUE(scanner.Expect(',').ok());
    EXPECT_TRUE(scanner.ExpectKey(key).ok()) << key;
    Result<std::string_view> value = scanner.PlainString();
    EXPECT_TRUE(value.ok()) << value.status().ToString();
    return value.ok() ? std::string(*value) : "";
  };
  EXPECT_EQ(plain("time"), "2026-12-03T18:00:00.123456Z");
  EXPECT_EQ(plain("prev"), Repeat("0123456789abcdef", 4));
  EXPECT_EQ(plain("kind"), "action.intent");
  EXPECT_EQ(plain("actor"), "agent-1");
  EXPECT_EQ(plain("owner"), "alice");
  EXPECT_EQ(plain("task"), "T-1");
  ASSERT_TRUE(scanner.Expect(',').ok());
  ASSERT_TRUE(scanner.ExpectKey("action").ok());
  Result<std::string> action = scanner.String();
  ASSERT_TRUE(action.ok());
  EXPECT_EQ(*action, "a-3");
  ASSERT_TRUE(scanner.Expect(',').ok());
  ASSERT_TRUE(scanner.ExpectKey("payload").ok());
  Result<std::string_view> payload = scanner.Value(1);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(*payload, kLogPayload);
  ASSERT_TRUE(scanner.Expect('}').ok());
  EXPECT_TRUE(scanner.End().ok());
  EXPECT_EQ(scanner.offset(), kLogLine.size());
}

TEST(Scanner, SkipsWhitespaceBeforeEveryToken) {
  Scanner scanner(" {\n\"a\" :\t7 , \"b\" : \"x\" \r}\n ");
  EXPECT_TRUE(scanner.Expect('{').ok());
  EXPECT_TRUE(scanner.ExpectKey("a").ok());
  EXPECT_EQ(*scanner.Integer(), 7);
  EXPECT_TRUE(scanner.Expect(',').ok());
  EXPECT_TRUE(scanner.ExpectKey("b").ok());
  EXPECT_EQ(*scanner.PlainString(), "x");
  EXPECT_TRUE(scanner.Expect('}').ok());
  EXPECT_TRUE(scanner.End().ok());
}

TEST(Scanner, ExpectRejectsAnyOtherCharacterAndKeepsPosition) {
  Scanner scanner("  [1]");
  const Status status = scanner.Expect('{');
  EXPECT_EQ(status.message(), "byte 2: expected '{', found '['");
  EXPECT_EQ(scanner.offset(), 0u);
  EXPECT_TRUE(scanner.Expect('[').ok());
  EXPECT_EQ(scanner.offset(), 3u);
  EXPECT_EQ(Scanner("").Expect('[').message(),
            "byte 0: expected '[', found end of input");
}

TEST(Scanner, ExpectKeyComparesAfterUnescaping) {
  EXPECT_TRUE(Scanner(R"("s\u0065q":1)").ExpectKey("seq").ok());
  EXPECT_TRUE(Scanner(R"("a\/b" :1)").ExpectKey("a/b").ok());
  EXPECT_TRUE(Scanner(R"("":1)").ExpectKey("").ok());
  EXPECT_TRUE(
      Scanner(R"("\u0000":1)").ExpectKey(std::string_view("\0", 1)).ok());
  EXPECT_THAT(Scanner(R"("seq":1)").ExpectKey("sequence").message(),
              HasSubstr(R"(expected the key "sequence", found "seq")"));
  EXPECT_FALSE(Scanner(R"("seq")").ExpectKey("seq").ok());
  EXPECT_FALSE(Scanner(R"("seq" 1)").ExpectKey("seq").ok());
  EXPECT_FALSE(Scanner(R"(seq:1)").ExpectKey("seq").ok());
  EXPECT_FALSE(Scanner("\"s\xFFq\":1").ExpectKey("s\xFFq").ok());
}

TEST(Scanner, IntegerAcceptsOnlySafeIntegerLiterals) {
  EXPECT_EQ(*Scanner("9007199254740991").Integer(), kMaxSafeInteger);
  EXPECT_EQ(*Scanner("-9007199254740991").Integer(), -kMaxSafeInteger);
  EXPECT_EQ(*Scanner("-0").Integer(), 0);
  EXPECT_EQ(*Scanner(" 42,").Integer(), 42);
  for (std::string_view bad :
       {"9007199254740992", "-9007199254740992", "1.0", "1e2", "01", "-", "+1",
        "\"1\"", "x", "", "123456789012345678901234567890"}) {
    EXPECT_FALSE(Scanner(bad).Integer().ok()) << bad;
  }
  EXPECT_THAT(Scanner("1.5").Integer().status().message(),
              HasSubstr("found a floating-point number"));
}

TEST(Scanner, StringReturnsTheUnescapedText) {
  Result<std::string> text =
      Scanner(R"("a\u00e9\ud83d\ude00\n\u0000\"\\\/\b\f\r\t")").String();
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "a\xC3\xA9\xF0\x9F\x98\x80\n\0\"\\/\b\f\r\t"s);
  EXPECT_EQ(*Scanner("\"\xE2\x82\xAC\"").String(), "\xE2\x82\xAC");
  EXPECT_FALSE(Scanner(R"("\ud83d")").String().ok());
  EXPECT_FALSE(Scanner("\"a\nb\"").String().ok());
  EXPECT_FALSE(Scanner("1").String().ok());
}

TEST(Scanner, PlainStringReturnsRawBytesAndRefusesEscapes) {
  const std::string_view text = R"({"h":"00ff","e":"a\nb"})";
  Scanner scanner(text);
  ASSERT_TRUE(scanner.Expect('{').ok());
  ASSERT_TRUE(scanner.ExpectKey("h").ok());
  Result<std::string_view> hash = scanner.PlainString();
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, "00ff");
  EXPECT_EQ(hash->data(), text.data() + 6);  // A view into the text.
  ASSERT_TRUE(scanner.Expect(',').ok());
  ASSERT_TRUE(scanner.ExpectKey("e").ok());
  EXPECT_EQ(scanner.PlainString().status().message(),
            "byte 18: escape sequence in a string that must be plain");
}

TEST(Scanner, PlainStringStillValidatesUtf8AndControls) {
  EXPECT_EQ(*Scanner("\"\xC3\xA9\"").PlainString(), "\xC3\xA9");
  EXPECT_FALSE(Scanner("\"\xC3\"").PlainString().ok());
  EXPECT_FALSE(Scanner("\"\xED\xA0\x80\"").PlainString().ok());
  EXPECT_FALSE(Scanner("\"a\tb\"").PlainString().ok());
  EXPECT_FALSE(Scanner("\"a\0b\""s).PlainString().ok());
  EXPECT_FALSE(Scanner("\"abc").PlainString().ok());
}

TEST(Scanner, ValueReturnsTheExactRawText) {
  Scanner scanner("  [1, {\"a\": \"\\u0041\"} ]  ,x");
  Result<std::string_view> value = scanner.Value();
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, "[1, {\"a\": \"\\u0041\"} ]");
  EXPECT_TRUE(scanner.Expect(',').ok());
  EXPECT_FALSE(scanner.End().ok());
  for (std::string_view scalar : {"-1.5e3", "\"x\"", "true", "null", "0"}) {
    EXPECT_EQ(*Scanner(scalar).Value(), scalar);
  }
}

TEST(Scanner, ValueValidatesFully) {
  for (std::string_view bad :
       {R"({"a":1,"a":2})", "[9007199254740992]", "[1e400]", "[\"\xFF\"]",
        "[1,]", R"({"a":[)", "\"\\ude00\""}) {
    Scanner scanner(bad);
    EXPECT_FALSE(scanner.Value().ok()) << Printable(bad);
    EXPECT_EQ(scanner.offset(), 0u);
  }
}

TEST(Scanner, ValueCountsDepthFromItsArgument) {
  EXPECT_TRUE(Scanner("[[1]]", 3).Value(1).ok());
  EXPECT_FALSE(Scanner("[[1]]", 3).Value(2).ok());
  EXPECT_TRUE(Scanner("1", 3).Value(3).ok());  // Scalars add no depth.
  EXPECT_FALSE(Scanner("[]", 3).Value(3).ok());
  EXPECT_FALSE(Scanner("{}", 0).Value(0).ok());
  // The log line's payload sits at depth 1 under the default limit.
  const std::string deep = "{\"p\":" + Nested('[', ']', 63) + "}";
  Scanner scanner(deep);
  ASSERT_TRUE(scanner.Expect('{').ok());
  ASSERT_TRUE(scanner.ExpectKey("p").ok());
  EXPECT_TRUE(scanner.Value(1).ok());
  EXPECT_FALSE(Scanner(Nested('[', ']', 64)).Value(1).ok());
}

TEST(Scanner, EndRejectsTrailingContent) {
  Scanner scanner("{} \n");
  ASSERT_TRUE(scanner.Value().ok());
  EXPECT_TRUE(scanner.End().ok());
  Scanner trailing("{} x");
  ASSERT_TRUE(trailing.Value().ok());
  EXPECT_EQ(trailing.End().message(),
            "byte 3: expected the end of the text, found 'x'");
  const std::string with_nul = "1\0"s;
  Scanner nul(with_nul);
  ASSERT_TRUE(nul.Value().ok());
  EXPECT_THAT(nul.End().message(), HasSubstr("NUL byte not allowed"));
}

}  // namespace
}  // namespace deputy::json
