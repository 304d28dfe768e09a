#include "capabilities/protocol/protocol.h"

#include <array>
#include <utility>

#include "base/strict_json.h"

namespace deputy::protocol {
namespace {

using nlohmann::json;
namespace sj = deputy::json;

constexpr std::array<std::pair<Op, std::string_view>, 5> kOps{{
    {Op::kDescribe, "describe"},
    {Op::kRead, "read"},
    {Op::kApply, "apply"},
    {Op::kVerify, "verify"},
    {Op::kList, "list"},
}};

constexpr std::array<std::pair<ErrorKind, std::string_view>, 6> kKinds{{
    {ErrorKind::kInvalid, "invalid"},
    {ErrorKind::kNotFound, "not_found"},
    {ErrorKind::kConflict, "conflict"},
    {ErrorKind::kDenied, "denied"},
    {ErrorKind::kTransient, "transient"},
    {ErrorKind::kPartial, "partial"},
}};

bool NeedsAction(Op op) {
  return op == Op::kRead || op == Op::kApply || op == Op::kVerify;
}

Status CheckVersion(sj::ObjectReader& r) {
  ASSIGN_OR_RETURN(std::int64_t version, r.Int("protocol"));
  if (version != kVersion) {
    return Status::Invalid(r.path() + ".protocol: version " +
                           std::to_string(version) + " is not supported (" +
                           std::to_string(kVersion) + " is)");
  }
  return Status::Ok();
}

Result<json> ObjectCopy(sj::ObjectReader& r, std::string_view key,
                        bool required) {
  const json* value = nullptr;
  if (required) {
    ASSIGN_OR_RETURN(value, r.Object(key));
  } else {
    ASSIGN_OR_RETURN(value, r.OptionalObject(key));
  }
  return value == nullptr ? json::object() : *value;
}

Result<Target> TargetFromJson(const json& j, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(j, path));
  Target t;
  ASSIGN_OR_RETURN(t.name, r.String("name"));
  ASSIGN_OR_RETURN(t.host, r.String("host"));
  ASSIGN_OR_RETURN(std::int64_t port, r.Int("port"));
  if (port < 1 || port > 65535) {
    return Status::Invalid(path + ".port: " + std::to_string(port) +
                           " is not a TCP port");
  }
  t.port = static_cast<int>(port);
  ASSIGN_OR_RETURN(t.options, ObjectCopy(r, "options", false));
  RETURN_IF_ERROR(r.Finish());
  if (t.name.empty() || t.host.empty()) {
    return Status::Invalid(path + ": name and host must not be empty");
  }
  return t;
}

Result<Action> ActionFromJson(const json& j, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(j, path));
  Action a;
  ASSIGN_OR_RETURN(a.operation, r.String("operation"));
  ASSIGN_OR_RETURN(a.resource, r.String("resource"));
  ASSIGN_OR_RETURN(auto subject, r.OptionalString("subject"));
  a.subject = subject.value_or("");
  ASSIGN_OR_RETURN(a.params, ObjectCopy(r, "params", false));
  RETURN_IF_ERROR(r.Finish());
  if (a.operation.empty() || a.resource.empty()) {
    return Status::Invalid(path + ": operation and resource must not be empty");
  }
  return a;
}

Result<json> ParseMessage(std::string_view bytes, std::size_t limit) {
  sj::ParseOptions options;
  options.max_bytes = limit;
  options.max_depth = 32;
  return sj::ParseStrict(bytes, options);
}

