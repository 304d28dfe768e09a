// A thin, owning wrapper over one libpq connection and its results, with
// the mapping from PostgreSQL's errors (SQLSTATE) to deputy's Status codes
// (and so to the protocol's typed errors through Reply::FromStatus).
//
// Every statement goes through PQexecParams (the extended protocol), which
// runs exactly one statement: a string can never smuggle a second one.
// Values from requests travel as bind parameters; identifiers are quoted
// with PQescapeIdentifier. A PgConn is used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "capabilities/postgres/options.h"
#include "capabilities/protocol/module_main.h"

namespace deputy::postgres {

// SQLSTATE -> ErrorCode:
//   42501 insufficient_privilege, class 28 (authorization) -> PermissionDenied
//   class 08 (connection), 57P01-57P05 (shutdown, cannot connect now),
//   class 40 (serialization, deadlock), class 53 (resources), 55P03
//   (lock_not_available), 57014 (query_canceled: a timeout), class 58
//                                                           -> Unavailable
//   42704 undefined_object                                  -> NotFound
//   2BP01 dependent_objects_still_exist, 42710 duplicate_object, 0LP01
//   invalid_grant_operation, 55006 object_in_use, class 23  ->
//   FailedPrecondition class 22 (data exception), 42601, 42602, 42622 (syntax,
//   name)
//                                                           -> InvalidArgument
//   anything else                                           ->
//   FailedPrecondition
ErrorCode CodeForSqlState(std::string_view sqlstate);

// Classifies a failed connection from libpq's message (libpq gives no
// SQLSTATE for it). `used_password`: the server asked for the password
// and got it. Refusals (authentication, pg_hba, NOLOGIN, TLS certificate)
// are PermissionDenied; a missing database is InvalidArgument; a server
// that is starting, stopping, full or unreachable is Unavailable.
Status ClassifyConnectFailure(std::string_view message, bool used_password);

// True when a failed login attempt was refused by the server itself
// (rather than never reaching it): the check behind login_fails.
bool ServerRefusedLogin(std::string_view message, bool used_password);

// One query result. Move-only.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&&) = delete;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult() {
    if (r_ != nullptr) PQclear(r_);
  }

  int rows() const { return PQntuples(r_); }
  bool IsNull(int row, int col) const { return PQgetisnull(r_, row, col); }
  std::string Text(int row, int col) const;
  bool Bool(int row, int col) const;  // 't' is true.
  std::int64_t Int(int row, int col) const;

 private:
  PGresult* r_;
};

class PgConn {
 public:
  static Result<PgConn> Connect(const ConnParams& params);

  PgConn(PgConn&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  PgConn& operator=(PgConn&&) = delete;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  ~PgConn() {
    if (c_ != nullptr) PQfinish(c_);
  }

  // Runs one statement with text bind parameters ($1, $2...). `what`
  // names it in errors ("look up role"); messages carry the server's
  // primary message and SQLSTATE, never the statement text.
  Result<PgResult> Query(std::string_view what, const std::string& sql,
                         const std::vector<std::string>& params = {});
  // A statement whose rows do not matter (DDL, SET, BEGIN...).
  Status Exec(std::string_view what, const std::string& sql);

  // "name" with embedded quotes doubled, by PQescapeIdentifier.
  Result<std::string> Ident(std::string_view name);
  // 'text' by PQescapeLiteral.
  Result<std::string> Literal(std::string_view text);
  // The SCRAM-SHA-256 verifier of `password` for `role`, computed here
  // (PQencryptPasswordConn), so the cleartext never reaches the server.
  Result<protocol::WipedString> ScramVerifier(std::string_view password,
                                              std::string_view role);

 private:
  explicit PgConn(PGconn* c) : c_(c) {}
  Status ErrorOf(std::string_view what, const PGresult* r) const;
  PGconn* c_;
};

// Attempts a login and reports how it ended: `ok` when a session opened
// (and was closed again at once); otherwise the server's refusal or the
// network failure, with `refused` telling which.
struct LoginAttempt {
  bool ok = false;
  bool refused = false;  // The server answered and said no.
  std::string detail;    // libpq's message, trimmed; never a password.
};
LoginAttempt TryLogin(const ConnParams& params);

}  // namespace deputy::postgres
