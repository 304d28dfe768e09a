// LDAP distinguished names (RFC 4514) and name globs, for the policy gate
// and the LDAP capability: parsing, normalisation, comparison and subtree
// tests that do not depend on letter case or spacing, and escaping for
// building DNs and search filters (RFC 4515) from untrusted names.
//
// Two DNs are equal when the directory server would take them for the same
// entry under caseIgnoreMatch (RFC 4518), the matching rule of the naming
// attributes deputy manages (uid, cn, ou, dc, o, c, l, st, ...): attribute
// types are compared in lower case with the long names and OIDs of the
// standard naming attributes mapped to their short names ("userid" and
// "0.9.2342.19200300.100.1.1" are "uid"); values are compared after ASCII
// lower-casing, dropping leading and trailing spaces (escaped or not) and
// folding inner runs of spaces to one. Non-ASCII letters are compared
// byte for byte, while a server also folds Unicode case and compatibility
// forms; IsPlainAscii() tells when that difference cannot matter. Pure
// functions over values; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace deputy {

struct Rdn {
  // Type (lower case, aliases mapped) and value (unescaped, case and inner
  // spaces as written; a '#' hex string is kept as "#" plus lower-case
  // hex). Multi-valued RDNs (a+b=...) are sorted by type, then by value as
  // compared, so that their order does not matter.
  std::vector<std::pair<std::string, std::string>> avas;

  // This RDN's canonical text, exactly as Dn::Canonical() writes it; use
  // it rather than re-deriving the rules (e.g. for ancestor keys).
  std::string Canonical() const;
};

class Dn {
 public:
  // Parses an RFC 4514 string. Errors name the 0-based byte offset. The
  // empty string is the root DN; a string of only spaces is an error.
  // Spaces around '=', ',' and '+' are dropped, as are unescaped leading
  // and trailing spaces of a value. Rejected: empty RDNs, a missing '=',
  // bad types and escapes, the RFC 2253 forms (';' as a separator, quoted
  // values), unescaped '"', ';', '<', '>', a value that is not UTF-8
  // after unescaping or that holds NUL, another control character, or an
  // invisible or non-ASCII space character (LDAP string preparation maps
  // those to nothing or to a space, so they would let two spellings name
  // one entry), the same AVA twice in one RDN, more than 64 RDNs and more
  // than 4096 bytes.
  static Result<Dn> Parse(std::string_view text);

  const std::vector<Rdn>& rdns() const { return rdns_; }  // Leaf first.
  bool empty() const { return rdns_.empty(); }
  // The canonical form, the key for comparing DNs: values normalised as
  // described at the top of this file, escaped as EscapeDnValue does,
  // joined with ',' and '+' without spaces. A '#' hex string is written
  // as is; it equals a string value of the same text (only values that
  // begin with '#' can tell). Equal DNs have equal canonical forms, and
  // Parse(Canonical()) gives the same DN.
  std::string Canonical() const;
  // The same, also giving where each RDN starts in it: the canonical form
  // of the i-th ancestor is the tail from (*rdn_starts)[i], since
  // canonical forms join their RDNs with ','.
  std::string Canonical(std::vector<std::size_t>* rdn_starts) const;
  // True when this DN equals `base` or lies below it, RDN by RDN (never a
  // string suffix). Everything lies within the root DN.
  bool IsWithin(const Dn& base) const;
  // True when every value is ASCII and none is (or reads as) a '#' hex
  // string. For such DNs, equality and IsWithin agree with the server. A
  // server may also take a non-ASCII spelling (fullwidth letters, the
  // Kelvin sign) or a BER hex string for an ASCII name, so a gate must not
  // let a forbid be evaded through a DN where this is false.
  bool IsPlainAscii() const;
  // The value of the leaf RDN's first attribute ("bob" in uid=bob,...),
  // exactly as parsed (unescaped, case kept); for a multi-valued RDN, the
  // first in sorted order, so check rdns() when the type matters. Empty
  // for the root DN.
  std::string LeafValue() const;
  // The DN of the parent entry (the root DN's parent is itself).
  Dn Parent() const;
  // Same as a.Canonical() == b.Canonical(), without building strings.
  friend bool operator==(const Dn& a, const Dn& b);

 private:
  std::vector<Rdn> rdns_;
};

// Escapes a string for use as an RDN attribute value (RFC 4514 2.4):
// " + , ; < > \ and '=' as \c, NUL as \00, a leading space or '#' and a
// trailing space as "\ " and "\#"; every other byte as is. For every
// UTF-8 string `v` that Parse accepts as a value, "uid=" +
// EscapeDnValue(v) parses to a DN whose LeafValue() is exactly `v`.
std::string EscapeDnValue(std::string_view value);
// Escapes a string for use as an assertion value in a search filter
// (RFC 4515 3): * ( ) \ and NUL as \2a \28 \29 \5c \00, and the other
// control bytes (below 0x20, and 0x7f) as \XX so that a filter is safe to
// log. Other bytes, including UTF-8, pass as is.
std::string EscapeFilterValue(std::string_view value);

// Glob match with '*' (any run, possibly empty) and '?' (one byte);
// everything else literal, no escapes; case-sensitive unless `fold_case`
// (ASCII only). Iterative, no recursion: O(|pattern| * |text|) time at
// worst, constant space.
bool GlobMatch(std::string_view pattern, std::string_view text,
               bool fold_case = false);

}  // namespace deputy
