#include "capabilities/ldap/connection.h"

#include <ldap.h>
#include <stdlib.h>
#include <sys/time.h>

#include <utility>

namespace deputy::ldap {
namespace {

// Entries per page of a paged search. slapd's default soft size limit is
// 500, so a page never trips it.
constexpr int kPageSize = 500;

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

timeval Timeval(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

// libldap reads ldap.conf, ldaprc files in the working and home
// directories, and LDAP* environment variables, the first time it is
// used, unless LDAPNOINIT is set. The module sets every option itself, so
// none of those may change its behaviour. Must run before the first
// libldap call; the module is single-threaded.
void IgnoreLibldapConfiguration() {
  static bool done = false;
  if (!done) {
    ::setenv("LDAPNOINIT", "1", 1);
    done = true;
  }
}

std::string Diagnostic(LDAP* ld) {
  char* msg = nullptr;
  if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) !=
          LDAP_OPT_SUCCESS ||
      msg == nullptr) {
    return {};
  }
  std::string out(msg);
  ldap_memfree(msg);
  return out;
}

Status SetOption(LDAP* ld, int option, const void* value, const char* name) {
  int rc = ldap_set_option(ld, option, value);
  if (rc != LDAP_OPT_SUCCESS) {
    return Status::Internal(std::string("libldap refused option ") + name);
  }
  return Status::Ok();
}

// A handle with every option set, connected (and StartTLS done); not
// bound. The caller owns the handle.
Result<LDAP*> Connect(const ConnectSettings& s) {
  IgnoreLibldapConfiguration();
  LDAP* ld = nullptr;
  int rc = ldap_initialize(&ld, s.uri.c_str());
  if (rc != LDAP_SUCCESS || ld == nullptr) {
    return LdapStatus(rc, "ldap_initialize " + s.uri);
  }
  std::unique_ptr<LDAP, void (*)(LDAP*)> guard(
      ld, [](LDAP* p) { ldap_unbind_ext_s(p, nullptr, nullptr); });
  const int v3 = LDAP_VERSION3;
  const int never = LDAP_DEREF_NEVER;
  const int zero = 0;
  const timeval tv = Timeval(s.timeout_ms);
  const int seconds = (s.timeout_ms + 999) / 1000;
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_PROTOCOL_VERSION, &v3, "version"));
  RETURN_IF_ERROR(
      SetOption(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "referrals off"));
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_RESTART, LDAP_OPT_ON, "restart"));
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_DEREF, &never, "deref never"));
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_SIZELIMIT, &zero, "size limit"));
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_TIMELIMIT, &seconds, "time limit"));
  RETURN_IF_ERROR(
      SetOption(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv, "network timeout"));
  RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_TIMEOUT, &tv, "operation timeout"));
  // TLS: set even for "none" so that no default from elsewhere applies;
  // a new context for this handle picks them up.
  const int demand = LDAP_OPT_X_TLS_DEMAND;
  const int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
  RETURN_IF_ERROR(
      SetOption(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, "TLS require cert"));
  RETURN_IF_ERROR(
      SetOption(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12, "TLS protocol min"));
  if (!s.ca_file.empty()) {
    RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_X_TLS_CACERTFILE, s.ca_file.c_str(),
                              "TLS CA file"));
  }
  if (s.tls != Tls::kNone) {
    RETURN_IF_ERROR(SetOption(ld, LDAP_OPT_X_TLS_NEWCTX, &zero, "TLS context"));
  }
  if (s.tls == Tls::kStartTls) {
    rc = ldap_start_tls_s(ld, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      return LdapStatus(rc, "StartTLS with " + s.uri, Diagnostic(ld));
    }
  }
  return guard.release();
}

berval Berval(std::string_view s) {
  return berval{static_cast<ber_len_t>(s.size()), const_cast<char*>(s.data())};
}

}  // namespace

const std::vector<std::string>& Entry::Get(const std::string& type) const {
  static const std::vector<std::string> kNone;
  auto it = attrs.find(type);
  return it == attrs.end() ? kNone : it->second;
}

std::string Entry::First(const std::string& type) const {
  const auto& v = Get(type);
  return v.empty() ? std::string() : v.front();
}

bool Entry::HasClass(std::string_view cls) const {
  for (const auto& v : Get("objectclass")) {
    if (Lower(v) == cls) return true;
  }
  return false;
}

