#include "agent/evidence/clock.h"

#include <cstdio>

#include "base/civil_time.h"

namespace deputy::evidence {
namespace {

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
  const CivilDate date = CivilFromDays(days);
  const std::int64_t secs = rem / 1000000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
                static_cast<int>(date.year), date.month, date.day,
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
  if (static_cast<unsigned>(d) > DaysInMonth(y, static_cast<unsigned>(mo))) {
    return bad();
  }
  std::int64_t days =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * kMicrosPerDay +
         (static_cast<std::int64_t>(h) * 3600 + mi * 60 + se) * 1000000 + us;
}

}  // namespace deputy::evidence
