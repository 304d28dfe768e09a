#include "base/strict_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace deputy::json {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Json = nlohmann::json;

// Parses `text`, which must fail, and returns the error.
Status ParseError(std::string_view text, const ParseOptions& options = {}) {
  Result<Json> result = ParseStrict(text, options);
  EXPECT_FALSE(result.ok()) << "parsed: " << text;
  return result.status();
}

Json MustParse(std::string_view text) {
  Result<Json> result = ParseStrict(text);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? std::move(result).value() : Json();
}

// Every byte of an error message is printable ASCII, so messages can be put
// into logs and JSON replies whatever the input held.
// `count` copies of `fill` between `open` and `close`. Built by appending
// because GCC 12 warns falsely (-Wrestrict, GCC bug 105651) on
// "literal" + std::string.
std::string Surround(std::string_view open, std::size_t count, char fill,
                     std::string_view close) {
  std::string text(open);
  text.append(count, fill);
  text += close;
  return text;
}

bool IsPrintableAscii(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// --- Accepted documents -------------------------------------------------

TEST(StrictJson, ParsesEveryValueType) {
  Json doc = MustParse(R"({"s":"x","i":-3,"u":7,"f":1.5,"t":true,"n":null,)"
                       R"("a":[1,[2],{}],"o":{"k":"v"}})");
  EXPECT_EQ(doc["s"], "x");
  EXPECT_EQ(doc["i"].get<std::int64_t>(), -3);
  EXPECT_EQ(doc["u"].get<std::int64_t>(), 7);
  EXPECT_DOUBLE_EQ(doc["f"].get<double>(), 1.5);
  EXPECT_EQ(doc["t"], true);
  EXPECT_TRUE(doc["n"].is_null());
  EXPECT_EQ(doc["a"], Json::parse("[1,[2],{}]"));
  EXPECT_EQ(doc["o"]["k"], "v");
  EXPECT_EQ(doc, Json::parse(doc.dump()));
}

TEST(StrictJson, AcceptsScalarRootsAndSurroundingWhitespace) {
  EXPECT_EQ(MustParse("1"), Json(1));
  EXPECT_EQ(MustParse(" \t\r\n\"s\" \n"), Json("s"));
  EXPECT_TRUE(MustParse("null").is_null());
  EXPECT_EQ(MustParse("false"), Json(false));
  EXPECT_EQ(MustParse("[]"), Json::array());
  EXPECT_EQ(MustParse("{}"), Json::object());
}

TEST(StrictJson, UnescapesStringsAndKeys) {
  Json doc = MustParse(R"({"\u0061\n":"\u00e9\ud83d\ude00\u0000"})");
  ASSERT_TRUE(doc.contains("a\n"));
  EXPECT_EQ(doc["a\n"].get<std::string>(),
            std::string("\xC3\xA9\xF0\x9F\x98\x80\0", 7));
}

TEST(StrictJson, AcceptsValidMultibyteUtf8) {
  EXPECT_EQ(MustParse("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\""),
            Json("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
}

TEST(StrictJson, AllowsSameKeyInDifferentObjects) {
  Json doc = MustParse(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})");
  EXPECT_EQ(doc["b"][1]["a"], 2);
}

// --- Size limit and byte-order mark -------------------------------------

TEST(StrictJson, RejectsBodyOverSizeLimit) {
  ParseOptions options;
  options.max_bytes = 8;
  Status status = ParseError("[1,2,3,4]", options);
  EXPECT_EQ(status.code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "JSON body is 9 bytes, over the limit of 8");
}

TEST(StrictJson, AcceptsBodyAtSizeLimit) {
  ParseOptions options;
  options.max_bytes = 9;
  EXPECT_TRUE(ParseStrict("[1,2,3,4]", options).ok());
}

TEST(StrictJson, DefaultSizeLimitIsOneMebibyte) {
  EXPECT_TRUE(
      ParseStrict(Surround("\"", kDefaultMaxBytes - 2, 'a', "\"")).ok());
  EXPECT_EQ(ParseError(Surround("\"", kDefaultMaxBytes - 1, 'a', "\"")).code(),
            ErrorCode::kResourceExhausted);
}

TEST(StrictJson, RejectsLeadingByteOrderMark) {
  Status status = ParseError("\xEF\xBB\xBF{}");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "byte 0: byte-order mark not allowed");
}

TEST(StrictJson, RejectsTruncatedByteOrderMark) {
  EXPECT_EQ(ParseError("\xEF\xBB{}").code(), ErrorCode::kInvalidArgument);
}

// --- Duplicate keys -----------------------------------------------------

TEST(StrictJson, RejectsDuplicateKey) {
  EXPECT_EQ(ParseError(R"({"a":1,"a":1})").message(),
            R"($.a: duplicate key "a")");
}

TEST(StrictJson, RejectsDuplicateKeyAfterUnescaping) {
  EXPECT_EQ(ParseError(R"({"a":1,"\u0061":2})").message(),
            R"($.a: duplicate key "a")");
  EXPECT_EQ(ParseError(R"({"\u00e9":1,"é":2})").code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseError(R"({"\/":1,"/":2})").code(),
            ErrorCode::kInvalidArgument);
}

TEST(StrictJson, RejectsDuplicateKeyInNestedObjectNamingPath) {
  EXPECT_EQ(ParseError(R"({"a":[0,1,{"c":1,"b":1,"b":2}]})").message(),
            R"($.a[2].b: duplicate key "b")");
}

TEST(StrictJson, RejectsDuplicateKeyWhoseValueIsAContainer) {
  EXPECT_EQ(ParseError(R"({"x":{"k":[1]},"x":{}})").message(),
            R"($.x: duplicate key "x")");
}

TEST(StrictJson, QuotesNonIdentifierDuplicateKeyInPath) {
  EXPECT_EQ(ParseError(R"({"o":{"a b":1,"a b":2}})").message(),
            R"($.o["a b"]: duplicate key "a b")");
  EXPECT_EQ(ParseError(R"({"":1,"":2})").message(),
            R"($[""]: duplicate key "")");
}

TEST(StrictJson, ComparesKeysContainingNulAsWholeByteStrings) {
  // Keys compare as whole byte strings; a NUL does not end them.
  EXPECT_TRUE(ParseStrict(R"({"a\u0000b":1,"a\u0000c":2})").ok());
  EXPECT_THAT(ParseError(R"({"a\u0000b":1,"a\u0000b":2})").message(),
              HasSubstr("duplicate key"));
}

// --- Depth --------------------------------------------------------------

TEST(StrictJson, AcceptsNestingAtMaxDepth) {
  ParseOptions options;
  options.max_depth = 3;
  EXPECT_TRUE(ParseStrict(R"([{"a":[1]}])", options).ok());
}

TEST(StrictJson, RejectsNestingBeyondMaxDepthNamingPath) {
  ParseOptions options;
  options.max_depth = 3;
  EXPECT_EQ(ParseError(R"([{"a":[1,{}]}])", options).message(),
            "$[0].a[1]: nesting deeper than the limit of 3");
}

TEST(StrictJson, DefaultDepthLimitIs64) {
  auto nested = [](int depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(ParseStrict(nested(kDefaultMaxDepth)).ok());
  EXPECT_THAT(ParseError(nested(kDefaultMaxDepth + 1)).message(),
              HasSubstr("nesting deeper than the limit of 64"));
}

TEST(StrictJson, RejectsVeryDeepNestingWithoutExhaustingStack) {
  std::string deep(500000, '[');
  EXPECT_THAT(ParseError(deep).message(), HasSubstr("nesting deeper"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  EXPECT_THAT(ParseError(objects).message(), StartsWith("$.a.a.a."));
}

TEST(StrictJson, ZeroMaxDepthAllowsOnlyScalars) {
  ParseOptions options;
  options.max_depth = 0;
  EXPECT_TRUE(ParseStrict("1", options).ok());
  EXPECT_EQ(ParseError("[]", options).message(),
            "$: nesting deeper than the limit of 0");
}

// --- Numbers ------------------------------------------------------------

TEST(StrictJson, AcceptsIntegersAtSafeBounds) {
  EXPECT_EQ(MustParse("9007199254740991").get<std::int64_t>(), kMaxSafeInteger);
  EXPECT_EQ(MustParse("-9007199254740991").get<std::int64_t>(),
            -kMaxSafeInteger);
  EXPECT_EQ(MustParse("-0"), Json(0));
}

TEST(StrictJson, RejectsIntegerAboveMaxSafe) {
  EXPECT_EQ(ParseError(R"({"n":[9007199254740992]})").message(),
            "$.n[0]: integer beyond 2^53 - 1 in magnitude");
}

TEST(StrictJson, RejectsIntegerBelowMinSafe) {
  EXPECT_THAT(ParseError("-9007199254740992").message(),
              HasSubstr("$: integer beyond 2^53"));
}

TEST(StrictJson, RejectsIntegerTooBigForSixtyFourBits) {
  EXPECT_EQ(ParseError(R"({"n":99999999999999999999})").message(),
            "$.n: integer beyond 2^53 - 1 in magnitude");
  EXPECT_THAT(ParseError("[-99999999999999999999]").message(),
              HasSubstr("$[0]: integer beyond 2^53"));
}

TEST(StrictJson, RejectsIntegerTooBigForADouble) {
  std::string huge = Surround("[", 400, '9', "]");
  EXPECT_EQ(ParseError(huge).message(),
            "$[0]: integer beyond 2^53 - 1 in magnitude");
}

TEST(StrictJson, AcceptsFiniteFloats) {
  EXPECT_DOUBLE_EQ(MustParse("1E2").get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(MustParse("-1.5e-3").get<double>(), -0.0015);
  EXPECT_DOUBLE_EQ(MustParse("1e300").get<double>(), 1e300);
  EXPECT_TRUE(MustParse("9007199254740993.0").is_number_float());
  EXPECT_TRUE(MustParse("1.0").is_number_float());
  EXPECT_DOUBLE_EQ(MustParse("1e-400").get<double>(), 0.0);
}

TEST(StrictJson, RejectsFloatOverflowingToInfinity) {
  EXPECT_EQ(ParseError(R"({"x":1e400})").message(),
            "$.x: number too large for a double");
  EXPECT_THAT(ParseError("-1.0e99999").message(),
              HasSubstr("too large for a double"));
}

TEST(StrictJson, RejectsNaNAndInfinityLiterals) {
  for (std::string_view text :
       {"NaN", "nan", "Infinity", "-Infinity", "inf", "[1,NaN]"}) {
    Status status = ParseError(text);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(status.message(), StartsWith("byte ")) << text;
  }
  EXPECT_EQ(ParseError("[1,NaN]").message().substr(0, 8), "byte 3: ");
}

TEST(StrictJson, RejectsNonCanonicalNumberSyntax) {
  for (std::string_view text : {"01", "+1", "1.", ".5", "-", "1e", "0x10"}) {
    EXPECT_THAT(ParseError(text).message(), StartsWith("byte ")) << text;
  }
}

// --- Strings and UTF-8 --------------------------------------------------

TEST(StrictJson, RejectsInvalidUtf8InString) {
  EXPECT_THAT(ParseError("\"a\xFF\"").message(),
              AllOf(StartsWith("byte 2: "), HasSubstr("ill-formed UTF-8")));
}

TEST(StrictJson, RejectsInvalidUtf8InKey) {
  EXPECT_THAT(ParseError("{\"\x80\":1}").message(),
              HasSubstr("ill-formed UTF-8"));
}

TEST(StrictJson, RejectsOverlongUtf8) {
  EXPECT_THAT(ParseError("\"\xC0\xAF\"").message(),
              HasSubstr("ill-formed UTF-8"));
  EXPECT_THAT(ParseError("\"\xE0\x80\xAF\"").message(),
              HasSubstr("ill-formed UTF-8"));
}

TEST(StrictJson, RejectsUtf8EncodedSurrogate) {
  EXPECT_THAT(ParseError("\"\xED\xA0\x80\"").message(),
              HasSubstr("ill-formed UTF-8"));
}

TEST(StrictJson, RejectsTruncatedUtf8Sequence) {
  EXPECT_THAT(ParseError("\"\xE2\x82\"").message(),
              HasSubstr("ill-formed UTF-8"));
}

TEST(StrictJson, RejectsCodePointsAboveUnicodeRange) {
  EXPECT_THAT(ParseError("\"\xF4\x90\x80\x80\"").message(),
              HasSubstr("ill-formed UTF-8"));
}

TEST(StrictJson, RejectsLoneHighSurrogateEscape) {
  EXPECT_THAT(ParseError(R"("\ud83d")").message(),
              HasSubstr("surrogate U+D800..U+DBFF must be followed"));
}

TEST(StrictJson, RejectsLoneLowSurrogateEscape) {
  EXPECT_THAT(ParseError(R"("\ude00")").message(),
              HasSubstr("surrogate U+DC00..U+DFFF must follow"));
}

TEST(StrictJson, RejectsHighSurrogateFollowedByNonSurrogate) {
  EXPECT_THAT(ParseError(R"("\ud83d\u0041")").message(),
              HasSubstr("must be followed by U+DC00..U+DFFF"));
}

TEST(StrictJson, RejectsInvalidEscapes) {
  for (std::string_view text :
       {R"("\x41")", R"("\u12")", R"("\U0041")", R"("\a")", R"("\')"}) {
    EXPECT_THAT(ParseError(text).message(), HasSubstr("invalid string"))
        << text;
  }
}

TEST(StrictJson, RejectsRawControlCharactersInString) {
  EXPECT_THAT(
      ParseError("\"a\nb\"").message(),
      AllOf(StartsWith("byte 2: "),
            HasSubstr("control character U+000A (LF) must be escaped")));
  EXPECT_THAT(ParseError("\"\x01\"").message(),
              HasSubstr("control character U+0001"));
  EXPECT_THAT(ParseError("\"\x1F\"").message(),
              HasSubstr("control character U+001F"));
}

// nlohmann's lexer reads a NUL byte as the end of input, which would make
// "[1]\0<anything>" parse as "[1]" while another reader rejects it.
TEST(StrictJson, RejectsNulByteAnywhere) {
  EXPECT_EQ(ParseError(std::string_view("[1]\0", 4)).message(),
            "byte 3: NUL byte not allowed");
  EXPECT_EQ(ParseError(std::string_view("{} \0{\"a\":1}", 12)).message(),
            "byte 3: NUL byte not allowed");
  EXPECT_EQ(ParseError(std::string_view("[\0]", 3)).message(),
            "byte 1: NUL byte not allowed");
  EXPECT_EQ(ParseError(std::string_view("\"\0\"", 3)).message(),
            "byte 1: NUL byte not allowed");
  EXPECT_EQ(ParseError(std::string_view("\0", 1)).message(),
            "byte 0: NUL byte not allowed");
}

// --- Syntax -------------------------------------------------------------

TEST(StrictJson, RejectsTrailingContent) {
  EXPECT_THAT(ParseError("{} x").message(), StartsWith("byte 3: "));
  EXPECT_THAT(
      ParseError("{}{}").message(),
      AllOf(StartsWith("byte 2: "), HasSubstr("expected end of input")));
  EXPECT_THAT(ParseError("1 2").message(), StartsWith("byte 2: "));
  EXPECT_THAT(ParseError("\"a\",").message(), StartsWith("byte 3: "));
}

TEST(StrictJson, ReportsZeroBasedByteOffsetOfSyntaxError) {
  Status status = ParseError("[1,]");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "byte 3: parse error at line 1, column 4: syntax error while "
            "parsing value - unexpected ']'; expected '[', '{', or a literal");
  EXPECT_THAT(ParseError("[1,\n2,\n]").message(), StartsWith("byte 7: "));
}

TEST(StrictJson, ReportsEndOfInputOffsetForTruncatedDocument) {
  EXPECT_THAT(
      ParseError("").message(),
      AllOf(StartsWith("byte 0: "), HasSubstr("unexpected end of input")));
  EXPECT_THAT(ParseError(R"({"a":)").message(), StartsWith("byte 5: "));
  EXPECT_THAT(ParseError("tru").message(), StartsWith("byte 3: "));
}

TEST(StrictJson, RejectsTrailingCommas) {
  EXPECT_THAT(ParseError(R"({"a":1,})").message(),
              HasSubstr("expected string literal"));
  EXPECT_EQ(ParseError("[1,]").code(), ErrorCode::kInvalidArgument);
}

TEST(StrictJson, RejectsComments) {
  EXPECT_THAT(ParseError("// c\n1").message(), StartsWith("byte 0: "));
  EXPECT_THAT(ParseError("[1 /* c */]").message(), StartsWith("byte 3: "));
}

TEST(StrictJson, RejectsSingleQuotesAndBareKeys) {
  EXPECT_EQ(ParseError("'a'").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseError("{a:1}").code(), ErrorCode::kInvalidArgument);
}

TEST(StrictJson, ErrorMessagesArePrintableAsciiAndBounded) {
  std::string long_bad = Surround("\"", 10000, '\xC3', "\"");
  long_bad[5000] = '\xFF';
  std::string long_token = Surround("\"", 10000, 'a', "\xFF\"");
  for (const std::string& text :
       {long_bad, long_token, std::string("\"\xFF\xFE\""),
        std::string("[\"\x01\x7F\xC3\"]")}) {
    const std::string message = ParseError(text).message();
    EXPECT_TRUE(IsPrintableAscii(message)) << message;
    EXPECT_LT(message.size(), 300u) << message;
  }
  EXPECT_THAT(ParseError(long_token).message(),
              HasSubstr("last read: '...aaaa"));
  EXPECT_THAT(ParseError("\"\xFF\"").message(), HasSubstr(R"('"\xFF')"));
}

TEST(StrictJson, DuplicateKeyMessageEscapesKey) {
  const std::string message =
      ParseError(R"({"a\"\n\u00e9":1,"a\"\n\u00e9":2})").message();
  EXPECT_EQ(message,
            "$[\"a\\\"\\n\xC3\xA9\"]: duplicate key \"a\\\"\\n\xC3\xA9\"");
}

// --- Paths --------------------------------------------------------------

TEST(StrictJsonPath, ChildPathAppendsIdentifierWithDot) {
  EXPECT_EQ(ChildPath("$", "a"), "$.a");
  EXPECT_EQ(ChildPath("$.a", "_b9"), "$.a._b9");
  EXPECT_EQ(ChildPath("$[0]", "payloadType"), "$[0].payloadType");
}

TEST(StrictJsonPath, ChildPathQuotesNonIdentifierKeys) {
  EXPECT_EQ(ChildPath("$", "a b"), R"($["a b"])");
  EXPECT_EQ(ChildPath("$", "9a"), R"($["9a"])");
  EXPECT_EQ(ChildPath("$", ""), R"($[""])");
  EXPECT_EQ(ChildPath("$", "a.b"), R"($["a.b"])");
  EXPECT_EQ(ChildPath("$", "a-b"), R"($["a-b"])");
  EXPECT_EQ(ChildPath("$", "q\"\\"), R"($["q\"\\"])");
  EXPECT_EQ(ChildPath("$", std::string_view("\0", 1)), R"($["\u0000"])");
  EXPECT_EQ(ChildPath("$", "\xC3\xA9"), "$[\"\xC3\xA9\"]");
}

TEST(StrictJsonPath, ChildPathReplacesInvalidUtf8InsteadOfThrowing) {
  EXPECT_EQ(ChildPath("$", "a\xFF"), "$[\"a\xEF\xBF\xBD\"]");
}

TEST(StrictJsonPath, IndexPathAppendsBracketedIndex) {
  EXPECT_EQ(IndexPath("$", 0), "$[0]");
  EXPECT_EQ(IndexPath("$.a", 2), "$.a[2]");
  EXPECT_EQ(IndexPath(IndexPath("$", 1), 10), "$[1][10]");
}

// --- ObjectReader -------------------------------------------------------

TEST(ObjectReader, CreateRejectsNonObject) {
  for (const auto& [text, type] : {std::pair{"[]", "array"},
                                   {"1", "number"},
                                   {"1.5", "number"},
                                   {"\"s\"", "string"},
                                   {"null", "null"},
                                   {"true", "boolean"}}) {
    Result<ObjectReader> reader = ObjectReader::Create(MustParse(text), "$.x");
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(reader.status().message(),
              std::string("$.x: expected an object, found ") + type);
  }
}

TEST(ObjectReader, ReadsRequiredFieldsOfEachType) {
  Json doc = MustParse(
      R"({"s":"x","i":-5,"b":false,"o":{"k":1},"a":[1,2],"any":null})");
  Result<ObjectReader> reader = ObjectReader::Create(doc, "$");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->path(), "$");
  EXPECT_EQ(reader->String("s").value(), "x");
  EXPECT_EQ(reader->Int("i").value(), -5);
  EXPECT_EQ(reader->Bool("b").value(), false);
  EXPECT_EQ(*reader->Object("o").value(), doc["o"]);
  EXPECT_EQ(reader->Array("a").value(), &doc["a"]);
  EXPECT_TRUE(reader->Any("any").value()->is_null());
  EXPECT_TRUE(reader->Finish().ok());
}

TEST(ObjectReader, MissingRequiredFieldNamesPath) {
  Json doc = Json::object();
  ASSERT_TRUE(ObjectReader::Create(doc, "$.sig").ok());
  ObjectReader reader = ObjectReader::Create(doc, "$.sig").value();
  EXPECT_EQ(reader.String("keyid").status().message(),
            "$.sig.keyid: missing required field");
  EXPECT_EQ(reader.Int("n").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(reader.Bool("b").ok());
  EXPECT_FALSE(reader.Object("o").ok());
  EXPECT_FALSE(reader.Array("a").ok());
  EXPECT_EQ(reader.Any("a b").status().message(),
            R"($.sig["a b"]: missing required field)");
}

TEST(ObjectReader, WrongTypeNamesPathAndBothTypes) {
  Json doc = MustParse(R"({"s":1,"i":"1","b":0,"o":[],"a":{}})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.String("s").status().message(),
            "$.s: expected a string, found number");
  EXPECT_EQ(reader.Int("i").status().message(),
            "$.i: expected an integer, found string");
  EXPECT_EQ(reader.Bool("b").status().message(),
            "$.b: expected a boolean, found number");
  EXPECT_EQ(reader.Object("o").status().message(),
            "$.o: expected an object, found array");
  EXPECT_EQ(reader.Array("a").status().message(),
            "$.a: expected an array, found object");
}

TEST(ObjectReader, IntRejectsFloatEvenWhenIntegral) {
  Json doc = MustParse(R"({"n":1.0,"m":1e2})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.Int("n").status().message(),
            "$.n: expected an integer, found a floating-point number");
  EXPECT_FALSE(reader.OptionalInt("m").ok());
}

TEST(ObjectReader, IntAcceptsSafeRangeOfBothSigns) {
  Json doc = MustParse(R"({"max":9007199254740991,"min":-9007199254740991})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.Int("max").value(), kMaxSafeInteger);
  EXPECT_EQ(reader.Int("min").value(), -kMaxSafeInteger);
}

TEST(ObjectReader, IntRejectsUnsafeValuesInDocumentsBuiltInCode) {
  Json doc = {{"big", std::uint64_t{1} << 63},
              {"neg", -(std::int64_t{1} << 60)},
              {"edge", kMaxSafeInteger + 1}};
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.Int("big").status().message(),
            "$.big: integer beyond 2^53 - 1 in magnitude");
  EXPECT_FALSE(reader.Int("neg").ok());
  EXPECT_FALSE(reader.OptionalInt("edge").ok());
}

TEST(ObjectReader, OptionalFieldsAbsentGiveEmpty) {
  Json doc = Json::object();
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.OptionalString("s").value(), std::nullopt);
  EXPECT_EQ(reader.OptionalInt("i").value(), std::nullopt);
  EXPECT_EQ(reader.OptionalBool("b").value(), std::nullopt);
  EXPECT_EQ(reader.OptionalObject("o").value(), nullptr);
  EXPECT_EQ(reader.OptionalArray("a").value(), nullptr);
  EXPECT_TRUE(reader.Finish().ok());
}

TEST(ObjectReader, OptionalFieldsPresentAreRead) {
  Json doc = MustParse(R"({"s":"x","i":3,"b":true,"o":{},"a":[]})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.OptionalString("s").value(), "x");
  EXPECT_EQ(reader.OptionalInt("i").value(), 3);
  EXPECT_EQ(reader.OptionalBool("b").value(), true);
  EXPECT_EQ(reader.OptionalObject("o").value(), &doc["o"]);
  EXPECT_EQ(reader.OptionalArray("a").value(), &doc["a"]);
  EXPECT_TRUE(reader.Finish().ok());
}

TEST(ObjectReader, OptionalFieldPresentAsNullIsWrongType) {
  Json doc = MustParse(R"({"s":null,"i":null,"b":null,"o":null,"a":null})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.OptionalString("s").status().message(),
            "$.s: expected a string, found null");
  EXPECT_EQ(reader.OptionalInt("i").status().message(),
            "$.i: expected an integer, found null");
  EXPECT_EQ(reader.OptionalBool("b").status().message(),
            "$.b: expected a boolean, found null");
  EXPECT_EQ(reader.OptionalObject("o").status().message(),
            "$.o: expected an object, found null");
  EXPECT_EQ(reader.OptionalArray("a").status().message(),
            "$.a: expected an array, found null");
}

TEST(ObjectReader, OptionalFieldWrongTypeIsError) {
  Json doc = MustParse(R"({"s":[],"b":"true"})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.OptionalString("s").status().message(),
            "$.s: expected a string, found array");
  EXPECT_FALSE(reader.OptionalBool("b").ok());
}

TEST(ObjectReader, FinishRejectsFirstUnknownFieldInSortedOrder) {
  Json doc = MustParse(R"({"zeta":1,"known":2,"beta":3,"alpha":4})");
  ObjectReader reader = ObjectReader::Create(doc, "$.m").value();
  ASSERT_TRUE(reader.Int("known").ok());
  ASSERT_TRUE(reader.Int("alpha").ok());
  Status status = reader.Finish();
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "$.m.beta: unknown field");
}

TEST(ObjectReader, FinishQuotesUnknownNonIdentifierField) {
  Json doc = MustParse(R"({"a b":1})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_EQ(reader.Finish().message(), R"($["a b"]: unknown field)");
}

TEST(ObjectReader, FailedOptionalLookupDoesNotMarkAbsentKeys) {
  Json doc = MustParse(R"({"a":1})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  ASSERT_TRUE(reader.OptionalInt("b").ok());
  EXPECT_EQ(reader.Finish().message(), "$.a: unknown field");
  ASSERT_TRUE(reader.OptionalInt("a").ok());
  EXPECT_TRUE(reader.Finish().ok());
}

TEST(ObjectReader, HasDoesNotMarkFieldSeen) {
  Json doc = MustParse(R"({"a":1})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_TRUE(reader.Has("a"));
  EXPECT_FALSE(reader.Has("b"));
  EXPECT_EQ(reader.Finish().message(), "$.a: unknown field");
}

TEST(ObjectReader, AnyMarksFieldSeen) {
  Json doc = MustParse(R"({"payload":{"free":["form"]}})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  ASSERT_TRUE(reader.Any("payload").ok());
  EXPECT_TRUE(reader.Finish().ok());
}

TEST(ObjectReader, NestedReaderReportsFullPath) {
  Json doc = MustParse(R"({"signatures":[{"keyid":"k"},{"keyid":7}]})");
  ObjectReader top = ObjectReader::Create(doc, "$").value();
  const Json* sigs = top.Array("signatures").value();
  const std::string sig_path =
      IndexPath(ChildPath(top.path(), "signatures"), 1);
  ObjectReader sig = ObjectReader::Create((*sigs)[1], sig_path).value();
  EXPECT_EQ(sig.String("keyid").status().message(),
            "$.signatures[1].keyid: expected a string, found number");
}

TEST(ObjectReader, KeysWithEmbeddedNulAreDistinct) {
  Json doc = MustParse(R"({"a\u0000b":1})");
  ObjectReader reader = ObjectReader::Create(doc, "$").value();
  EXPECT_FALSE(reader.Has("a"));
  EXPECT_TRUE(reader.Has(std::string_view("a\0b", 3)));
  EXPECT_EQ(reader.Int(std::string_view("a\0b", 3)).value(), 1);
  EXPECT_TRUE(reader.Finish().ok());
}

// --- TypeName -----------------------------------------------------------

TEST(TypeName, NamesEveryJsonType) {
  EXPECT_EQ(TypeName(Json(nullptr)), "null");
  EXPECT_EQ(TypeName(Json(true)), "boolean");
  EXPECT_EQ(TypeName(Json(-1)), "number");
  EXPECT_EQ(TypeName(Json(1u)), "number");
  EXPECT_EQ(TypeName(Json(1.5)), "number");
  EXPECT_EQ(TypeName(Json("s")), "string");
  EXPECT_EQ(TypeName(Json::array()), "array");
  EXPECT_EQ(TypeName(Json::object()), "object");
  EXPECT_EQ(TypeName(Json::binary({1, 2})), "invalid");
  EXPECT_EQ(TypeName(Json(Json::value_t::discarded)), "invalid");
}

}  // namespace
}  // namespace deputy::json
