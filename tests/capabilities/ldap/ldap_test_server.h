// Test helper: a real slapd started with scripts/ldap-server in a fresh
// temporary directory (seeded with examples/ldap/seed.ldif), and an
// independent view of it as the root DN through raw libldap calls, so the
// integration tests check the module's effects without the module's code.
// One server per test; stopped (by the pid slapd wrote) when destroyed.
#pragma once

#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#ifndef DEPUTY_SOURCE_DIR
#error "DEPUTY_SOURCE_DIR must name the source tree"
#endif

namespace deputy::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command, returning its exit status and combined output.
inline int RunCommand(const std::string& cmd, std::string* output) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class LdapTestServer {
 public:
  static constexpr const char* kBase = "dc=example,dc=org";

  // Starts a server; on failure returns null and explains in `error`.
  // With `tls`, StartTLS on port() and ldaps:// on ldaps_port(), with a
  // certificate for 127.0.0.1 from the CA in ca_file().
  static std::unique_ptr<LdapTestServer> Start(std::string* error,
                                               bool tls = false) {
    char tmpl[] = "/tmp/deputy-ldap-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *error = "mkdtemp failed";
      return nullptr;
    }
    std::unique_ptr<LdapTestServer> s(new LdapTestServer(tmpl));
    const std::string src = DEPUTY_SOURCE_DIR;
    std::string out;
    int rc = RunCommand(src + "/scripts/ldap-server start " + s->dir_ +
                            "/srv --seed " + src + "/examples/ldap/seed.ldif" +
                            (tls ? " --tls" : ""),
                        &out);
    if (rc != 0) {
      *error = "scripts/ldap-server start failed (" + std::to_string(rc) +
               "): " + out;
      return nullptr;
    }
    s->started_ = true;
    s->port_ = std::stoi(ReadFile(s->dir_ + "/srv/port"));
    if (tls) s->ldaps_port_ = std::stoi(ReadFile(s->dir_ + "/srv/ldaps_port"));
    s->admin_cred_ = ReadFile(s->dir_ + "/srv/admin.cred");
    auto root = nlohmann::json::parse(ReadFile(s->dir_ + "/srv/root.cred"));
    s->root_dn_ = root["bind_dn"];
    s->root_pw_ = root["password"];
    return s;
  }

  ~LdapTestServer() {
    if (started_) {
      std::string out;
      RunCommand(std::string(DEPUTY_SOURCE_DIR) + "/scripts/ldap-server stop " +
                     dir_ + "/srv",
                 &out);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  int ldaps_port() const { return ldaps_port_; }
  std::string ca_file() const { return dir_ + "/srv/tls/ca.pem"; }
  const std::string& admin_cred() const { return admin_cred_; }
  std::string uri() const {
    return "ldap://127.0.0.1:" + std::to_string(port_);
  }

  // The result code of a simple bind as `dn` with `password`.
  int Bind(const std::string& dn, const std::string& password) const {
    LDAP* ld = Connect();
    if (ld == nullptr) return -1;
    berval cred{static_cast<ber_len_t>(password.size()),
                const_cast<char*>(password.data())};
    int rc = ldap_sasl_bind_s(ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr,
                              nullptr, nullptr);
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return rc;
  }

  // As the root DN: DNs of the entries under the base matching `filter`.
  std::vector<std::string> Find(const std::string& filter) const {
    std::vector<std::string> out;
    Search(kBase, LDAP_SCOPE_SUBTREE, filter, {"1.1"},
           [&](LDAP* ld, LDAPMessage* e) {
             char* dn = ldap_get_dn(ld, e);
             out.push_back(dn);
             ldap_memfree(dn);
           });
    return out;
  }
  bool Exists(const std::string& dn) const {
    bool found = false;
    Search(dn, LDAP_SCOPE_BASE, "(objectClass=*)", {"1.1"},
           [&](LDAP*, LDAPMessage*) { found = true; });
    return found;
  }
  // As the root DN: the values of `attr` on `dn` (empty if none).
  std::vector<std::string> Values(const std::string& dn,
                                  const std::string& attr) const {
    std::vector<std::string> out;
    Search(dn, LDAP_SCOPE_BASE, "(objectClass=*)", {attr, "+"},
           [&](LDAP* ld, LDAPMessage* e) {
             berval** vals = ldap_get_values_len(ld, e, attr.c_str());
             for (int i = 0; vals != nullptr && vals[i] != nullptr; ++i) {
               out.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
             }
             if (vals != nullptr) ldap_value_free_len(vals);
           });
    return out;
  }

  // As the root DN: changes that set up a test's state. LDAP result codes.
  int Modify(const std::string& dn, int op, const std::string& attr,
             const std::vector<std::string>& values) const {
    return WithRoot([&](LDAP* ld) {
      std::vector<berval> bv;
      for (const auto& v : values) {
        bv.push_back(
            {static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())});
      }
      std::vector<berval*> ptrs;
      for (auto& b : bv) ptrs.push_back(&b);
      ptrs.push_back(nullptr);
      LDAPMod mod{};
      mod.mod_op = op | LDAP_MOD_BVALUES;
      mod.mod_type = const_cast<char*>(attr.c_str());
      mod.mod_bvalues = values.empty() ? nullptr : ptrs.data();
      LDAPMod* mods[] = {&mod, nullptr};
      return ldap_modify_ext_s(ld, dn.c_str(), mods, nullptr, nullptr);
    });
  }
  int Add(const std::string& dn,
          const std::vector<std::pair<std::string, std::vector<std::string>>>&
              attrs) const {
    return WithRoot([&](LDAP* ld) {
      std::vector<std::vector<berval>> bvs(attrs.size());
      std::vector<std::vector<berval*>> ptrs(attrs.size());
      std::vector<LDAPMod> mods(attrs.size());
      std::vector<LDAPMod*> array;
      for (std::size_t i = 0; i < attrs.size(); ++i) {
        for (const auto& v : attrs[i].second) {
          bvs[i].push_back(
              {static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())});
        }
        for (auto& b : bvs[i]) ptrs[i].push_back(&b);
        ptrs[i].push_back(nullptr);
        mods[i].mod_op = LDAP_MOD_ADD | LDAP_MOD_BVALUES;
        mods[i].mod_type = const_cast<char*>(attrs[i].first.c_str());
        mods[i].mod_bvalues = ptrs[i].data();
        array.push_back(&mods[i]);
      }
      array.push_back(nullptr);
      return ldap_add_ext_s(ld, dn.c_str(), array.data(), nullptr, nullptr);
    });
  }
  int Delete(const std::string& dn) const {
    return WithRoot([&](LDAP* ld) {
      return ldap_delete_ext_s(ld, dn.c_str(), nullptr, nullptr);
    });
  }

 private:
  explicit LdapTestServer(std::string dir) : dir_(std::move(dir)) {}

  LDAP* Connect() const {
    setenv("LDAPNOINIT", "1", 1);
    LDAP* ld = nullptr;
    if (ldap_initialize(&ld, uri().c_str()) != LDAP_SUCCESS) return nullptr;
    int v3 = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    timeval tv{5, 0};
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    return ld;
  }

  template <typename F>
  int WithRoot(F f) const {
    LDAP* ld = Connect();
    if (ld == nullptr) return -1;
    berval cred{static_cast<ber_len_t>(root_pw_.size()),
                const_cast<char*>(root_pw_.data())};
    int rc = ldap_sasl_bind_s(ld, root_dn_.c_str(), LDAP_SASL_SIMPLE, &cred,
                              nullptr, nullptr, nullptr);
    if (rc == LDAP_SUCCESS) rc = f(ld);
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return rc;
  }

  template <typename F>
  void Search(const std::string& base, int scope, const std::string& filter,
              std::vector<std::string> attrs, F on_entry) const {
    WithRoot([&](LDAP* ld) {
      std::vector<char*> a;
      for (auto& s : attrs) a.push_back(s.data());
      a.push_back(nullptr);
      LDAPMessage* res = nullptr;
      int rc =
          ldap_search_ext_s(ld, base.c_str(), scope, filter.c_str(), a.data(),
                            0, nullptr, nullptr, nullptr, 0, &res);
      for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr;
           e = ldap_next_entry(ld, e)) {
        on_entry(ld, e);
      }
      ldap_msgfree(res);
      return rc;
    });
  }

  std::string dir_;
  bool started_ = false;
  int port_ = 0;
  int ldaps_port_ = 0;
  std::string admin_cred_;
  std::string root_dn_;
  std::string root_pw_;
};

}  // namespace deputy::testing
