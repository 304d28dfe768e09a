#include "agent/evidence/clock.h"

#include <cstdio>

namespace deputy::evidence {
namespace {

// Days since 1970-01-01 to a civil date, and back (Howard Hinnant's
// public-domain algorithms): exact for the proleptic Gregorian calendar,
// no time zone or locale involved.
void CivilFromDays(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

std::int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000LL;

}  // namespace

std::string FormatTimestamp(std::int64_t micros) {
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t rem = micros % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  int y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  const std::int64_t secs = rem / 1000000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60), static_cast<int>(rem % 1000000));
  return buf;
}

Result<std::int64_t> ParseTimestamp(std::string_view s) {
  // 0123456789012345678901234567
  // 2026-12-03T18:00:00.123456Z
  auto bad = [&] {
    return Status::Invalid("timestamp is not YYYY-MM-DDTHH:MM:SS.ffffffZ");
  };
  if (s.size() != 27 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
      s[13] != ':' || s[16] != ':' || s[19] != '.' || s[26] != 'Z') {
    return bad();
  }
  int y, mo, d, h, mi, se, us;
  if (!Digits(s, 0, 4, y) || !Digits(s, 5, 2, mo) || !Digits(s, 8, 2, d) ||
      !Digits(s, 11, 2, h) || !Digits(s, 14, 2, mi) || !Digits(s, 17, 2, se) ||
      !Digits(s, 20, 6, us)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) {
    return bad();
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap)) return bad();
  std::int64_t days =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * kMicrosPerDay +
         (static_cast<std::int64_t>(h) * 3600 + mi * 60 + se) * 1000000 + us;
}

}  // namespace deputy::evidence
