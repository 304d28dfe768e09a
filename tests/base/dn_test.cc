#include "base/dn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace deputy {

// Lets failing EXPECT_EQs on DNs print something readable.
void PrintTo(const Dn& dn, std::ostream* os) {
  *os << '"' << dn.Canonical() << '"';
}

namespace {

using namespace std::literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kPeople = "ou=people,dc=example,dc=org";

// Every byte printable, so a failing input can be read in the test log.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text.substr(0, 200)) {
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

// Parses text that the test expects to be valid; the root DN otherwise.
Dn P(std::string_view text) {
  Result<Dn> dn = Dn::Parse(text);
  if (!dn.ok()) {
    ADD_FAILURE() << Printable(text) << ": " << dn.status().ToString();
    return Dn();
  }
  return *dn;
}

std::string ParseError(std::string_view text) {
  Result<Dn> dn = Dn::Parse(text);
  if (dn.ok()) {
    ADD_FAILURE() << Printable(text) << " parsed as " << dn->Canonical();
    return "";
  }
  EXPECT_EQ(dn.status().code(), ErrorCode::kInvalidArgument);
  return dn.status().message();
}

// --- Parsing and canonical form -------------------------------------------

TEST(Dn, EqualUnderCaseAndSpacing) {
  const Dn expected = P("uid=bob,ou=people,dc=example,dc=org");
  for (std::string_view text : {
           "UID=Bob , OU=People,DC=Example,DC=Org"sv,
           "uid=bob, ou=people, dc=example, dc=org"sv,
           "  uid = bob ,ou =people ,  dc= example,dc =org  "sv,
           "Uid=BOB,Ou=PEOPLE,Dc=EXAMPLE,dC=oRG"sv,
       }) {
    EXPECT_EQ(P(text), expected) << text;
    EXPECT_EQ(P(text).Canonical(), "uid=bob,ou=people,dc=example,dc=org")
        << text;
  }
  EXPECT_FALSE(P("uid=bob,ou=people,dc=example,dc=org") ==
               P("uid=bobby,ou=people,dc=example,dc=org"));
}

TEST(Dn, EscapedAndHexEscapedCharactersAreEqual) {
  EXPECT_EQ(P("cn=a\\,b"), P("cn=a\\2cb"));
  EXPECT_EQ(P("cn=a\\,b"), P("cn=a\\2Cb"));
  EXPECT_EQ(P("cn=a\\2cb").Canonical(), "cn=a\\,b");
  EXPECT_EQ(P("cn=a\\2cb").LeafValue(), "a,b");
  EXPECT_EQ(P("uid=\\72\\6F\\6f\\74"), P("uid=root"));
  EXPECT_EQ(P("cn=J\\c3\\bcrgen"), P("cn=J\xC3\xBCrgen"));
  // '=' and '#' inside a value may be written raw or escaped.
  EXPECT_EQ(P("cn=a=b#c"), P("cn=a\\=b\\#c"));
  EXPECT_EQ(P("cn=a=b#c").Canonical(), "cn=a\\=b#c");
}

TEST(Dn, MultiValuedRdnOrderDoesNotMatter) {
  const Dn a = P("cn=Bob Smith+uid=bob,ou=people,dc=example,dc=org");
  const Dn b = P("UID=BOB + CN=bob smith,ou=people,dc=example,dc=org");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Canonical(), "cn=bob smith+uid=bob,ou=people,dc=example,dc=org");
  EXPECT_EQ(P("cn=b+cn=a"), P("cn=A+cn=B"));
  EXPECT_EQ(P("cn=b+cn=a").Canonical(), "cn=a+cn=b");
  // A multi-valued RDN names another entry than either of its parts.
  EXPECT_FALSE(P("uid=root+cn=x,ou=people,dc=example,dc=org") ==
               P("uid=root,ou=people,dc=example,dc=org"));
}

