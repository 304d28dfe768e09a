// GeneralizedTime and RFC 3339 parsing for the LDAP module's rotation
// checks (capabilities/ldap/gentime.h).
#include "capabilities/ldap/gentime.h"

#include <gtest/gtest.h>

namespace deputy::ldap {
namespace {

TEST(LdapTime, ParsesGeneralizedTimeAsTheServerWritesIt) {
  EXPECT_EQ(*ParseGeneralizedTime("20261204070214Z"), 1796367734);
  EXPECT_EQ(*ParseGeneralizedTime("20261204070214.123456Z"), 1796367734);
  EXPECT_EQ(*ParseGeneralizedTime("19700101000000Z"), 0);
  EXPECT_EQ(*ParseGeneralizedTime("20240229235959Z"), 1709251199);
}

TEST(LdapTime, RefusesMalformedOrLocalGeneralizedTime) {
  for (const char* t :
       {"", "2026120407021Z", "20261204070214", "20261204070214+0100",
        "20261304070214Z", "20230229000000Z", "20261204250000Z",
        "20261204070214.Z", "2026120407021xZ", "20261204070214ZZ"}) {
    EXPECT_FALSE(ParseGeneralizedTime(t).ok()) << t;
  }
}

TEST(LdapTime, ParsesRfc3339WithOffsetsAndFractions) {
  EXPECT_EQ(*ParseRfc3339("2026-12-04T07:02:14Z"), 1796367734);
  EXPECT_EQ(*ParseRfc3339("2026-12-04t07:02:14.999z"), 1796367734);
  EXPECT_EQ(*ParseRfc3339("2026-12-04T08:02:14+01:00"), 1796367734);
  EXPECT_EQ(*ParseRfc3339("2026-12-04T06:32:14-00:30"), 1796367734);
}

TEST(LdapTime, RefusesMalformedRfc3339) {
  for (const char* t : {"", "2026-12-04", "2026-12-04T07:02:14",
                        "2026-12-04 07:02:14Z", "2026-12-04T07:02:14+0100",
                        "2026-12-04T07:02:14+24:00", "2026-02-30T00:00:00Z",
                        "2026-12-04T07:02:14.Z", "2026-12-04T07:02:14Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(t).ok()) << t;
  }
}

TEST(LdapTime, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(1796367734), "2026-12-04T07:02:14Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(1709251199)), 1709251199);
}

}  // namespace
}  // namespace deputy::ldap
