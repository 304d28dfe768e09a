#include "capabilities/ldap/ldap_module.h"

#include <ldap.h>
#include <sodium.h>
#include <sys/time.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "base/encoding.h"

namespace deputy::ldapmod {
namespace {

using nlohmann::json;
using protocol::ErrorKind;
using protocol::Reply;

// A permanent lock: ppolicy treats this value as "locked until an
// administrator unlocks".
constexpr const char* kLockedForever = "000001010000Z";
// groupOfNames and groupOfUniqueNames must list at least one member: when
// the last one is removed, the empty DN (which names no entry) holds the
// place.
constexpr const char* kPlaceholder = "";

const char* const kOperations[] = {"create_account", "disable",
                                   "delete",         "add_member",
                                   "remove_member",  "reset_credential"};

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Status FromLdap(int rc, std::string_view what) {
  std::string m = std::string(what) + ": " + ldap_err2string(rc) + " (" +
                  std::to_string(rc) + ")";
  switch (rc) {
    case LDAP_SUCCESS:
      return Status::Ok();
    case LDAP_NO_SUCH_OBJECT:
      return Status::NotFound(m);
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_UNWILLING_TO_PERFORM:
      return Status::PermissionDenied(m);
    case LDAP_SERVER_DOWN:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_CONNECT_ERROR:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_LOOP_DETECT:
      return Status::Unavailable(m);
    case LDAP_ALREADY_EXISTS:
    case LDAP_NOT_ALLOWED_ON_NONLEAF:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_CONSTRAINT_VIOLATION:
    case LDAP_TYPE_OR_VALUE_EXISTS:
    case LDAP_NO_SUCH_ATTRIBUTE:
    case LDAP_SIZELIMIT_EXCEEDED:
      return Status::FailedPrecondition(m);
    default:
      return Status::Invalid(m);
  }
}

struct Entry {
  std::string dn;
  std::map<std::string, std::vector<std::string>> attrs;  // Lower-case types.
  const std::vector<std::string>& Get(const std::string& type) const {
    static const std::vector<std::string> kNone;
    auto it = attrs.find(type);
    return it == attrs.end() ? kNone : it->second;
  }
  std::string First(const std::string& type) const {
    const auto& v = Get(type);
    return v.empty() ? "" : v.front();
  }
  bool HasClass(const std::string& cls) const {
    for (const auto& v : Get("objectclass")) {
      if (Lower(v) == cls) return true;
    }
    return false;
  }
};

// Modifications with owned storage for libldap's arrays.
class Mods {
 public:
  void Add(int op, const std::string& type, std::vector<std::string> values) {
    auto m = std::make_unique<Mod>();
    m->type = type;
    m->values = std::move(values);
    for (auto& v : m->values) {
      m->bervals.push_back(berval{static_cast<ber_len_t>(v.size()), v.data()});
    }
    for (auto& b : m->bervals) m->ptrs.push_back(&b);
    m->ptrs.push_back(nullptr);
    m->mod.mod_op = op | LDAP_MOD_BVALUES;
    m->mod.mod_type = m->type.data();
    m->mod.mod_bvalues = m->ptrs.data();
    mods_.push_back(std::move(m));
  }
  bool empty() const { return mods_.empty(); }
  LDAPMod** Array() {
    array_.clear();
    for (auto& m : mods_) array_.push_back(&m->mod);
    array_.push_back(nullptr);
    return array_.data();
  }

