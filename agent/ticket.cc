#include "agent/ticket.h"

#include "base/encoding.h"
#include "base/strict_json.h"
#include "keys/sha256.h"

namespace deputy::agent {
namespace {

constexpr TicketType kTypes[] = {TicketType::kJoiner, TicketType::kMover,
                                 TicketType::kLeaver, TicketType::kGrant,
                                 TicketType::kRevoke, TicketType::kRotate};

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Free text fields (names, justification): printable, bounded.
Status CheckText(std::string_view value, std::string_view path,
                 std::size_t max) {
  if (value.size() > max) {
    return Status::Invalid(std::string(path) + ": longer than " +
                           std::to_string(max) + " bytes");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Invalid(std::string(path) +
                             ": control characters are not allowed");
    }
  }
  return Status::Ok();
}

Result<Subject> ParseSubject(const nlohmann::json& j, const std::string& path) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(j, path));
  Subject s;
  ASSIGN_OR_RETURN(s.uid, r.String("uid"));
  RETURN_IF_ERROR(ValidateUid(s.uid).Within(path + ".uid"));
  ASSIGN_OR_RETURN(auto given, r.OptionalString("given_name"));
  ASSIGN_OR_RETURN(auto surname, r.OptionalString("surname"));
  ASSIGN_OR_RETURN(auto dept, r.OptionalString("department"));
  ASSIGN_OR_RETURN(auto mail, r.OptionalString("mail"));
  RETURN_IF_ERROR(r.Finish());
  s.given_name = given.value_or("");
  s.surname = surname.value_or("");
  s.department = dept.value_or("");
  s.mail = mail.value_or("");
  RETURN_IF_ERROR(CheckText(s.given_name, path + ".given_name", 128));
  RETURN_IF_ERROR(CheckText(s.surname, path + ".surname", 128));
  if (!s.department.empty()) {
    for (char c : s.department) {
      if (!IsLower(c) && !IsDigit(c) && c != '_' && c != '-') {
        return Status::Invalid(path +
                               ".department: only [a-z0-9_-] is allowed");
      }
    }
    if (s.department.size() > 64) {
      return Status::Invalid(path + ".department: longer than 64 bytes");
    }
  }
  RETURN_IF_ERROR(CheckText(s.mail, path + ".mail", 254));
  return s;
}

}  // namespace

std::string_view TicketTypeName(TicketType type) {
  switch (type) {
    case TicketType::kJoiner:
      return "joiner";
    case TicketType::kMover:
      return "mover";
    case TicketType::kLeaver:
      return "leaver";
    case TicketType::kGrant:
      return "grant";
    case TicketType::kRevoke:
      return "revoke";
    case TicketType::kRotate:
      return "rotate";
  }
  return "unknown";
}

Result<TicketType> ParseTicketType(std::string_view name) {
  for (TicketType t : kTypes) {
    if (TicketTypeName(t) == name) return t;
  }
  return Status::Invalid("unknown ticket type \"" + std::string(name) +
                         "\" (joiner, mover, leaver, grant, revoke, rotate)");
}

Status ValidateTicketId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return Status::Invalid("a ticket id is 1-64 characters");
  }
  for (char c : id) {
    bool ok = IsLower(c) || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '.' ||
              c == '_' || c == '-';
    if (!ok) {
      return Status::Invalid("a ticket id may only hold [A-Za-z0-9._-]");
    }
  }
  if (id[0] == '.' || id[0] == '-') {
    return Status::Invalid("a ticket id starts with a letter, digit or _");
  }
  return Status::Ok();
}

Status ValidateUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64) {
    return Status::Invalid("a uid is 1-64 characters");
  }
  if (!IsLower(uid[0])) return Status::Invalid("a uid starts with a-z");
  for (char c : uid) {
    if (!IsLower(c) && !IsDigit(c) && c != '.' && c != '_' && c != '-') {
      return Status::Invalid("a uid may only hold [a-z0-9._-], not '" +
                             std::string(1, c) + "'");
    }
  }
  return Status::Ok();
}

