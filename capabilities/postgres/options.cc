#include "capabilities/postgres/options.h"

#include <stdlib.h>
#include <unistd.h>

#include "base/strict_json.h"
#include "capabilities/postgres/action.h"
#include "capabilities/protocol/module_main.h"

extern char** environ;

namespace deputy::postgres {
namespace {

namespace sj = deputy::json;

constexpr std::size_t kMaxDatabaseName = 63;
constexpr std::size_t kMaxHost = 253;
constexpr int kMaxConnectTimeout = 300;
// The most values any connection takes; reserved up front so that the
// vectors never reallocate and leave a copy of the password behind.
constexpr std::size_t kMaxParams = 32;

// Session settings sent in the startup packet: bounded waits, so a lock
// held elsewhere ends as a transient error instead of a hung module.
constexpr const char* kSessionOptions =
    "-c lock_timeout=10000 -c statement_timeout=60000 "
    "-c idle_in_transaction_session_timeout=60000";

Status CheckDatabaseName(std::string_view name, std::string_view field) {
  if (name.empty() || name.size() > kMaxDatabaseName) {
    return Status::Invalid(std::string(field) +
                           ": a database name is 1 to 63 bytes");
  }
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Status::Invalid(std::string(field) + ": database name \"" +
                             Printable(name) +
                             "\" contains a control character");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PgOptions> PgOptions::Parse(const nlohmann::json& options) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(options, "target.options"));
  PgOptions o;
  ASSIGN_OR_RETURN(auto database, r.OptionalString("database"));
  if (database) {
    RETURN_IF_ERROR(CheckDatabaseName(*database, "target.options.database"));
    o.database = *database;
  }
  ASSIGN_OR_RETURN(std::string sslmode, r.String("sslmode"));
  if (sslmode == "disable") {
    o.sslmode = SslMode::kDisable;
  } else if (sslmode == "require") {
    o.sslmode = SslMode::kRequire;
  } else if (sslmode == "verify-full") {
    o.sslmode = SslMode::kVerifyFull;
  } else {
    return Status::Invalid("target.options.sslmode: \"" + Printable(sslmode) +
                           "\" is not one of disable, require, verify-full");
  }
  ASSIGN_OR_RETURN(auto ca_file, r.OptionalString("ca_file"));
  if (o.sslmode == SslMode::kVerifyFull) {
    if (!ca_file) {
      return Status::Invalid(
          "target.options.ca_file: required with sslmode verify-full");
    }
    if (ca_file->empty() || (*ca_file)[0] != '/' ||
        ca_file->find('\0') != std::string::npos) {
      return Status::Invalid(
          "target.options.ca_file: must be an absolute path");
    }
    o.ca_file = *ca_file;
  } else if (ca_file) {
    return Status::Invalid(
        "target.options.ca_file: only meaningful with sslmode verify-full");
  }
  ASSIGN_OR_RETURN(auto timeout, r.OptionalInt("connect_timeout_s"));
  if (timeout) {
    if (*timeout < 1 || *timeout > kMaxConnectTimeout) {
      return Status::Invalid(
          "target.options.connect_timeout_s: must be 1 to 300 seconds");
    }
    o.connect_timeout_s = static_cast<int>(*timeout);
  }
  RETURN_IF_ERROR(r.Finish());
  return o;
}

Status CheckTcpHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHost) {
    return Status::Invalid("target.host: must be 1 to 253 characters");
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':';
    if (!ok) {
      return Status::Invalid("target.host: \"" + Printable(host) +
                             "\" is not a host name or an IP address (the "
                             "module connects over TCP only)");
    }
  }
  return Status::Ok();
}

