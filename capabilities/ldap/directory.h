// The directory as the LDAP module sees it: accounts, groups and who a
// group lists, read through one bound Connection, and the modifications
// that change a membership. Every filter value is escaped (RFC 4515);
// every DN read back is compared after normalisation (base/dn.h).
//
// Group classes and the attribute each lists members in:
//   groupOfNames        member        the account's DN
//   groupOfUniqueNames  uniqueMember  the account's DN, maybe #'bits'B
//   posixGroup          memberUid     the account's uid
// groupOfNames and groupOfUniqueNames must list at least one value, so
// when the last member goes, the empty DN (which names no entry) takes
// its place (kPlaceholderMember); adding a real member removes it again.
//
// Not thread-safe; one per module run.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/dn.h"
#include "base/status.h"
#include "capabilities/ldap/connection.h"
#include "capabilities/ldap/options.h"
#include "capabilities/protocol/protocol.h"

namespace deputy::ldap {

// ppolicy's permanent lock: locked until an administrator unlocks.
inline constexpr std::string_view kLockedForever = "000001010000Z";
// What stands in for the last member of a groupOfNames or
// groupOfUniqueNames: the empty (root) DN.
inline constexpr std::string_view kPlaceholderMember = "";

struct Account {
  bool exists = false;
  std::string dn;                 // As the server spells it; "" if absent.
  std::vector<std::string> uids;  // Its uid values (see Directory::Uids).
  bool locked = false;            // pwdAccountLockedTime is kLockedForever.
  std::string lock_time;          // pwdAccountLockedTime, if any.
  bool has_password = false;      // userPassword present (never read).
  bool has_children = false;      // hasSubordinates.
  std::string password_changed;   // pwdChangedTime, if any.
  Entry entry;
};

struct Group {
  bool exists = false;
  std::string dn;  // As the server spells it.
  Entry entry;
  bool names = false;   // groupOfNames.
  bool unique = false;  // groupOfUniqueNames.
  bool posix = false;   // posixGroup.
  bool IsGroup() const { return names || unique || posix; }
};

// The values of one group that name one account, per attribute.
struct Listing {
  std::vector<std::string> member;
  std::vector<std::string> unique_member;
  std::vector<std::string> member_uid;
  bool any() const {
    return !member.empty() || !unique_member.empty() || !member_uid.empty();
  }
};

// The values of `group` that name `account` (by DN, compared after
// normalisation) or one of `uids` (memberUid, compared exactly, as the
// schema's caseExactIA5Match does).
Listing ListingOf(const Group& group, const Dn& account,
                  const std::vector<std::string>& uids);
// The DN part of a uniqueMember value ("dn#'0101'B" -> "dn").
std::string_view UniqueMemberDn(std::string_view value);
// True for the placeholder member (the empty DN).
bool IsPlaceholder(std::string_view value);
// The modification that makes `group` list the account (add: `dn` as the
// server spells it, `uid` for a posixGroup) or list it no more (remove:
// every value in `listing`, with the placeholder added when the last
// member of a groupOfNames or groupOfUniqueNames goes). Empty when the
// group is already as wanted.
Mods MembershipChange(const Group& group, const Listing& listing, bool add,
                      const std::string& dn, const std::string& uid);

class Directory {
 public:
  // Connects and binds with the credential, then checks that base_dn
  // exists (so that a wrong base or server never reads as "absent").
  static Result<std::unique_ptr<Directory>> Open(const protocol::Target& target,
                                                 const Options& options,
                                                 const std::string& bind_dn,
                                                 std::string_view password);

  Connection& conn() { return *conn_; }
  const Options& options() const { return options_; }
  const ConnectSettings& settings() const { return settings_; }

  // The account at `dn`; exists=false when the server has no such entry.
  // For an absent account, uids holds the DN's uid= leaf value (if the
  // leaf is uid=), so dangling memberUid values can still be found.
  Result<Account> ReadAccount(const Dn& dn);
  Result<Group> ReadGroup(const Dn& dn);
  // Every group anywhere under base_dn that lists the account: its DN in
  // member or uniqueMember, or one of `uids` in memberUid.
  Result<std::vector<Group>> GroupsListing(
      const Dn& account, const std::vector<std::string>& uids);
  // Canonical DNs of GroupsListing, sorted.
  Result<std::vector<std::string>> Memberships(const Account& account,
                                               const Dn& dn);
  // uid is a unique key: FailedPrecondition (conflict) when an entry
  // other than `account` under base_dn has it.
  Status CheckUidUnique(const std::string& uid, const Dn& account);

 private:
  Directory(Options options, ConnectSettings settings,
            std::unique_ptr<Connection> conn)
      : options_(std::move(options)),
        settings_(std::move(settings)),
        conn_(std::move(conn)) {}

  Options options_;
  ConnectSettings settings_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace deputy::ldap
