// The capability module protocol: the messages the agent and a module
// exchange (docs/module-protocol.md).
//
// A module is an executable. The agent writes one Request (JSON) to its
// stdin and closes it; the module writes one Response (JSON) to stdout, or
// for `list` a stream of record lines ended by a Response line. The
// credential for the one target arrives on fd 3, never in the request.
// This header holds the pure encoders and strict decoders both sides use;
// module_main.h holds the module's side of the I/O. Everything here is a
// value type; functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace deputy::protocol {

inline constexpr int kVersion = 1;
// Bounds on what either side reads, so a hostile peer cannot exhaust
// memory: one request or response, one list record line, one credential.
inline constexpr std::size_t kMaxMessageBytes = 1 << 20;
inline constexpr std::size_t kMaxRecordBytes = 64 << 10;
inline constexpr std::size_t kMaxCredentialBytes = 64 << 10;
// The descriptor on which a module receives its credential.
inline constexpr int kCredentialFd = 3;

enum class Op { kDescribe, kRead, kApply, kVerify, kList };
std::string_view OpName(Op op);
Result<Op> ParseOp(std::string_view name);

// The typed errors of the protocol.
//   invalid    the request cannot be carried out as written (bad name,
//              unknown operation, malformed parameter); retrying is futile.
//   not_found  the resource (or the subject) does not exist.
//   conflict   the target's state contradicts the request (an ambiguous
//              search, an account that exists with other attributes).
//   denied     the target refused the module's credential or the change.
//   transient  a network failure or a busy target; a retry may succeed.
//   partial    part of the change landed; `remaining` lists what did not.
enum class ErrorKind {
  kInvalid,
  kNotFound,
  kConflict,
  kDenied,
  kTransient,
  kPartial
};
std::string_view ErrorKindName(ErrorKind kind);
Result<ErrorKind> ParseErrorKind(std::string_view name);

// Where the module connects. Inside the sandbox `host` resolves (through
// the sandbox's /etc/hosts) to the supervisor's forwarder.
struct Target {
  std::string name;  // The config's target name, e.g. "ldap".
  std::string host;  // A host name or a literal address.
  int port = 0;
  // Module-specific settings (base DN, database, TLS mode), validated by
  // the module against its own schema.
  nlohmann::json options = nlohmann::json::object();
};

// The one change (or read) a request is about. Mirrors the gate's action:
// the module is told exactly what was decided, nothing more.
struct Action {
  std::string operation;  // "remove_member", "disable", ...
  std::string resource;   // A DN or a name.
  std::string subject;    // The identity whose access changes; may be "".
  nlohmann::json params = nlohmann::json::object();
};

struct Request {
  Op op = Op::kDescribe;
  std::string id;  // Correlates the response; echoed by the module.
  Target target;
  std::optional<Action> action;  // Required for read, apply and verify.

  // The exact bytes the agent writes to the module's stdin.
  std::string Encode() const;
  static Result<Request> Decode(std::string_view bytes);
};

struct Error {
  ErrorKind kind = ErrorKind::kInvalid;
  std::string message;
  // For partial: what remains to be done, one item per element.
  nlohmann::json remaining = nlohmann::json::array();
};

// A response is either a result (its shape depends on the operation and
// is checked by Decode) or an error.
struct Response {
  std::string id;
  std::optional<nlohmann::json> result;
  std::optional<Error> error;

  bool ok() const { return result.has_value(); }
  static Response Ok(std::string id, nlohmann::json result);
  static Response Fail(std::string id, Error error);

  // One line of JSON, ending in '\n'.
  std::string Encode() const;
  // Strict: one object, known fields only, the right id, and a result of
  // the shape `op` promises (see docs/module-protocol.md).
  static Result<Response> Decode(std::string_view bytes, Op op,
                                 std::string_view expected_id);
};

// Result shapes, for the operations whose result the agent interprets.
struct ReadResult {
  bool exists = false;     // Whether the resource exists at all.
  bool satisfied = false;  // Whether the action's end state already holds.
  nlohmann::json state =
      nlohmann::json::object();  // What the module observed (free-form object).
  static Result<ReadResult> FromJson(const nlohmann::json& result);
  nlohmann::json ToJson() const;
};

struct ApplyResult {
  bool changed = false;  // False when the end state already held.
  nlohmann::json state =
      nlohmann::json::object();  // What the module saw after the change.
  static Result<ApplyResult> FromJson(const nlohmann::json& result);
  nlohmann::json ToJson() const;
};

// One read-back check, e.g. {"check": "bind_fails", "ok": true}.
struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

struct VerifyResult {
  // True only when every check holds: the target shows the intended end
  // state. False is an observation, not an error.
  bool satisfied = false;
  std::vector<Check> checks;
  nlohmann::json observed =
      nlohmann::json::object();  // The end state as read back.
  static Result<VerifyResult> FromJson(const nlohmann::json& result);
  nlohmann::json ToJson() const;
};

// One line of a `list` stream: an account or an entitlement.
struct Record {
  enum class Type { kAccount, kEntitlement };
  Type type = Type::kAccount;
  std::string account;      // The account's DN or name.
  std::string entitlement;  // For kEntitlement: the group or role.
  nlohmann::json attributes = nlohmann::json::object();

  std::string Encode() const;  // {"record": {...}}\n
  static Result<Record> FromJson(const nlohmann::json& json,
                                 std::string_view path);
};

// Decodes a `list` stream: every record line is passed to `sink` in order
// (a non-OK status from the sink stops the stream and is returned); the
// last line must be the Response, whose result is {"count": N} with N the
// number of records. Lines are bounded by kMaxRecordBytes.
Result<Response> DecodeListStream(
    std::string_view bytes, std::string_view expected_id,
    const std::function<Status(const Record&)>& sink);

}  // namespace deputy::protocol
