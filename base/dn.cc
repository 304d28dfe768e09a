#include "base/dn.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deputy {
namespace {

constexpr std::size_t kMaxDnBytes = 4096;
constexpr std::size_t kMaxRdns = 64;
constexpr char kHexDigits[] = "0123456789abcdef";

bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char ToLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The characters RFC 4514 2.4 escapes anywhere in a value, plus '=',
// which it allows but which is clearer escaped.
bool NeedsDnEscape(char c) {
  switch (c) {
    case '"':
    case '+':
    case ',':
    case ';':
    case '<':
    case '>':
    case '\\':
    case '=':
      return true;
    default:
      return false;
  }
}

// What may follow a backslash besides two hex digits (RFC 4514 3).
bool IsEscapableSpecial(char c) {
  return NeedsDnEscape(c) || c == ' ' || c == '#';
}

Status ErrorAt(std::size_t pos, std::string_view what) {
  std::string message = "byte " + std::to_string(pos) + ": ";
  message += what;
  return Status::Invalid(std::move(message));
}

// "'x'" for printable ASCII, "0xNN" otherwise, so that an error message
// never carries a raw control byte into a log.
std::string Describe(char c) {
  const auto b = static_cast<unsigned char>(c);
  if (b >= 0x20 && b < 0x7F) return std::string("'") + c + "'";
  return std::string("0x") + kHexDigits[b >> 4] + kHexDigits[b & 0xF];
}

// "U+00AD": at least four upper-case hex digits, as Unicode writes them.
std::string CodePointName(char32_t cp) {
  constexpr char kUpper[] = "0123456789ABCDEF";
  std::string name = "U+";
  int digits = 4;
  while (digits < 8 && (cp >> (4 * digits)) != 0) ++digits;
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
    name.push_back(kUpper[(cp >> shift) & 0xF]);
  }
  return name;
}