TEST(Dn, TypeAliasesAndOidsNameTheSameAttribute) {
  EXPECT_EQ(P("userid=root"), P("uid=root"));
  EXPECT_EQ(P("0.9.2342.19200300.100.1.1=root"), P("uid=root"));
  EXPECT_EQ(P("commonName=x"), P("cn=x"));
  EXPECT_EQ(P("2.5.4.3=x"), P("cn=x"));
  EXPECT_EQ(P("organizationalUnitName=People,domainComponent=org"),
            P("ou=people,dc=org"));
  EXPECT_EQ(P("2.5.4.11=people,0.9.2342.19200300.100.1.25=org"),
            P("ou=people,dc=org"));
  EXPECT_EQ(P("gn=Ann").Canonical(), "givenname=ann");
  // Unknown types are kept, lower-cased; unknown OIDs as written.
  EXPECT_EQ(P("X-Custom-1=v,1.3.6.1.4.1.99=w").Canonical(),
            "x-custom-1=v,1.3.6.1.4.1.99=w");
}

TEST(Dn, ForbidMatchesEverySpellingOfTheSameEntry) {
  const Dn forbid = P("uid=root,ou=people,dc=example,dc=org");
  for (std::string_view text : {
           "UID=Root, OU=People,DC=Example,DC=Org"sv,
           "uid=root ,ou=people,dc=example,dc=org"sv,
           "uid=\\72\\6f\\6f\\74,ou=people,dc=example,dc=org"sv,
           "userid=ROOT,ou=people,dc=example,dc=org"sv,
           "0.9.2342.19200300.100.1.1=root,ou=people,dc=example,dc=org"sv,
           "uid=root\\20,ou=people,dc=example,dc=org"sv,
           "uid=\\ root,ou=people,dc=example,dc=org"sv,
           "uid=root,ou=people,domainComponent=example,dc=org"sv,
       }) {
    const Dn dn = P(text);
    EXPECT_EQ(dn, forbid) << text;
    EXPECT_EQ(dn.Canonical(), forbid.Canonical()) << text;
    EXPECT_TRUE(dn.IsWithin(forbid)) << text;
    EXPECT_TRUE(forbid.IsWithin(dn)) << text;
  }
}

TEST(Dn, InnerSpaceRunsCompareAsOne) {
  const Dn dn = P("cn=John   Smith,ou=people");
  EXPECT_EQ(dn, P("cn=john smith,ou=people"));
  EXPECT_EQ(dn, P("cn=John\\20\\20Smith,ou=people"));
  EXPECT_EQ(dn.Canonical(), "cn=john smith,ou=people");
  EXPECT_EQ(dn.LeafValue(), "John   Smith");
  EXPECT_FALSE(dn == P("cn=JohnSmith,ou=people"));
}

TEST(Dn, UnescapedEdgeSpacesAreDroppedEscapedOnesKept) {
  EXPECT_EQ(P("cn=  a b  ,ou=x").LeafValue(), "a b");
  EXPECT_EQ(P("cn=a\\ ").LeafValue(), "a ");
  EXPECT_EQ(P("cn=a\\20").LeafValue(), "a ");
  EXPECT_EQ(P("cn=a\\  ").LeafValue(), "a ");
  EXPECT_EQ(P("cn=\\ a").LeafValue(), " a");
  EXPECT_EQ(P("cn=a \\ ").LeafValue(), "a  ");
  // The server ignores edge spaces when matching, so they compare equal.
  EXPECT_EQ(P("cn=a\\ "), P("cn=a"));
  EXPECT_EQ(P("cn=a\\ ").Canonical(), "cn=a");
}

TEST(Dn, EmptyValuesAreAllowed) {
  EXPECT_EQ(P("cn=,ou=x").LeafValue(), "");
  EXPECT_EQ(P("cn= ,ou=x").Canonical(), "cn=,ou=x");
  EXPECT_EQ(P("cn=\\ ,ou=x"), P("cn=,ou=x"));
}

TEST(Dn, HexStringValueIsKeptLowerCased) {
  const Dn dn = P("cn=#0C0161,ou=x");
  EXPECT_EQ(dn.LeafValue(), "#0c0161");
  EXPECT_EQ(dn.Canonical(), "cn=#0c0161,ou=x");
  EXPECT_EQ(P("cn= #0c0161 ,ou=x"), dn);
  EXPECT_EQ(P("cn=#0c0161+uid=a"), P("uid=a+cn=#0C0161"));
  // A text value that begins with '#' keeps its escape unless it reads as
  // a hex string, in which case both forms are the same value here.
  EXPECT_EQ(P("cn=\\#foo").Canonical(), "cn=\\#foo");
  EXPECT_EQ(P("cn=\\#foo").LeafValue(), "#foo");
  EXPECT_EQ(P("cn=\\#0C0161,ou=x"), dn);
}