// The result must be an object; each operation adds its own shape check.
Status CheckResultShape(Op op, const json& result) {
  switch (op) {
    case Op::kDescribe: {
      ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(result, "$.result"));
      ASSIGN_OR_RETURN(std::string kind, r.String("kind"));
      ASSIGN_OR_RETURN(const json* ops, r.Array("operations"));
      for (std::size_t i = 0; i < ops->size(); ++i) {
        std::string p = sj::IndexPath("$.result.operations", i);
        ASSIGN_OR_RETURN(auto o, sj::ObjectReader::Create((*ops)[i], p));
        ASSIGN_OR_RETURN(std::string name, o.String("name"));
        (void)name;
        // The rest of an operation's description is free-form.
      }
      ASSIGN_OR_RETURN(const json* rest, r.OptionalObject("resources"));
      (void)rest;
      ASSIGN_OR_RETURN(const json* cred, r.OptionalObject("credential"));
      (void)cred;
      // The module's target.options, documented (free-form).
      ASSIGN_OR_RETURN(const json* options, r.OptionalObject("options"));
      (void)options;
      return r.Finish();
    }
    case Op::kRead:
      return ReadResult::FromJson(result).status();
    case Op::kApply:
      return ApplyResult::FromJson(result).status();
    case Op::kVerify:
      return VerifyResult::FromJson(result).status();
    case Op::kList: {
      ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(result, "$.result"));
      ASSIGN_OR_RETURN(std::int64_t count, r.Int("count"));
      if (count < 0) return Status::Invalid("$.result.count: negative");
      return r.Finish();
    }
  }
  return Status::Internal("unknown op");
}

}  // namespace

std::string_view OpName(Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "unknown";
}

Result<Op> ParseOp(std::string_view name) {
  for (const auto& [o, n] : kOps) {
    if (n == name) return o;
  }
  return Status::Invalid("unknown operation \"" + std::string(name) +
                         "\" (describe, read, apply, verify, list)");
}

std::string_view ErrorKindName(ErrorKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "unknown";
}

Result<ErrorKind> ParseErrorKind(std::string_view name) {
  for (const auto& [k, n] : kKinds) {
    if (n == name) return k;
  }
  return Status::Invalid("unknown error kind \"" + std::string(name) + "\"");
}

std::string Request::Encode() const {
  json j = {{"protocol", kVersion},
            {"op", OpName(op)},
            {"id", id},
            {"target",
             {{"name", target.name},
              {"host", target.host},
              {"port", target.port},
              {"options", target.options}}}};
  if (action) {
    j["action"] = {{"operation", action->operation},
                   {"resource", action->resource},
                   {"subject", action->subject},
                   {"params", action->params}};
  }
  return j.dump() + "\n";
}

Result<Request> Request::Decode(std::string_view bytes) {
  ASSIGN_OR_RETURN(json j, ParseMessage(bytes, kMaxMessageBytes));
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(j, "$"));
  RETURN_IF_ERROR(CheckVersion(r));
  Request req;
  ASSIGN_OR_RETURN(std::string op, r.String("op"));
  ASSIGN_OR_RETURN(req.op, ParseOp(op));
  ASSIGN_OR_RETURN(req.id, r.String("id"));
  ASSIGN_OR_RETURN(const json* target, r.Object("target"));
  ASSIGN_OR_RETURN(req.target, TargetFromJson(*target, "$.target"));
  ASSIGN_OR_RETURN(const json* action, r.OptionalObject("action"));
  if (action != nullptr) {
    ASSIGN_OR_RETURN(Action a, ActionFromJson(*action, "$.action"));
    req.action = std::move(a);
  }
  RETURN_IF_ERROR(r.Finish());
  if (NeedsAction(req.op) && !req.action) {
    return Status::Invalid("$.action: required for " +
                           std::string(OpName(req.op)));
  }
  if (!NeedsAction(req.op) && req.action) {
    return Status::Invalid("$.action: not allowed for " +
                           std::string(OpName(req.op)));
  }
  return req;
}

Response Response::Ok(std::string id, nlohmann::json result) {
  Response r;
  r.id = std::move(id);
  r.result = std::move(result);
  return r;
}

Response Response::Fail(std::string id, Error error) {
  Response r;
  r.id = std::move(id);
  r.error = std::move(error);
  return r;
}

