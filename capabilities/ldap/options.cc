#include "capabilities/ldap/options.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <utility>

#include "base/strict_json.h"
#include "capabilities/ldap/gentime.h"

namespace deputy::ldap {
namespace {

constexpr std::size_t kMaxName = 128;  // given_name, surname, department.
constexpr std::size_t kMaxMail = 254;  // RFC 5321's path limit.
constexpr std::size_t kMaxUid = 64;
constexpr std::int64_t kMaxPosixId = 2147483647;

constexpr std::array<std::pair<Operation, std::string_view>, 6> kNames = {{
    {Operation::kCreateAccount, "create_account"},
    {Operation::kDisable, "disable"},
    {Operation::kDelete, "delete"},
    {Operation::kAddMember, "add_member"},
    {Operation::kRemoveMember, "remove_member"},
    {Operation::kResetCredential, "reset_credential"},
}};

Result<Dn> ParseDnOption(json::ObjectReader& r, std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, r.OptionalString(key));
  const std::string path = json::ChildPath(r.path(), key);
  if (!text) return Dn();
  auto dn = Dn::Parse(*text);
  if (!dn.ok()) return dn.status().Within(path);
  if (dn->empty()) return Status::Invalid(path + ": must not be the root DN");
  if (!dn->IsPlainAscii()) {
    return Status::Invalid(path + ": must be a plain ASCII DN");
  }
  return *dn;
}

// A DN from the request: valid, plain ASCII and strictly below the base.
Result<Dn> RequestDn(const Options& o, std::string_view text,
                     std::string_view field) {
  auto dn = Dn::Parse(text);
  if (!dn.ok()) return dn.status().Within(field);
  if (!dn->IsPlainAscii()) {
    return Status::Invalid(
        std::string(field) +
        ": only plain ASCII DNs are managed (a server folds other "
        "spellings, which could name another entry)");
  }
  if (!dn->IsWithin(o.base) || *dn == o.base) {
    return Status::Invalid(std::string(field) + " " + dn->Canonical() +
                           " is not an entry under " + o.base.Canonical());
  }
  return *dn;
}

bool StrictlyWithin(const Dn& dn, const Dn& container) {
  return dn.IsWithin(container) && !(dn == container);
}

// A portable POSIX user name (the uid of a posixAccount): letters, digits,
// '.', '_' and '-', not starting with '-', at most 64 bytes.
bool IsPortableUid(std::string_view uid) {
  if (uid.empty() || uid.size() > kMaxUid || uid.front() == '-') return false;
  return std::all_of(uid.begin(), uid.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// A directory string from params: 1..max bytes, not only spaces, no
// control characters (the JSON reader already guarantees UTF-8).
Result<std::string> TextParam(json::ObjectReader& r, std::string_view key,
                              bool required, std::size_t max) {
  std::optional<std::string> value;
  if (required) {
    ASSIGN_OR_RETURN(std::string v, r.String(key));
    value = std::move(v);
  } else {
    ASSIGN_OR_RETURN(value, r.OptionalString(key));
    if (!value) return std::string();
  }
  const std::string path = json::ChildPath(r.path(), key);
  if (value->empty() || value->size() > max) {
    return Status::Invalid(path + ": 1 to " + std::to_string(max) + " bytes");
  }
  for (unsigned char c : *value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Invalid(path + ": holds a control character");
    }
  }
  if (value->find_first_not_of(' ') == std::string::npos) {
    return Status::Invalid(path + ": only spaces");
  }
  return *value;
}

// mail is an IA5 string: printable ASCII, one '@', no spaces.
Status CheckMail(const std::string& mail, const std::string& path) {
  auto at = mail.find('@');
  bool ok = at != std::string::npos && at > 0 && at + 1 < mail.size() &&
            mail.find('@', at + 1) == std::string::npos;
  for (unsigned char c : mail) ok = ok && c > 0x20 && c < 0x7f;
  return ok ? Status::Ok()
            : Status::Invalid(path + ": not an ASCII address local@domain");
}

Result<std::optional<std::int64_t>> PosixIdParam(json::ObjectReader& r,
                                                 std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<std::int64_t> v, r.OptionalInt(key));
  if (v && (*v < 1 || *v > kMaxPosixId)) {
    return Status::Invalid(json::ChildPath(r.path(), key) + ": 1 to " +
                           std::to_string(kMaxPosixId));
  }
  return v;
}

Status CheckParams(Operation op, const nlohmann::json& params,
                   CheckedAction& c) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(params, "params"));
  switch (op) {
    case Operation::kCreateAccount: {
      NewAccount& n = c.new_account;
      ASSIGN_OR_RETURN(n.given_name,
                       TextParam(r, "given_name", true, kMaxName));
      ASSIGN_OR_RETURN(n.surname, TextParam(r, "surname", true, kMaxName));
      ASSIGN_OR_RETURN(n.mail, TextParam(r, "mail", false, kMaxMail));
      if (!n.mail.empty()) RETURN_IF_ERROR(CheckMail(n.mail, "params.mail"));
      ASSIGN_OR_RETURN(n.department,
                       TextParam(r, "department", false, kMaxName));
      ASSIGN_OR_RETURN(n.uid_number, PosixIdParam(r, "uid_number"));
      ASSIGN_OR_RETURN(n.gid_number, PosixIdParam(r, "gid_number"));
      break;
    }
    case Operation::kResetCredential: {
      ASSIGN_OR_RETURN(std::string recipient, r.String("recipient"));
      auto key = Base64Decode(recipient);
      if (!key.ok() || key->size() != crypto_box_PUBLICKEYBYTES) {
        return Status::Invalid(
            "params.recipient: must be the base64 of a 32-byte X25519 public "
            "key");
      }
      c.rotation.recipient = std::move(*key);
      ASSIGN_OR_RETURN(std::optional<std::string> nb,
                       r.OptionalString("not_before"));
      if (nb) {
        auto t = ParseRfc3339(*nb);
        if (!t.ok()) return t.status().Within("params.not_before");
        c.rotation.not_before = *t;
      }
      break;
    }
    default:
      break;  // The other operations take no parameters.
  }
  return r.Finish();
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-';
}

}  // namespace

