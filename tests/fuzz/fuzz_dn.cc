// Fuzzes Dn::Parse, EscapeDnValue, EscapeFilterValue and GlobMatch.
// Properties checked on every input:
//  - Parse never crashes; an error names a byte offset inside the input.
//  - An accepted DN's canonical form parses back to an equal DN with the
//    same canonical form (idempotent), is its RDNs' canonical texts joined
//    with ',', and its parent chain is consistent.
//  - Splitting the input at its first '|' into two DNs a and b, when both
//    parse: a == b exactly when their canonical forms are equal, and
//    a.IsWithin(b) exactly when b equals a or one of a's ancestors.
//  - "uid=" + EscapeDnValue(x) parses for any printable ASCII x, is
//    refused otherwise only for x's characters (bad UTF-8, NUL, controls,
//    invisible characters), never for its syntax, and whenever it parses
//    its leaf value is exactly x in one RDN of one AVA: the escape never
//    lets a ',' or '+' act as a separator.
//  - EscapeFilterValue leaves no active '*', '(' or ')' and no control
//    byte, and unescapes back to its input.
//  - GlobMatch on the two halves of the input finishes (libFuzzer's
//    -timeout catches a blow-up) and agrees with a dynamic-programming
//    reference matcher on inputs up to 64 bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/dn.h"

namespace {

using deputy::Dn;
using deputy::Result;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_dn: %s: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void Check(bool condition, const char* what, std::string_view detail = {}) {
  if (!condition) Fail(what, detail);
}

// Parses the number N from an error message "byte N: ...".
bool ErrorOffset(const std::string& message, std::size_t& offset) {
  if (message.rfind("byte ", 0) != 0) return false;
  std::size_t i = 5;
  offset = 0;
  if (i >= message.size() || message[i] < '0' || message[i] > '9') return false;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9') {
    offset = offset * 10 + static_cast<std::size_t>(message[i] - '0');
    ++i;
  }
  return message.compare(i, 2, ": ") == 0;
}

void CheckDn(std::string_view text) {
  Result<Dn> dn = Dn::Parse(text);
  if (!dn.ok()) {
    std::size_t offset = 0;
    Check(ErrorOffset(dn.status().message(), offset),
          "error without a byte offset", dn.status().message());
    Check(offset <= text.size(), "error offset past the input",
          dn.status().message());
    return;
  }
  const std::string canonical = dn->Canonical();
  Result<Dn> again = Dn::Parse(canonical);
  Check(again.ok(), "canonical form does not parse", canonical);
  Check(*again == *dn, "canonical form parses to another DN", canonical);
  Check(again->Canonical() == canonical, "canonical form is not idempotent",
        canonical);
  Check(again->rdns().size() == dn->rdns().size(), "RDN count changed",
        canonical);
  std::string joined;
  for (const deputy::Rdn& rdn : dn->rdns()) {
    if (!joined.empty()) joined += ',';
    joined += rdn.Canonical();
  }
  Check(joined == canonical, "RDN canonical texts do not join to the DN's",
        joined + " | " + canonical);
  Check(dn->IsWithin(*dn), "DN not within itself", canonical);
  Check(dn->IsWithin(Dn()), "DN not within the root", canonical);
  if (!dn->empty()) {
    const Dn parent = dn->Parent();
    Check(parent.rdns().size() + 1 == dn->rdns().size(), "parent size",
          canonical);
    Check(dn->IsWithin(parent), "DN not within its parent", canonical);
    Check(!parent.IsWithin(*dn), "parent within its child", canonical);
  }
}

// The oracle for IsWithin: walk a's ancestors, comparing canonical forms.
bool WithinByCanonical(const Dn& a, const Dn& b) {
  const std::string target = b.Canonical();
  Dn walk = a;
  while (true) {
    if (walk.Canonical() == target) return true;
    if (walk.empty()) return false;
    walk = walk.Parent();
  }
}