std::string Response::Encode() const {
  json j = {{"protocol", kVersion}, {"id", id}, {"ok", ok()}};
  if (result) {
    j["result"] = *result;
  } else if (error) {
    json e = {{"kind", ErrorKindName(error->kind)},
              {"message", error->message}};
    if (error->kind == ErrorKind::kPartial) e["remaining"] = error->remaining;
    j["error"] = std::move(e);
  }
  // A module's messages may carry bytes from the target that are not
  // UTF-8; replace rather than throw, the agent's strict reader would
  // refuse them anyway.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Response> Response::Decode(std::string_view bytes, Op op,
                                  std::string_view expected_id) {
  ASSIGN_OR_RETURN(json j, ParseMessage(bytes, kMaxMessageBytes));
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(j, "$"));
  RETURN_IF_ERROR(CheckVersion(r));
  Response resp;
  ASSIGN_OR_RETURN(resp.id, r.String("id"));
  if (resp.id != expected_id) {
    return Status::Invalid("$.id: \"" + resp.id +
                           "\" answers another request (\"" +
                           std::string(expected_id) + "\" expected)");
  }
  ASSIGN_OR_RETURN(bool ok, r.Bool("ok"));
  if (ok) {
    ASSIGN_OR_RETURN(const json* result, r.Object("result"));
    RETURN_IF_ERROR(CheckResultShape(op, *result));
    resp.result = *result;
  } else {
    ASSIGN_OR_RETURN(const json* error, r.Object("error"));
    ASSIGN_OR_RETURN(auto e, sj::ObjectReader::Create(*error, "$.error"));
    Error err;
    ASSIGN_OR_RETURN(std::string kind, e.String("kind"));
    ASSIGN_OR_RETURN(err.kind, ParseErrorKind(kind));
    ASSIGN_OR_RETURN(err.message, e.String("message"));
    ASSIGN_OR_RETURN(const json* remaining, e.OptionalArray("remaining"));
    if (remaining != nullptr) {
      if (err.kind != ErrorKind::kPartial) {
        return Status::Invalid(
            "$.error.remaining: only a partial error has it");
      }
      err.remaining = *remaining;
    } else if (err.kind == ErrorKind::kPartial) {
      return Status::Invalid("$.error.remaining: a partial error must list it");
    }
    RETURN_IF_ERROR(e.Finish());
    resp.error = std::move(err);
  }
  RETURN_IF_ERROR(r.Finish());
  return resp;
}

Result<ReadResult> ReadResult::FromJson(const json& result) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(result, "$.result"));
  ReadResult out;
  ASSIGN_OR_RETURN(out.exists, r.Bool("exists"));
  ASSIGN_OR_RETURN(out.satisfied, r.Bool("satisfied"));
  ASSIGN_OR_RETURN(out.state, ObjectCopy(r, "state", true));
  RETURN_IF_ERROR(r.Finish());
  return out;
}

json ReadResult::ToJson() const {
  return {{"exists", exists}, {"satisfied", satisfied}, {"state", state}};
}

Result<ApplyResult> ApplyResult::FromJson(const json& result) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(result, "$.result"));
  ApplyResult out;
  ASSIGN_OR_RETURN(out.changed, r.Bool("changed"));
  ASSIGN_OR_RETURN(out.state, ObjectCopy(r, "state", true));
  RETURN_IF_ERROR(r.Finish());
  return out;
}

json ApplyResult::ToJson() const {
  return {{"changed", changed}, {"state", state}};
}

Result<VerifyResult> VerifyResult::FromJson(const json& result) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(result, "$.result"));
  VerifyResult out;
  ASSIGN_OR_RETURN(out.satisfied, r.Bool("satisfied"));
  ASSIGN_OR_RETURN(const json* checks, r.Array("checks"));
  bool all_ok = true;
  for (std::size_t i = 0; i < checks->size(); ++i) {
    std::string p = sj::IndexPath("$.result.checks", i);
    ASSIGN_OR_RETURN(auto c, sj::ObjectReader::Create((*checks)[i], p));
    Check check;
    ASSIGN_OR_RETURN(check.name, c.String("check"));
    ASSIGN_OR_RETURN(check.ok, c.Bool("ok"));
    ASSIGN_OR_RETURN(auto detail, c.OptionalString("detail"));
    check.detail = detail.value_or("");
    RETURN_IF_ERROR(c.Finish());
    all_ok = all_ok && check.ok;
    out.checks.push_back(std::move(check));
  }
  ASSIGN_OR_RETURN(out.observed, ObjectCopy(r, "observed", true));
  RETURN_IF_ERROR(r.Finish());
  // A module cannot claim the end state holds while one of its own
  // read-back checks failed, nor without a single check.
  if (out.satisfied && (!all_ok || out.checks.empty())) {
    return Status::Invalid("$.result.satisfied: true, but " +
                           std::string(out.checks.empty() ? "no check was made"
                                                          : "a check failed"));
  }
  return out;
}