Result<Ticket> Ticket::Parse(std::string_view bytes) {
  if (bytes.size() > kMaxTicketBytes) {
    return Status::ResourceExhausted(
        "a ticket is at most " + std::to_string(kMaxTicketBytes) +
        " bytes; this one is " + std::to_string(bytes.size()));
  }
  json::ParseOptions options;
  options.max_bytes = kMaxTicketBytes;
  options.max_depth = 8;
  ASSIGN_OR_RETURN(auto doc, json::ParseStrict(bytes, options));
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(doc, "$"));
  Ticket t;
  ASSIGN_OR_RETURN(t.id, r.String("id"));
  RETURN_IF_ERROR(ValidateTicketId(t.id).Within("$.id"));
  ASSIGN_OR_RETURN(t.revision, r.Int("revision"));
  if (t.revision < 1) return Status::Invalid("$.revision: must be >= 1");
  ASSIGN_OR_RETURN(std::string type, r.String("type"));
  ASSIGN_OR_RETURN(t.type, ParseTicketType(type));
  ASSIGN_OR_RETURN(t.requester, r.String("requester"));
  if (t.requester.empty()) return Status::Invalid("$.requester: empty");
  RETURN_IF_ERROR(CheckText(t.requester, "$.requester", 128));
  ASSIGN_OR_RETURN(const nlohmann::json* subject, r.Object("subject"));
  ASSIGN_OR_RETURN(t.subject, ParseSubject(*subject, "$.subject"));
  ASSIGN_OR_RETURN(const nlohmann::json* ents, r.OptionalArray("entitlements"));
  ASSIGN_OR_RETURN(auto justification, r.OptionalString("justification"));
  ASSIGN_OR_RETURN(auto recipient, r.OptionalString("recipient"));
  RETURN_IF_ERROR(r.Finish());
  t.justification = justification.value_or("");
  RETURN_IF_ERROR(CheckText(t.justification, "$.justification", 1024));
  if (ents != nullptr) {
    if (ents->size() > 64) {
      return Status::Invalid("$.entitlements: at most 64 entries");
    }
    for (std::size_t i = 0; i < ents->size(); ++i) {
      std::string path = json::IndexPath("$.entitlements", i);
      ASSIGN_OR_RETURN(auto er, json::ObjectReader::Create((*ents)[i], path));
      Entitlement e;
      ASSIGN_OR_RETURN(e.target, er.String("target"));
      ASSIGN_OR_RETURN(auto group, er.OptionalString("group"));
      ASSIGN_OR_RETURN(auto role, er.OptionalString("role"));
      RETURN_IF_ERROR(er.Finish());
      if (group.has_value() == role.has_value()) {
        return Status::Invalid(path + ": exactly one of \"group\" or \"role\"");
      }
      e.kind = group ? "group" : "role";
      e.name = group ? *group : *role;
      if (e.name.empty()) return Status::Invalid(path + ": empty name");
      RETURN_IF_ERROR(CheckText(e.name, path + "." + e.kind, 512));
      RETURN_IF_ERROR(CheckText(e.target, path + ".target", 64));
      t.entitlements.push_back(std::move(e));
    }
  }
  if (recipient) {
    auto key = Base64Decode(*recipient);
    if (!key.ok() || key->size() != 32) {
      return Status::Invalid(
          "$.recipient: must be the base64 of a 32-byte X25519 public key");
    }
    t.recipient = *recipient;
  }
  // What each type needs.
  const Subject& s = t.subject;
  switch (t.type) {
    case TicketType::kJoiner:
      if (s.given_name.empty() || s.surname.empty() || s.department.empty()) {
        return Status::Invalid(
            "$.subject: a joiner needs given_name, surname and department");
      }
      break;
    case TicketType::kMover:
      if (s.department.empty()) {
        return Status::Invalid(
            "$.subject.department: a mover needs the new department");
      }
      break;
    case TicketType::kGrant:
    case TicketType::kRevoke:
      if (t.entitlements.empty()) {
        return Status::Invalid("$.entitlements: a " + type +
                               " names at least one entitlement");
      }
      break;
    case TicketType::kRotate:
      if (t.recipient.empty()) {
        return Status::Invalid(
            "$.recipient: a rotate needs the recipient's public key (the "
            "new secret is sealed to it)");
      }
      break;
    case TicketType::kLeaver:
      break;
  }
  t.sha256 = keys::Sha256Hex(AsBytes(bytes));
  return t;
}

nlohmann::json Ticket::ToJson() const {
  nlohmann::json sj = {{"uid", subject.uid}};
  if (!subject.given_name.empty()) sj["given_name"] = subject.given_name;
  if (!subject.surname.empty()) sj["surname"] = subject.surname;
  if (!subject.department.empty()) sj["department"] = subject.department;
  if (!subject.mail.empty()) sj["mail"] = subject.mail;
  nlohmann::json ents = nlohmann::json::array();
  for (const auto& e : entitlements) {
    ents.push_back({{"target", e.target}, {e.kind, e.name}});
  }
  nlohmann::json j = {{"id", id},
                      {"revision", revision},
                      {"type", std::string(TicketTypeName(type))},
                      {"requester", requester},
                      {"subject", sj},
                      {"entitlements", ents}};
  if (!justification.empty()) j["justification"] = justification;
  if (!recipient.empty()) j["recipient"] = recipient;
  return j;
}

}  // namespace deputy::agent
