// Status and Result<T>: errors as values, for every fallible call in deputy.
//
// A Status is either OK or carries a code and a human-readable message that
// keeps the detail a reader needs (byte offset, field path, file name).
// Both types are small value types; they are not thread-safe to mutate from
// several threads, like any other value.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace deputy {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // Malformed input: bad JSON, bad base64, bad field.
  kNotFound,            // A file, key or record that is not there.
  kAlreadyExists,       // Refusing to overwrite something.
  kPermissionDenied,    // A signature, a policy or a mode bit says no.
  kUnauthenticated,     // Wrong passphrase, signature that does not verify.
  kFailedPrecondition,  // State is wrong for the request (expired, frozen).
  kResourceExhausted,   // Size or rate limit exceeded.
  kDataLoss,            // Corruption or tampering detected.
  kIo,                  // Operating-system I/O failure.
  kUnavailable,         // Transient; a retry may succeed.
  kInternal,            // A bug or an unexpected library failure.
};

std::string_view ErrorCodeName(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) {
    return {ErrorCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) {
    return {ErrorCode::kNotFound, std::move(m)};
  }
  static Status AlreadyExists(std::string m) {
    return {ErrorCode::kAlreadyExists, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {ErrorCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {ErrorCode::kUnauthenticated, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {ErrorCode::kFailedPrecondition, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {ErrorCode::kResourceExhausted, std::move(m)};
  }
  static Status DataLoss(std::string m) {
    return {ErrorCode::kDataLoss, std::move(m)};
  }
  static Status Io(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
  static Status Unavailable(std::string m) {
    return {ErrorCode::kUnavailable, std::move(m)};
  }
  static Status Internal(std::string m) {
    return {ErrorCode::kInternal, std::move(m)};
  }
  // An I/O failure described by errno, e.g. Errno("write log.seg", errno).
  static Status Errno(std::string_view what, int err);

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with where the error happened, keeping the code:
  // Status::Invalid("bad base64").Within("key file a.pub") reads
  // "key file a.pub: bad base64".
  Status Within(std::string_view where) const&;
  Status Within(std::string_view where) &&;

  // "invalid_argument: message"; "ok" when OK.
  std::string ToString() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// Holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design.
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status");
    if (std::get<Status>(v_).ok()) {
      v_ = Status::Internal("Result constructed from an OK status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const& { return ok() ? Status::Ok() : std::get<Status>(v_); }
  Status status() && {
    return ok() ? Status::Ok() : std::move(std::get<Status>(v_));
  }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace deputy

#define DEPUTY_CONCAT_INNER(a, b) a##b
#define DEPUTY_CONCAT(a, b) DEPUTY_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::deputy::Status deputy_status_ = (expr);        \
    if (!deputy_status_.ok()) return deputy_status_; \
  } while (false)

// Evaluates `rexpr` (a Result<T>); on error returns its Status, otherwise
// moves the value into `lhs`, which may be a declaration.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL(DEPUTY_CONCAT(deputy_result_, __LINE__), lhs, rexpr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr)   \
  auto tmp = (rexpr);                            \
  if (!tmp.ok()) return std::move(tmp).status(); \
  lhs = std::move(tmp).value()