 private:
  struct Mod {
    std::string type;
    std::vector<std::string> values;
    std::vector<berval> bervals;
    std::vector<berval*> ptrs;
    LDAPMod mod{};
  };
  std::vector<std::unique_ptr<Mod>> mods_;
  std::vector<LDAPMod*> array_;
};

class Conn {
 public:
  static Result<std::unique_ptr<Conn>> Open(const protocol::Target& target,
                                            const Options& o,
                                            const std::string& bind_dn,
                                            const std::string& password) {
    std::unique_ptr<Conn> c(new Conn());
    c->timeout_ms_ = o.timeout_ms;
    std::string uri = std::string(o.tls == "ldaps" ? "ldaps" : "ldap") + "://" +
                      target.host + ":" + std::to_string(target.port);
    int rc = ldap_initialize(&c->ld_, uri.c_str());
    if (rc != LDAP_SUCCESS) return FromLdap(rc, "ldap_initialize " + uri);
    int v3 = LDAP_VERSION3;
    ldap_set_option(c->ld_, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(c->ld_, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
    ldap_set_option(c->ld_, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(c->ld_, LDAP_OPT_TIMEOUT, &tv);
    if (o.tls != "none") {
      int demand = LDAP_OPT_X_TLS_DEMAND;
      ldap_set_option(c->ld_, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
      if (!o.ca_file.empty()) {
        ldap_set_option(c->ld_, LDAP_OPT_X_TLS_CACERTFILE, o.ca_file.c_str());
      }
      int zero = 0;
      ldap_set_option(c->ld_, LDAP_OPT_X_TLS_NEWCTX, &zero);
      if (o.tls == "starttls") {
        rc = ldap_start_tls_s(c->ld_, nullptr, nullptr);
        if (rc != LDAP_SUCCESS) return FromLdap(rc, "StartTLS");
      }
    }
    berval cred{static_cast<ber_len_t>(password.size()),
                const_cast<char*>(password.data())};
    rc = ldap_sasl_bind_s(c->ld_, bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                          nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) return FromLdap(rc, "bind as " + bind_dn);
    return c;
  }
  ~Conn() {
    if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
  }

  // Entries under `base`; a base that does not exist gives none.
  Result<std::vector<Entry>> Search(const std::string& base, int scope,
                                    const std::string& filter,
                                    std::vector<std::string> attrs) {
    std::vector<char*> attr_ptrs;
    for (auto& a : attrs) attr_ptrs.push_back(a.data());
    attr_ptrs.push_back(nullptr);
    timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    LDAPMessage* res = nullptr;
    int rc =
        ldap_search_ext_s(ld_, base.c_str(), scope, filter.c_str(),
                          attr_ptrs.data(), 0, nullptr, nullptr, &tv, 0, &res);
    std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> guard(res,
                                                              ldap_msgfree);
    if (rc == LDAP_NO_SUCH_OBJECT) return std::vector<Entry>();
    if (rc != LDAP_SUCCESS) return FromLdap(rc, "search " + base);
    std::vector<Entry> out;
    for (LDAPMessage* e = ldap_first_entry(ld_, res); e != nullptr;
         e = ldap_next_entry(ld_, e)) {
      Entry entry;
      char* dn = ldap_get_dn(ld_, e);
      if (dn != nullptr) {
        entry.dn = dn;
        ldap_memfree(dn);
      }
      BerElement* ber = nullptr;
      for (char* a = ldap_first_attribute(ld_, e, &ber); a != nullptr;
           a = ldap_next_attribute(ld_, e, ber)) {
        berval** vals = ldap_get_values_len(ld_, e, a);
        auto& list = entry.attrs[Lower(a)];
        for (int i = 0; vals != nullptr && vals[i] != nullptr; ++i) {
          list.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
        }
        if (vals != nullptr) ldap_value_free_len(vals);
        ldap_memfree(a);
      }
      if (ber != nullptr) ber_free(ber, 0);
      out.push_back(std::move(entry));
    }
    return out;
  }
  Status Modify(const std::string& dn, Mods& mods) {
    if (mods.empty()) return Status::Ok();
    int rc = ldap_modify_ext_s(ld_, dn.c_str(), mods.Array(), nullptr, nullptr);
    return FromLdap(rc, "modify " + dn);
  }
  Status Add(const std::string& dn, Mods& mods) {
    int rc = ldap_add_ext_s(ld_, dn.c_str(), mods.Array(), nullptr, nullptr);
    return FromLdap(rc, "add " + dn);
  }
  Status Delete(const std::string& dn) {
    int rc = ldap_delete_ext_s(ld_, dn.c_str(), nullptr, nullptr);
    return FromLdap(rc, "delete " + dn);
  }
  // RFC 3062: the server hashes and stores the new password.
  Status SetPassword(const std::string& dn, const std::string& secret) {
    berval user{static_cast<ber_len_t>(dn.size()),
                const_cast<char*>(dn.data())};
    berval pw{static_cast<ber_len_t>(secret.size()),
              const_cast<char*>(secret.data())};
    berval generated{0, nullptr};
    int rc =
        ldap_passwd_s(ld_, &user, nullptr, &pw, &generated, nullptr, nullptr);
    if (generated.bv_val != nullptr) ber_memfree(generated.bv_val);
    return FromLdap(rc, "password modify " + dn);
  }

 private:
  Conn() = default;
  LDAP* ld_ = nullptr;
  int timeout_ms_ = 10000;
};

// What a bind as `dn` with `password` says: the result code.
int TryBind(const protocol::Target& target, const Options& o,
            const std::string& dn, const std::string& password) {
  auto c = Conn::Open(target, o, dn, password);
  if (c.ok()) return LDAP_SUCCESS;
  if (c.status().code() == ErrorCode::kPermissionDenied &&
      c.status().message().find("(49)") != std::string::npos) {
    return LDAP_INVALID_CREDENTIALS;
  }
  return -1;
}

std::string RandomPassword() {
  unsigned char raw[24];
  randombytes_buf(raw, sizeof raw);
  std::string b64 = Base64Encode(ByteSpan(raw, sizeof raw));
  sodium_memzero(raw, sizeof raw);
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  b64.erase(std::remove(b64.begin(), b64.end(), '='), b64.end());
  return b64;
}

struct Account {
  bool exists = false;
  std::string dn;  // As the server spells it.
  std::string uid;
  bool locked = false;
  bool has_password = false;
  Entry entry;
  std::vector<std::string> groups;  // DNs of groups that list it.
};

struct Group {
  bool exists = false;
  Entry entry;
  bool names = false;   // groupOfNames: member.
  bool unique = false;  // groupOfUniqueNames: uniqueMember.
  bool posix = false;   // posixGroup: memberUid.
};

class Session {
 public:
  Session(const protocol::Request& req, Options o, std::string bind_dn,
          std::unique_ptr<Conn> conn)
      : req_(req),
        o_(std::move(o)),
        bind_dn_(std::move(bind_dn)),
        conn_(std::move(conn)) {}

  Conn& conn() { return *conn_; }
  const Options& options() const { return o_; }
  const protocol::Target& target() const { return req_.target; }

  // The uid a posixGroup names the account by: the entry's own, or the
  // DN's leaf value when the entry is gone (a dangling memberUid).
  static std::string UidOf(const Dn& dn, const Account& a) {
    if (a.exists && !a.uid.empty()) return a.uid;
    if (!dn.rdns().empty() && !dn.rdns()[0].avas.empty() &&
        dn.rdns()[0].avas[0].first == "uid") {
      return dn.LeafValue();
    }
    return "";
  }

  Result<std::vector<std::string>> GroupsListing(const Dn& dn,
                                                 const std::string& uid) {
    std::string f = "(|(member=" + EscapeFilterValue(dn.Canonical()) +
                    ")(uniqueMember=" + EscapeFilterValue(dn.Canonical()) + ")";
    if (!uid.empty()) f += "(memberUid=" + EscapeFilterValue(uid) + ")";
    f += ")";
    ASSIGN_OR_RETURN(auto entries,
                     conn_->Search(o_.base.Canonical(), LDAP_SCOPE_SUBTREE, f,
                                   {"objectClass"}));
    std::vector<std::string> out;
    for (const auto& e : entries) {
      auto parsed = Dn::Parse(e.dn);
      out.push_back(parsed.ok() ? parsed->Canonical() : e.dn);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<Account> ReadAccount(const Dn& dn) {
    Account a;
    ASSIGN_OR_RETURN(
        auto entries,
        conn_->Search(
            dn.Canonical(), LDAP_SCOPE_BASE, "(objectClass=*)",
            {"uid", "cn", "sn", "givenName", "mail", "departmentNumber",
             "objectClass", "pwdAccountLockedTime", "pwdChangedTime"}));
    if (!entries.empty()) {
      a.exists = true;
      a.entry = entries.front();
      a.dn = a.entry.dn;
      a.uid = a.entry.First("uid");
      a.locked = a.entry.First("pwdaccountlockedtime") == kLockedForever;
      // Presence only: the module may test for a password, never read one.
      ASSIGN_OR_RETURN(auto pw, conn_->Search(dn.Canonical(), LDAP_SCOPE_BASE,
                                              "(userPassword=*)", {"1.1"}));
      a.has_password = !pw.empty();
    }
    ASSIGN_OR_RETURN(a.groups, GroupsListing(dn, UidOf(dn, a)));
    return a;
  }

  Result<Group> ReadGroup(const Dn& dn) {
    Group g;
    ASSIGN_OR_RETURN(
        auto entries,
        conn_->Search(
            dn.Canonical(), LDAP_SCOPE_BASE, "(objectClass=*)",
            {"objectClass", "member", "uniqueMember", "memberUid", "cn"}));
    if (entries.empty()) return g;
    g.exists = true;
    g.entry = entries.front();
    g.names = g.entry.HasClass("groupofnames");
    g.unique = g.entry.HasClass("groupofuniquenames");
    g.posix = g.entry.HasClass("posixgroup");
    return g;
  }

  static bool ListsDn(const std::vector<std::string>& values, const Dn& dn) {
    for (const auto& v : values) {
      auto p = Dn::Parse(v);
      if (p.ok() && !p->empty() && *p == dn) return true;
    }
    return false;
  }

  // Whether the group lists the account in each attribute its classes use.
  static json Membership(const Group& g, const Dn& dn, const std::string& uid) {
    json m = json::object();
    if (g.names) m["member"] = ListsDn(g.entry.Get("member"), dn);
    if (g.unique) m["uniqueMember"] = ListsDn(g.entry.Get("uniquemember"), dn);
    if (g.posix) {
      const auto& v = g.entry.Get("memberuid");
      m["memberUid"] =
          !uid.empty() && std::find(v.begin(), v.end(), uid) != v.end();
    }
    return m;
  }

  // Adds or removes the account in every attribute the group uses.
  Result<bool> ChangeMembership(const Dn& group_dn, const Group& g,
                                const Dn& dn, const std::string& uid,
                                bool add) {
    Mods mods;
    bool changed = false;
    auto dn_attr = [&](const char* type, const char* lower) {
      const auto& values = g.entry.Get(lower);
      bool listed = ListsDn(values, dn);
      if (add && !listed) {
        mods.Add(LDAP_MOD_ADD, type, {dn.Canonical()});
        // The placeholder goes once a real member is there.
        if (std::find(values.begin(), values.end(), kPlaceholder) !=
            values.end()) {
          mods.Add(LDAP_MOD_DELETE, type, {kPlaceholder});
        }
        changed = true;
      } else if (!add && listed) {
        // Every value that names the account (spellings may differ).
        std::vector<std::string> doomed;
        std::size_t others = 0;
        for (const auto& v : values) {
          auto p = Dn::Parse(v);
          if (p.ok() && !p->empty() && *p == dn) {
            doomed.push_back(v);
          } else {
            ++others;
          }
        }
        if (others == 0) mods.Add(LDAP_MOD_ADD, type, {kPlaceholder});
        mods.Add(LDAP_MOD_DELETE, type, doomed);
        changed = true;
      }
    };
    if (g.names) dn_attr("member", "member");
    if (g.unique) dn_attr("uniqueMember", "uniquemember");
    if (g.posix && !uid.empty()) {
      const auto& v = g.entry.Get("memberuid");
      bool listed = std::find(v.begin(), v.end(), uid) != v.end();
      if (add && !listed) {
        mods.Add(LDAP_MOD_ADD, "memberUid", {uid});
        changed = true;
      } else if (!add && listed) {
        mods.Add(LDAP_MOD_DELETE, "memberUid", {uid});
        changed = true;
      }
    }
    if (!g.names && !g.unique && !g.posix) {
      return Status::Invalid(group_dn.Canonical() +
                             " is not a groupOfNames, groupOfUniqueNames or "
                             "posixGroup");
    }
    RETURN_IF_ERROR(conn_->Modify(g.entry.dn, mods));
    return changed;
  }

  // The account's entry and every group that still lists it.
  json AccountState(const Account& a) const {
    json s = {{"exists", a.exists}, {"memberships", a.groups}};
    if (a.exists) {
      s["dn"] = a.dn;
      s["uid"] = a.uid;
      s["locked"] = a.locked;
      s["password_set"] = a.has_password;
      s["disabled"] = a.locked && !a.has_password;
      std::string changed = a.entry.First("pwdchangedtime");
      if (!changed.empty()) s["pwd_changed_time"] = changed;
    }
    return s;
  }

  const protocol::Request& req_;
  Options o_;
  std::string bind_dn_;
  std::unique_ptr<Conn> conn_;
};

Result<std::string> ParamString(const json& params, const char* key,
                                bool required) {
  auto it = params.find(key);
  if (it == params.end()) {
    if (required) {
      return Status::Invalid(std::string("params.") + key + " is required");
    }
    return std::string();
  }
  if (!it->is_string() || it->get<std::string>().size() > 256) {
    return Status::Invalid(std::string("params.") + key +
                           " must be a string of at most 256 bytes");
  }
  for (unsigned char c : it->get<std::string>()) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Invalid(std::string("params.") + key +
                             " holds a control character");
    }
  }
  return it->get<std::string>();
}

// The session for one request: options checked, credential read, bound.
Result<std::unique_ptr<Session>> OpenSession(const protocol::Request& req,
                                             const protocol::Credential& cred) {
  ASSIGN_OR_RETURN(Options o, Options::Parse(req.target.options));
  ASSIGN_OR_RETURN(std::string bind_dn, cred.Field("bind_dn"));
  ASSIGN_OR_RETURN(std::string pw, cred.Field("password"));
  protocol::WipedString password(std::move(pw));
  ASSIGN_OR_RETURN(auto conn,
                   Conn::Open(req.target, o, bind_dn, password.str()));
  return std::make_unique<Session>(req, std::move(o), bind_dn, std::move(conn));
}

Result<Checked> CheckRequest(const protocol::Request& req, const Options& o,
                             const std::string& bind_dn) {
  if (!req.action) return Status::Invalid("the request has no action");
  ASSIGN_OR_RETURN(Checked c, CheckAction(o, *req.action));
  auto bound = Dn::Parse(bind_dn);
  if (bound.ok() &&
      (c.resource == *bound || (c.subject && *c.subject == *bound))) {
    return Status::PermissionDenied(
        "the module never acts on the identity it is bound as (" +
        bound->Canonical() + ")");
  }
  return c;
}

bool IsAccountOp(const std::string& op) {
  return op == "create_account" || op == "disable" || op == "delete" ||
         op == "reset_credential";
}

}  // namespace

Result<Options> Options::Parse(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Invalid("target.options: an object");
  Options o;
  bool have_base = false, have_tls = false;
  for (const auto& [key, value] : j.items()) {
    const std::string path = "target.options." + key;
    if (key == "base_dn" || key == "people" || key == "groups") {
      if (!value.is_string()) return Status::Invalid(path + ": a DN string");
      auto dn = Dn::Parse(value.get<std::string>());
      if (!dn.ok()) return dn.status().Within(path);
      if (dn->empty()) return Status::Invalid(path + ": not the root DN");
      if (key == "base_dn") {
        o.base = *dn;
        have_base = true;
      } else if (key == "people") {
        o.people = *dn;
      } else {
        o.groups = *dn;
      }
    } else if (key == "tls") {
      if (!value.is_string()) return Status::Invalid(path + ": a string");
      o.tls = value.get<std::string>();
      if (o.tls != "none" && o.tls != "starttls" && o.tls != "ldaps") {
        return Status::Invalid(path + ": none, starttls or ldaps");
      }
      have_tls = true;
    } else if (key == "ca_file") {
      if (!value.is_string()) return Status::Invalid(path + ": a path");
      o.ca_file = value.get<std::string>();
    } else if (key == "timeout_ms") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 100 ||
          value.get<std::int64_t>() > 600000) {
        return Status::Invalid(path + ": 100 to 600000");
      }
      o.timeout_ms = static_cast<int>(value.get<std::int64_t>());
    } else {
      return Status::Invalid(path + ": unknown option");
    }
  }
  if (!have_base) return Status::Invalid("target.options.base_dn is required");
  if (!have_tls) {
    return Status::Invalid(
        "target.options.tls is required (none, starttls or ldaps)");
  }
  if (o.people.empty()) {
    ASSIGN_OR_RETURN(o.people, Dn::Parse("ou=people," + o.base.Canonical()));
  }
  if (o.groups.empty()) {
    ASSIGN_OR_RETURN(o.groups, Dn::Parse("ou=groups," + o.base.Canonical()));
  }
  if (!o.people.IsWithin(o.base) || !o.groups.IsWithin(o.base)) {
    return Status::Invalid(
        "target.options: people and groups must lie "
        "under base_dn");
  }
  return o;
}

Result<Checked> CheckAction(const Options& o, const protocol::Action& a) {
  Checked c;
  c.operation = a.operation;
  c.params = a.params;
  if (std::find(std::begin(kOperations), std::end(kOperations), a.operation) ==
      std::end(kOperations)) {
    return Status::Invalid("unknown operation \"" + a.operation.substr(0, 64) +
                           "\"");
  }
  auto resource = Dn::Parse(a.resource);
  if (!resource.ok()) return resource.status().Within("action.resource");
  c.resource = *resource;
  if (c.resource.empty() || !c.resource.IsWithin(o.base) ||
      c.resource == o.base) {
    return Status::Invalid("action.resource " + a.resource.substr(0, 256) +
                           " is not an entry under " + o.base.Canonical());
  }
  if (!c.resource.IsPlainAscii()) {
    return Status::Invalid(
        "action.resource: only plain ASCII DNs are managed (a server may "
        "fold other spellings to another entry)");
  }
  if (!a.subject.empty()) {
    auto subject = Dn::Parse(a.subject);
    if (!subject.ok()) return subject.status().Within("action.subject");
    if (!subject->IsWithin(o.base) || subject->empty() ||
        !subject->IsPlainAscii()) {
      return Status::Invalid("action.subject is not a plain entry under " +
                             o.base.Canonical());
    }
    c.subject = *subject;
  }
  if (IsAccountOp(a.operation)) {
    if (c.subject && !(*c.subject == c.resource)) {
      return Status::Invalid("for " + a.operation +
                             ", subject must be the account itself");
    }
  } else if (!c.subject) {
    return Status::Invalid(a.operation + " needs a subject: the account");
  }
  if (a.operation == "create_account") {
    if (!(c.resource.Parent() == o.people)) {
      return Status::Invalid("a new account goes directly under " +
                             o.people.Canonical());
    }
    if (c.resource.rdns()[0].avas.size() != 1 ||
        c.resource.rdns()[0].avas[0].first != "uid") {
      return Status::Invalid("a new account's DN starts with uid=");
    }
  }
  if (!c.params.is_object()) return Status::Invalid("action.params: an object");
  return c;
}

json LdapModule::Describe() const {
  json ops = json::array();
  const std::pair<const char*, const char*> docs[] = {
      {"create_account", "ensure the account exists (no password)"},
      {"disable", "ensure the account is locked and has no password"},
      {"delete", "ensure no group lists the account and the entry is gone"},
      {"add_member", "ensure the group lists the account"},
      {"remove_member", "ensure the group does not list the account"},
      {"reset_credential",
       "set a new random password, sealed to params.recipient"}};
  for (const auto& [name, ensures] : docs) {
    ops.push_back(
        {{"name", name},
         {"resource", std::string(name).find("member") != std::string::npos
                          ? "group DN"
                          : "account DN"},
         {"ensures", ensures}});
  }
  return {{"kind", "ldap"},
          {"operations", ops},
          {"resources",
           {{"account", "inetOrgPerson/posixAccount entry"},
            {"group", "groupOfNames, groupOfUniqueNames or posixGroup"}}},
          {"credential", {{"fields", {"bind_dn", "password"}}}}};
}

Reply LdapModule::Read(const protocol::Request& req,
                       const protocol::Credential& cred) {
  auto s = OpenSession(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  Session& S = **s;
  auto c = CheckRequest(req, S.options(), S.bind_dn_);
  if (!c.ok()) return Reply::FromStatus(c.status());
  if (IsAccountOp(c->operation)) {
    auto a = S.ReadAccount(c->resource);
    if (!a.ok()) return Reply::FromStatus(a.status());
    bool satisfied = false;
    if (c->operation == "disable") {
      satisfied = a->exists && a->locked && !a->has_password;
    } else if (c->operation == "delete") {
      satisfied = !a->exists && a->groups.empty();
    } else if (c->operation == "create_account") {
      satisfied = a->exists;
    }
    return Reply::Ok(
        protocol::ReadResult{a->exists, satisfied, S.AccountState(*a)}
            .ToJson());
  }
  auto g = S.ReadGroup(c->resource);
  if (!g.ok()) return Reply::FromStatus(g.status());
  auto a = S.ReadAccount(*c->subject);
  if (!a.ok()) return Reply::FromStatus(a.status());
  json m =
      Session::Membership(*g, *c->subject, Session::UidOf(*c->subject, *a));
  bool add = c->operation == "add_member";
  bool satisfied = g->exists;
  for (const auto& [k, v] : m.items()) satisfied = satisfied && (v == add);
  return Reply::Ok(protocol::ReadResult{
      g->exists, satisfied, {{"membership", m}, {"account_exists", a->exists}}}
                       .ToJson());
}

Reply LdapModule::Apply(const protocol::Request& req,
                        const protocol::Credential& cred) {
  auto s = OpenSession(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  Session& S = **s;
  auto c = CheckRequest(req, S.options(), S.bind_dn_);
  if (!c.ok()) return Reply::FromStatus(c.status());
  const Dn& dn = c->resource;
  const std::string& op = c->operation;

  if (op == "add_member" || op == "remove_member") {
    auto g = S.ReadGroup(dn);
    if (!g.ok()) return Reply::FromStatus(g.status());
    if (!g->exists) {
      return Reply::Fail(ErrorKind::kNotFound, "no group " + dn.Canonical());
    }
    auto a = S.ReadAccount(*c->subject);
    if (!a.ok()) return Reply::FromStatus(a.status());
    bool add = op == "add_member";
    if (add && !a->exists) {
      return Reply::Fail(ErrorKind::kNotFound,
                         "no account " + c->subject->Canonical() +
                             ": a group lists only existing accounts");
    }
    auto changed = S.ChangeMembership(dn, *g, *c->subject,
                                      Session::UidOf(*c->subject, *a), add);
    if (!changed.ok()) return Reply::FromStatus(changed.status());
    return Reply::Ok(
        protocol::ApplyResult{*changed, {{"group", dn.Canonical()}}}.ToJson());
  }

  auto a = S.ReadAccount(dn);
  if (!a.ok()) return Reply::FromStatus(a.status());

  if (op == "create_account") {
    auto given = ParamString(c->params, "given_name", true);
    auto surname = ParamString(c->params, "surname", true);
    auto mail = ParamString(c->params, "mail", false);
    auto dept = ParamString(c->params, "department", false);
    for (const auto* r : {&given, &surname, &mail, &dept}) {
      if (!r->ok()) return Reply::FromStatus(r->status());
    }
    const std::string uid = dn.LeafValue();
    // uid is a unique key: the same uid anywhere else is a conflict.
    auto same_uid = S.conn().Search(
        S.options().base.Canonical(), LDAP_SCOPE_SUBTREE,
        "(uid=" + EscapeFilterValue(uid) + ")", {"givenName", "sn"});
    if (!same_uid.ok()) return Reply::FromStatus(same_uid.status());
    for (const auto& e : *same_uid) {
      auto other = Dn::Parse(e.dn);
      if (!other.ok() || !(*other == dn)) {
        return Reply::Fail(ErrorKind::kConflict,
                           "uid " + uid + " already belongs to " + e.dn);
      }
    }
    if (a->exists) {
      bool same = Lower(a->entry.First("givenname")) == Lower(*given) &&
                  Lower(a->entry.First("sn")) == Lower(*surname);
      if (!same) {
        return Reply::Fail(ErrorKind::kConflict,
                           dn.Canonical() + " exists for another person (" +
                               a->entry.First("cn") + ")");
      }
      return Reply::Ok(
          protocol::ApplyResult{false, S.AccountState(*a)}.ToJson());
    }
    // The next free uidNumber (ids are not reused while accounts exist).
    std::int64_t next = 10000;
    auto posix =
        S.conn().Search(S.options().base.Canonical(), LDAP_SCOPE_SUBTREE,
                        "(uidNumber=*)", {"uidNumber"});
    if (!posix.ok()) return Reply::FromStatus(posix.status());
    for (const auto& e : *posix) {
      next = std::max<std::int64_t>(
          next, std::atoll(e.First("uidnumber").c_str()) + 1);
    }
    Mods mods;
    mods.Add(LDAP_MOD_ADD, "objectClass", {"inetOrgPerson", "posixAccount"});
    mods.Add(LDAP_MOD_ADD, "uid", {uid});
    mods.Add(LDAP_MOD_ADD, "cn", {*given + " " + *surname});
    mods.Add(LDAP_MOD_ADD, "sn", {*surname});
    mods.Add(LDAP_MOD_ADD, "givenName", {*given});
    if (!mail->empty()) mods.Add(LDAP_MOD_ADD, "mail", {*mail});
    if (!dept->empty()) mods.Add(LDAP_MOD_ADD, "departmentNumber", {*dept});
    mods.Add(LDAP_MOD_ADD, "uidNumber", {std::to_string(next)});
    mods.Add(LDAP_MOD_ADD, "gidNumber", {"10000"});
    mods.Add(LDAP_MOD_ADD, "homeDirectory", {"/home/" + uid});
    Status st = S.conn().Add(dn.Canonical(), mods);
    if (!st.ok()) return Reply::FromStatus(st);
    auto after = S.ReadAccount(dn);
    if (!after.ok()) return Reply::FromStatus(after.status());
    return Reply::Ok(
        protocol::ApplyResult{true, S.AccountState(*after)}.ToJson());
  }

  if (op == "disable") {
    if (!a->exists) {
      return Reply::Fail(ErrorKind::kNotFound, "no account " + dn.Canonical());
    }
    Mods mods;
    if (!a->locked) {
      mods.Add(LDAP_MOD_REPLACE, "pwdAccountLockedTime", {kLockedForever});
    }
    if (a->has_password) mods.Add(LDAP_MOD_DELETE, "userPassword", {});
    bool changed = !mods.empty();
    Status st = S.conn().Modify(a->dn, mods);
    if (!st.ok()) return Reply::FromStatus(st);
    auto after = S.ReadAccount(dn);
    if (!after.ok()) return Reply::FromStatus(after.status());
    return Reply::Ok(
        protocol::ApplyResult{changed, S.AccountState(*after)}.ToJson());
  }

  if (op == "delete") {
    // First every group that lists it (there may be dangling entries from
    // an earlier removal without referential integrity), then the entry.
    bool changed = false;
    json remaining = json::array();
    const std::string uid = Session::UidOf(dn, *a);
    for (const auto& gdn : a->groups) {
      auto parsed = Dn::Parse(gdn);
      if (!parsed.ok()) continue;
      auto g = S.ReadGroup(*parsed);
      if (!g.ok() || !g->exists) continue;
      auto ch = S.ChangeMembership(*parsed, *g, dn, uid, false);
      if (!ch.ok()) {
        remaining.push_back(gdn + ": " + ch.status().message());
      } else {
        changed = changed || *ch;
      }
    }
    if (!remaining.empty()) {
      return Reply::Partial("could not remove the account from every group",
                            remaining);
    }
    if (a->exists) {
      Status st = S.conn().Delete(a->dn);
      if (!st.ok()) return Reply::FromStatus(st);
      changed = true;
    }
    return Reply::Ok(
        protocol::ApplyResult{changed, {{"absent", true}}}.ToJson());
  }

  if (op == "reset_credential") {
    if (!a->exists) {
      return Reply::Fail(ErrorKind::kNotFound, "no account " + dn.Canonical());
    }
    if (a->locked) {
      return Reply::Fail(ErrorKind::kConflict,
                         "the account is disabled: a new password would not "
                         "let anyone in");
    }
    auto recipient_b64 = ParamString(c->params, "recipient", true);
    if (!recipient_b64.ok()) return Reply::FromStatus(recipient_b64.status());
    auto recipient = Base64Decode(*recipient_b64);
    if (!recipient.ok() || recipient->size() != crypto_box_PUBLICKEYBYTES) {
      return Reply::Fail(ErrorKind::kInvalid,
                         "params.recipient: the base64 of a 32-byte X25519 "
                         "public key");
    }
    protocol::WipedString secret(RandomPassword());
    Status st = S.conn().SetPassword(a->dn, secret.str());
    if (!st.ok()) return Reply::FromStatus(st);
    // Proof that it took: a bind as the account with it.
    int bind = TryBind(S.target(), S.options(), a->dn, secret.str());
    if (bind != LDAP_SUCCESS) {
      return Reply::Fail(ErrorKind::kConflict,
                         "the new password was set but does not bind");
    }
    std::vector<unsigned char> sealed(crypto_box_SEALBYTES +
                                      secret.str().size());
    crypto_box_seal(sealed.data(),
                    reinterpret_cast<const unsigned char*>(secret.str().data()),
                    secret.str().size(), recipient->data());
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(
        digest, reinterpret_cast<const unsigned char*>(secret.str().data()),
        secret.str().size());
    auto after = S.ReadAccount(dn);
    json state = after.ok() ? S.AccountState(*after) : json::object();
    state["sealed_secret"] =
        Base64Encode(ByteSpan(sealed.data(), sealed.size()));
    state["secret_fingerprint"] =
        "sha256:" + HexEncode(ByteSpan(digest, sizeof digest));
    state["proved_by_bind"] = true;
    return Reply::Ok(protocol::ApplyResult{true, state}.ToJson());
  }
  return Reply::Fail(ErrorKind::kInvalid, "unknown operation");
}

Reply LdapModule::Verify(const protocol::Request& req,
                         const protocol::Credential& cred) {
  auto s = OpenSession(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  Session& S = **s;
  auto c = CheckRequest(req, S.options(), S.bind_dn_);
  if (!c.ok()) return Reply::FromStatus(c.status());
  const Dn& dn = c->resource;
  const std::string& op = c->operation;
  protocol::VerifyResult v;
  auto check = [&](const std::string& name, bool ok, std::string detail = "") {
    v.checks.push_back({name, ok, std::move(detail)});
  };
  // A bind with a password nobody knows must be refused as invalid
  // credentials: with the entry gone, or locked and without a password,
  // no password can bind.
  auto bind_fails = [&](const std::string& who) {
    int rc = TryBind(S.target(), S.options(), who, RandomPassword());
    check("bind_fails", rc == LDAP_INVALID_CREDENTIALS,
          rc == LDAP_INVALID_CREDENTIALS ? "invalid credentials (49)"
          : rc == LDAP_SUCCESS           ? "a bind SUCCEEDED"
                                         : "the bind attempt did not complete");
  };
  if (op == "add_member" || op == "remove_member") {
    auto g = S.ReadGroup(dn);
    if (!g.ok()) return Reply::FromStatus(g.status());
    auto a = S.ReadAccount(*c->subject);
    if (!a.ok()) return Reply::FromStatus(a.status());
    bool add = op == "add_member";
    check("group_exists", g->exists);
    json m =
        Session::Membership(*g, *c->subject, Session::UidOf(*c->subject, *a));
    for (const auto& [attr, listed] : m.items()) {
      check(add ? "listed_in_" + attr : "not_listed_in_" + attr,
            listed.get<bool>() == add);
    }
    v.observed = {{"group", dn.Canonical()}, {"membership", m}};
  } else {
    auto a = S.ReadAccount(dn);
    if (!a.ok()) return Reply::FromStatus(a.status());
    v.observed = S.AccountState(*a);
    if (op == "create_account") {
      check("entry_exists", a->exists);
    } else if (op == "disable") {
      check("entry_exists", a->exists);
      check("locked", a->locked,
            a->locked ? "pwdAccountLockedTime " + std::string(kLockedForever)
                      : "");
      check("no_password", a->exists && !a->has_password);
      bind_fails(dn.Canonical());
    } else if (op == "delete") {
      check("entry_absent", !a->exists);
      check("no_group_lists_dn", a->groups.empty(),
            a->groups.empty() ? "" : "still listed by " + a->groups.front());
      bind_fails(dn.Canonical());
    } else if (op == "reset_credential") {
      check("entry_exists", a->exists);
      check("password_set", a->has_password);
      check("not_locked", a->exists && !a->locked);
    }
  }
  v.satisfied = !v.checks.empty();
  for (const auto& ch : v.checks) v.satisfied = v.satisfied && ch.ok;
  return Reply::Ok(v.ToJson());
}

Reply LdapModule::List(const protocol::Request& req,
                       const protocol::Credential& cred,
                       protocol::RecordWriter& out) {
  auto s = OpenSession(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  Session& S = **s;
  auto people = S.conn().Search(
      S.options().people.Canonical(), LDAP_SCOPE_SUBTREE,
      "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))",
      {"uid", "pwdAccountLockedTime"});
  if (!people.ok()) return Reply::FromStatus(people.status());
  std::map<std::string, std::string> by_uid;
  for (const auto& e : *people) {
    auto dn = Dn::Parse(e.dn);
    std::string canonical = dn.ok() ? dn->Canonical() : e.dn;
    if (!e.First("uid").empty()) by_uid[e.First("uid")] = canonical;
    protocol::Record r;
    r.type = protocol::Record::Type::kAccount;
    r.account = canonical;
    r.attributes = {
        {"uid", e.First("uid")},
        {"disabled", e.First("pwdaccountlockedtime") == kLockedForever}};
    Status st = out.Write(r);
    if (!st.ok()) return Reply::FromStatus(st);
  }
  auto groups = S.conn().Search(
      S.options().base.Canonical(), LDAP_SCOPE_SUBTREE,
      "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)"
      "(objectClass=posixGroup))",
      {"member", "uniqueMember", "memberUid"});
  if (!groups.ok()) return Reply::FromStatus(groups.status());
  for (const auto& g : *groups) {
    auto gdn = Dn::Parse(g.dn);
    std::string group = gdn.ok() ? gdn->Canonical() : g.dn;
    auto emit = [&](const std::string& account, json attrs) -> Status {
      protocol::Record r;
      r.type = protocol::Record::Type::kEntitlement;
      r.account = account;
      r.entitlement = group;
      r.attributes = std::move(attrs);
      return out.Write(r);
    };
    for (const char* attr : {"member", "uniquemember"}) {
      for (const auto& v : g.Get(attr)) {
        if (v.empty()) continue;  // The placeholder.
        auto m = Dn::Parse(v);
        Status st = emit(m.ok() ? m->Canonical() : v, {{"via", attr}});
        if (!st.ok()) return Reply::FromStatus(st);
      }
    }
    for (const auto& uid : g.Get("memberuid")) {
      auto known = by_uid.find(uid);
      json attrs = {{"via", "memberUid"}, {"uid", uid}};
      if (known == by_uid.end()) attrs["unresolved"] = true;
      Status st =
          emit(known != by_uid.end() ? known->second : "uid=" + uid, attrs);
      if (!st.ok()) return Reply::FromStatus(st);
    }
  }
  return Reply::Ok(json::object());
}

}  // namespace deputy::ldapmod