void CheckPair(std::string_view left, std::string_view right) {
  Result<Dn> a = Dn::Parse(left);
  Result<Dn> b = Dn::Parse(right);
  if (!a.ok() || !b.ok()) return;
  const bool same = a->Canonical() == b->Canonical();
  Check((*a == *b) == same, "operator== disagrees with Canonical()",
        a->Canonical() + " | " + b->Canonical());
  Check(a->IsWithin(*b) == WithinByCanonical(*a, *b),
        "IsWithin disagrees with the ancestor walk",
        a->Canonical() + " | " + b->Canonical());
}

void CheckDnEscape(std::string_view value) {
  const std::string escaped = deputy::EscapeDnValue(value);
  const std::string text = "uid=" + escaped;
  if (text.size() > 4096) return;
  Result<Dn> dn = Dn::Parse(text);
  bool printable_ascii = true;
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b >= 0x7F) printable_ascii = false;
  }
  if (printable_ascii) {
    Check(dn.ok(), "escaped printable value does not parse",
          text + " -> " + dn.status().message());
  }
  if (!dn.ok()) {
    // Only the characters themselves may be refused, never the escaping.
    const std::string message = dn.status().message();
    Check(message.find("UTF-8") != std::string::npos ||
              message.find("not allowed in a value") != std::string::npos,
          "escaped value refused for its syntax", text + " -> " + message);
    return;
  }
  Check(dn->LeafValue() == value, "escaped value does not round-trip", text);
  Check(dn->rdns().size() == 1 && dn->rdns()[0].avas.size() == 1,
        "escaped value split into several RDNs or AVAs", text);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void CheckFilterEscape(std::string_view value) {
  const std::string escaped = deputy::EscapeFilterValue(value);
  std::string unescaped;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    const auto b = static_cast<unsigned char>(c);
    Check(c != '*' && c != '(' && c != ')' && b >= 0x20 && b != 0x7F,
          "active character left in a filter value", escaped);
    if (c != '\\') {
      unescaped.push_back(c);
      continue;
    }
    Check(i + 2 < escaped.size() && HexValue(escaped[i + 1]) >= 0 &&
              HexValue(escaped[i + 2]) >= 0,
          "bad escape in a filter value", escaped);
    unescaped.push_back(static_cast<char>(HexValue(escaped[i + 1]) * 16 +
                                          HexValue(escaped[i + 2])));
    i += 2;
  }
  Check(unescaped == value, "filter escape does not round-trip", escaped);
}

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// The textbook dynamic programme: match[i][j] when the first i pattern
// bytes match the first j text bytes.
bool ReferenceGlob(std::string_view p, std::string_view t, bool fold) {
  std::vector<std::vector<bool>> match(p.size() + 1,
                                       std::vector<bool>(t.size() + 1));
  match[0][0] = true;
  for (std::size_t i = 1; i <= p.size(); ++i) {
    for (std::size_t j = 0; j <= t.size(); ++j) {
      if (p[i - 1] == '*') {
        match[i][j] = match[i - 1][j] || (j > 0 && match[i][j - 1]);
      } else if (j > 0) {
        const char a = p[i - 1];
        const char b = t[j - 1];
        const bool one = a == '?' || a == b || (fold && Lower(a) == Lower(b));
        match[i][j] = one && match[i - 1][j - 1];
      }
    }
  }
  return match[p.size()][t.size()];
}

void CheckGlob(std::string_view pattern, std::string_view text) {
  const bool exact = deputy::GlobMatch(pattern, text, false);
  const bool folded = deputy::GlobMatch(pattern, text, true);
  if (exact) Check(folded, "case folding lost a match");
  if (pattern.size() <= 64 && text.size() <= 64) {
    Check(exact == ReferenceGlob(pattern, text, false),
          "glob disagrees with reference",
          std::string(pattern) + " | " + std::string(text));
    Check(folded == ReferenceGlob(pattern, text, true),
          "folded glob disagrees with reference",
          std::string(pattern) + " | " + std::string(text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckDn(input);
  const std::size_t bar = input.find('|');
  if (bar != std::string_view::npos) {
    CheckPair(input.substr(0, bar), input.substr(bar + 1));
  }
  CheckDnEscape(input);
  CheckFilterEscape(input);
  CheckGlob(input.substr(0, size / 2), input.substr(size / 2));
  return 0;
}