TEST(Dn, Utf8ValuesPassAndCompareByteForByte) {
  const Dn dn = P("cn=J\xC3\xBCrgen,ou=people");
  EXPECT_EQ(dn.LeafValue(), "J\xC3\xBCrgen");
  EXPECT_EQ(dn.Canonical(), "cn=j\xC3\xBCrgen,ou=people");
  EXPECT_EQ(P("cn=\xE6\x97\xA5\xF0\x9F\x98\x80").LeafValue(),
            "\xE6\x97\xA5\xF0\x9F\x98\x80");
  // Only ASCII case is folded: 'Ü' and 'ü' stay different here although
  // a server folds them, which is what IsPlainAscii() warns about.
  EXPECT_FALSE(P("cn=J\xC3\x9Crgen") == P("cn=J\xC3\xBCrgen"));
}

TEST(Dn, PlainAsciiExcludesNonAsciiAndHexStrings) {
  EXPECT_TRUE(P("uid=bob,ou=people,dc=example,dc=org").IsPlainAscii());
  EXPECT_TRUE(P("").IsPlainAscii());
  EXPECT_TRUE(P("cn=\\#foo").IsPlainAscii());
  EXPECT_FALSE(P("uid=bob,ou=p\xC3\xA9ople").IsPlainAscii());
  EXPECT_FALSE(P("uid=\xEF\xBD\x92oot,ou=people").IsPlainAscii());
  EXPECT_FALSE(P("uid=#0404726f6f74,ou=people").IsPlainAscii());
  EXPECT_FALSE(P("uid=\\#0404726f6f74,ou=people").IsPlainAscii());
}

TEST(Dn, EmptyStringIsTheRootDn) {
  const Dn root = P("");
  EXPECT_TRUE(root.empty());
  EXPECT_EQ(root.Canonical(), "");
  EXPECT_EQ(root.LeafValue(), "");
  EXPECT_TRUE(root.Parent().empty());
  EXPECT_EQ(root, Dn());
  EXPECT_FALSE(root == P("dc=org"));
}

TEST(Dn, CanonicalFormReparsesToTheSameDn) {
  for (std::string_view text : {
           "UID=Bob , OU=People,DC=Example,DC=Org"sv,
           "cn=a\\,b\\+c\\\"d\\\\e\\;f\\<g\\>h=i,ou=x"sv,
           "cn=\\#x+cn=#ABCD+sn=\\ lead\\ ,o=Org"sv,
           "cn=J\xC3\xBCrgen  M\xC3\xBCller"sv,
           "2.5.4.3=x,1.2.840.113549.1.9.1=y"sv,
           ""sv,
       }) {
    const Dn dn = P(text);
    const std::string canonical = dn.Canonical();
    const Dn again = P(canonical);
    EXPECT_EQ(again, dn) << text;
    EXPECT_EQ(again.Canonical(), canonical) << text;
  }
}

TEST(Dn, RdnCanonicalTextIsTheDnsPiece) {
  const Dn dn = P("CN=B  b+uid=\\#x , OU=A\\2cB,o=#0C01, dc=\\ org\\ ");
  std::string joined;
  for (const Rdn& rdn : dn.rdns()) {
    joined += (joined.empty() ? "" : ",") + rdn.Canonical();
  }
  EXPECT_EQ(joined, dn.Canonical());
  EXPECT_EQ(joined, "cn=b b+uid=\\#x,ou=a\\,b,o=#0c01,dc=org");
}

TEST(Dn, LeafValueIsUnescapedWithCaseKept) {
  EXPECT_EQ(P("uid=Bob\\2C Smith,ou=x").LeafValue(), "Bob, Smith");
  EXPECT_EQ(P("uid=a\\\\b").LeafValue(), "a\\b");
  EXPECT_EQ(P("uid=bob").rdns().front().avas.front().first, "uid");
  // For a multi-valued leaf, the first in sorted order (cn before uid).
  EXPECT_EQ(P("uid=bob+cn=Bob").LeafValue(), "Bob");
}