std::string Printable(std::string_view s, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

Result<Options> Options::Parse(const nlohmann::json& j) {
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(j, "target.options"));
  Options o;
  if (!r.Has("base_dn")) {
    return Status::Invalid("target.options.base_dn is required");
  }
  ASSIGN_OR_RETURN(o.base, ParseDnOption(r, "base_dn"));
  ASSIGN_OR_RETURN(o.people, ParseDnOption(r, "people"));
  ASSIGN_OR_RETURN(o.groups, ParseDnOption(r, "groups"));
  if (o.people.empty()) {
    ASSIGN_OR_RETURN(o.people, Dn::Parse("ou=people," + o.base.Canonical()));
  }
  if (o.groups.empty()) {
    ASSIGN_OR_RETURN(o.groups, Dn::Parse("ou=groups," + o.base.Canonical()));
  }
  if (!StrictlyWithin(o.people, o.base) || !StrictlyWithin(o.groups, o.base)) {
    return Status::Invalid(
        "target.options: people and groups must lie below base_dn");
  }
  if (!r.Has("tls")) {
    return Status::Invalid(
        "target.options.tls is required: \"none\", \"starttls\" or \"ldaps\"");
  }
  ASSIGN_OR_RETURN(std::string tls, r.String("tls"));
  if (tls == "none") {
    o.tls = Tls::kNone;
  } else if (tls == "starttls") {
    o.tls = Tls::kStartTls;
  } else if (tls == "ldaps") {
    o.tls = Tls::kLdaps;
  } else {
    return Status::Invalid(
        "target.options.tls: \"none\", \"starttls\" or \"ldaps\"");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> ca, r.OptionalString("ca_file"));
  if (ca) {
    if (o.tls == Tls::kNone) {
      return Status::Invalid("target.options.ca_file: only with TLS");
    }
    if (ca->empty() || ca->front() != '/' || ca->size() > 4096 ||
        ca->find('\0') != std::string::npos) {
      return Status::Invalid("target.options.ca_file: an absolute path");
    }
    o.ca_file = *ca;
  }
  ASSIGN_OR_RETURN(std::optional<std::int64_t> timeout,
                   r.OptionalInt("timeout_ms"));
  if (timeout) {
    if (*timeout < 100 || *timeout > 600000) {
      return Status::Invalid("target.options.timeout_ms: 100 to 600000");
    }
    o.timeout_ms = static_cast<int>(*timeout);
  }
  RETURN_IF_ERROR(r.Finish());
  return o;
}

