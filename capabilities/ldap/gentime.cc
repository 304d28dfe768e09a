#include "capabilities/ldap/gentime.h"

#include <cstdio>

#include "base/civil_time.h"

namespace deputy::ldap {
namespace {

// Reads `n` decimal digits at `pos`; false if any is not a digit.
bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

Result<std::int64_t> ToUnix(int y, int mo, int d, int h, int mi, int s,
                            std::string_view what) {
  if (mo < 1 || mo > 12 || d < 1 ||
      d > static_cast<int>(DaysInMonth(y, static_cast<unsigned>(mo))) ||
      h > 23 || mi > 59 || s > 60) {
    return Status::Invalid(std::string(what) + ": not a valid date and time");
  }
  if (s == 60) s = 59;  // A leap second: the same second for comparisons.
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) *
             86400 +
         h * 3600 + mi * 60 + s;
}

// Skips ".digits" at `pos`; false when a '.' is followed by no digit.
bool SkipFraction(std::string_view s, std::size_t& pos) {
  if (pos >= s.size() || (s[pos] != '.' && s[pos] != ',')) return true;
  std::size_t start = ++pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  return pos > start;
}

}  // namespace

Result<std::int64_t> ParseGeneralizedTime(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (!Digits(t, 0, 4, y) || !Digits(t, 4, 2, mo) || !Digits(t, 6, 2, d) ||
      !Digits(t, 8, 2, h) || !Digits(t, 10, 2, mi) || !Digits(t, 12, 2, s)) {
    return Status::Invalid("not a GeneralizedTime YYYYMMDDHHMMSSZ");
  }
  std::size_t pos = 14;
  if (!SkipFraction(t, pos) || pos + 1 != t.size() || t[pos] != 'Z') {
    return Status::Invalid("not a UTC GeneralizedTime (…Z)");
  }
  return ToUnix(y, mo, d, h, mi, s, "GeneralizedTime");
}

Result<std::int64_t> ParseRfc3339(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (t.size() < 20 || !Digits(t, 0, 4, y) || t[4] != '-' ||
      !Digits(t, 5, 2, mo) || t[7] != '-' || !Digits(t, 8, 2, d) ||
      (t[10] != 'T' && t[10] != 't') || !Digits(t, 11, 2, h) || t[13] != ':' ||
      !Digits(t, 14, 2, mi) || t[16] != ':' || !Digits(t, 17, 2, s)) {
    return Status::Invalid("not an RFC 3339 time YYYY-MM-DDTHH:MM:SSZ");
  }
  std::size_t pos = 19;
  if (!SkipFraction(t, pos) || pos >= t.size()) {
    return Status::Invalid("RFC 3339 time: bad fraction or no offset");
  }
  std::int64_t offset = 0;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    if (pos + 1 != t.size()) return Status::Invalid("RFC 3339: trailing text");
  } else if (t[pos] == '+' || t[pos] == '-') {
    int oh, om;
    if (pos + 6 != t.size() || !Digits(t, pos + 1, 2, oh) ||
        t[pos + 3] != ':' || !Digits(t, pos + 4, 2, om) || oh > 23 || om > 59) {
      return Status::Invalid("RFC 3339: bad offset");
    }
    offset = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
  } else {
    return Status::Invalid("RFC 3339: no offset (Z or +HH:MM)");
  }
  ASSIGN_OR_RETURN(std::int64_t local, ToUnix(y, mo, d, h, mi, s, "RFC 3339"));
  return local - offset;
}

std::string FormatRfc3339(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / 86400;
  std::int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  CivilDate c = CivilFromDays(days);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                static_cast<long long>(c.year), c.month, c.day,
                static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60));
  return buf;
}

}  // namespace deputy::ldap