json VerifyResult::ToJson() const {
  json cs = json::array();
  for (const Check& c : checks) {
    json one = {{"check", c.name}, {"ok", c.ok}};
    if (!c.detail.empty()) one["detail"] = c.detail;
    cs.push_back(std::move(one));
  }
  return {{"satisfied", satisfied}, {"checks", cs}, {"observed", observed}};
}

std::string Record::Encode() const {
  json r = {{"type", type == Type::kAccount ? "account" : "entitlement"},
            {"account", account}};
  if (type == Type::kEntitlement) r["entitlement"] = entitlement;
  r["attributes"] = attributes;
  return json({{"record", r}})
             .dump(-1, ' ', false, json::error_handler_t::replace) +
         "\n";
}

Result<Record> Record::FromJson(const json& j, std::string_view path) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(j, std::string(path)));
  Record rec;
  ASSIGN_OR_RETURN(std::string type, r.String("type"));
  if (type == "account") {
    rec.type = Type::kAccount;
  } else if (type == "entitlement") {
    rec.type = Type::kEntitlement;
    ASSIGN_OR_RETURN(rec.entitlement, r.String("entitlement"));
  } else {
    return Status::Invalid(std::string(path) + ".type: \"" + type +
                           "\" (account or entitlement expected)");
  }
  ASSIGN_OR_RETURN(rec.account, r.String("account"));
  ASSIGN_OR_RETURN(rec.attributes, ObjectCopy(r, "attributes", false));
  RETURN_IF_ERROR(r.Finish());
  return rec;
}

Result<Response> DecodeListStream(
    std::string_view bytes, std::string_view expected_id,
    const std::function<Status(const Record&)>& sink) {
  std::size_t pos = 0;
  std::int64_t count = 0;
  std::size_t line_no = 0;
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) {
      return Status::Invalid("list stream: line " +
                             std::to_string(line_no + 1) +
                             " has no final newline (the stream was cut)");
    }
    std::string_view line = bytes.substr(pos, end - pos);
    bool last = end + 1 == bytes.size();
    std::string where = "list stream line " + std::to_string(line_no + 1);
    if (last) {
      ASSIGN_OR_RETURN(Response resp,
                       Response::Decode(line, Op::kList, expected_id));
      if (resp.ok() && resp.result->at("count").get<std::int64_t>() != count) {
        return Status::Invalid(where + ": count " +
                               resp.result->at("count").dump() + " but " +
                               std::to_string(count) + " records were sent");
      }
      return resp;
    }
    if (line.size() > kMaxRecordBytes) {
      return Status::ResourceExhausted(where + ": longer than " +
                                       std::to_string(kMaxRecordBytes) +
                                       " bytes");
    }
    auto parsed = ParseMessage(line, kMaxRecordBytes);
    if (!parsed.ok()) return parsed.status().Within(where);
    ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(*parsed, "$"));
    ASSIGN_OR_RETURN(const json* rec_json, r.Object("record"));
    auto fin = r.Finish();
    if (!fin.ok()) return fin.Within(where);
    auto rec = Record::FromJson(*rec_json, "$.record");
    if (!rec.ok()) return rec.status().Within(where);
    RETURN_IF_ERROR(sink(*rec));
    ++count;
    pos = end + 1;
    ++line_no;
  }
  return Status::Invalid("list stream: empty or cut before its final response");
}

}  // namespace deputy::protocol
