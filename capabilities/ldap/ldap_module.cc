#include "capabilities/ldap/ldap_module.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "capabilities/ldap/connection.h"
#include "capabilities/ldap/directory.h"
#include "capabilities/ldap/gentime.h"
#include "capabilities/ldap/options.h"
#include "capabilities/ldap/secret.h"

namespace deputy::ldap {
namespace {

using nlohmann::json;
using protocol::ErrorKind;
using protocol::Reply;

// Result code of a bind refused for its credentials.
constexpr int kInvalidCredentials = 49;
// uidNumbers the module allocates start here (the example organisation's
// range); gidNumber defaults to the example organisation's users group.
constexpr std::int64_t kFirstUidNumber = 10000;
constexpr std::int64_t kDefaultGidNumber = 10000;

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Canonical(const std::string& dn) {
  auto parsed = Dn::Parse(dn);
  return parsed.ok() ? parsed->Canonical() : dn;
}

// Everything one request works with: the checked action and the bound
// directory. Built by Open() only when every check passed.
struct Session {
  CheckedAction action;
  std::unique_ptr<Directory> dir;
};

// The credential's bind DN (parsed: the module refuses to act on it) and
// password (wiped when done).
struct Identity {
  std::string bind_dn;
  Dn bound;
  protocol::WipedString password;
};

Result<Identity> ReadIdentity(const protocol::Credential& cred) {
  Identity id;
  ASSIGN_OR_RETURN(id.bind_dn, cred.Field("bind_dn"));
  ASSIGN_OR_RETURN(std::string pw, cred.Field("password"));
  id.password = protocol::WipedString(std::move(pw));
  auto bound = Dn::Parse(id.bind_dn);
  if (!bound.ok() || bound->empty()) {
    return Status::Invalid("credential: bind_dn is not a DN");
  }
  id.bound = *bound;
  return id;
}

// Options, credential and action are checked before the module connects:
// a request that fails a check never reaches the server.
Result<Session> Open(const protocol::Request& req,
                     const protocol::Credential& cred) {
  ASSIGN_OR_RETURN(Options o, Options::Parse(req.target.options));
  ASSIGN_OR_RETURN(Identity id, ReadIdentity(cred));
  if (!req.action) return Status::Invalid("the request has no action");
  Session s;
  ASSIGN_OR_RETURN(s.action, CheckAction(o, *req.action, id.bound));
  ASSIGN_OR_RETURN(
      s.dir, Directory::Open(req.target, o, id.bind_dn, id.password.str()));
  return s;
}

json AccountState(const Account& a, const std::vector<std::string>* groups) {
  json s = {{"exists", a.exists}};
  if (a.exists) {
    s["dn"] = a.dn;
    s["uid"] = a.uids.empty() ? "" : a.uids.front();
    s["locked"] = a.locked;
    s["has_password"] = a.has_password;
    // Disabled: the permanent lock is set, so no password binds.
    s["disabled"] = a.locked;
    if (!a.lock_time.empty() && !a.locked) s["lock_time"] = a.lock_time;
    if (!a.password_changed.empty()) {
      auto t = ParseGeneralizedTime(a.password_changed);
      s["pwd_changed_time"] =
          t.ok() ? FormatRfc3339(*t) : Printable(a.password_changed);
    }
  }
  if (groups != nullptr) s["memberships"] = *groups;
  return s;
}

bool SameText(const std::string& a, const std::string& b) {
  auto trim = [](const std::string& s) {
    auto b0 = s.find_first_not_of(' ');
    auto e0 = s.find_last_not_of(' ');
    return b0 == std::string::npos ? std::string() : s.substr(b0, e0 - b0 + 1);
  };
  return Lower(trim(a)) == Lower(trim(b));
}

// Whether an existing entry is the person create_account describes.
bool SameIdentity(const Account& a, const NewAccount& n,
                  const std::string& uid) {
  bool has_uid =
      std::any_of(a.uids.begin(), a.uids.end(),
                  [&](const std::string& u) { return SameText(u, uid); });
  return a.entry.HasClass("inetorgperson") && has_uid &&
         SameText(a.entry.First("givenname"), n.given_name) &&
         SameText(a.entry.First("sn"), n.surname);
}

// The uid a posixGroup names the account by: its RDN's, else its first.
std::string PosixUid(const Dn& dn, const Account& a) {
  const Rdn& leaf = dn.rdns().front();
  if (leaf.avas.size() == 1 && leaf.avas.front().first == "uid") {
    for (const auto& u : a.uids) {
      if (SameText(u, leaf.avas.front().second)) return u;
    }
  }
  return a.uids.empty() ? std::string() : a.uids.front();
}

json ListingJson(const Group& g, const Listing& l) {
  json m = json::object();
  if (g.names) m["member"] = !l.member.empty();
  if (g.unique) m["uniqueMember"] = !l.unique_member.empty();
  if (g.posix) m["memberUid"] = !l.member_uid.empty();
  return m;
}

Status NotAGroup(const Dn& dn) {
  return Status::Invalid(dn.Canonical() +
                         " is not a groupOfNames, groupOfUniqueNames or "
                         "posixGroup");
}

// ---------------------------------------------------------------- read

Reply ReadAccountOp(Session& s) {
  const CheckedAction& c = s.action;
  auto a = s.dir->ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  auto groups = s.dir->Memberships(*a, c.resource);
  if (!groups.ok()) return Reply::FromStatus(groups.status());
  json state = AccountState(*a, &*groups);
  bool satisfied = false;
  switch (c.op) {
    case Operation::kCreateAccount:
      satisfied =
          a->exists && SameIdentity(*a, c.new_account, c.resource.LeafValue());
      if (a->exists && !satisfied) state["conflict"] = "another identity";
      break;
    case Operation::kDisable:
      satisfied = a->exists && a->locked && !a->has_password;
      break;
    case Operation::kDelete:
      satisfied = !a->exists && groups->empty();
      break;
    default:
      satisfied = false;  // A rotation always changes the password.
  }
  return Reply::Ok(protocol::ReadResult{a->exists, satisfied, state}.ToJson());
}

Reply ReadMembershipOp(Session& s) {
  const CheckedAction& c = s.action;
  auto g = s.dir->ReadGroup(c.resource);
  if (!g.ok()) return Reply::FromStatus(g.status());
  auto a = s.dir->ReadAccount(c.account);
  if (!a.ok()) return Reply::FromStatus(a.status());
  const bool add = c.op == Operation::kAddMember;
  json state = {{"group", c.resource.Canonical()},
                {"account", c.account.Canonical()},
                {"account_exists", a->exists}};
  if (!g->exists) {
    return Reply::Ok(protocol::ReadResult{false, !add, state}.ToJson());
  }
  if (!g->IsGroup()) return Reply::FromStatus(NotAGroup(c.resource));
  Listing l = ListingOf(*g, c.account, a->uids);
  json listed = ListingJson(*g, l);
  state["listed"] = listed;
  bool satisfied = add ? a->exists : true;
  for (const auto& [attr, v] : listed.items()) {
    satisfied = satisfied && v.get<bool>() == add;
  }
  return Reply::Ok(protocol::ReadResult{true, satisfied, state}.ToJson());
}

// --------------------------------------------------------------- apply

Result<std::int64_t> NextUidNumber(Directory& dir) {
  ASSIGN_OR_RETURN(
      auto entries,
      dir.conn().Search(dir.options().base.Canonical(), Scope::kSubtree,
                        "(uidNumber=*)", {"uidNumber"}));
  std::int64_t next = kFirstUidNumber;
  for (const auto& e : entries) {
    for (const auto& v : e.Get("uidnumber")) {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (end != v.c_str() && *end == '\0' && n >= next && n < 2147483647) {
        next = n + 1;
      }
    }
  }
  return next;
}

Result<std::size_t> CountUidNumber(Directory& dir, std::int64_t n) {
  ASSIGN_OR_RETURN(
      auto entries,
      dir.conn().Search(dir.options().base.Canonical(), Scope::kSubtree,
                        "(uidNumber=" + std::to_string(n) + ")", {"1.1"}));
  return entries.size();
}

Reply ApplyCreate(Session& s) {
  const CheckedAction& c = s.action;
  const NewAccount& n = c.new_account;
  Directory& dir = *s.dir;
  const std::string uid = c.resource.LeafValue();
  // uid is a unique key: the same uid on any other entry is a conflict.
  auto same_uid =
      dir.conn().Search(dir.options().base.Canonical(), Scope::kSubtree,
                        "(uid=" + EscapeFilterValue(uid) + ")", {"1.1"});
  if (!same_uid.ok()) return Reply::FromStatus(same_uid.status());
  for (const auto& e : *same_uid) {
    auto other = Dn::Parse(e.dn);
    if (!other.ok() || !(*other == c.resource)) {
      return Reply::Fail(ErrorKind::kConflict,
                         "uid \"" + uid + "\" already names " +
                             Canonical(e.dn) + "; nothing was changed");
    }
  }
  auto a = dir.ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  if (a->exists) {
    if (!SameIdentity(*a, n, uid)) {
      return Reply::Fail(
          ErrorKind::kConflict,
          c.resource.Canonical() + " exists for another identity (cn: " +
              Printable(a->entry.First("cn")) + "); nothing was changed");
    }
    return Reply::Ok(
        protocol::ApplyResult{false, AccountState(*a, nullptr)}.ToJson());
  }
  std::int64_t uid_number = 0;
  if (n.uid_number) {
    auto used = CountUidNumber(dir, *n.uid_number);
    if (!used.ok()) return Reply::FromStatus(used.status());
    if (*used > 0) {
      return Reply::Fail(ErrorKind::kConflict,
                         "uidNumber " + std::to_string(*n.uid_number) +
                             " is taken; nothing was changed");
    }
    uid_number = *n.uid_number;
  } else {
    auto next = NextUidNumber(dir);
    if (!next.ok()) return Reply::FromStatus(next.status());
    uid_number = *next;
  }
  // The DN keeps the uid's case as given; the parent as configured.
  const std::string dn =
      "uid=" + EscapeDnValue(uid) + "," + dir.options().people.Canonical();
  Mods mods;
  mods.Add(Mods::Op::kAdd, "objectClass", {"inetOrgPerson", "posixAccount"});
  mods.Add(Mods::Op::kAdd, "uid", {uid});
  mods.Add(Mods::Op::kAdd, "cn", {n.given_name + " " + n.surname});
  mods.Add(Mods::Op::kAdd, "sn", {n.surname});
  mods.Add(Mods::Op::kAdd, "givenName", {n.given_name});
  if (!n.mail.empty()) mods.Add(Mods::Op::kAdd, "mail", {n.mail});
  if (!n.department.empty()) {
    mods.Add(Mods::Op::kAdd, "departmentNumber", {n.department});
  }
  mods.Add(Mods::Op::kAdd, "uidNumber", {std::to_string(uid_number)});
  mods.Add(Mods::Op::kAdd, "gidNumber",
           {std::to_string(n.gid_number.value_or(kDefaultGidNumber))});
  mods.Add(Mods::Op::kAdd, "homeDirectory", {"/home/" + uid});
  Status st = dir.conn().Add(dn, mods);
  if (!st.ok()) return Reply::FromStatus(st);
  // Two creations at once may pick the same free uidNumber; the later
  // one notices here and moves on to another.
  for (int attempt = 0; !n.uid_number && attempt < 5; ++attempt) {
    auto count = CountUidNumber(dir, uid_number);
    if (!count.ok()) return Reply::FromStatus(count.status());
    if (*count <= 1) break;
    auto next = NextUidNumber(dir);
    if (!next.ok()) return Reply::FromStatus(next.status());
    uid_number = *next;
    Mods fix;
    fix.Add(Mods::Op::kReplace, "uidNumber", {std::to_string(uid_number)});
    st = dir.conn().Modify(dn, fix);
    if (!st.ok()) {
      return Reply::Partial(
          "the account was created but its uidNumber "
          "clashes: " +
              st.message(),
          json::array({"a unique uidNumber for " + dn}));
    }
  }
  auto after = dir.ReadAccount(c.resource);
  if (!after.ok()) return Reply::FromStatus(after.status());
  return Reply::Ok(
      protocol::ApplyResult{true, AccountState(*after, nullptr)}.ToJson());
}

Reply ApplyDisable(Session& s) {
  const CheckedAction& c = s.action;
  auto a = s.dir->ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  if (!a->exists) {
    return Reply::Fail(ErrorKind::kNotFound,
                       "no account " + c.resource.Canonical());
  }
  // One modification, so the lock and the password's removal land
  // together or not at all.
  Mods mods;
  if (!a->locked) {
    mods.Add(Mods::Op::kReplace, "pwdAccountLockedTime",
             {std::string(kLockedForever)});
  }
  if (a->has_password) mods.Add(Mods::Op::kDelete, "userPassword", {});
  const bool changed = !mods.empty();
  Status st = s.dir->conn().Modify(a->dn, mods);
  if (!st.ok()) return Reply::FromStatus(st);
  auto after = s.dir->ReadAccount(c.resource);
  if (!after.ok()) return Reply::FromStatus(after.status());
  return Reply::Ok(
      protocol::ApplyResult{changed, AccountState(*after, nullptr)}.ToJson());
}

// Checks, before any write, that every uid whose memberUid values are
// about to go names no other entry.
Status CheckPosixUids(Directory& dir, const Dn& account,
                      const std::vector<Listing>& listings) {
  std::set<std::string> uids;
  for (const auto& l : listings)
    uids.insert(l.member_uid.begin(), l.member_uid.end());
  for (const auto& uid : uids)
    RETURN_IF_ERROR(dir.CheckUidUnique(uid, account));
  return Status::Ok();
}

Reply ApplyDelete(Session& s) {
  const CheckedAction& c = s.action;
  Directory& dir = *s.dir;
  // Everything is read and checked first; writes start only when no check
  // can fail any more.
  auto a = dir.ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  auto groups = dir.GroupsListing(c.resource, a->uids);
  if (!groups.ok()) return Reply::FromStatus(groups.status());
  std::vector<Listing> listings;
  for (const auto& g : *groups) {
    listings.push_back(ListingOf(g, c.resource, a->uids));
  }
  Status st = CheckPosixUids(dir, c.resource, listings);
  if (!st.ok()) return Reply::FromStatus(st);
  if (a->exists && a->has_children) {
    return Reply::Fail(
        ErrorKind::kConflict,
        c.resource.Canonical() + " has entries below it; nothing was changed");
  }
  if (!a->exists && groups->empty()) {
    return Reply::Fail(ErrorKind::kNotFound,
                       "no account " + c.resource.Canonical() +
                           " and no group lists it (verify confirms "
                           "absence)");
  }
  // First every group that lists the account (a dangling listing survives
  // the entry: slapd runs without referential integrity), then the entry.
  json cleaned = json::array();
  json remaining = json::array();
  Status first_failure;
  for (std::size_t i = 0; i < groups->size(); ++i) {
    const Group& g = (*groups)[i];
    Mods mods = MembershipChange(g, listings[i], false, "", "");
    if (mods.empty()) continue;
    st = dir.conn().Modify(g.dn, mods);
    if (st.ok()) {
      cleaned.push_back(Canonical(g.dn));
    } else {
      if (first_failure.ok()) first_failure = st;
      remaining.push_back("remove from " + Canonical(g.dn) + ": " +
                          st.message());
    }
  }
  bool deleted = false;
  if (remaining.empty() && a->exists) {
    st = dir.conn().Delete(a->dn);
    if (st.ok()) {
      deleted = true;
    } else {
      first_failure = st;
      remaining.push_back("delete " + c.resource.Canonical() + ": " +
                          st.message());
    }
  } else if (a->exists) {
    remaining.push_back("delete " + c.resource.Canonical() +
                        " (kept until every group is cleaned)");
  }
  if (!remaining.empty()) {
    if (cleaned.empty()) return Reply::FromStatus(first_failure);
    return Reply::Partial("the account is out of " +
                              std::to_string(cleaned.size()) +
                              " groups, but not yet removed",
                          remaining);
  }
  return Reply::Ok(protocol::ApplyResult{
      true, {{"entry_deleted", deleted}, {"removed_from", cleaned}}}
                       .ToJson());
}

Reply ApplyMembership(Session& s) {
  const CheckedAction& c = s.action;
  Directory& dir = *s.dir;
  const bool add = c.op == Operation::kAddMember;
  // A concurrent change between read and write makes the server refuse
  // the modification (a value already there or gone); read again once.
  for (int attempt = 1;; ++attempt) {
    auto g = dir.ReadGroup(c.resource);
    if (!g.ok()) return Reply::FromStatus(g.status());
    if (!g->exists) {
      return Reply::Fail(ErrorKind::kNotFound,
                         "no group " + c.resource.Canonical());
    }
    if (!g->IsGroup()) return Reply::FromStatus(NotAGroup(c.resource));
    auto a = dir.ReadAccount(c.account);
    if (!a.ok()) return Reply::FromStatus(a.status());
    if (add && !a->exists) {
      return Reply::Fail(ErrorKind::kNotFound,
                         "no account " + c.account.Canonical() +
                             ": a group lists only existing accounts");
    }
    Listing l = ListingOf(*g, c.account, a->uids);
    std::string uid;
    if (add && g->posix) {
      uid = PosixUid(c.account, *a);
      if (uid.empty()) {
        return Reply::Fail(
            ErrorKind::kConflict,
            c.account.Canonical() + " has no uid for a posixGroup to list");
      }
      Status st = dir.CheckUidUnique(uid, c.account);
      if (!st.ok()) return Reply::FromStatus(st);
    }
    if (!add) {
      Status st = CheckPosixUids(dir, c.account, {l});
      if (!st.ok()) return Reply::FromStatus(st);
    }
    Mods mods = MembershipChange(*g, l, add, a->dn, uid);
    if (mods.empty()) {
      if (!add && !a->exists) {
        return Reply::Fail(ErrorKind::kNotFound,
                           "no account " + c.account.Canonical() +
                               " and the group does not list it (verify "
                               "confirms absence)");
      }
      return Reply::Ok(protocol::ApplyResult{
          false,
          {{"group", c.resource.Canonical()}, {"listed", ListingJson(*g, l)}}}
                           .ToJson());
    }
    Status st = dir.conn().Modify(g->dn, mods);
    if (st.ok()) {
      Listing after;
      if (add) {
        // What the modification made true, for the state.
        after = l;
        if (g->names) after.member = {a->dn};
        if (g->unique) after.unique_member = {a->dn};
        if (g->posix) after.member_uid = {uid};
      }
      return Reply::Ok(
          protocol::ApplyResult{true,
                                {{"group", c.resource.Canonical()},
                                 {"listed", ListingJson(*g, after)}}}
              .ToJson());
    }
    if (st.code() != ErrorCode::kFailedPrecondition || attempt >= 2) {
      return Reply::FromStatus(st);
    }
  }
}

Reply ApplyReset(Session& s) {
  const CheckedAction& c = s.action;
  Directory& dir = *s.dir;
  auto a = dir.ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  if (!a->exists) {
    return Reply::Fail(ErrorKind::kNotFound,
                       "no account " + c.resource.Canonical());
  }
  if (a->locked) {
    return Reply::Fail(ErrorKind::kConflict,
                       c.resource.Canonical() +
                           " is disabled (locked): a new password would not "
                           "let anyone in, and a rotation never unlocks");
  }
  auto secret = NewPassword();
  if (!secret.ok()) return Reply::FromStatus(secret.status());
  Status st = dir.conn().SetPassword(a->dn, secret->str());
  if (!st.ok()) return Reply::FromStatus(st);
  // Proof that it took: a bind as the account with the new password.
  BindAttempt bind = Connection::TryBind(dir.settings(), a->dn, secret->str());
  if (bind.rc != 0) {
    return Reply::Partial(
        "the password was changed, but a bind with it failed (" + bind.detail +
            "); it is not delivered",
        json::array(
            {"a password for " + c.resource.Canonical() + " that binds"}));
  }
  auto sealed = SealTo(secret->str(), c.rotation.recipient);
  if (!sealed.ok()) {
    return Reply::Partial(
        "the password was changed but could not be sealed",
        json::array({"deliver a new password for " + c.resource.Canonical()}));
  }
  const std::string fingerprint = Fingerprint(secret->str());
  auto after = dir.ReadAccount(c.resource);
  json state = after.ok() ? AccountState(*after, nullptr) : json::object();
  // The agent takes every "sealed*" field out of the state before logging
  // it (receipts only); the fingerprint is what the log keeps.
  state["sealed_secret"] = *sealed;
  state["secret_fingerprint"] = fingerprint;
  state["proved_by_bind"] = true;
  return Reply::Ok(protocol::ApplyResult{true, state}.ToJson());
}

// -------------------------------------------------------------- verify

class Checks {
 public:
  void Add(std::string name, bool ok, std::string detail = {}) {
    v_.checks.push_back({std::move(name), ok, std::move(detail)});
  }
  Reply Done(json observed) {
    v_.satisfied = !v_.checks.empty();
    for (const auto& c : v_.checks) v_.satisfied = v_.satisfied && c.ok;
    v_.observed = std::move(observed);
    return Reply::Ok(v_.ToJson());
  }

