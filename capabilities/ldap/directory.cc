#include "capabilities/ldap/directory.h"

#include <algorithm>

namespace deputy::ldap {
namespace {

const std::vector<std::string> kGroupAttrs = {"objectClass", "member",
                                              "uniqueMember", "memberUid"};

Group ToGroup(Entry e) {
  Group g;
  g.exists = true;
  g.dn = e.dn;
  g.names = e.HasClass("groupofnames");
  g.unique = e.HasClass("groupofuniquenames");
  g.posix = e.HasClass("posixgroup");
  g.entry = std::move(e);
  return g;
}

bool NamesDn(std::string_view value, const Dn& account) {
  auto dn = Dn::Parse(value);
  return dn.ok() && !dn->empty() && *dn == account;
}

// The canonical DN of a server-spelled DN (servers return valid DNs; if
// one does not parse, it is kept as is).
std::string Canonical(const std::string& dn) {
  auto parsed = Dn::Parse(dn);
  return parsed.ok() ? parsed->Canonical() : dn;
}

}  // namespace

std::string_view UniqueMemberDn(std::string_view value) {
  // nameAndOptionalUID: dn [ "#" "'" bits "'B" ]. An RDN value that itself
  // ends in "#'...'B" would need its '#' escaped only at a value's start,
  // so take the last "#'" and check that only bits follow.
  if (value.size() >= 4 && value.substr(value.size() - 2) == "'B") {
    auto hash = value.rfind("#'");
    if (hash != std::string_view::npos && hash + 2 <= value.size() - 2) {
      std::string_view bits =
          value.substr(hash + 2, value.size() - 2 - (hash + 2));
      if (std::all_of(bits.begin(), bits.end(),
                      [](char c) { return c == '0' || c == '1'; })) {
        return value.substr(0, hash);
      }
    }
  }
  return value;
}

bool IsPlaceholder(std::string_view value) {
  if (value.empty()) return true;
  auto dn = Dn::Parse(value);
  return dn.ok() && dn->empty();
}

Listing ListingOf(const Group& g, const Dn& account,
                  const std::vector<std::string>& uids) {
  Listing l;
  if (g.names) {
    for (const auto& v : g.entry.Get("member")) {
      if (NamesDn(v, account)) l.member.push_back(v);
    }
  }
  if (g.unique) {
    for (const auto& v : g.entry.Get("uniquemember")) {
      if (NamesDn(UniqueMemberDn(v), account)) l.unique_member.push_back(v);
    }
  }
  if (g.posix) {
    for (const auto& v : g.entry.Get("memberuid")) {
      if (std::find(uids.begin(), uids.end(), v) != uids.end()) {
        l.member_uid.push_back(v);
      }
    }
  }
  return l;
}

Mods MembershipChange(const Group& g, const Listing& l, bool add,
                      const std::string& dn, const std::string& uid) {
  Mods mods;
  auto dn_attribute = [&](const char* type, const std::string& lower,
                          const std::vector<std::string>& listed) {
    const auto& values = g.entry.Get(lower);
    std::vector<std::string> placeholders;
    for (const auto& v : values) {
      if (IsPlaceholder(v)) placeholders.push_back(v);
    }
    if (add) {
      if (!listed.empty()) return;
      mods.Add(Mods::Op::kAdd, type, {dn});
      if (!placeholders.empty()) {
        mods.Add(Mods::Op::kDelete, type, placeholders);
      }
    } else {
      if (listed.empty()) return;
      // The attribute must keep a value: if only the account's remain,
      // the placeholder goes in, in the same (atomic) modification.
      if (values.size() == listed.size()) {
        mods.Add(Mods::Op::kAdd, type, {std::string(kPlaceholderMember)});
      }
      mods.Add(Mods::Op::kDelete, type, listed);
    }
  };
  if (g.names) dn_attribute("member", "member", l.member);
  if (g.unique) dn_attribute("uniqueMember", "uniquemember", l.unique_member);
  if (g.posix) {
    if (add && l.member_uid.empty() && !uid.empty()) {
      mods.Add(Mods::Op::kAdd, "memberUid", {uid});
    } else if (!add && !l.member_uid.empty()) {
      mods.Add(Mods::Op::kDelete, "memberUid", l.member_uid);
    }
  }
  return mods;
}

Result<std::unique_ptr<Directory>> Directory::Open(
    const protocol::Target& target, const Options& options,
    const std::string& bind_dn, std::string_view password) {
  ConnectSettings s;
  ASSIGN_OR_RETURN(s.uri, ServerUri(target, options.tls));
  s.tls = options.tls;
  s.ca_file = options.ca_file;
  s.timeout_ms = options.timeout_ms;
  ASSIGN_OR_RETURN(auto conn, Connection::Open(s, bind_dn, password));
  ASSIGN_OR_RETURN(auto base, conn->Read(options.base.Canonical(),
                                         "(objectClass=*)", {"1.1"}));
  if (!base) {
    return Status::NotFound("base_dn " + options.base.Canonical() +
                            " does not exist on " + s.uri +
                            " (or the credential cannot read it)");
  }
  return std::unique_ptr<Directory>(
      new Directory(options, std::move(s), std::move(conn)));
}

Result<Account> Directory::ReadAccount(const Dn& dn) {
  Account a;
  ASSIGN_OR_RETURN(auto entry,
                   conn_->Read(dn.Canonical(), "(objectClass=*)",
                               {"objectClass", "uid", "cn", "sn", "givenName",
                                "mail", "departmentNumber", "uidNumber",
                                "gidNumber", "pwdAccountLockedTime",
                                "pwdChangedTime", "hasSubordinates"}));
  if (!entry) {
    const Rdn& leaf = dn.rdns().front();
    if (leaf.avas.size() == 1 && leaf.avas.front().first == "uid") {
      a.uids.push_back(leaf.avas.front().second);
    }
    return a;
  }
  a.exists = true;
  a.entry = std::move(*entry);
  a.dn = a.entry.dn;
  a.uids = a.entry.Get("uid");
  a.lock_time = a.entry.First("pwdaccountlockedtime");
  a.locked = a.lock_time == kLockedForever;
  a.password_changed = a.entry.First("pwdchangedtime");
  a.has_children = a.entry.First("hassubordinates") == "TRUE";
  // Presence only: the module may test for a password, never read one.
  ASSIGN_OR_RETURN(auto with_password,
                   conn_->Read(dn.Canonical(), "(userPassword=*)", {"1.1"}));
  a.has_password = with_password.has_value();
  return a;
}

Result<Group> Directory::ReadGroup(const Dn& dn) {
  ASSIGN_OR_RETURN(auto entry,
                   conn_->Read(dn.Canonical(), "(objectClass=*)", kGroupAttrs));
  if (!entry) return Group();
  return ToGroup(std::move(*entry));
}

Result<std::vector<Group>> Directory::GroupsListing(
    const Dn& account, const std::vector<std::string>& uids) {
  const std::string dn = EscapeFilterValue(account.Canonical());
  std::string filter = "(|(member=" + dn + ")(uniqueMember=" + dn + ")";
  for (const auto& uid : uids) {
    filter += "(memberUid=" + EscapeFilterValue(uid) + ")";
  }
  filter += ")";
  ASSIGN_OR_RETURN(auto entries,
                   conn_->Search(options_.base.Canonical(), Scope::kSubtree,
                                 filter, kGroupAttrs));
  std::vector<Group> out;
  for (auto& e : entries) out.push_back(ToGroup(std::move(e)));
  return out;
}

Result<std::vector<std::string>> Directory::Memberships(const Account& a,
                                                        const Dn& dn) {
  ASSIGN_OR_RETURN(auto groups, GroupsListing(dn, a.uids));
  std::vector<std::string> out;
  for (const auto& g : groups) out.push_back(Canonical(g.dn));
  std::sort(out.begin(), out.end());
  return out;
}

Status Directory::CheckUidUnique(const std::string& uid, const Dn& account) {
  ASSIGN_OR_RETURN(
      auto entries,
      conn_->Search(options_.base.Canonical(), Scope::kSubtree,
                    "(uid=" + EscapeFilterValue(uid) + ")", {"1.1"}));
  for (const auto& e : entries) {
    auto dn = Dn::Parse(e.dn);
    if (!dn.ok() || !(*dn == account)) {
      return Status::FailedPrecondition(
          "uid \"" + Printable(uid) + "\" is not unique: it also names " +
          Canonical(e.dn) + " (" + std::to_string(entries.size()) +
          " entries); nothing was changed");
    }
  }
  return Status::Ok();
}

}  // namespace deputy::ldap
