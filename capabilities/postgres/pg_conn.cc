#include "capabilities/postgres/pg_conn.h"

#include <string.h>

#include <array>
#include <cstdlib>

#include "capabilities/postgres/action.h"

namespace deputy::postgres {
namespace {

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// The server or the network is busy, starting, stopping or unreachable:
// a later attempt may succeed.
bool LooksTransient(std::string_view m) {
  static constexpr std::array<std::string_view, 14> kPatterns = {
      "the database system is starting up",
      "the database system is shutting down",
      "the database system is in recovery mode",
      "not yet accepting connections",
      "too many clients",
      "remaining connection slots",
      "Connection refused",
      "timeout expired",
      "could not translate host name",
      "Connection reset",
      "No route to host",
      "Network is unreachable",
      "server closed the connection unexpectedly",
      "could not receive data from server",
  };
  for (auto p : kPatterns) {
    if (Contains(m, p)) return true;
  }
  return false;
}

bool MissingDatabase(std::string_view m) {
  return Contains(m, "database \"") && Contains(m, "\" does not exist");
}

// libpq's message without trailing newlines, bounded.
std::string Trim(std::string_view m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
    m.remove_suffix(1);
  }
  constexpr std::size_t kMax = 300;
  std::string out(m.substr(0, kMax));
  for (char& c : out) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return out;
}

}  // namespace

ErrorCode CodeForSqlState(std::string_view s) {
  if (s.size() != 5) return ErrorCode::kUnavailable;  // Client-side failure.
  std::string_view cls = s.substr(0, 2);
  if (s == "42501" || cls == "28") return ErrorCode::kPermissionDenied;
  if (cls == "08" || cls == "40" || cls == "53" || cls == "58" ||
      s == "57P01" || s == "57P02" || s == "57P03" || s == "57P04" ||
      s == "57P05" || s == "55P03" || s == "57014") {
    return ErrorCode::kUnavailable;
  }
  if (s == "42704") return ErrorCode::kNotFound;
  if (cls == "22" || s == "42601" || s == "42602" || s == "42622") {
    return ErrorCode::kInvalidArgument;
  }
  return ErrorCode::kFailedPrecondition;
}

Status ClassifyConnectFailure(std::string_view message, bool used_password) {
  std::string m = "connect: " + Trim(message);
  if (LooksTransient(message)) return Status::Unavailable(m);
  if (MissingDatabase(message)) return Status::Invalid(m);
  if (used_password || Contains(message, "FATAL") ||
      Contains(message, "certificate") || Contains(message, "SSL") ||
      Contains(message, "channel binding")) {
    return Status::PermissionDenied(m);
  }
  return Status::Unavailable(m);
}

bool ServerRefusedLogin(std::string_view message, bool used_password) {
  if (LooksTransient(message) || MissingDatabase(message)) return false;
  return used_password || Contains(message, "FATAL");
}

std::string PgResult::Text(int row, int col) const {
  const char* v = PQgetvalue(r_, row, col);
  return std::string(v, static_cast<std::size_t>(PQgetlength(r_, row, col)));
}

bool PgResult::Bool(int row, int col) const {
  return !IsNull(row, col) && PQgetvalue(r_, row, col)[0] == 't';
}

std::int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

Result<PgConn> PgConn::Connect(const ConnParams& params) {
  ScrubLibpqEnvironment();
  ConnParams::Arrays a = params.ToArrays();
  // expand_dbname = 0: the database name is a name, never a conninfo
  // string or URI that could carry other settings.
  PGconn* c = PQconnectdbParams(a.keywords.data(), a.values.data(), 0);
  if (c == nullptr) return Status::Unavailable("connect: out of memory");
  PgConn conn(c);
  if (PQstatus(c) != CONNECTION_OK) {
    return ClassifyConnectFailure(PQerrorMessage(c),
                                  PQconnectionUsedPassword(c) != 0);
  }
  // Notices (e.g. "role is already a member") are not errors; keep them
  // off stderr.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return conn;
}

Status PgConn::ErrorOf(std::string_view what, const PGresult* r) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg(what);
  if (primary != nullptr) {
    msg += ": ";
    msg += Trim(primary);
  } else {
    msg += ": ";
    msg += Trim(PQerrorMessage(c_));
  }
  if (state != nullptr) {
    msg += " (SQLSTATE ";
    msg += state;
    msg += ")";
    return Status(CodeForSqlState(state), msg);
  }
  // No SQLSTATE: libpq itself failed, usually a lost connection.
  return PQstatus(c_) == CONNECTION_BAD ? Status::Unavailable(msg)
                                        : Status::Internal(msg);
}

Result<PgResult> PgConn::Query(std::string_view what, const std::string& sql,
                               const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* raw = PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()),
                               nullptr, values.data(), nullptr, nullptr, 0);
  PgResult r(raw);  // Owns raw from here on, on every path.
  ExecStatusType st = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return ErrorOf(what, raw);
  }
  return r;
}

Status PgConn::Exec(std::string_view what, const std::string& sql) {
  ASSIGN_OR_RETURN(PgResult r, Query(what, sql));
  (void)r;
  return Status::Ok();
}

Result<std::string> PgConn::Ident(std::string_view name) {
  char* q = PQescapeIdentifier(c_, name.data(), name.size());
  if (q == nullptr) {
    return Status::Invalid("cannot quote identifier \"" + Printable(name) +
                           "\": " + Trim(PQerrorMessage(c_)));
  }
  std::string out(q);
  PQfreemem(q);
  return out;
}

Result<std::string> PgConn::Literal(std::string_view text) {
  char* q = PQescapeLiteral(c_, text.data(), text.size());
  if (q == nullptr) return Status::Invalid("cannot quote a literal");
  std::string out(q);
  explicit_bzero(q, out.size());
  PQfreemem(q);
  return out;
}

Result<protocol::WipedString> PgConn::ScramVerifier(std::string_view password,
                                                    std::string_view role) {
  std::string pw(password);
  std::string user(role);
  char* v =
      PQencryptPasswordConn(c_, pw.c_str(), user.c_str(), "scram-sha-256");
  protocol::Wipe(pw);
  if (v == nullptr) {
    return Status::Internal("cannot compute the SCRAM verifier: " +
                            Trim(PQerrorMessage(c_)));
  }
  protocol::WipedString out{std::string(v)};
  explicit_bzero(v, strlen(v));
  PQfreemem(v);
  return out;
}

LoginAttempt TryLogin(const ConnParams& params) {
  ScrubLibpqEnvironment();
  ConnParams::Arrays a = params.ToArrays();
  PGconn* c = PQconnectdbParams(a.keywords.data(), a.values.data(), 0);
  LoginAttempt out;
  if (c == nullptr) {
    out.detail = "out of memory";
    return out;
  }
  if (PQstatus(c) == CONNECTION_OK) {
    out.ok = true;
    out.detail = "a session opened";
  } else {
    std::string m = PQerrorMessage(c);
    out.refused = ServerRefusedLogin(m, PQconnectionUsedPassword(c) != 0);
    out.detail = Trim(m);
  }
  PQfinish(c);
  return out;
}

}  // namespace deputy::postgres