Result<ConnParams> ConnParams::Build(const protocol::Target& target,
                                     const PgOptions& options,
                                     std::string_view user,
                                     std::string_view password,
                                     std::string_view dbname) {
  RETURN_IF_ERROR(CheckTcpHost(target.host));
  if (target.port < 1 || target.port > 65535) {
    return Status::Invalid("target.port: not a TCP port");
  }
  if (user.empty() || user.find('\0') != std::string_view::npos) {
    return Status::Invalid("credential: user must be a non-empty string");
  }
  // An empty password would make libpq look for one elsewhere.
  if (password.empty() || password.find('\0') != std::string_view::npos) {
    return Status::Invalid("credential: password must be a non-empty string");
  }
  RETURN_IF_ERROR(CheckDatabaseName(dbname, "database"));
  ConnParams p;
  p.keys_.reserve(kMaxParams);
  p.values_.reserve(kMaxParams);
  p.Add("host", target.host);
  p.Add("port", std::to_string(target.port));
  p.Add("dbname", std::string(dbname));
  p.Add("user", std::string(user));
  p.Add("password", std::string(password));
  p.Add("passfile", kNoFile);
  p.Add("connect_timeout", std::to_string(options.connect_timeout_s));
  p.Add("client_encoding", "UTF8");
  p.Add("options", kSessionOptions);
  p.Add("application_name", "deputy-postgres");
  p.Add("gssencmode", "disable");
  p.Add("target_session_attrs", "read-write");
  switch (options.sslmode) {
    case SslMode::kDisable:
      p.Add("sslmode", "disable");
      p.Add("channel_binding", "disable");
      p.Add("sslrootcert", kNoFile);
      break;
    case SslMode::kRequire:
      // Encrypted but the server is not authenticated by certificate:
      // insist on SCRAM with channel binding, so a password never goes to
      // a man in the middle in a form it can replay.
      p.Add("sslmode", "require");
      p.Add("channel_binding", "require");
      p.Add("sslrootcert", kNoFile);
      break;
    case SslMode::kVerifyFull:
      p.Add("sslmode", "verify-full");
      p.Add("channel_binding", "prefer");
      p.Add("sslrootcert", options.ca_file);
      break;
  }
  p.Add("sslcert", kNoFile);
  p.Add("sslkey", kNoFile);
  p.Add("sslcrl", kNoFile);
  p.Add("sslsni", "1");
  p.Add("ssl_min_protocol_version", "TLSv1.2");
  return p;
}

Result<ConnParams> ConnParams::With(std::string_view user,
                                    std::string_view password,
                                    std::string_view dbname) const {
  if (user.empty() || user.find('\0') != std::string_view::npos ||
      password.empty() || password.find('\0') != std::string_view::npos) {
    return Status::Invalid("login: user and password must be non-empty");
  }
  RETURN_IF_ERROR(CheckDatabaseName(dbname, "database"));
  ConnParams p;
  p.keys_.reserve(kMaxParams);
  p.values_.reserve(kMaxParams);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    const std::string& k = keys_[i];
    if (k == "user") {
      p.Add(k, std::string(user));
    } else if (k == "password") {
      p.Add(k, std::string(password));
    } else if (k == "dbname") {
      p.Add(k, std::string(dbname));
    } else {
      p.Add(k, values_[i]);
    }
  }
  return p;
}

Result<ConnParams> ConnParams::ForDatabase(std::string_view dbname) const {
  RETURN_IF_ERROR(CheckDatabaseName(dbname, "database"));
  ConnParams p;
  p.keys_.reserve(kMaxParams);
  p.values_.reserve(kMaxParams);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    p.Add(keys_[i], keys_[i] == "dbname" ? std::string(dbname) : values_[i]);
  }
  return p;
}

ConnParams::~ConnParams() {
  for (auto& v : values_) protocol::Wipe(v);
}

void ConnParams::Add(std::string key, std::string value) {
  keys_.push_back(std::move(key));
  values_.push_back(std::move(value));
}

ConnParams::Arrays ConnParams::ToArrays() const {
  Arrays a;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    a.keywords.push_back(keys_[i].c_str());
    a.values.push_back(values_[i].c_str());
  }
  a.keywords.push_back(nullptr);
  a.values.push_back(nullptr);
  return a;
}

std::optional<std::string> ConnParams::Get(std::string_view keyword) const {
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == keyword) return values_[i];
  }
  return std::nullopt;
}

void ScrubLibpqEnvironment() {
  // Collect first: unsetenv changes environ under the loop.
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 2) != "PG") continue;
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  for (const auto& n : names) ::unsetenv(n.c_str());
}

}  // namespace deputy::postgres
