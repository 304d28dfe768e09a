#include "capabilities/protocol/module_main.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <exception>
#include <utility>

#include "base/files.h"
#include "base/strict_json.h"

namespace deputy::protocol {
namespace {

using nlohmann::json;
namespace sj = deputy::json;

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("write response", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// Streams records to a descriptor, counting them for the final response.
class FdRecordWriter : public RecordWriter {
 public:
  explicit FdRecordWriter(int fd, std::string* buffer)
      : fd_(fd), buffer_(buffer) {}
  Status Write(const Record& record) override {
    std::string line = record.Encode();
    if (line.size() > kMaxRecordBytes) {
      return Status::ResourceExhausted(
          "record for " + record.account + " is over " +
          std::to_string(kMaxRecordBytes) + " bytes");
    }
    ++count_;
    if (buffer_ != nullptr) {
      buffer_->append(line);
      return Status::Ok();
    }
    return WriteAll(fd_, line);
  }
  std::int64_t count() const { return count_; }

 private:
  int fd_;
  std::string* buffer_;  // In-memory (tests) when not null.
  std::int64_t count_ = 0;
};

std::string IdOf(std::string_view bytes) {
  // Best effort, so that even a malformed request's error names it.
  auto j = json::parse(bytes, nullptr, false);
  if (j.is_object() && j.contains("id") && j["id"].is_string()) {
    return j["id"].get<std::string>();
  }
  return "";
}

Response ToResponse(const std::string& id, Reply reply) {
  if (reply.ok()) return Response::Ok(id, *reply.result());
  return Response::Fail(id, *reply.error());
}

// Runs one request; `records` receives list records (streamed or
// buffered). Never throws.
Response Dispatch(Module& module, std::string_view request_bytes,
                  const Credential* cred, const Status& cred_status,
                  FdRecordWriter& records) {
  auto req = Request::Decode(request_bytes);
  if (!req.ok()) {
    return Response::Fail(
        IdOf(request_bytes),
        {ErrorKind::kInvalid, "request: " + req.status().message(),
         json::array()});
  }
  try {
    if (req->op == Op::kDescribe) {
      return Response::Ok(req->id, module.Describe());
    }
    if (cred == nullptr) {
      std::string why = cred_status.ok() ? "no credential on fd " +
                                               std::to_string(kCredentialFd)
                                         : cred_status.message();
      return Response::Fail(req->id, {ErrorKind::kDenied, why, json::array()});
    }
    switch (req->op) {
      case Op::kRead:
        return ToResponse(req->id, module.Read(*req, *cred));
      case Op::kApply:
        return ToResponse(req->id, module.Apply(*req, *cred));
      case Op::kVerify:
        return ToResponse(req->id, module.Verify(*req, *cred));
      case Op::kList: {
        Reply r = module.List(*req, *cred, records);
        if (r.ok()) {
          return Response::Ok(req->id, {{"count", records.count()}});
        }
        return ToResponse(req->id, std::move(r));
      }
      case Op::kDescribe:
        break;
    }
  } catch (const std::exception& e) {
    return Response::Fail(
        req->id, {ErrorKind::kInvalid, std::string("module error: ") + e.what(),
                  json::array()});
  }
  return Response::Fail(req->id,
                        {ErrorKind::kInvalid, "unhandled op", json::array()});
}

}  // namespace

void Wipe(std::string& s) {
  if (!s.empty()) explicit_bzero(s.data(), s.size());
  s.clear();
}

WipedString& WipedString::operator=(WipedString&& o) noexcept {
  if (this != &o) {
    Wipe(s_);
    s_ = std::move(o.s_);
    Wipe(o.s_);
  }
  return *this;
}

Result<Credential> Credential::ReadFrom(int fd) {
  if (::fcntl(fd, F_GETFD) < 0) {
    return Status::PermissionDenied("no credential on fd " +
                                    std::to_string(fd));
  }
  // ReadFdBounded's buffer may reallocate while growing; reserve the
  // bound up front so the secret is never copied into freed memory.
  std::string buf;
  buf.reserve(kMaxCredentialBytes + 1);
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      explicit_bzero(chunk, sizeof chunk);
      Wipe(buf);
      return Status::Errno("read credential", err);
    }
    if (n == 0) break;
    if (buf.size() + static_cast<std::size_t>(n) > kMaxCredentialBytes) {
      explicit_bzero(chunk, sizeof chunk);
      Wipe(buf);
      return Status::ResourceExhausted("credential is over " +
                                       std::to_string(kMaxCredentialBytes) +
                                       " bytes");
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  explicit_bzero(chunk, sizeof chunk);
  return Credential(std::move(buf));
}

Credential Credential::FromBytes(std::string bytes) {
  return Credential(std::move(bytes));
}

Credential::Credential(Credential&& other) noexcept
    : bytes_(std::move(other.bytes_)) {
  Wipe(other.bytes_);
}

Credential& Credential::operator=(Credential&& other) noexcept {
  if (this != &other) {
    Wipe(bytes_);
    bytes_ = std::move(other.bytes_);
    Wipe(other.bytes_);
  }
  return *this;
}

Credential::~Credential() { Wipe(bytes_); }

Result<std::string> Credential::Field(std::string_view name) const {
  sj::ParseOptions options;
  options.max_bytes = kMaxCredentialBytes;
  options.max_depth = 2;
  auto parsed = sj::ParseStrict(bytes_, options);
  if (!parsed.ok()) {
    // The parser's message may quote input; never repeat it.
    return Status::Invalid("credential: not a JSON object of strings");
  }
  json doc = std::move(parsed).value();
  Result<std::string> out = Status::Invalid("credential: no string field \"" +
                                            std::string(name) + "\"");
  if (doc.is_object()) {
    auto it = doc.find(name);
    if (it != doc.end() && it->is_string()) {
      out = it->get<std::string>();
    }
    // Wipe every string value before the document is freed.
    for (auto& [key, value] : doc.items()) {
      if (value.is_string()) Wipe(value.get_ref<std::string&>());
    }
  }
  return out;
}

Reply Reply::Fail(ErrorKind kind, std::string message) {
  return Reply(Error{kind, std::move(message), json::array()});
}

Reply Reply::Partial(std::string message, nlohmann::json remaining) {
  if (!remaining.is_array()) remaining = json::array({remaining});
  return Reply(
      Error{ErrorKind::kPartial, std::move(message), std::move(remaining)});
}

Reply Reply::FromStatus(const Status& status) {
  ErrorKind kind = ErrorKind::kInvalid;
  switch (status.code()) {
    case ErrorCode::kNotFound:
      kind = ErrorKind::kNotFound;
      break;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      kind = ErrorKind::kConflict;
      break;
    case ErrorCode::kPermissionDenied:
    case ErrorCode::kUnauthenticated:
      kind = ErrorKind::kDenied;
      break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kIo:
      kind = ErrorKind::kTransient;
      break;
    default:
      kind = ErrorKind::kInvalid;
  }
  return Fail(kind, status.message());
}

std::string HandleRequest(Module& module, std::string_view request_bytes,
                          const Credential* cred) {
  std::string out;
  FdRecordWriter records(-1, &out);
  Response resp = Dispatch(module, request_bytes, cred, Status::Ok(), records);
  out += resp.Encode();
  return out;
}

int ServeModule(Module& module, int in_fd, int out_fd, int cred_fd) {
  // A reader that goes away must not kill us before we log; writes then
  // fail with EPIPE and we exit 1.
  ::signal(SIGPIPE, SIG_IGN);
  std::string request;
  auto read = ReadFdBounded(in_fd, kMaxMessageBytes, "request");
  std::optional<Credential> cred;
  auto c = Credential::ReadFrom(cred_fd);
  if (c.ok()) cred.emplace(std::move(c).value());
  if (cred_fd >= 0) ::close(cred_fd);
  FdRecordWriter records(out_fd, nullptr);
  Response resp;
  if (!read.ok()) {
    resp = Response::Fail(
        "", {ErrorKind::kInvalid, "request: " + read.status().message(),
             json::array()});
  } else {
    resp =
        Dispatch(module, *read, cred ? &*cred : nullptr, c.status(), records);
  }
  return WriteAll(out_fd, resp.Encode()).ok() ? 0 : 1;
}

}  // namespace deputy::protocol