TEST(Dn, ParentDropsTheLeaf) {
  const Dn dn = P("uid=bob,ou=people,dc=example,dc=org");
  EXPECT_EQ(dn.Parent(), P(kPeople));
  EXPECT_EQ(dn.Parent().Parent().Parent(), P("dc=org"));
  EXPECT_TRUE(dn.Parent().Parent().Parent().Parent().empty());
  EXPECT_EQ(dn.rdns().size(), 4u);
}

// --- Subtrees -------------------------------------------------------------

TEST(Dn, DnIsWithinItselfAndItsAncestors) {
  const Dn dn = P("uid=bob,ou=people,dc=example,dc=org");
  EXPECT_TRUE(dn.IsWithin(dn));
  EXPECT_TRUE(dn.IsWithin(P(kPeople)));
  EXPECT_TRUE(dn.IsWithin(P("dc=example,dc=org")));
  EXPECT_TRUE(dn.IsWithin(P("DC=Org")));
  EXPECT_TRUE(P("UID=X, OU=People,DC=Example,DC=Org").IsWithin(P(kPeople)));
}

TEST(Dn, RootDnContainsEverything) {
  const Dn root = P("");
  EXPECT_TRUE(P("uid=bob,ou=people,dc=example,dc=org").IsWithin(root));
  EXPECT_TRUE(root.IsWithin(root));
  EXPECT_FALSE(root.IsWithin(P("dc=org")));
}

TEST(Dn, SiblingWithSharedStringSuffixIsNotWithin) {
  const Dn people = P(kPeople);
  EXPECT_FALSE(P("uid=x,ou=peoplex,dc=example,dc=org").IsWithin(people));
  EXPECT_FALSE(P("uid=x,ou=xpeople,dc=example,dc=org").IsWithin(people));
  EXPECT_FALSE(P("uid=x,ou=people,dc=example,dc=orgx").IsWithin(people));
  EXPECT_FALSE(P("uid=x,ou=people,dc=xexample,dc=org").IsWithin(people));
  // The canonical string of this DN ends in ",ou=people,dc=example,dc=org"
  // but its third RDN from the end is ou="a,ou=people".
  const Dn escaped = P("uid=x,ou=a\\,ou=people,dc=example,dc=org");
  EXPECT_EQ(escaped.rdns().size(), 4u);
  EXPECT_FALSE(escaped.IsWithin(people));
  EXPECT_FALSE(P("uid=x,ou=people+cn=y,dc=example,dc=org").IsWithin(people));
}

TEST(Dn, AncestorIsNotWithinDescendant) {
  EXPECT_FALSE(P(kPeople).IsWithin(P("uid=x,ou=people,dc=example,dc=org")));
  EXPECT_FALSE(P("dc=org").IsWithin(P(kPeople)));
}

// --- Rejections -------------------------------------------------------------

struct Rejection {
  std::string input;
  std::string prefix;  // "byte N: "
  std::string detail;
};