struct Mods::Mod {
  Op op;
  std::string type;
  std::vector<std::string> values;
  std::vector<berval> bervals;
  std::vector<berval*> pointers;
  LDAPMod mod{};
};

Mods::Mods() = default;
Mods::Mods(Mods&&) noexcept = default;
Mods& Mods::operator=(Mods&&) noexcept = default;
Mods::~Mods() = default;

void Mods::Add(Op op, std::string type, std::vector<std::string> values) {
  auto m = std::make_unique<Mod>();
  m->op = op;
  m->type = std::move(type);
  m->values = std::move(values);
  for (auto& v : m->values) m->bervals.push_back(Berval(v));
  for (auto& b : m->bervals) m->pointers.push_back(&b);
  m->pointers.push_back(nullptr);
  const int code = op == Op::kAdd      ? LDAP_MOD_ADD
                   : op == Op::kDelete ? LDAP_MOD_DELETE
                                       : LDAP_MOD_REPLACE;
  m->mod.mod_op = code | LDAP_MOD_BVALUES;
  m->mod.mod_type = m->type.data();
  // A delete without values removes the whole attribute.
  m->mod.mod_bvalues =
      m->values.empty() && op == Op::kDelete ? nullptr : m->pointers.data();
  mods_.push_back(std::move(m));
}

std::vector<Mods::Change> Mods::changes() const {
  std::vector<Change> out;
  for (const auto& m : mods_) out.push_back({m->op, m->type, m->values});
  return out;
}

LDAPMod** Mods::Array() {
  array_.clear();
  for (auto& m : mods_) array_.push_back(&m->mod);
  array_.push_back(nullptr);
  return array_.data();
}