Result<std::string> ServerUri(const protocol::Target& target, Tls tls) {
  const std::string& h = target.host;
  if (target.port < 1 || target.port > 65535) {
    return Status::Invalid("target.port: 1 to 65535");
  }
  std::string host;
  if (!h.empty() && h.size() <= 253 &&
      std::all_of(h.begin(), h.end(), IsHostChar) && h.front() != '-' &&
      h.front() != '.') {
    host = h;
  } else if (!h.empty() && h.size() <= 45 &&
             std::all_of(h.begin(), h.end(),
                         [](char c) {
                           return (c >= '0' && c <= '9') ||
                                  (c >= 'a' && c <= 'f') ||
                                  (c >= 'A' && c <= 'F') || c == ':' ||
                                  c == '.';
                         }) &&
             h.find(':') != std::string::npos) {
    host = "[" + h + "]";  // An IPv6 literal.
  } else {
    return Status::Invalid("target.host \"" + Printable(h, 64) +
                           "\" is not a host name or an IP address");
  }
  return std::string(tls == Tls::kLdaps ? "ldaps://" : "ldap://") + host + ":" +
         std::to_string(target.port);
}

std::string_view OperationName(Operation op) {
  for (const auto& [o, name] : kNames) {
    if (o == op) return name;
  }
  return "?";
}

Result<Operation> ParseOperation(std::string_view name) {
  for (const auto& [o, n] : kNames) {
    if (n == name) return o;
  }
  return Status::Invalid("unknown operation \"" + Printable(name, 64) + "\"");
}

bool IsAccountOperation(Operation op) {
  return op != Operation::kAddMember && op != Operation::kRemoveMember;
}

Result<CheckedAction> CheckAction(const Options& o,
                                  const protocol::Action& action,
                                  const Dn& bound) {
  CheckedAction c;
  ASSIGN_OR_RETURN(c.op, ParseOperation(action.operation));
  const std::string name(OperationName(c.op));
  ASSIGN_OR_RETURN(c.resource,
                   RequestDn(o, action.resource, "action.resource"));
  std::optional<Dn> subject;
  if (!action.subject.empty()) {
    ASSIGN_OR_RETURN(subject, RequestDn(o, action.subject, "action.subject"));
  }
  if (IsAccountOperation(c.op)) {
    if (subject && !(*subject == c.resource)) {
      return Status::Invalid("action.subject: for " + name +
                             " it is the account itself, or empty");
    }
    c.account = c.resource;
  } else {
    if (!subject) {
      return Status::Invalid("action.subject: " + name +
                             " needs the account's DN");
    }
    c.account = *subject;
  }
  // Acting on the module's own identity (or an entry above it) is never
  // the module's call, whatever the gate said.
  if (bound.IsWithin(c.resource) || bound.IsWithin(c.account)) {
    return Status::PermissionDenied(
        "the module never acts on the identity it is bound as (" +
        bound.Canonical() + ")");
  }
  const bool account_op = IsAccountOperation(c.op);
  if ((account_op || c.op == Operation::kAddMember) &&
      !StrictlyWithin(c.account, o.people)) {
    return Status::Invalid("the account " + c.account.Canonical() +
                           " is not under " + o.people.Canonical());
  }
  if (c.op == Operation::kAddMember && !StrictlyWithin(c.resource, o.groups)) {
    return Status::Invalid("the group " + c.resource.Canonical() +
                           " is not under " + o.groups.Canonical());
  }
  if (c.op == Operation::kCreateAccount) {
    const Rdn& rdn = c.resource.rdns().front();
    if (!(c.resource.Parent() == o.people) || rdn.avas.size() != 1 ||
        rdn.avas.front().first != "uid" ||
        !IsPortableUid(rdn.avas.front().second)) {
      return Status::Invalid(
          "a new account is uid=<name>," + o.people.Canonical() +
          " with a portable user name (letters, digits, '.', '_', '-'; at "
          "most 64)");
    }
  }
  RETURN_IF_ERROR(CheckParams(c.op, action.params, c));
  return c;
}

}  // namespace deputy::ldap