// Code points that LDAP string preparation (RFC 4518 2.2) maps to nothing
// or to a space, plus the other invisible format characters (Unicode
// categories Cc, Cf, Zs, Zl, Zp, and variation selectors). Letting them
// into a value would give one entry several spellings that compare
// unequal here and equal on the server.
struct CodePointRange {
  char32_t first;
  char32_t last;
};
constexpr CodePointRange kRejectedCodePoints[] = {
    {0x0000, 0x001F},   {0x007F, 0x00A0},   {0x00AD, 0x00AD},
    {0x034F, 0x034F},   {0x0600, 0x0605},   {0x061C, 0x061C},
    {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},
    {0x08E2, 0x08E2},   {0x1680, 0x1680},   {0x1806, 0x1806},
    {0x180B, 0x180F},   {0x2000, 0x200F},   {0x2028, 0x202F},
    {0x205F, 0x206F},   {0x3000, 0x3000},   {0xFE00, 0xFE0F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFC},   {0x110BD, 0x110BD},
    {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
};

bool IsRejectedCodePoint(char32_t cp) {
  if (cp >= 0x20 && cp < 0x7F) return false;
  for (const CodePointRange& range : kRejectedCodePoints) {
    if (cp < range.first) return false;
    if (cp <= range.last) return true;
  }
  return false;
}

// Checks the unescaped bytes of a value, fed one at a time with the input
// offset they came from: well-formed UTF-8 (no overlong forms, surrogates
// or code points above U+10FFFF) holding no rejected code point.
class Utf8Checker {
 public:
  Status Feed(unsigned char b, std::size_t pos) {
    if (need_ == 0) {
      start_ = pos;
      if (b < 0x80) return CheckCodePoint(b);
      if (b >= 0xC2 && b <= 0xDF) {
        Begin(1, b & 0x1F, 0x80);
      } else if (b >= 0xE0 && b <= 0xEF) {
        Begin(2, b & 0x0F, 0x800);
      } else if (b >= 0xF0 && b <= 0xF4) {
        Begin(3, b & 0x07, 0x10000);
      } else {
        return ErrorAt(pos, "value is not valid UTF-8");
      }
      return Status::Ok();
    }
    if ((b & 0xC0) != 0x80) return ErrorAt(pos, "value is not valid UTF-8");
    code_point_ = (code_point_ << 6) | (b & 0x3F);
    if (--need_ > 0) return Status::Ok();
    if (code_point_ < min_ || code_point_ > 0x10FFFF ||
        (code_point_ >= 0xD800 && code_point_ <= 0xDFFF)) {
      return ErrorAt(start_, "value is not valid UTF-8");
    }
    return CheckCodePoint(code_point_);
  }

  // Call at the end of the value.
  Status Finish() const {
    if (need_ != 0) {
      return ErrorAt(start_, "value ends inside a UTF-8 sequence");
    }
    return Status::Ok();
  }

 private:
  void Begin(int need, char32_t bits, char32_t min) {
    need_ = need;
    code_point_ = bits;
    min_ = min;
  }

  Status CheckCodePoint(char32_t cp) const {
    if (!IsRejectedCodePoint(cp)) return Status::Ok();
    if (cp == 0) return ErrorAt(start_, "NUL not allowed in a value");
    const bool control = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
    return ErrorAt(start_, (control ? "control character "
                                    : "invisible or space character ") +
                               CodePointName(cp) + " not allowed in a value");
  }

  int need_ = 0;
  char32_t code_point_ = 0;
  char32_t min_ = 0;
  std::size_t start_ = 0;
};

// Long names and OIDs of the standard naming attributes (RFC 4519 and
// OpenLDAP's core schema), mapped to the name a server writes them with,
// so that "userid=root" and "0.9.2342.19200300.100.1.1=root" cannot slip
// past a rule about "uid=root". Keys are lower case.
struct TypeAlias {
  std::string_view alias;
  std::string_view name;
};
constexpr TypeAlias kTypeAliases[] = {
    {"2.5.4.3", "cn"},
    {"commonname", "cn"},
    {"2.5.4.4", "sn"},
    {"surname", "sn"},
    {"2.5.4.5", "serialnumber"},
    {"2.5.4.6", "c"},
    {"countryname", "c"},
    {"2.5.4.7", "l"},
    {"localityname", "l"},
    {"2.5.4.8", "st"},
    {"stateorprovincename", "st"},
    {"2.5.4.9", "street"},
    {"streetaddress", "street"},
    {"2.5.4.10", "o"},
    {"organizationname", "o"},
    {"2.5.4.11", "ou"},
    {"organizationalunitname", "ou"},
    {"2.5.4.12", "title"},
    {"2.5.4.42", "givenname"},
    {"gn", "givenname"},
    {"0.9.2342.19200300.100.1.1", "uid"},
    {"userid", "uid"},
    {"0.9.2342.19200300.100.1.3", "mail"},
    {"rfc822mailbox", "mail"},
    {"0.9.2342.19200300.100.1.25", "dc"},
    {"domaincomponent", "dc"},
};

// Checks `token` (at input offset `pos`) against RFC 4512's descr and
// numericoid, and returns its lower-case, alias-mapped form in `type`.
Status NormaliseType(std::string_view token, std::size_t pos,
                     std::string& type) {
  if (IsAlpha(token[0])) {
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '.') return ErrorAt(pos + i, "'.' in an attribute name");
    }
  } else if (IsDigit(token[0])) {
    std::size_t components = 0;
    std::size_t begin = 0;
    while (true) {
      std::size_t end = token.find('.', begin);
      if (end == std::string_view::npos) end = token.size();
      const std::string_view number = token.substr(begin, end - begin);
      if (number.empty()) {
        return ErrorAt(pos + begin, "empty component in an OID");
      }
      for (std::size_t i = 0; i < number.size(); ++i) {
        if (!IsDigit(number[i])) {
          return ErrorAt(pos + begin + i, "an OID holds only digits and dots");
        }
      }
      if (number.size() > 1 && number[0] == '0') {
        return ErrorAt(pos + begin, "leading zero in an OID component");
      }
      ++components;
      if (end == token.size()) break;
      begin = end + 1;
    }
    if (components < 2) {
      return ErrorAt(pos, "an OID needs at least two components");
    }
  } else {
    return ErrorAt(pos, "attribute type must start with a letter or digit");
  }
  type.assign(token);
  for (char& c : type) c = ToLowerAscii(c);
  for (const TypeAlias& alias : kTypeAliases) {
    if (alias.alias == type) {
      type.assign(alias.name);
      break;
    }
  }
  return Status::Ok();
}

