// Who a group lists and how a membership changes, for every group class
// (capabilities/ldap/directory.h): pure logic, no server.
#include "capabilities/ldap/directory.h"

#include <gtest/gtest.h>

namespace deputy::ldap {
namespace {

using Change = Mods::Change;
using Op = Mods::Op;

const char kAnn[] = "uid=ann.lee,ou=people,dc=example,dc=org";
const char kBen[] = "uid=ben.kim,ou=people,dc=example,dc=org";

Dn D(const char* s) { return *Dn::Parse(s); }

Group MakeGroup(const char* cls, const char* attr,
                std::vector<std::string> values) {
  Group g;
  g.exists = true;
  g.dn = "cn=g,ou=groups,dc=example,dc=org";
  g.entry.dn = g.dn;
  g.entry.attrs["objectclass"] = {cls};
  g.entry.attrs[attr] = std::move(values);
  g.names = std::string(cls) == "groupOfNames";
  g.unique = std::string(cls) == "groupOfUniqueNames";
  g.posix = std::string(cls) == "posixGroup";
  return g;
}

TEST(LdapMembership, FindsEverySpellingOfTheAccountsDn) {
  Group g = MakeGroup("groupOfNames", "member",
                      {kBen, "UID=Ann.Lee, OU=People,DC=Example,DC=Org", kAnn,
                       "uid=ann.leex,ou=people,dc=example,dc=org"});
  Listing l = ListingOf(g, D(kAnn), {"ann.lee"});
  EXPECT_EQ(l.member.size(), 2u);
  EXPECT_TRUE(l.unique_member.empty());
  EXPECT_TRUE(l.member_uid.empty());
}

TEST(LdapMembership, UniqueMemberMayCarryAnOptionalUid) {
  EXPECT_EQ(UniqueMemberDn("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
  EXPECT_EQ(UniqueMemberDn("uid=a,dc=x"), "uid=a,dc=x");
  EXPECT_EQ(UniqueMemberDn("uid=a,dc=x#'01a'B"), "uid=a,dc=x#'01a'B");
  Group g = MakeGroup("groupOfUniqueNames", "uniquemember",
                      {std::string(kAnn) + "#'1'B", kBen});
  Listing l = ListingOf(g, D(kAnn), {});
  ASSERT_EQ(l.unique_member.size(), 1u);
  EXPECT_EQ(l.unique_member[0], std::string(kAnn) + "#'1'B");
}

TEST(LdapMembership, MemberUidComparesExactlyAsTheSchemaDoes) {
  Group g = MakeGroup("posixGroup", "memberuid", {"ann.lee", "Ann.Lee", "ben"});
  Listing l = ListingOf(g, D(kAnn), {"ann.lee"});
  ASSERT_EQ(l.member_uid.size(), 1u);
  EXPECT_EQ(l.member_uid[0], "ann.lee");
}

TEST(LdapMembership, AddingWritesTheAttributeOfTheGroupsClass) {
  Group names = MakeGroup("groupOfNames", "member", {kBen});
  EXPECT_EQ(MembershipChange(names, {}, true, kAnn, "ann.lee").changes(),
            (std::vector<Change>{{Op::kAdd, "member", {kAnn}}}));
  Group unique = MakeGroup("groupOfUniqueNames", "uniquemember", {kBen});
  EXPECT_EQ(MembershipChange(unique, {}, true, kAnn, "ann.lee").changes(),
            (std::vector<Change>{{Op::kAdd, "uniqueMember", {kAnn}}}));
  Group posix = MakeGroup("posixGroup", "memberuid", {"ben"});
  EXPECT_EQ(MembershipChange(posix, {}, true, kAnn, "ann.lee").changes(),
            (std::vector<Change>{{Op::kAdd, "memberUid", {"ann.lee"}}}));
}

TEST(LdapMembership, AddingWhenListedChangesNothing) {
  Group g = MakeGroup("groupOfNames", "member", {kAnn});
  Listing l = ListingOf(g, D(kAnn), {"ann.lee"});
  EXPECT_TRUE(MembershipChange(g, l, true, kAnn, "ann.lee").empty());
  Group none = MakeGroup("groupOfNames", "member", {kBen});
  EXPECT_TRUE(MembershipChange(none, {}, false, kAnn, "ann.lee").empty());
}

TEST(LdapMembership, RemovingTheLastMemberPutsThePlaceholderIn) {
  Group g = MakeGroup("groupOfNames", "member",
                      {kAnn, "uid=ANN.LEE,ou=people,dc=example,dc=org"});
  Listing l = ListingOf(g, D(kAnn), {});
  EXPECT_EQ(MembershipChange(g, l, false, "", "").changes(),
            (std::vector<Change>{
                {Op::kAdd, "member", {""}},
                {Op::kDelete,
                 "member",
                 {kAnn, "uid=ANN.LEE,ou=people,dc=example,dc=org"}}}));
}

TEST(LdapMembership, RemovingOneOfSeveralMembersNeedsNoPlaceholder) {
  Group g = MakeGroup("groupOfNames", "member", {kAnn, kBen});
  Listing l = ListingOf(g, D(kAnn), {});
  EXPECT_EQ(MembershipChange(g, l, false, "", "").changes(),
            (std::vector<Change>{{Op::kDelete, "member", {kAnn}}}));
  // A group that already holds the placeholder keeps it.
  Group p = MakeGroup("groupOfNames", "member", {"", kAnn});
  Listing lp = ListingOf(p, D(kAnn), {});
  EXPECT_EQ(MembershipChange(p, lp, false, "", "").changes(),
            (std::vector<Change>{{Op::kDelete, "member", {kAnn}}}));
}

TEST(LdapMembership, AddingARealMemberRemovesThePlaceholder) {
  Group g = MakeGroup("groupOfNames", "member", {""});
  EXPECT_TRUE(IsPlaceholder(""));
  EXPECT_FALSE(IsPlaceholder(kAnn));
  EXPECT_TRUE(ListingOf(g, D(kAnn), {}).member.empty());
  EXPECT_EQ(MembershipChange(g, {}, true, kAnn, "").changes(),
            (std::vector<Change>{{Op::kAdd, "member", {kAnn}},
                                 {Op::kDelete, "member", {""}}}));
}

TEST(LdapMembership, PosixGroupsMayBecomeEmpty) {
  Group g = MakeGroup("posixGroup", "memberuid", {"ann.lee"});
  Listing l = ListingOf(g, D(kAnn), {"ann.lee"});
  EXPECT_EQ(MembershipChange(g, l, false, "", "").changes(),
            (std::vector<Change>{{Op::kDelete, "memberUid", {"ann.lee"}}}));
}

}  // namespace
}  // namespace deputy::ldap