Status LdapStatus(int rc, std::string_view what, std::string_view diagnostic) {
  std::string m = std::string(what) + ": " + ldap_err2string(rc) + " (" +
                  std::to_string(rc) + ")";
  if (!diagnostic.empty()) m += ": " + Printable(diagnostic, 200);
  switch (rc) {
    case LDAP_SUCCESS:
      return Status::Ok();
    case LDAP_NO_SUCH_OBJECT:
      return Status::NotFound(m);
    case LDAP_INSUFFICIENT_ACCESS:
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
    case LDAP_UNWILLING_TO_PERFORM:
    case LDAP_AUTH_METHOD_NOT_SUPPORTED:
    case LDAP_AUTH_UNKNOWN:
    case LDAP_X_PROXY_AUTHZ_FAILURE:
      return Status::PermissionDenied(m);
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_ADMINLIMIT_EXCEEDED:
    case LDAP_NO_MEMORY:
      return Status::Unavailable(m);
    case LDAP_ALREADY_EXISTS:
    case LDAP_NOT_ALLOWED_ON_NONLEAF:
    case LDAP_NOT_ALLOWED_ON_RDN:
    case LDAP_OBJECT_CLASS_VIOLATION:
    case LDAP_CONSTRAINT_VIOLATION:
    case LDAP_TYPE_OR_VALUE_EXISTS:
    case LDAP_NO_SUCH_ATTRIBUTE:
    case LDAP_ASSERTION_FAILED:
      return Status::FailedPrecondition(m);
    default:
      // Filter, syntax, protocol, decoding and unknown errors: never
      // retried and never read as "absent".
      return Status::Invalid(m);
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(
    const ConnectSettings& settings, const std::string& dn,
    std::string_view password) {
  if (password.empty()) {
    // An empty password would make an unauthenticated bind (RFC 4513
    // 5.1.2): no credential at all.
    return Status::PermissionDenied("the credential's password is empty");
  }
  ASSIGN_OR_RETURN(LDAP * ld, Connect(settings));
  std::unique_ptr<Connection> c(new Connection(ld, settings.timeout_ms));
  berval cred = Berval(password);
  int rc = ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr,
                            nullptr, nullptr);
  if (rc != LDAP_SUCCESS) {
    return LdapStatus(rc, "bind as " + Printable(dn, 200), Diagnostic(ld));
  }
  return c;
}

BindAttempt Connection::TryBind(const ConnectSettings& settings,
                                const std::string& dn,
                                std::string_view password) {
  BindAttempt out;
  auto connected = Connect(settings);
  if (!connected.ok()) {
    out.detail = "no bind attempted: " + connected.status().message();
    return out;
  }
  Connection c(*connected, settings.timeout_ms);
  LDAPControl* policy = nullptr;
  if (ldap_create_passwordpolicy_control(c.ld_, &policy) != LDAP_SUCCESS) {
    policy = nullptr;
  }
  LDAPControl* controls[] = {policy, nullptr};
  berval cred = Berval(password);
  int msgid = -1;
  int rc =
      ldap_sasl_bind(c.ld_, dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                     policy != nullptr ? controls : nullptr, nullptr, &msgid);
  if (policy != nullptr) ldap_control_free(policy);
  if (rc != LDAP_SUCCESS) {
    out.detail = std::string("the bind request failed: ") + ldap_err2string(rc);
    return out;
  }
  timeval tv = Timeval(settings.timeout_ms);
  LDAPMessage* res = nullptr;
  if (ldap_result(c.ld_, msgid, LDAP_MSG_ALL, &tv, &res) <= 0 ||
      res == nullptr) {
    out.detail = "no answer to the bind";
    return out;
  }
  int err = LDAP_OTHER;
  LDAPControl** response = nullptr;
  rc = ldap_parse_result(c.ld_, res, &err, nullptr, nullptr, nullptr, &response,
                         1);
  if (rc != LDAP_SUCCESS) {
    out.detail = "the bind answer did not parse";
    return out;
  }
  out.rc = err;
  out.detail =
      std::string(ldap_err2string(err)) + " (" + std::to_string(err) + ")";
  LDAPControl* pp =
      ldap_control_find(LDAP_CONTROL_PASSWORDPOLICYRESPONSE, response, nullptr);
  if (pp != nullptr) {
    ber_int_t expire = -1, grace = -1;
    LDAPPasswordPolicyError error = PP_noError;
    if (ldap_parse_passwordpolicy_control(c.ld_, pp, &expire, &grace, &error) ==
            LDAP_SUCCESS &&
        error != PP_noError) {
      out.locked = error == PP_accountLocked;
      out.detail += std::string("; password policy: ") +
                    ldap_passwordpolicy_err2txt(error);
    }
  }
  if (response != nullptr) ldap_controls_free(response);
  return out;
}

Connection::~Connection() {
  if (ld_ != nullptr) ldap_unbind_ext_s(ld_, nullptr, nullptr);
}

Status Connection::Failure(int rc, std::string_view what) {
  return LdapStatus(rc, what, Diagnostic(ld_));
}

namespace {

std::vector<char*> AttrArray(const std::vector<std::string>& attrs) {
  std::vector<char*> out;
  for (const auto& a : attrs) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

void CollectEntries(LDAP* ld, LDAPMessage* res, std::vector<Entry>& out) {
  for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr;
       e = ldap_next_entry(ld, e)) {
    Entry entry;
    if (char* dn = ldap_get_dn(ld, e); dn != nullptr) {
      entry.dn = dn;
      ldap_memfree(dn);
    }
    BerElement* ber = nullptr;
    for (char* a = ldap_first_attribute(ld, e, &ber); a != nullptr;
         a = ldap_next_attribute(ld, e, ber)) {
      berval** vals = ldap_get_values_len(ld, e, a);
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
}

using MessagePtr = std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)>;

}  // namespace

Result<std::optional<Entry>> Connection::Read(
    const std::string& dn, const std::string& filter,
    const std::vector<std::string>& attrs) {
  auto attr_array = AttrArray(attrs);
  timeval tv = Timeval(timeout_ms_);
  LDAPMessage* raw = nullptr;
  int rc =
      ldap_search_ext_s(ld_, dn.c_str(), LDAP_SCOPE_BASE, filter.c_str(),
                        attr_array.data(), 0, nullptr, nullptr, &tv, 0, &raw);
  MessagePtr res(raw, ldap_msgfree);
  if (rc == LDAP_NO_SUCH_OBJECT) return std::optional<Entry>();
  if (rc != LDAP_SUCCESS) return Failure(rc, "read " + dn);
  std::vector<Entry> entries;
  CollectEntries(ld_, res.get(), entries);
  if (entries.size() > 1) {
    return Status::FailedPrecondition("read " + dn + ": several entries");
  }
  if (entries.empty()) return std::optional<Entry>();
  return std::optional<Entry>(std::move(entries.front()));
}

Result<std::vector<Entry>> Connection::Search(
    const std::string& base, Scope scope, const std::string& filter,
    const std::vector<std::string>& attrs) {
  auto attr_array = AttrArray(attrs);
  std::vector<Entry> out;
  berval cookie{0, nullptr};
  auto free_cookie = [&cookie] {
    if (cookie.bv_val != nullptr) ber_memfree(cookie.bv_val);
    cookie = berval{0, nullptr};
  };
  const std::string what = "search " + base + " " + filter;
  do {
    LDAPControl* page = nullptr;
    int rc = ldap_create_page_control(ld_, kPageSize, &cookie, 1, &page);
    if (rc != LDAP_SUCCESS) {
      free_cookie();
      return LdapStatus(rc, what + ": paged results control");
    }
    LDAPControl* controls[] = {page, nullptr};
    timeval tv = Timeval(timeout_ms_);
    LDAPMessage* raw = nullptr;
    rc = ldap_search_ext_s(
        ld_, base.c_str(),
        scope == Scope::kSubtree ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_ONELEVEL,
        filter.c_str(), attr_array.data(), 0, controls, nullptr, &tv, 0, &raw);
    ldap_control_free(page);
    MessagePtr res(raw, ldap_msgfree);
    if (rc != LDAP_SUCCESS) {
      free_cookie();
      return Failure(rc, what);
    }
    if (ldap_count_references(ld_, res.get()) > 0) {
      free_cookie();
      return Status::Invalid(what +
                             ": the server returned a continuation reference "
                             "(part of the tree is held elsewhere), so the "
                             "result would be incomplete");
    }
    CollectEntries(ld_, res.get(), out);
    int err = LDAP_SUCCESS;
    LDAPControl** response = nullptr;
    rc = ldap_parse_result(ld_, res.get(), &err, nullptr, nullptr, nullptr,
                           &response, 0);
    free_cookie();
    if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
      if (response != nullptr) ldap_controls_free(response);
      return LdapStatus(rc != LDAP_SUCCESS ? rc : err, what);
    }
    LDAPControl* pr =
        ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, response, nullptr);
    if (pr == nullptr) {
      ldap_controls_free(response);
      return Status::Invalid(what + ": no paged results response");
    }
    ber_int_t estimate = 0;
    rc = ldap_parse_pageresponse_control(ld_, pr, &estimate, &cookie);
    ldap_controls_free(response);
    if (rc != LDAP_SUCCESS) return LdapStatus(rc, what + ": paged response");
  } while (cookie.bv_val != nullptr && cookie.bv_len > 0);
  free_cookie();
  return out;
}