// A value without its leading and trailing spaces.
std::string_view TrimSpaces(std::string_view v) {
  std::size_t begin = 0;
  while (begin < v.size() && v[begin] == ' ') ++begin;
  std::size_t end = v.size();
  while (end > begin && v[end - 1] == ' ') --end;
  return v.substr(begin, end - begin);
}

// Whether a trimmed value reads as an RFC 4514 hexstring: '#' and one or
// more pairs of hex digits.
bool IsHexStringForm(std::string_view v) {
  if (v.size() < 3 || v.size() % 2 == 0 || v[0] != '#') return false;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (HexValue(v[i]) < 0) return false;
  }
  return true;
}

// Walks a value in its matching form (RFC 4518 insignificant space
// handling, ASCII case folding) without copying it.
class FoldedValue {
 public:
  explicit FoldedValue(std::string_view value) : v_(TrimSpaces(value)) {}
  bool done() const { return i_ >= v_.size(); }
  std::string_view trimmed() const { return v_; }
  // Precondition: !done().
  char Next() {
    const char c = v_[i_++];
    if (c != ' ') return ToLowerAscii(c);
    // Trimmed, so a non-space follows every run of spaces.
    while (v_[i_] == ' ') ++i_;
    return ' ';
  }

 private:
  std::string_view v_;
  std::size_t i_ = 0;
};

int CompareFolded(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  FoldedValue x(a);
  FoldedValue y(b);
  while (!x.done() && !y.done()) {
    const auto p = static_cast<unsigned char>(x.Next());
    const auto q = static_cast<unsigned char>(y.Next());
    if (p != q) return p < q ? -1 : 1;
  }
  if (x.done() && y.done()) return 0;
  return x.done() ? -1 : 1;
}

int CompareAva(const std::pair<std::string, std::string>& a,
               const std::pair<std::string, std::string>& b) {
  const int by_type = a.first.compare(b.first);
  if (by_type != 0) return by_type < 0 ? -1 : 1;
  return CompareFolded(a.second, b.second);
}

bool RdnEqual(const Rdn& a, const Rdn& b) {
  if (a.avas.size() != b.avas.size()) return false;
  for (std::size_t i = 0; i < a.avas.size(); ++i) {
    if (CompareAva(a.avas[i], b.avas[i]) != 0) return false;
  }
  return true;
}

void AppendCanonicalValue(std::string& out, std::string_view value) {
  FoldedValue folded(value);
  // A hex string is written raw: escaping its '#' would turn it into text
  // and change what it means when parsed back.
  if (!folded.done() && folded.trimmed()[0] == '#' &&
      !IsHexStringForm(folded.trimmed())) {
    out.push_back('\\');
  }
  while (!folded.done()) {
    const char c = folded.Next();
    if (c == '\0') {
      out += "\\00";
      continue;
    }
    if (NeedsDnEscape(c)) out.push_back('\\');
    out.push_back(c);
  }
}

void AppendCanonicalRdn(std::string& out, const Rdn& rdn) {
  for (std::size_t i = 0; i < rdn.avas.size(); ++i) {
    if (i > 0) out.push_back('+');
    out += rdn.avas[i].first;
    out.push_back('=');
    AppendCanonicalValue(out, rdn.avas[i].second);
  }
}