 private:
  protocol::VerifyResult v_;
};

// A simple bind as the account with a random password nobody knows. It
// proves something only together with the other checks: with the entry
// gone, or locked and without a password, no password at all can bind,
// and the server must say so. It is not attempted against an account
// that is unlocked and has a password (the attempt would count as a
// failed login there, and the verify fails on the other checks anyway).
void BindFails(Checks& checks, Directory& dir, const Dn& dn, const Account& a) {
  if (a.exists && !a.locked && a.has_password) {
    checks.Add("bind_fails", false,
               "not attempted: the account is unlocked and has a password");
    return;
  }
  auto probe = NewPassword();
  if (!probe.ok()) {
    checks.Add("bind_fails", false, probe.status().message());
    return;
  }
  BindAttempt b =
      Connection::TryBind(dir.settings(), dn.Canonical(), probe->str());
  checks.Add("bind_fails", b.rc == kInvalidCredentials,
             b.rc == 0 ? "a bind SUCCEEDED" : b.detail);
}

Reply VerifyAccountOp(Session& s) {
  const CheckedAction& c = s.action;
  Directory& dir = *s.dir;
  auto a = dir.ReadAccount(c.resource);
  if (!a.ok()) return Reply::FromStatus(a.status());
  Checks checks;
  switch (c.op) {
    case Operation::kCreateAccount: {
      checks.Add("entry_exists", a->exists);
      checks.Add(
          "identity_matches",
          a->exists && SameIdentity(*a, c.new_account, c.resource.LeafValue()));
      Status unique = dir.CheckUidUnique(c.resource.LeafValue(), c.resource);
      if (!unique.ok() && unique.code() != ErrorCode::kFailedPrecondition) {
        return Reply::FromStatus(unique);
      }
      checks.Add("uid_unique", unique.ok(),
                 unique.ok() ? "" : unique.message());
      return checks.Done(AccountState(*a, nullptr));
    }
    case Operation::kDisable:
      checks.Add("locked", a->locked,
                 a->locked
                     ? "pwdAccountLockedTime " + std::string(kLockedForever)
                 : a->exists ? "no permanent lock"
                             : "no such entry");
      checks.Add("no_password", a->exists && !a->has_password,
                 a->exists ? "" : "no such entry");
      BindFails(checks, dir, c.resource, *a);
      return checks.Done(AccountState(*a, nullptr));
    case Operation::kDelete: {
      checks.Add("entry_absent", !a->exists);
      BindFails(checks, dir, c.resource, *a);
      auto groups = dir.Memberships(*a, c.resource);
      if (!groups.ok()) return Reply::FromStatus(groups.status());
      std::string detail;
      if (!groups->empty()) {
        detail = "still listed by " + std::to_string(groups->size()) +
                 " group(s), e.g. " + groups->front();
      }
      checks.Add("no_group_lists_dn", groups->empty(), detail);
      return checks.Done(AccountState(*a, &*groups));
    }
    case Operation::kResetCredential: {
      checks.Add("entry_exists", a->exists);
      checks.Add("password_set", a->has_password);
      checks.Add("not_locked", a->exists && !a->locked);
      if (c.rotation.not_before) {
        auto changed = ParseGeneralizedTime(a->password_changed);
        bool ok = changed.ok() && *changed >= *c.rotation.not_before;
        checks.Add("password_changed_since", ok,
                   changed.ok() ? "pwdChangedTime " + FormatRfc3339(*changed) +
                                      ", not_before " +
                                      FormatRfc3339(*c.rotation.not_before)
                                : "no pwdChangedTime");
      }
      return checks.Done(AccountState(*a, nullptr));
    }
    default:
      return Reply::Fail(ErrorKind::kInvalid, "not an account operation");
  }
}

Reply VerifyMembershipOp(Session& s) {
  const CheckedAction& c = s.action;
  Directory& dir = *s.dir;
  const bool add = c.op == Operation::kAddMember;
  auto g = dir.ReadGroup(c.resource);
  if (!g.ok()) return Reply::FromStatus(g.status());
  auto a = dir.ReadAccount(c.account);
  if (!a.ok()) return Reply::FromStatus(a.status());
  Checks checks;
  json observed = {{"group", c.resource.Canonical()},
                   {"group_exists", g->exists},
                   {"account", c.account.Canonical()},
                   {"account_exists", a->exists}};
  if (!g->exists) {
    // A group that is gone lists nobody: removal holds, addition fails.
    checks.Add(add ? "group_exists" : "group_absent", !add);
    return checks.Done(observed);
  }
  if (!g->IsGroup()) return Reply::FromStatus(NotAGroup(c.resource));
  Listing l = ListingOf(*g, c.account, a->uids);
  observed["listed"] = ListingJson(*g, l);
  if (add) {
    checks.Add("group_exists", true);
    checks.Add("account_exists", a->exists);
  }
  if (!add && g->posix && a->uids.empty()) {
    checks.Add("absent_from_memberUid", false,
               "the account's uid is unknown (no entry, and its DN is not "
               "uid=...)");
  }
  for (const auto& [attr, listed] : observed["listed"].items()) {
    const bool is = listed.get<bool>();
    checks.Add((add ? "listed_in_" : "absent_from_") + attr, is == add);
  }
  if (add && g->posix && a->exists) {
    const std::string uid = PosixUid(c.account, *a);
    Status unique = dir.CheckUidUnique(uid, c.account);
    if (!unique.ok() && unique.code() != ErrorCode::kFailedPrecondition) {
      return Reply::FromStatus(unique);
    }
    checks.Add("uid_unique", unique.ok(), unique.ok() ? "" : unique.message());
  }
  return checks.Done(observed);
}

}  // namespace

json LdapModule::Describe() const {
  const json account = "the account's DN, under options.people";
  const json group = "the group's DN (add: under options.groups)";
  json ops = json::array();
  ops.push_back({{"name", "create_account"},
                 {"resource", account},
                 {"ensures",
                  "the account exists (inetOrgPerson, "
                  "posixAccount), without a password"},
                 {"params",
                  {{"given_name", "string, required"},
                   {"surname", "string, required"},
                   {"mail", "string"},
                   {"department", "string"},
                   {"uid_number", "integer"},
                   {"gid_number", "integer"}}}});
  ops.push_back({{"name", "disable"},
                 {"resource", account},
                 {"ensures",
                  "pwdAccountLockedTime 000001010000Z and no "
                  "userPassword"},
                 {"params", json::object()}});
  ops.push_back({{"name", "delete"},
                 {"resource", account},
                 {"ensures",
                  "no group under the base lists the account, "
                  "and its entry is gone"},
                 {"params", json::object()}});
  ops.push_back({{"name", "add_member"},
                 {"resource", group},
                 {"subject", account},
                 {"ensures",
                  "the group lists the account (member, "
                  "uniqueMember or memberUid)"},
                 {"params", json::object()}});
  ops.push_back({{"name", "remove_member"},
                 {"resource", group},
                 {"subject", account},
                 {"ensures", "the group does not list the account"},
                 {"params", json::object()}});
  ops.push_back(
      {{"name", "reset_credential"},
       {"resource", account},
       {"ensures",
        "a new random password, proven by a bind and returned "
        "only sealed to params.recipient"},
       {"params",
        {{"recipient", "base64 X25519 public key, required"},
         {"not_before", "RFC 3339 time: verify checks pwdChangedTime"}}}});
  return {{"kind", "ldap"},
          {"operations", ops},
          {"resources",
           {{"account", "inetOrgPerson + posixAccount under options.people"},
            {"group", "groupOfNames, groupOfUniqueNames or posixGroup"}}},
          {"options",
           {{"base_dn", "DN, required"},
            {"people", "DN, default ou=people,<base_dn>"},
            {"groups", "DN, default ou=groups,<base_dn>"},
            {"tls", "none | starttls | ldaps, required"},
            {"ca_file", "absolute path"},
            {"timeout_ms", "integer, default 10000"}}},
          {"credential", {{"fields", {"bind_dn", "password"}}}}};
}

Reply LdapModule::Read(const protocol::Request& req,
                       const protocol::Credential& cred) {
  auto s = Open(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  return IsAccountOperation(s->action.op) ? ReadAccountOp(*s)
                                          : ReadMembershipOp(*s);
}

Reply LdapModule::Apply(const protocol::Request& req,
                        const protocol::Credential& cred) {
  auto s = Open(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  switch (s->action.op) {
    case Operation::kCreateAccount:
      return ApplyCreate(*s);
    case Operation::kDisable:
      return ApplyDisable(*s);
    case Operation::kDelete:
      return ApplyDelete(*s);
    case Operation::kAddMember:
    case Operation::kRemoveMember:
      return ApplyMembership(*s);
    case Operation::kResetCredential:
      return ApplyReset(*s);
  }
  return Reply::Fail(ErrorKind::kInvalid, "unknown operation");
}

Reply LdapModule::Verify(const protocol::Request& req,
                         const protocol::Credential& cred) {
  auto s = Open(req, cred);
  if (!s.ok()) return Reply::FromStatus(s.status());
  return IsAccountOperation(s->action.op) ? VerifyAccountOp(*s)
                                          : VerifyMembershipOp(*s);
}

Reply LdapModule::List(const protocol::Request& req,
                       const protocol::Credential& cred,
                       protocol::RecordWriter& out) {
  auto o = Options::Parse(req.target.options);
  if (!o.ok()) return Reply::FromStatus(o.status());
  auto id = ReadIdentity(cred);
  if (!id.ok()) return Reply::FromStatus(id.status());
  auto dir = Directory::Open(req.target, *o, id->bind_dn, id->password.str());
  if (!dir.ok()) return Reply::FromStatus(dir.status());
  Connection& conn = (*dir)->conn();
  const std::string people = o->people.Canonical();
  auto accounts = conn.Search(
      people, Scope::kSubtree,
      "(|(objectClass=person)(objectClass=posixAccount)(objectClass=account))",
      {"uid", "pwdAccountLockedTime"});
  if (!accounts.ok()) return Reply::FromStatus(accounts.status());
  auto with_password =
      conn.Search(people, Scope::kSubtree, "(userPassword=*)", {"1.1"});
  if (!with_password.ok()) return Reply::FromStatus(with_password.status());
  std::set<std::string> password_set;
  for (const auto& e : *with_password) password_set.insert(Canonical(e.dn));
  std::map<std::string, std::string> dn_by_uid;
  for (const auto& e : *accounts) {
    const std::string dn = Canonical(e.dn);
    for (const auto& uid : e.Get("uid")) dn_by_uid.emplace(uid, dn);
    protocol::Record r;
    r.type = protocol::Record::Type::kAccount;
    r.account = dn;
    r.attributes = {
        {"uid", e.First("uid")},
        {"disabled", e.First("pwdaccountlockedtime") == kLockedForever},
        {"has_password", password_set.count(dn) > 0}};
    Status st = out.Write(r);
    if (!st.ok()) return Reply::FromStatus(st);
  }
  auto groups = conn.Search(o->base.Canonical(), Scope::kSubtree,
                            "(|(objectClass=groupOfNames)"
                            "(objectClass=groupOfUniqueNames)"
                            "(objectClass=posixGroup))",
                            {"member", "uniqueMember", "memberUid"});
  if (!groups.ok()) return Reply::FromStatus(groups.status());
  for (const auto& g : *groups) {
    const std::string group = Canonical(g.dn);
    auto emit = [&](const std::string& account, json attrs) {
      protocol::Record r;
      r.type = protocol::Record::Type::kEntitlement;
      r.account = account;
      r.entitlement = group;
      r.attributes = std::move(attrs);
      return out.Write(r);
    };
    for (const char* attr : {"member", "uniqueMember"}) {
      const bool unique = attr[0] == 'u';
      for (const auto& v : g.Get(Lower(attr))) {
        std::string_view value = unique ? UniqueMemberDn(v) : v;
        if (IsPlaceholder(value)) continue;
        Status st = emit(Canonical(std::string(value)), {{"via", attr}});
        if (!st.ok()) return Reply::FromStatus(st);
      }
    }
    for (const auto& uid : g.Get("memberuid")) {
      auto known = dn_by_uid.find(uid);
      json attrs = {{"via", "memberUid"}, {"uid", uid}};
      std::string account;
      if (known != dn_by_uid.end()) {
        account = known->second;
      } else {
        // A dangling memberUid: named where its account would be.
        attrs["unresolved"] = true;
        account = "uid=" + EscapeDnValue(uid) + "," + people;
      }
      Status st = emit(account, attrs);
      if (!st.ok()) return Reply::FromStatus(st);
    }
  }
  return Reply::Ok(json::object());
}

}  // namespace deputy::ldap
