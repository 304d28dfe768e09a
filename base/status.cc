#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace deputy {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kPermissionDenied:
      return "permission_denied";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kResourceExhausted:
      return "resource_exhausted";
    case ErrorCode::kDataLoss:
      return "data_loss";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::Errno(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  // Disk-full and hardware errors are I/O; a missing file is NotFound so
  // callers can tell "absent" from "broken".
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == EACCES || err == EPERM)
    return PermissionDenied(std::move(message));
  if (err == EEXIST) return AlreadyExists(std::move(message));
  return Io(std::move(message));
}

Status Status::Within(std::string_view where) const& {
  Status copy = *this;
  return std::move(copy).Within(where);
}

Status Status::Within(std::string_view where) && {
  if (ok()) return std::move(*this);
  std::string prefixed(where);
  prefixed += ": ";
  prefixed += message_;
  message_ = std::move(prefixed);
  return std::move(*this);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(ErrorCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace deputy
