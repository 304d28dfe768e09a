#include "capabilities/postgres/action.h"

#include <array>
#include <cstdio>
#include <utility>

#include "base/strict_json.h"

namespace deputy::postgres {
namespace {

using nlohmann::json;
namespace sj = deputy::json;

constexpr std::size_t kMaxRoleName = 63;
constexpr std::size_t kRecipientKeyBytes = 32;

constexpr std::array<std::pair<PgOperation, std::string_view>, 6> kOps = {{
    {PgOperation::kCreateRole, "create_role"},
    {PgOperation::kGrantRole, "grant_role"},
    {PgOperation::kRevokeRole, "revoke_role"},
    {PgOperation::kDisable, "disable"},
    {PgOperation::kRotatePassword, "rotate_password"},
    {PgOperation::kDropRole, "drop_role"},
}};

Result<PgOperation> ParseOperation(std::string_view name) {
  for (const auto& [op, n] : kOps) {
    if (n == name) return op;
  }
  return Status::Invalid(
      "action.operation: unknown operation \"" + Printable(name) +
      "\" (create_role, grant_role, revoke_role, disable, rotate_password, "
      "drop_role)");
}

// A name that passes the rule and is not reserved.
Status CheckUsableName(std::string_view name, std::string_view field) {
  RETURN_IF_ERROR(CheckRoleName(name, field));
  if (IsReservedRoleName(name)) {
    return Status::PermissionDenied(std::string(field) + ": \"" +
                                    std::string(name) +
                                    "\" is a built-in role (pg_*); the module "
                                    "never acts on those");
  }
  return Status::Ok();
}

Status ParseParams(const json& params, PgAction& a) {
  ASSIGN_OR_RETURN(auto r, sj::ObjectReader::Create(params, "params"));
  switch (a.op) {
    case PgOperation::kCreateRole: {
      ASSIGN_OR_RETURN(auto login, r.OptionalBool("login"));
      a.login = login.value_or(true);
      break;
    }
    case PgOperation::kRotatePassword: {
      ASSIGN_OR_RETURN(std::string recipient, r.String("recipient"));
      auto key = Base64Decode(recipient);
      if (!key.ok() || key->size() != kRecipientKeyBytes) {
        return Status::Invalid(
            "params.recipient: must be the base64 of a 32-byte X25519 public "
            "key");
      }
      a.recipient = std::move(key).value();
      break;
    }
    case PgOperation::kDropRole: {
      ASSIGN_OR_RETURN(a.successor, r.String("successor"));
      RETURN_IF_ERROR(CheckUsableName(a.successor, "params.successor"));
      if (a.successor == a.role) {
        return Status::Invalid(
            "params.successor: a role cannot succeed itself");
      }
      break;
    }
    case PgOperation::kGrantRole:
    case PgOperation::kRevokeRole:
    case PgOperation::kDisable:
      break;
  }
  return r.Finish();
}

}  // namespace

Status CheckRoleName(std::string_view name, std::string_view field) {
  const std::string where(field);
  if (name.empty()) return Status::Invalid(where + ": empty role name");
  if (name.size() > kMaxRoleName) {
    return Status::Invalid(where + ": role name is " +
                           std::to_string(name.size()) +
                           " bytes, over the limit of 63");
  }
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  bool ok = lower(name[0]) || name[0] == '_';
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    ok = lower(name[i]) || digit(name[i]) || name[i] == '_';
  }
  if (!ok) {
    return Status::Invalid(where + ": role name \"" + Printable(name) +
                           "\" breaks the rule ^[a-z_][a-z0-9_]{0,62}$");
  }
  return Status::Ok();
}

bool IsReservedRoleName(std::string_view name) {
  return name.substr(0, 3) == "pg_";
}

std::string Printable(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (text.size() > kMax) out += "...";
  return out;
}

std::string_view PgOperationName(PgOperation op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "unknown";
}

std::vector<std::string> PgAction::Names() const {
  std::vector<std::string> names = {role};
  if (!member.empty()) names.push_back(member);
  if (!successor.empty()) names.push_back(successor);
  return names;
}

Result<PgAction> ParseAction(const protocol::Action& action) {
  PgAction a;
  ASSIGN_OR_RETURN(a.op, ParseOperation(action.operation));
  a.role = action.resource;
  RETURN_IF_ERROR(CheckUsableName(a.role, "action.resource"));
  if (a.op == PgOperation::kGrantRole || a.op == PgOperation::kRevokeRole) {
    if (action.subject.empty()) {
      return Status::Invalid(
          "action.subject: " + std::string(PgOperationName(a.op)) +
          " needs the member role as its subject");
    }
    a.member = action.subject;
    RETURN_IF_ERROR(CheckUsableName(a.member, "action.subject"));
    if (a.member == a.role) {
      return Status::Invalid(
          "action.subject: a role cannot be a member of "
          "itself");
    }
  } else if (!action.subject.empty() && action.subject != action.resource) {
    // The planner names the account as both resource and subject; any
    // other subject means the request is not what this operation does.
    return Status::Invalid(
        "action.subject: " + std::string(PgOperationName(a.op)) +
        " acts on the resource alone; the subject must be "
        "empty or the resource");
  }
  if (!action.params.is_object()) {
    return Status::Invalid("action.params: not an object");
  }
  RETURN_IF_ERROR(ParseParams(action.params, a));
  return a;
}

}  // namespace deputy::postgres
