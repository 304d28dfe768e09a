// Times as LDAP and deputy write them: GeneralizedTime (RFC 4517 3.3.13,
// e.g. pwdChangedTime "20261204070214Z") and RFC 3339 (params.not_before,
// e.g. "2026-12-04T07:02:14Z"), both to Unix seconds (UTC, fractions
// dropped). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace deputy::ldap {

// YYYYMMDDHHMMSS[.fraction]Z. Only the UTC form: a server writes
// operational times that way, and a local time has no one meaning.
Result<std::int64_t> ParseGeneralizedTime(std::string_view text);
// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); 't' and 'z' allowed.
Result<std::int64_t> ParseRfc3339(std::string_view text);
// "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatRfc3339(std::int64_t unix_seconds);

}  // namespace deputy::ldap