TEST(Dn, RejectsEveryMalformedClass) {
  const std::vector<Rejection> cases = {
      // Empty RDNs and AVAs.
      {"uid=a,,ou=b", "byte 6: ", "empty RDN"},
      {",uid=a", "byte 0: ", "empty RDN"},
      {" , uid=a", "byte 1: ", "empty RDN"},
      {"uid=a,", "byte 6: ", "empty RDN"},
      {"uid=a, ", "byte 7: ", "empty RDN"},
      {"+uid=a", "byte 0: ", "empty RDN"},
      {"uid=a+,ou=b", "byte 6: ", "empty attribute value assertion"},
      {"uid=a+", "byte 6: ", "empty attribute value assertion"},
      {"   ", "byte 0: ", "only spaces"},
      // Types.
      {"uid", "byte 3: ", "missing '='"},
      {"uidbob,ou=x", "byte 6: ", "missing '='"},
      {"uid bob=x", "byte 4: ", "missing '='"},
      {"=bob", "byte 0: ", "empty attribute type"},
      {"uid=a, =b", "byte 7: ", "empty attribute type"},
      {"u_id=a", "byte 1: ", "invalid character '_' in attribute type"},
      {"\xC3\xBCid=a", "byte 0: ", "invalid character 0xc3"},
      {"uid;binary=a", "byte 3: ", "invalid character ';'"},
      {"-uid=a", "byte 0: ", "must start with a letter or digit"},
      {"u.id=a", "byte 1: ", "'.' in an attribute name"},
      {"OID.2.5.4.3=a", "byte 3: ", "'.' in an attribute name"},
      {"2.5.04.3=a", "byte 4: ", "leading zero"},
      {"2=a", "byte 0: ", "at least two components"},
      {"2..5=a", "byte 2: ", "empty component"},
      {"2.5.=a", "byte 4: ", "empty component"},
      {"1.2a=x", "byte 3: ", "only digits and dots"},
      // Escapes.
      {"cn=a\\2", "byte 4: ", "bad hex escape"},
      {"cn=a\\2g", "byte 4: ", "bad hex escape"},
      {"cn=a\\q", "byte 4: ", "invalid escape"},
      {"cn=a\\", "byte 4: ", "at the end"},
      // Unescaped specials and RFC 2253 forms.
      {"cn=a;ou=b", "byte 4: ", "unescaped ';'"},
      {"cn=\"a,b\"", "byte 3: ", "unescaped '\"'"},
      {"cn=a<b", "byte 4: ", "unescaped '<'"},
      {"cn=a>b", "byte 4: ", "unescaped '>'"},
      // UTF-8 after unescaping.
      {"cn=\\ff", "byte 3: ", "not valid UTF-8"},
      {"cn=\xFF", "byte 3: ", "not valid UTF-8"},
      {"cn=\\c3", "byte 3: ", "inside a UTF-8 sequence"},
      {"cn=a\xC3", "byte 4: ", "inside a UTF-8 sequence"},
      {"cn=\xC3(", "byte 4: ", "not valid UTF-8"},
      {"cn=\\c0\\80", "byte 3: ", "not valid UTF-8"},
      {"cn=\\e0\\80\\80", "byte 3: ", "not valid UTF-8"},
      {"cn=\\ed\\a0\\80", "byte 3: ", "not valid UTF-8"},
      {"cn=\\f4\\90\\80\\80", "byte 3: ", "not valid UTF-8"},
      // NUL, controls and invisible characters.
      {"cn=a\\00b", "byte 4: ", "NUL not allowed"},
      {"cn=a\0b"s, "byte 4: ", "NUL not allowed"},
      {"cn=a\tb", "byte 4: ", "control character U+0009"},
      {"cn=a\\0ab", "byte 4: ", "control character U+000A"},
      {"cn=a\x7f", "byte 4: ", "control character U+007F"},
      {"cn=\xC2\x85", "byte 3: ", "control character U+0085"},
      {"cn=ro\xC2\xADot", "byte 5: ", "invisible or space character U+00AD"},
      {"cn=ro\xE2\x80\x8Bot", "byte 5: ", "U+200B"},
      {"cn=a\xC2\xA0", "byte 4: ", "U+00A0"},
      {"cn=\xEF\xBB\xBF"
       "a",
       "byte 3: ", "U+FEFF"},
      {"cn=a\xE2\x80\xAE"
       "b",
       "byte 4: ", "U+202E"},
      {"cn=a\xF3\xA0\x80\x81", "byte 4: ", "U+E0001"},
      // Hex strings.
      {"cn=#", "byte 3: ", "empty hex string"},
      {"cn=#xy", "byte 3: ", "empty hex string"},
      {"cn=#abc", "byte 6: ", "odd number of hex digits"},
      {"cn=#ab zz", "byte 7: ", "in a hex string"},
      {"cn=#ab\\2c", "byte 6: ", "in a hex string"},
      // The same AVA twice.
      {"cn=a+cn=A", "byte 5: ", "twice in one RDN"},
      {"cn=a b+commonName=a  b", "byte 7: ", "twice in one RDN"},
  };
  for (const Rejection& c : cases) {
    const std::string message = ParseError(c.input);
    EXPECT_THAT(message, StartsWith(c.prefix)) << Printable(c.input);
    EXPECT_THAT(message, HasSubstr(c.detail)) << Printable(c.input);
  }
}

