// The PostgreSQL module's target options and the libpq connection
// parameters built from them (docs/module-postgres.md, "Options").
//
// The module runs in a sandbox with an empty environment, but it never
// relies on that: every connection is built from explicit keyword/value
// arrays (PQconnectdbParams, with expand_dbname off) that name the TCP
// host and port, the TLS files and the password file, so libpq reads no
// ~/.pgpass, no ~/.postgresql/ certificate, no service file and (after
// ScrubLibpqEnvironment) no PG* variable. Pure except for the scrub.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::postgres {

enum class SslMode { kDisable, kRequire, kVerifyFull };

// target.options: {"database", "sslmode", "ca_file", "connect_timeout_s"}.
struct PgOptions {
  std::string database = "postgres";  // Where catalog work runs.
  SslMode sslmode = SslMode::kDisable;
  std::string ca_file;  // verify-full only: the CA bundle (absolute path).
  int connect_timeout_s = 10;

  // Strict: sslmode is required, unknown fields and wrong types are
  // Invalid, naming the field.
  static Result<PgOptions> Parse(const nlohmann::json& options);
};

// target.host must be a DNS name or a literal IPv4/IPv6 address: never a
// Unix socket directory (a leading '/' or '@') or a libpq host list (a
// comma), which would let a request steer the module off TCP.
Status CheckTcpHost(std::string_view host);

// What libpq needs for one connection, as parallel keyword/value arrays.
// The values include the password, so they are wiped on destruction.
// Move-only.
class ConnParams {
 public:
  // `user`/`password` are the login; `dbname` the database to open.
  static Result<ConnParams> Build(const protocol::Target& target,
                                  const PgOptions& options,
                                  std::string_view user,
                                  std::string_view password,
                                  std::string_view dbname);

  ConnParams(ConnParams&&) noexcept = default;
  ConnParams& operator=(ConnParams&&) = delete;
  ConnParams(const ConnParams&) = delete;
  ConnParams& operator=(const ConnParams&) = delete;
  ~ConnParams();

  // NULL-terminated arrays for PQconnectdbParams, valid while this lives.
  struct Arrays {
    std::vector<const char*> keywords;
    std::vector<const char*> values;
  };
  Arrays ToArrays() const;

  // The value given for `keyword`, if any (tests).
  std::optional<std::string> Get(std::string_view keyword) const;
  std::vector<std::string> Keywords() const { return keys_; }

  // The same parameters, logging in as someone else to another database
  // (the login proofs and the per-database work of drop_role).
  Result<ConnParams> With(std::string_view user, std::string_view password,
                          std::string_view dbname) const;
  // The same login to another database.
  Result<ConnParams> ForDatabase(std::string_view dbname) const;

 private:
  ConnParams() = default;
  void Add(std::string key, std::string value);
  std::vector<std::string> keys_;
  std::vector<std::string> values_;
};

// A path that does not exist, given to libpq for every file it would
// otherwise look for in the home directory (password file, client
// certificate and key, CRL file, root certificate outside verify-full).
// (sslcrldir has no default in the home directory and is left unset.)
inline constexpr const char* kNoFile = "/nonexistent/deputy-postgres";

// Removes every PG* variable from this process's environment, so that no
// libpq default can come from there (PGSERVICE, PGOPTIONS, PGSSLMODE...).
// The module runs one request per process; call it before connecting.
void ScrubLibpqEnvironment();

}  // namespace deputy::postgres
