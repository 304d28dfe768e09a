// The module's side of the protocol: read the request from stdin and the
// credential from fd 3, dispatch to a Module, write the response to stdout.
//
// A module's main() is one line: `return ServeModule(my_module);`. The
// handlers return a Reply (a result object or a typed error); ServeModule
// turns anything else (a malformed request, a missing credential, an
// exception) into an error response, so the agent always gets one answer.
// Single-threaded, like the process it runs in.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::protocol {

// The credential bytes from fd 3, wiped from memory when destroyed.
// Move-only. Secrets parsed out of it should live in WipedString.
class Credential {
 public:
  // Reads fd until EOF, at most kMaxCredentialBytes. EBADF (nothing on
  // fd 3) is PermissionDenied: the agent did not hand one over.
  static Result<Credential> ReadFrom(int fd);
  static Credential FromBytes(std::string bytes);  // Tests.

  Credential(Credential&& other) noexcept;
  Credential& operator=(Credential&& other) noexcept;
  Credential(const Credential&) = delete;
  Credential& operator=(const Credential&) = delete;
  ~Credential();

  std::string_view bytes() const { return bytes_; }
  // The credential as a JSON object of strings, e.g.
  // {"bind_dn": "...", "password": "..."}: returns field `name`, or
  // Invalid naming the field (never its value).
  Result<std::string> Field(std::string_view name) const;

 private:
  explicit Credential(std::string bytes) : bytes_(std::move(bytes)) {}
  std::string bytes_;
};

// Overwrites a string's bytes before it is freed.
void Wipe(std::string& s);

// A std::string that is wiped when it dies. For passwords taken out of a
// Credential.
class WipedString {
 public:
  WipedString() = default;
  explicit WipedString(std::string s) : s_(std::move(s)) {}
  WipedString(WipedString&& o) noexcept : s_(std::move(o.s_)) { Wipe(o.s_); }
  WipedString& operator=(WipedString&& o) noexcept;
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { Wipe(s_); }
  const std::string& str() const { return s_; }
  const char* c_str() const { return s_.c_str(); }

 private:
  std::string s_;
};

// What a handler returns: a result object or a typed error.
class Reply {
 public:
  static Reply Ok(nlohmann::json result) { return Reply(std::move(result)); }
  static Reply Fail(ErrorKind kind, std::string message);
  static Reply Partial(std::string message, nlohmann::json remaining);
  // Maps a Status: invalid_argument -> invalid, not_found -> not_found,
  // already_exists/failed_precondition -> conflict, permission_denied/
  // unauthenticated -> denied, unavailable/io -> transient, else invalid.
  static Reply FromStatus(const Status& status);

  bool ok() const { return result_.has_value(); }
  const std::optional<nlohmann::json>& result() const { return result_; }
  const std::optional<Error>& error() const { return error_; }

 private:
  explicit Reply(nlohmann::json result) : result_(std::move(result)) {}
  explicit Reply(Error error) : error_(std::move(error)) {}
  std::optional<nlohmann::json> result_;
  std::optional<Error> error_;
};

// Receives `list` records and streams each one to stdout at once.
class RecordWriter {
 public:
  virtual ~RecordWriter() = default;
  virtual Status Write(const Record& record) = 0;
};

class Module {
 public:
  virtual ~Module() = default;
  // {"kind", "operations": [...], "resources": {...}, "credential": {...}}.
  virtual nlohmann::json Describe() const = 0;
  virtual Reply Read(const Request& request, const Credential& cred) = 0;
  virtual Reply Apply(const Request& request, const Credential& cred) = 0;
  virtual Reply Verify(const Request& request, const Credential& cred) = 0;
  // Streams every record through `out`; returns the error, if any (the
  // count is kept by ServeModule).
  virtual Reply List(const Request& request, const Credential& cred,
                     RecordWriter& out) = 0;
};

// Handles one request read from `in_fd`, with the credential from
// `cred_fd`, writing to `out_fd`. Returns the process exit code: 0 when a
// response was written (even an error response), 1 when none could be.
int ServeModule(Module& module, int in_fd = 0, int out_fd = 1,
                int cred_fd = kCredentialFd);

// Handles one decoded request in memory (for tests): the response bytes.
std::string HandleRequest(Module& module, std::string_view request_bytes,
                          const Credential* cred);

}  // namespace deputy::protocol