TEST(Dn, RejectsMoreThan64Rdns) {
  std::string dn = "cn=x";
  for (int i = 1; i < 64; ++i) dn += ",cn=x";
  EXPECT_EQ(P(dn).rdns().size(), 64u);
  const std::size_t comma = dn.size();
  dn += ",cn=x";
  EXPECT_EQ(ParseError(dn),
            "byte " + std::to_string(comma) + ": more than 64 RDNs");
}

TEST(Dn, RejectsMoreThan4096Bytes) {
  std::string dn = "cn=" + std::string(4093, 'a');
  EXPECT_EQ(P(dn).LeafValue().size(), 4093u);
  dn.push_back('a');
  EXPECT_EQ(ParseError(dn), "byte 4096: DN longer than 4096 bytes");
}

TEST(Dn, RejectsACanonicalFormOver4096Bytes) {
  // Each raw '=' is written "\=" in the canonical form.
  const std::string dn = "cn=" + std::string(4093, '=');
  EXPECT_THAT(ParseError(dn), HasSubstr("canonical form longer than 4096"));
  EXPECT_TRUE(Dn::Parse("cn=" + std::string(2046, '=')).ok());
}

// --- Escaping DN values -----------------------------------------------------

TEST(DnEscape, EscapesSpecialsAndEdges) {
  EXPECT_EQ(EscapeDnValue("bob"), "bob");
  EXPECT_EQ(EscapeDnValue(""), "");
  EXPECT_EQ(EscapeDnValue("a,b+c\"d\\e;f<g>h=i"),
            "a\\,b\\+c\\\"d\\\\e\\;f\\<g\\>h\\=i");
  EXPECT_EQ(EscapeDnValue("#a#"), "\\#a#");
  EXPECT_EQ(EscapeDnValue(" a b "), "\\ a b\\ ");
  EXPECT_EQ(EscapeDnValue(" "), "\\ ");
  EXPECT_EQ(EscapeDnValue("  "), "\\ \\ ");
  EXPECT_EQ(EscapeDnValue("a\0b"s), "a\\00b");
  EXPECT_EQ(EscapeDnValue("J\xC3\xBCrgen"), "J\xC3\xBCrgen");
}

TEST(DnEscape, InjectedValueStaysOneValueInItsSubtree) {
  const Dn people = P(kPeople);
  const Dn admins = P("ou=admins,dc=example,dc=org");
  const Dn root = P("uid=root,ou=people,dc=example,dc=org");
  for (std::string_view v : {
           "bob,ou=admins"sv,
           "bob,ou=admins,dc=example,dc=org"sv,
           "root+uid=x"sv,
           "root\\"sv,
           "x\\,ou=admins"sv,
           " root "sv,
           "root "sv,
           "#0404726f6f74"sv,
           "\"root\""sv,
           "a;ou=admins"sv,
           "a=b"sv,
           "<root>"sv,
           "ro\\6ft"sv,
       }) {
    const std::string text =
        "uid=" + EscapeDnValue(v) + "," + std::string(kPeople);
    const Dn dn = P(text);
    EXPECT_EQ(dn.LeafValue(), v) << text;
    EXPECT_EQ(dn.rdns().size(), 4u) << text;
    EXPECT_EQ(dn.rdns().front().avas.size(), 1u) << text;
    EXPECT_TRUE(dn.IsWithin(people)) << text;
    EXPECT_FALSE(dn.IsWithin(admins)) << text;
    EXPECT_EQ(dn.Parent(), people) << text;
  }
  // Edge spaces are kept in the value but, as on the server, do not make
  // a new name: " root " is root.
  EXPECT_EQ(P("uid=" + EscapeDnValue(" root ") + "," + std::string(kPeople)),
            root);
}

TEST(DnEscape, NulIsEscapedAndThenRejectedByParse) {
  const std::string escaped = EscapeDnValue("root\0x"s);
  EXPECT_EQ(escaped, "root\\00x");
  EXPECT_THAT(ParseError("uid=" + escaped), HasSubstr("NUL not allowed"));
}