Status Connection::Modify(const std::string& dn, Mods& mods) {
  if (mods.empty()) return Status::Ok();
  int rc = ldap_modify_ext_s(ld_, dn.c_str(), mods.Array(), nullptr, nullptr);
  return rc == LDAP_SUCCESS ? Status::Ok() : Failure(rc, "modify " + dn);
}

Status Connection::Add(const std::string& dn, Mods& mods) {
  int rc = ldap_add_ext_s(ld_, dn.c_str(), mods.Array(), nullptr, nullptr);
  return rc == LDAP_SUCCESS ? Status::Ok() : Failure(rc, "add " + dn);
}

Status Connection::Delete(const std::string& dn) {
  int rc = ldap_delete_ext_s(ld_, dn.c_str(), nullptr, nullptr);
  return rc == LDAP_SUCCESS ? Status::Ok() : Failure(rc, "delete " + dn);
}

Status Connection::SetPassword(const std::string& dn, std::string_view secret) {
  berval user = Berval(dn);
  berval pw = Berval(secret);
  berval generated{0, nullptr};
  int rc =
      ldap_passwd_s(ld_, &user, nullptr, &pw, &generated, nullptr, nullptr);
  if (generated.bv_val != nullptr) {
    // A server that generated a password of its own (it should not when
    // one is given): wipe it, it is not ours to hand out.
    explicit_bzero(generated.bv_val, generated.bv_len);
    ber_memfree(generated.bv_val);
  }
  // The message never carries the secret: only the DN and the code.
  return rc == LDAP_SUCCESS ? Status::Ok()
                            : Failure(rc, "password modify " + dn);
}

}  // namespace deputy::ldap