std::size_t CanonicalSizeHint(const std::vector<Rdn>& rdns) {
  std::size_t size = 0;
  for (const Rdn& rdn : rdns) {
    for (const auto& [type, value] : rdn.avas) {
      size += type.size() + value.size() + 2;
    }
  }
  return size + size / 4;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Status Run(std::vector<Rdn>& rdns) {
    while (true) {
      if (rdns.size() == kMaxRdns) {
        return ErrorAt(pos_ - 1, "more than 64 RDNs");
      }
      Rdn& rdn = rdns.emplace_back();
      RETURN_IF_ERROR(ParseRdn(rdn));
      if (pos_ == text_.size()) return Status::Ok();
      ++pos_;  // The ',' ParseRdn stopped at.
    }
  }

 private:
  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool AtSeparator() const {
    return pos_ == text_.size() || text_[pos_] == ',' || text_[pos_] == '+';
  }

  // Parses AVAs up to the ',' ending the RDN or the end of the input.
  Status ParseRdn(Rdn& rdn) {
    SkipSpaces();
    if (AtSeparator()) return ErrorAt(pos_, "empty RDN");
    while (true) {
      const std::size_t start = pos_;
      std::pair<std::string, std::string> ava;
      RETURN_IF_ERROR(ParseAva(ava));
      auto at = std::lower_bound(
          rdn.avas.begin(), rdn.avas.end(), ava,
          [](const auto& a, const auto& b) { return CompareAva(a, b) < 0; });
      if (at != rdn.avas.end() && CompareAva(*at, ava) == 0) {
        return ErrorAt(start,
                       "the same attribute value assertion twice in one RDN");
      }
      rdn.avas.insert(at, std::move(ava));
      if (pos_ == text_.size() || text_[pos_] == ',') return Status::Ok();
      ++pos_;  // '+'
      SkipSpaces();
      if (AtSeparator()) {
        return ErrorAt(pos_, "empty attribute value assertion after '+'");
      }
    }
  }

  // Parses "type = value" from a non-space, leaving pos_ at the next
  // separator or the end.
  Status ParseAva(std::pair<std::string, std::string>& ava) {
    const std::size_t type_start = pos_;
    while (pos_ < text_.size() &&
           (IsAlpha(text_[pos_]) || IsDigit(text_[pos_]) ||
            text_[pos_] == '-' || text_[pos_] == '.')) {
      ++pos_;
    }
    if (pos_ == type_start) {
      if (text_[pos_] == '=') return ErrorAt(pos_, "empty attribute type");
      return ErrorAt(pos_, "invalid character " + Describe(text_[pos_]) +
                               " in attribute type");
    }
    if (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != '=' &&
        !AtSeparator()) {
      return ErrorAt(pos_, "invalid character " + Describe(text_[pos_]) +
                               " in attribute type");
    }
    RETURN_IF_ERROR(NormaliseType(text_.substr(type_start, pos_ - type_start),
                                  type_start, ava.first));
    SkipSpaces();
    if (pos_ == text_.size() || text_[pos_] != '=') {
      return ErrorAt(pos_, "missing '=' after attribute type");
    }
    ++pos_;
    SkipSpaces();
    if (pos_ < text_.size() && text_[pos_] == '#') {
      return ParseHexString(ava.second);
    }
    return ParseString(ava.second);
  }

  // '#' followed by hex pairs (a BER encoding), kept as text.
  Status ParseHexString(std::string& value) {
    const std::size_t start = pos_++;
    value = "#";
    while (pos_ < text_.size() && HexValue(text_[pos_]) >= 0) {
      if (pos_ + 1 == text_.size() || HexValue(text_[pos_ + 1]) < 0) {
        return ErrorAt(pos_, "odd number of hex digits in a hex string");
      }
      value.push_back(ToLowerAscii(text_[pos_]));
      value.push_back(ToLowerAscii(text_[pos_ + 1]));
      pos_ += 2;
    }
    if (value.size() == 1) return ErrorAt(start, "empty hex string after '#'");
    SkipSpaces();
    if (!AtSeparator()) {
      return ErrorAt(pos_, "invalid character " + Describe(text_[pos_]) +
                               " in a hex string");
    }
    return Status::Ok();
  }

  // A string value with escapes, from its first non-space byte. Unescaped
  // trailing spaces are dropped; escaped ones are kept.
  Status ParseString(std::string& value) {
    Utf8Checker utf8;
    std::size_t keep = 0;  // Length of `value` without droppable spaces.
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ',' || c == '+') break;
      if (c == '\\') {
        const std::size_t escape = pos_;
        if (pos_ + 1 == text_.size()) {
          return ErrorAt(pos_, "'\\' at the end of the input");
        }
        const char next = text_[pos_ + 1];
        char byte = next;
        if (HexValue(next) >= 0) {
          if (pos_ + 2 == text_.size() || HexValue(text_[pos_ + 2]) < 0) {
            return ErrorAt(pos_, "bad hex escape (want \\ and two hex digits)");
          }
          byte = static_cast<char>(HexValue(next) * 16 +
                                   HexValue(text_[pos_ + 2]));
          pos_ += 3;
        } else if (IsEscapableSpecial(next)) {
          pos_ += 2;
        } else {
          return ErrorAt(pos_,
                         "invalid escape: '\\' followed by " + Describe(next));
        }
        RETURN_IF_ERROR(utf8.Feed(static_cast<unsigned char>(byte), escape));
        value.push_back(byte);
        keep = value.size();
        continue;
      }
      if (c == ';') {
        return ErrorAt(pos_,
                       "unescaped ';' (not a separator in RFC 4514; write \\; "
                       "in a value)");
      }
      if (c == '"' || c == '<' || c == '>') {
        return ErrorAt(pos_, "unescaped " + Describe(c) +
                                 " in a value (write \\" + c + ")");
      }
      RETURN_IF_ERROR(utf8.Feed(static_cast<unsigned char>(c), pos_));
      value.push_back(c);
      if (c != ' ') keep = value.size();
      ++pos_;
    }
    RETURN_IF_ERROR(utf8.Finish());
    value.resize(keep);
    return Status::Ok();
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<Dn> Dn::Parse(std::string_view text) {
  if (text.size() > kMaxDnBytes) {
    return ErrorAt(kMaxDnBytes, "DN longer than 4096 bytes");
  }
  Dn dn;
  if (text.empty()) return dn;
  if (text.find_first_not_of(' ') == std::string_view::npos) {
    return ErrorAt(0, "only spaces (the root DN is the empty string)");
  }
  RETURN_IF_ERROR(Parser(text).Run(dn.rdns_));
  // Escaping and type names can make the canonical form longer than the
  // input; bound it too, so that Parse(Canonical()) always succeeds.
  if (dn.Canonical().size() > kMaxDnBytes) {
    return ErrorAt(0, "canonical form longer than 4096 bytes");
  }
  return dn;
}