// A random string of valid, allowed UTF-8 rich in what needs escaping.
std::string RandomValue(std::mt19937& rng) {
  static const std::vector<std::string> kPieces = {"a",
                                                   "Z",
                                                   "0",
                                                   " ",
                                                   " ",
                                                   "#",
                                                   "=",
                                                   ",",
                                                   "+",
                                                   "\"",
                                                   "\\",
                                                   ";",
                                                   "<",
                                                   ">",
                                                   "*",
                                                   "(",
                                                   ")",
                                                   "'",
                                                   ".",
                                                   "-",
                                                   "\xC3\xA9",
                                                   "\xE6\x97\xA5",
                                                   "\xF0\x9F\x98\x80",
                                                   "\\2c",
                                                   "#ab"};
  std::uniform_int_distribution<std::size_t> length(0, 12);
  std::uniform_int_distribution<std::size_t> piece(0, kPieces.size() - 1);
  std::string value;
  for (std::size_t n = length(rng); n > 0; --n) value += kPieces[piece(rng)];
  return value;
}

TEST(DnEscape, RoundTripsRandomValues) {
  std::mt19937 rng(20240601);
  const Dn people = P(kPeople);
  for (int i = 0; i < 5000; ++i) {
    const std::string value = RandomValue(rng);
    const std::string text =
        "uid=" + EscapeDnValue(value) + "," + std::string(kPeople);
    Result<Dn> dn = Dn::Parse(text);
    ASSERT_TRUE(dn.ok()) << Printable(text) << ": " << dn.status().ToString();
    ASSERT_EQ(dn->LeafValue(), value) << Printable(text);
    ASSERT_TRUE(dn->IsWithin(people)) << Printable(text);
    const std::string canonical = dn->Canonical();
    Result<Dn> again = Dn::Parse(canonical);
    ASSERT_TRUE(again.ok()) << Printable(canonical);
    ASSERT_EQ(*again, *dn) << Printable(canonical);
    ASSERT_EQ(again->Canonical(), canonical) << Printable(canonical);
  }
}

TEST(DnEscape, RandomBytesParseOnlyToTheirOwnValue) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 8);
  int accepted = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string value;
    for (int n = length(rng); n > 0; --n) {
      value.push_back(static_cast<char>(byte(rng)));
    }
    Result<Dn> dn = Dn::Parse("uid=" + EscapeDnValue(value));
    if (dn.ok()) {
      ++accepted;
      ASSERT_EQ(dn->LeafValue(), value) << Printable(value);
    } else {
      ASSERT_THAT(dn.status().message(), StartsWith("byte "));
    }
  }
  EXPECT_GT(accepted, 100);
}

// --- Escaping filter values -------------------------------------------------

