#include "agent/evidence/entry.h"

#include <gtest/gtest.h>

#include "agent/evidence/clock.h"

namespace deputy::evidence {
namespace {

TEST(Timestamp, FormatsAndParsesMicrosecondsUtc) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTimestamp(1796320800123456), "2026-12-03T18:00:00.123456Z");
  EXPECT_EQ(FormatTimestamp(951782400000000), "2000-02-29T00:00:00.000000Z");
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1796320800123456},
                         std::int64_t{951782400000000} - 1}) {
    EXPECT_EQ(*ParseTimestamp(FormatTimestamp(t)), t);
  }
}

TEST(Timestamp, RejectsEverythingButTheOneFormat) {
  for (const char* bad :
       {"2026-12-03T18:00:00Z", "2026-12-03 18:00:00.000000Z",
        "2026-12-03T18:00:00.000000+00:00", "2026-02-30T00:00:00.000000Z",
        "2025-02-29T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z",
        "2026-12-03T24:00:00.000000Z", "2026-12-03T18:00:60.000000Z",
        "2026-12-03t18:00:00.000000Z", "2026-12-03T18:00:00.00000aZ", ""}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

// The format's test vector (docs/evidence-log.md): the exact line and its
// entry hash.
TEST(Entry, MatchesTheDocumentedVector) {
  EntryDraft draft{
      "agent.started", "agent-1",
      "alice",         std::nullopt,
      std::nullopt,    {{"binary_sha256", "00ff"}, {"config_sha256", "ee11"}}};
  auto line = FormatEntry(draft, 0, 1796320800000000,
                          OriginHash("deputy.example.org/agent-1"));
  ASSERT_TRUE(line.ok()) << line.status().ToString();
  EXPECT_EQ(*line,
            "{\"seq\":0,\"time\":\"2026-12-03T18:00:00.000000Z\",\"prev\":"
            "\"" +
                HexEncode(OriginHash("deputy.example.org/agent-1")) +
                "\",\"kind\":\"agent.started\",\"actor\":\"agent-1\","
                "\"owner\":\"alice\",\"task\":null,\"action\":null,"
                "\"payload\":{\"binary_sha256\":\"00ff\",\"config_sha256\":"
                "\"ee11\"}}");
  EXPECT_EQ(HexEncode(OriginHash("deputy.example.org/agent-1")),
            "3da8114699315128c0b86f572e7d5a8a46dd4db02620444c7eca2dbf5396ca42");
  EXPECT_EQ(HexEncode(EntryHash(*line)),
            "214c5beed4eac83de20c792ec2fe7c5c754e77c080dd7ea093ba3c4f6467d110");
  auto e = ParseEntry(*line);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->seq, 0u);
  EXPECT_EQ(e->kind, "agent.started");
  EXPECT_FALSE(e->task.has_value());
  EXPECT_EQ(e->payload,
            "{\"binary_sha256\":\"00ff\",\"config_sha256\":\"ee11\"}");
}

TEST(Entry, ParseRejectsReorderedMissingOrExtraFields) {
  std::string prev(64, 'a');
  std::string good =
      "{\"seq\":1,\"time\":\"2026-12-03T18:00:00.000000Z\","
      "\"prev\":\"" +
      prev +
      "\",\"kind\":\"a.b\",\"actor\":\"x\",\"owner\":\"y\","
      "\"task\":\"t\",\"action\":null,\"payload\":{}}";
  ASSERT_TRUE(ParseEntry(good).ok());
  std::string cases[] = {
      // Fields swapped.
      "{\"time\":\"2026-12-03T18:00:00.000000Z\",\"seq\":1,\"prev\":\"" + prev +
          "\",\"kind\":\"a.b\",\"actor\":\"x\",\"owner\":\"y\","
          "\"task\":\"t\",\"action\":null,\"payload\":{}}",
      // An extra field.
      good.substr(0, good.size() - 1) + ",\"x\":1}",
      // Upper-case hex in prev.
      "{\"seq\":1,\"time\":\"2026-12-03T18:00:00.000000Z\",\"prev\":\"" +
          std::string(64, 'A') +
          "\",\"kind\":\"a.b\",\"actor\":\"x\",\"owner\":\"y\","
          "\"task\":\"t\",\"action\":null,\"payload\":{}}",
      // Payload not an object.
      "{\"seq\":1,\"time\":\"2026-12-03T18:00:00.000000Z\",\"prev\":\"" + prev +
          "\",\"kind\":\"a.b\",\"actor\":\"x\",\"owner\":\"y\","
          "\"task\":\"t\",\"action\":null,\"payload\":[]}",
      // Duplicate key inside the payload.
      "{\"seq\":1,\"time\":\"2026-12-03T18:00:00.000000Z\",\"prev\":\"" + prev +
          "\",\"kind\":\"a.b\",\"actor\":\"x\",\"owner\":\"y\","
          "\"task\":\"t\",\"action\":null,\"payload\":{\"a\":1,"
          "\"a\":2}}",
      // Negative seq, empty owner, trailing bytes.
      "{\"seq\":-1" + good.substr(8),
      good.substr(0, good.find("\"y\"")) + "\"\"" +
          good.substr(good.find("\"y\"") + 3),
      good + "x",
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(ParseEntry(c).ok()) << c;
  }
}

}  // namespace
}  // namespace deputy::evidence