std::string Rdn::Canonical() const {
  std::string out;
  AppendCanonicalRdn(out, *this);
  return out;
}

std::string Dn::Canonical() const { return Canonical(nullptr); }

std::string Dn::Canonical(std::vector<std::size_t>* rdn_starts) const {
  std::string out;
  out.reserve(CanonicalSizeHint(rdns_));
  if (rdn_starts != nullptr) rdn_starts->clear();
  for (std::size_t i = 0; i < rdns_.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (rdn_starts != nullptr) rdn_starts->push_back(out.size());
    AppendCanonicalRdn(out, rdns_[i]);
  }
  return out;
}

bool Dn::IsWithin(const Dn& base) const {
  if (base.rdns_.size() > rdns_.size()) return false;
  const std::size_t offset = rdns_.size() - base.rdns_.size();
  for (std::size_t i = 0; i < base.rdns_.size(); ++i) {
    if (!RdnEqual(rdns_[offset + i], base.rdns_[i])) return false;
  }
  return true;
}

bool Dn::IsPlainAscii() const {
  for (const Rdn& rdn : rdns_) {
    for (const auto& ava : rdn.avas) {
      for (char c : ava.second) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
      }
      if (IsHexStringForm(TrimSpaces(ava.second))) return false;
    }
  }
  return true;
}

std::string Dn::LeafValue() const {
  if (rdns_.empty()) return {};
  return rdns_.front().avas.front().second;
}

Dn Dn::Parent() const {
  Dn parent;
  if (!rdns_.empty()) parent.rdns_.assign(rdns_.begin() + 1, rdns_.end());
  return parent;
}

bool operator==(const Dn& a, const Dn& b) {
  return a.rdns_.size() == b.rdns_.size() && a.IsWithin(b);
}

std::string EscapeDnValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\0') {
      out += "\\00";
      continue;
    }
    const bool edge_space = c == ' ' && (i == 0 || i + 1 == value.size());
    if (NeedsDnEscape(c) || edge_space || (i == 0 && c == '#')) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::string EscapeFilterValue(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '*' || c == '(' || c == ')' || c == '\\' || b < 0x20 ||
        b == 0x7F) {
      out.push_back('\\');
      out.push_back(kHexDigits[b >> 4]);
      out.push_back(kHexDigits[b & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool GlobMatch(std::string_view pattern, std::string_view text,
               bool fold_case) {
  const auto same = [fold_case](char p, char t) {
    return p == t || (fold_case && ToLowerAscii(p) == ToLowerAscii(t));
  };
  std::size_t p = 0;
  std::size_t t = 0;
  // The last '*' seen and the text position it was tried at. A later '*'
  // supersedes it: whatever the earlier star could absorb, the later one
  // can too, so one backtrack point suffices and the time stays
  // O(|pattern| * |text|).
  std::size_t star = std::string_view::npos;
  std::size_t star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() &&
               (pattern[p] == '?' || same(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace deputy