// Undoes RFC 4515 escaping; "" marks a malformed escape.
std::string UnescapeFilter(std::string_view escaped) {
  std::string out;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '\\') {
      out.push_back(escaped[i]);
      continue;
    }
    if (i + 2 >= escaped.size()) return "";
    out.push_back(static_cast<char>(
        std::stoi(std::string(escaped.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

TEST(FilterEscape, EscapesRfc4515Specials) {
  EXPECT_EQ(EscapeFilterValue("bob"), "bob");
  EXPECT_EQ(EscapeFilterValue("*"), "\\2a");
  EXPECT_EQ(EscapeFilterValue("("), "\\28");
  EXPECT_EQ(EscapeFilterValue(")"), "\\29");
  EXPECT_EQ(EscapeFilterValue("\\"), "\\5c");
  EXPECT_EQ(EscapeFilterValue("\0"s), "\\00");
  EXPECT_EQ(EscapeFilterValue("a=b,c"), "a=b,c");
}

TEST(FilterEscape, InjectionBecomesInert) {
  const std::string escaped = EscapeFilterValue("*)(uid=*");
  EXPECT_EQ(escaped, "\\2a\\29\\28uid=\\2a");
  const std::string filter = "(uid=" + escaped + ")";
  EXPECT_EQ(filter.find('*'), std::string::npos);
  EXPECT_EQ(std::count(filter.begin(), filter.end(), '('), 1);
  EXPECT_EQ(std::count(filter.begin(), filter.end(), ')'), 1);
  EXPECT_EQ(EscapeFilterValue("admin)(|(objectClass=*)"),
            "admin\\29\\28|\\28objectClass=\\2a\\29");
}

TEST(FilterEscape, ControlBytesAreEscapedForLogs) {
  EXPECT_EQ(EscapeFilterValue("a\nb"), "a\\0ab");
  EXPECT_EQ(EscapeFilterValue("\x1b[31m"), "\\1b[31m");
  EXPECT_EQ(EscapeFilterValue("\x7f"), "\\7f");
  EXPECT_EQ(EscapeFilterValue("\x1f\x20"), "\\1f ");
}

TEST(FilterEscape, Utf8PassesThrough) {
  EXPECT_EQ(EscapeFilterValue("J\xC3\xBCrgen \xF0\x9F\x98\x80"),
            "J\xC3\xBCrgen \xF0\x9F\x98\x80");
}

TEST(FilterEscape, RandomBytesRoundTripWithNothingActive) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string value;
    for (int n = i % 24; n > 0; --n) {
      value.push_back(static_cast<char>(byte(rng)));
    }
    const std::string escaped = EscapeFilterValue(value);
    for (std::size_t j = 0; j < escaped.size(); ++j) {
      const auto b = static_cast<unsigned char>(escaped[j]);
      ASSERT_TRUE(escaped[j] != '*' && escaped[j] != '(' && escaped[j] != ')' &&
                  b >= 0x20 && b != 0x7F)
          << Printable(escaped);
    }
    ASSERT_EQ(UnescapeFilter(escaped), value) << Printable(value);
  }
}

// --- Globs ------------------------------------------------------------------

struct GlobCase {
  std::string_view pattern;
  std::string_view text;
  bool fold_case;
  bool matches;
};

TEST(Glob, MatchesVectors) {
  const GlobCase cases[] = {
      {"", "", false, true},
      {"", "a", false, false},
      {"*", "", false, true},
      {"*", "anything", false, true},
      {"**", "", false, true},
      {"?", "", false, false},
      {"?", "a", false, true},
      {"?", "ab", false, false},
      {"app_*", "app_reader", false, true},
      {"app_*", "app_", false, true},
      {"app_*", "ap_reader", false, false},
      {"app_*", "xapp_reader", false, false},
      {"*_ro", "app_ro", false, true},
      {"*_ro", "app_rw", false, false},
      {"a*b*c", "abc", false, true},
      {"a*b*c", "aXbYc", false, true},
      {"a*b*c", "aXbYcZ", false, false},
      {"a*b*c", "acb", false, false},
      {"a?c", "abc", false, true},
      {"a?c", "ac", false, false},
      {"*a", "aaaa", false, true},
      {"*ab", "aaab", false, true},
      {"*ab*", "xabx", false, true},
      {"a*a", "a", false, false},
      {"*?", "", false, false},
      {"*?", "x", false, true},
      {"a\\*", "a\\b", false, true},  // No escapes: '\' is literal.
      {"[ab]", "a", false, false},    // No classes either.
      {"[ab]", "[ab]", false, true},
      {"APP_*", "app_x", false, false},
      {"APP_*", "app_x", true, true},
      {"app_?", "APP_X", true, true},
      {"\xC3\x89", "\xC3\xA9", true, false},  // ASCII-only folding.
      {"?", "\xC3\xA9", false, false},        // '?' is one byte.
      {"??", "\xC3\xA9", false, true},
      {"*\xC3\xA9", "caf\xC3\xA9", false, true},
  };
  for (const GlobCase& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text, c.fold_case), c.matches)
        << "pattern '" << c.pattern << "' text '" << c.text << "' fold "
        << c.fold_case;
  }
}

TEST(Glob, PathologicalPatternsFinishQuickly) {
  const std::string as(10000, 'a');
  EXPECT_FALSE(GlobMatch("a*a*a*a*a*a*b", as));
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", as));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", as));
  EXPECT_TRUE(GlobMatch("a*a*a*a*a*a*a", as));
  EXPECT_FALSE(GlobMatch("*" + std::string(50, '?') + "b", as));
  EXPECT_FALSE(GlobMatch(std::string(5000, '*') + "b", as));
  EXPECT_TRUE(GlobMatch(std::string(5000, '*') + "A", as, true));
}

}  // namespace
}  // namespace deputy
