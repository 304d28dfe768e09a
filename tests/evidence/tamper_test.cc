// Tamper tests for the evidence log: an attacker who can write to the log
// directory but does not hold the agent's key flips bytes, deletes,
// reorders, duplicates, truncates, rewrites and forks the log; VerifyLog
// must detect every one and name where (rule, seq, file, byte offset).
// Like leveldb's db/log_test.cc, each test builds a real log through
// EvidenceLog::Append, corrupts the files, and verifies them again.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/evidence/clock.h"
#include "agent/evidence/entry.h"
#include "agent/evidence/log.h"
#include "agent/evidence/note.h"
#include "agent/evidence/segments.h"
#include "agent/evidence/verifier.h"
#include "base/status.h"
#include "keys/private_key.h"
#include "keys/public_key.h"

namespace deputy::evidence {
namespace {

namespace fs = std::filesystem;
using keys::PrivateKey;
using keys::PublicKey;
using ::testing::HasSubstr;

constexpr std::string_view kOrigin = "deputy.example.org/agent-1";
constexpr std::string_view kActor = "agent-1";
constexpr std::string_view kOwner = "alice";
// 2026-12-03T18:00:00Z; every append advances the clock by 1 ms.
constexpr std::int64_t kStartMicros = 1796320800000000;
constexpr std::int64_t kStepMicros = 1000;
constexpr std::uint64_t kCheckpointEvery = 10;

// --- Building logs ---------------------------------------------------------

PrivateKey NewKey(std::string name) {
  auto key = PrivateKey::Generate(std::move(name));
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(key).value();
}

EntryDraft Draft(std::string kind, std::optional<std::string> task,
                 std::optional<std::string> action,
                 nlohmann::json payload = nlohmann::json::object()) {
  return EntryDraft{std::move(kind), std::string(kActor), std::string(kOwner),
                    std::move(task), std::move(action),   std::move(payload)};
}

// One task: task.received, then per action either gate.decision allow,
// action.intent, action.result, or (denied) gate.decision deny alone, then
// task.completed.
void AddTask(std::vector<EntryDraft>& out, const std::string& task,
             const std::vector<std::pair<std::string, bool>>& actions) {
  out.push_back(Draft("task.received", task, std::nullopt,
                      {{"request", "rotate LDAP credentials for " + task},
                       {"from", "Zo\xc3\xab (ops)"}}));
  for (const auto& [action, allowed] : actions) {
    out.push_back(Draft(
        "gate.decision", task, action,
        {{"effect", allowed ? "allow" : "deny"},
         {"policy", "ldap-ops"},
         {"rule", allowed ? 3 : 7},
         {"reasons", nlohmann::json::array({"owner alice", "in scope"})}}));
    if (!allowed) continue;
    out.push_back(Draft("action.intent", task, action,
                        {{"module", "ldap.modify"},
                         {"target", "cn=svc-" + action + ",ou=people"}}));
    out.push_back(Draft("action.result", task, action,
                        {{"exit", 0}, {"ok", true}, {"changed", 1}}));
  }
  out.push_back(
      Draft("task.completed", task, std::nullopt, {{"status", "done"}}));
}

// 40 entries in seven tasks; tasks end after 8, 13, 19, 27, 32, 35 and 40
// entries, so the log cut at any of those sizes still satisfies the
// semantic rules.
std::vector<EntryDraft> Scenario() {
  std::vector<EntryDraft> d;
  AddTask(d, "t1", {{"a1", true}, {"a2", true}});
  AddTask(d, "t2", {{"a1", true}});
  AddTask(d, "t3", {{"a1", true}, {"a2", false}});
  AddTask(d, "t4", {{"a1", true}, {"a2", true}});
  AddTask(d, "t5", {{"a1", true}});
  AddTask(d, "t6", {{"a1", false}});
  AddTask(d, "t7", {{"a1", true}});
  return d;
}

LogOptions DefaultLogOptions() {
  LogOptions options;
  options.checkpoint_every_entries = kCheckpointEvery;
  // Only entry counts (and explicit calls) trigger checkpoints: the fake
  // clock moves 1 ms per entry, far from this.
  options.checkpoint_every = std::chrono::milliseconds(60'000);
  options.sync_timeout = std::chrono::milliseconds(10'000);
  return options;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void AppendRaw(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + '\n';
  return out;
}

std::vector<std::uint64_t> OffsetsOf(const std::vector<std::string>& lines) {
  std::vector<std::uint64_t> offsets;
  std::uint64_t at = 0;
  for (const auto& l : lines) {
    offsets.push_back(at);
    at += l.size() + 1;
  }
  offsets.push_back(at);  // One past the end: the file size.
  return offsets;
}

// A log as written: its only segment's lines and its checkpoints.
struct LogFiles {
  std::string dir;
  std::string segment;
  std::string bytes;               // The segment file.
  std::vector<std::string> lines;  // Without '\n'.
  // offsets[k] is where line k starts; offsets[n] is the file size.
  std::vector<std::uint64_t> offsets;
  std::vector<std::uint64_t> checkpoints;  // Sizes, ascending.

  std::string CheckpointPath(std::uint64_t size) const {
    return LogLayout{dir}.CheckpointPath(size);
  }
  bool HasCheckpoint(std::uint64_t size) const {
    return std::find(checkpoints.begin(), checkpoints.end(), size) !=
           checkpoints.end();
  }
  void Restore() const { WriteAll(segment, bytes); }
  // Replaces the segment with these lines.
  void Rewrite(const std::vector<std::string>& new_lines) const {
    WriteAll(segment, JoinLines(new_lines));
  }
};

// Creates a log in `dir` and appends `drafts` (kSync, the clock 1 ms
// further for each), signing an extra checkpoint after each count in
// `checkpoint_after`, a final one, and closing it.
void WriteLog(const std::string& dir, const PrivateKey& key,
              const std::vector<EntryDraft>& drafts, LogOptions options,
              const std::set<std::size_t>& checkpoint_after = {}) {
  ASSERT_TRUE(EvidenceLog::Create(dir, kOrigin).ok());
  FakeClock clock(kStartMicros);
  auto log = EvidenceLog::Open(dir, key, std::string(kActor),
                               std::string(kOwner), clock, options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    clock.Advance(kStepMicros);
    auto appended = (*log)->Append(drafts[i], Durability::kSync);
    ASSERT_TRUE(appended.ok()) << i << ": " << appended.status().ToString();
    ASSERT_EQ(appended->seq, i);
    if (checkpoint_after.count(i + 1) != 0) {
      auto note = (*log)->CheckpointNow();
      ASSERT_TRUE(note.ok()) << note.status().ToString();
    }
  }
  auto note = (*log)->CheckpointNow();
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  Status closed = (*log)->Close();
  ASSERT_TRUE(closed.ok()) << closed.ToString();
}

std::vector<SegmentFile> Segments(const std::string& dir) {
  auto segments = ListSegments(LogLayout{dir});
  EXPECT_TRUE(segments.ok()) << segments.status().ToString();
  return segments.ok() ? *segments : std::vector<SegmentFile>{};
}

std::vector<std::string> SplitLines(std::string_view bytes) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = bytes.find('\n', start)) != bytes.npos;
       start = nl + 1) {
    lines.emplace_back(bytes.substr(start, nl - start));
  }
  EXPECT_EQ(start, bytes.size()) << "segment ends with a partial line";
  return lines;
}

// Reads back a log that has one segment.
void ReadLog(const std::string& dir, LogFiles& out) {
  out.dir = dir;
  auto segments = Segments(dir);
  ASSERT_EQ(segments.size(), 1u);
  out.segment = segments[0].path;
  out.bytes = ReadAll(out.segment);
  out.lines = SplitLines(out.bytes);
  out.offsets = OffsetsOf(out.lines);
  auto cps = ListCheckpoints(LogLayout{dir});
  ASSERT_TRUE(cps.ok()) << cps.status().ToString();
  out.checkpoints.clear();
  for (const auto& c : *cps) out.checkpoints.push_back(c.size);
}

// --- Verifying -------------------------------------------------------------

VerifyResult Verify(const std::string& dir, const PublicKey& key,
                    std::vector<WitnessedCheckpoint> witnessed = {},
                    bool allow_torn_tail = false, bool rules = true) {
  VerifyOptions options;
  options.agent_key = &key;
  options.witnessed = std::move(witnessed);
  if (rules) options.rules = DefaultRules();
  options.allow_torn_tail = allow_torn_tail;
  auto result = VerifyLog(dir, options);
  if (!result.ok()) {
    ADD_FAILURE() << "VerifyLog error: " << result.status().ToString();
    VerifyResult r;
    r.failure = VerifyFailure{"(VerifyLog returned an error)", std::nullopt, "",
                              0, result.status().ToString()};
    return r;
  }
  return std::move(result).value();
}

std::string Describe(const VerifyResult& r) {
  return r.failure ? r.failure->ToString() : "passed";
}

// Where a tampered log must fail.
struct Expected {
  std::string rule;
  std::optional<std::uint64_t> seq;
  std::string file;
  std::uint64_t offset = 0;
};

std::string Describe(const Expected& e) {
  VerifyFailure f{e.rule, e.seq, e.file, e.offset, "..."};
  return f.ToString();
}

::testing::AssertionResult FailsAt(const VerifyResult& r, const Expected& e) {
  if (!r.failure) {
    return ::testing::AssertionFailure()
           << "tamper not detected; expected " << Describe(e);
  }
  const VerifyFailure& f = *r.failure;
  if (f.rule != e.rule || f.seq != e.seq || f.file != e.file ||
      f.offset != e.offset) {
    return ::testing::AssertionFailure()
           << "got " << f.ToString() << "\n  expected " << Describe(e);
  }
  return ::testing::AssertionSuccess();
}

WitnessedCheckpoint Witness(const std::string& note_path,
                            const PublicKey& agent_key) {
  auto cp = ReadSignedCheckpoint(note_path, kOrigin, agent_key);
  EXPECT_TRUE(cp.ok()) << cp.status().ToString();
  return WitnessedCheckpoint{"witness copy of " + note_path,
                             cp.ok() ? *cp : Checkpoint{}};
}

// --- The fixture -----------------------------------------------------------

class EvidenceTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/deputy-tamper-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string Dir(std::string_view name) const {
    return root_ + "/" + std::string(name);
  }
  const PublicKey& pub() const { return key_.public_key(); }

  // The 40-entry scenario with checkpoints at 10, 20, 30 and 40 entries,
  // verified clean before any test tampers with it.
  void BuildScenarioLog(LogFiles& log) {
    ASSERT_NO_FATAL_FAILURE(
        WriteLog(Dir("log"), key_, Scenario(), DefaultLogOptions()));
    ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("log"), log));
    ASSERT_EQ(log.lines.size(), 40u);
    ASSERT_EQ(log.checkpoints, (std::vector<std::uint64_t>{10, 20, 30, 40}));
    VerifyResult clean = Verify(log.dir, pub());
    ASSERT_TRUE(clean.ok()) << Describe(clean);
    ASSERT_EQ(clean.entries, 40u);
    ASSERT_EQ(clean.checkpoints_verified, 4u);
  }

  // Writes `drafts` (the writer does not enforce semantics), checks the
  // log is intact, and verifies it with the default rules.
  VerifyResult WriteAndVerify(const std::vector<EntryDraft>& drafts,
                              LogFiles& log) {
    WriteLog(Dir("log"), key_, drafts, DefaultLogOptions());
    if (!HasFatalFailure()) ReadLog(Dir("log"), log);
    if (HasFatalFailure()) return VerifyResult{};
    VerifyResult integrity = Verify(log.dir, pub(), {}, false, false);
    EXPECT_TRUE(integrity.ok()) << Describe(integrity);
    return Verify(log.dir, pub());
  }

  std::string root_;
  PrivateKey key_ = NewKey("agent-1");
};

TEST_F(EvidenceTamper, UntamperedScenarioPassesDefaultRules) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  // Times are distinct and ascending, one per millisecond.
  for (std::size_t k = 0; k < log.lines.size(); ++k) {
    auto e = ParseEntry(log.lines[k]);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->seq, k);
    EXPECT_EQ(*ParseTimestamp(e->time),
              kStartMicros + static_cast<std::int64_t>(k + 1) * kStepMicros);
  }
}

// --- a. Byte flips ---------------------------------------------------------

// Where VerifyLog must fail when byte `at` of the segment, inside line k
// or on its terminating '\n', is XORed with `mask`. The verifier checks
// each line in order: well-formed, seq, prev, time, the semantic rules,
// then the checkpoint roots at this size. A line that still parses with
// its own seq and prev has a different hash, so the break shows at the
// next check that covers it: a checkpoint of size k+1, else line k+1's
// prev.
Expected ExpectedForFlip(const LogFiles& log, std::size_t k, std::uint64_t at,
                         std::uint8_t mask) {
  const std::size_t n = log.lines.size();
  const std::uint64_t line_at = log.offsets[k];
  Expected here{"well-formed", k, log.segment, line_at};
  if (at == line_at + log.lines[k].size()) {
    // The '\n' is gone: line k runs into line k+1 (not a valid entry), or
    // the last line has no end (a torn line).
    if (k + 1 == n) here.rule = "torn-line";
    return here;
  }
  std::string tampered = log.lines[k];
  tampered[at - line_at] = static_cast<char>(tampered[at - line_at] ^ mask);
  auto e = ParseEntry(tampered);
  if (!e.ok()) return here;
  auto original = ParseEntry(log.lines[k]);
  if (e->seq != k) {
    here.rule = "seq";
    return here;
  }
  if (e->prev != original->prev) {
    here.rule = "prev-link";
    return here;
  }
  if (k > 0 && e->time < ParseEntry(log.lines[k - 1])->time) {
    here.rule = "time";
    return here;
  }
  auto rules = DefaultRules();
  for (std::size_t j = 0; j < k; ++j) {
    auto prior = ParseEntry(log.lines[j]);
    for (auto& rule : rules) EXPECT_TRUE(rule->OnEntry(*prior).ok());
  }
  for (auto& rule : rules) {
    if (!rule->OnEntry(*e).ok()) {
      here.rule = std::string(rule->name());
      return here;
    }
  }
  if (log.HasCheckpoint(k + 1)) {
    here.rule = "checkpoint-root";
    return here;
  }
  // Every log here ends with a checkpoint, so k+1 exists.
  EXPECT_LT(k + 1, n);
  return Expected{"prev-link", k + 1, log.segment, log.offsets[k + 1]};
}

struct FlipTally {
  std::uint64_t total = 0;
  std::uint64_t detected = 0;
  std::uint64_t located = 0;
  std::map<std::string, std::uint64_t> by_rule;
  std::vector<std::string> misses;  // The first few, for the message.

  std::string Summary() const {
    std::ostringstream s;
    s << detected << "/" << total << " detected, " << located << "/" << total
      << " at the expected rule, seq and byte offset; by rule:";
    for (const auto& [rule, count] : by_rule) s << " " << rule << "=" << count;
    return s.str();
  }
};

// Flips every byte of the segment for which `pick` says yes, one at a
// time, in place, restoring it after each verification.
template <typename Pick>
FlipTally FlipBytes(const LogFiles& log, const PublicKey& key,
                    std::uint8_t mask, Pick pick) {
  FlipTally tally;
  int fd = ::open(log.segment.c_str(), O_RDWR | O_CLOEXEC);
  EXPECT_GE(fd, 0) << log.segment;
  if (fd < 0) return tally;
  for (std::uint64_t at = 0; at < log.bytes.size(); ++at) {
    if (!pick(at)) continue;
    const std::size_t k =
        static_cast<std::size_t>(
            std::upper_bound(log.offsets.begin(), log.offsets.end(), at) -
            log.offsets.begin()) -
        1;
    const Expected want = ExpectedForFlip(log, k, at, mask);
    const char flipped = static_cast<char>(log.bytes[at] ^ mask);
    EXPECT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(at)), 1);
    const VerifyResult got = Verify(log.dir, key);
    EXPECT_EQ(::pwrite(fd, &log.bytes[at], 1, static_cast<off_t>(at)), 1);

    ++tally.total;
    if (got.failure) {
      ++tally.detected;
      ++tally.by_rule[got.failure->rule];
      // Whatever the rule, the location is line k or line k+1.
      const bool near = got.failure->seq &&
                        (*got.failure->seq == k || *got.failure->seq == k + 1);
      auto result = FailsAt(got, want);
      if (result && near) {
        ++tally.located;
        continue;
      }
    }
    if (tally.misses.size() < 20) {
      std::ostringstream m;
      m << "byte " << at << " (line " << k << ", '" << log.bytes[at] << "' ^ 0x"
        << std::hex << int{mask} << std::dec
        << "): " << FailsAt(got, want).message();
      tally.misses.push_back(m.str());
    }
  }
  ::close(fd);
  return tally;
}

TEST_F(EvidenceTamper, DetectsEveryByteFlipWithItsLocation) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  // A flip that made a new '\n' would split a line; the scenario holds no
  // byte that either mask turns into one, so each flip stays in its line.
  ASSERT_EQ(log.bytes.find('\x0b'), std::string::npos);
  ASSERT_EQ(log.bytes.find('*'), std::string::npos);

  FlipTally all =
      FlipBytes(log, pub(), 0x01, [](std::uint64_t) { return true; });
  std::printf("[ flips    ] XOR 0x01, every byte: %s\n", all.Summary().c_str());
  RecordProperty("xor01_total", static_cast<int>(all.total));
  RecordProperty("xor01_detected", static_cast<int>(all.detected));
  RecordProperty("xor01_located", static_cast<int>(all.located));
  EXPECT_EQ(all.total, log.bytes.size());
  EXPECT_EQ(all.detected, all.total);
  EXPECT_EQ(all.located, all.total);
  for (const auto& m : all.misses) ADD_FAILURE() << m;

  // A second mask on every third byte and every line end: 0x20 turns
  // lower-case hex, kinds and names to upper case and '{' into '['.
  FlipTally sample = FlipBytes(log, pub(), 0x20, [&](std::uint64_t at) {
    return at % 3 == 0 || log.bytes[at] == '\n';
  });
  std::printf("[ flips    ] XOR 0x20, sampled: %s\n", sample.Summary().c_str());
  RecordProperty("xor20_total", static_cast<int>(sample.total));
  RecordProperty("xor20_detected", static_cast<int>(sample.detected));
  RecordProperty("xor20_located", static_cast<int>(sample.located));
  EXPECT_GT(sample.total, log.bytes.size() / 3);
  EXPECT_EQ(sample.detected, sample.total);
  EXPECT_EQ(sample.located, sample.total);
  for (const auto& m : sample.misses) ADD_FAILURE() << m;

  // The flips exercised every kind of failure, not one rule by luck.
  for (const char* rule : {"well-formed", "seq", "prev-link", "time",
                           "checkpoint-root", "torn-line"}) {
    EXPECT_GT(all.by_rule[rule] + sample.by_rule[rule], 0u) << rule;
  }
  // Restored byte for byte.
  EXPECT_EQ(ReadAll(log.segment), log.bytes);
  EXPECT_TRUE(Verify(log.dir, pub()).ok());
}

TEST_F(EvidenceTamper, FlippingALineEndMergesLinesOrTearsTheTail) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::size_t n = log.lines.size();
  for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x20}}) {
    for (std::size_t k = 0; k < n; ++k) {
      std::string bytes = log.bytes;
      const std::uint64_t nl = log.offsets[k + 1] - 1;
      bytes[nl] = static_cast<char>(bytes[nl] ^ mask);
      ASSERT_NO_FATAL_FAILURE(WriteAll(log.segment, bytes));
      EXPECT_TRUE(FailsAt(Verify(log.dir, pub()),
                          {k + 1 == n ? "torn-line" : "well-formed", k,
                           log.segment, log.offsets[k]}))
          << "line end of seq " << k;
    }
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

// --- b. Deleting, reordering and duplicating entries -----------------------

TEST_F(EvidenceTamper, DetectsEveryDeletedEntryAtItsSeq) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::size_t n = log.lines.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<std::string> lines = log.lines;
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(k));
    ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));
    VerifyResult r = Verify(log.dir, pub());
    if (k + 1 < n) {
      // Seq k+1 now stands where seq k belongs.
      EXPECT_TRUE(FailsAt(r, {"seq", k, log.segment, log.offsets[k]}))
          << "deleted seq " << k;
      if (r.failure) {
        EXPECT_THAT(r.failure->message,
                    HasSubstr("found seq " + std::to_string(k + 1) +
                              " where seq " + std::to_string(k) + " belongs"));
      }
    } else {
      // Deleting the last entry leaves a well-formed chain that is shorter
      // than the final checkpoint.
      // It is located where seq k is missing: the end of the file.
      ASSERT_TRUE(FailsAt(r, {"truncated", k, log.segment, log.offsets[k]}))
          << "deleted seq " << k;
      EXPECT_THAT(r.failure->message, HasSubstr(log.CheckpointPath(n)));
    }
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

TEST_F(EvidenceTamper, DetectsEverySwapOfNeighbouringEntriesAtTheFirst) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  for (std::size_t k = 0; k + 1 < log.lines.size(); ++k) {
    std::vector<std::string> lines = log.lines;
    std::swap(lines[k], lines[k + 1]);
    ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));
    EXPECT_TRUE(FailsAt(Verify(log.dir, pub()),
                        {"seq", k, log.segment, log.offsets[k]}))
        << "swapped seq " << k << " and " << k + 1;
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

TEST_F(EvidenceTamper, DetectsEveryDuplicatedEntryAtTheCopy) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  for (std::size_t k = 0; k < log.lines.size(); ++k) {
    std::vector<std::string> lines = log.lines;
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(k) + 1,
                 log.lines[k]);
    ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));
    // The copy stands where seq k+1 belongs; it starts where line k+1
    // started (the end of the file when k is the last entry).
    EXPECT_TRUE(FailsAt(Verify(log.dir, pub()),
                        {"seq", k + 1, log.segment, log.offsets[k + 1]}))
        << "duplicated seq " << k;
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

TEST_F(EvidenceTamper, DetectsADeletedOrSwappedSegment) {
  LogOptions options = DefaultLogOptions();
  options.segment_bytes = 2000;
  ASSERT_NO_FATAL_FAILURE(WriteLog(Dir("log"), key_, Scenario(), options));
  const std::string dir = Dir("log");
  const std::vector<SegmentFile> segments = Segments(dir);
  ASSERT_GE(segments.size(), 3u);
  ASSERT_TRUE(Verify(dir, pub()).ok());
  const fs::path aside = Dir("aside.log");

  // A segment in the middle or at the start: the next one starts at a seq
  // that is not next.
  for (std::size_t i : {std::size_t{0}, std::size_t{1}}) {
    fs::rename(segments[i].path, aside);
    EXPECT_TRUE(FailsAt(Verify(dir, pub()), {"seq", segments[i].first_seq,
                                             segments[i + 1].path, 0}))
        << "deleted segment " << i;
    fs::rename(aside, segments[i].path);
  }
  // The last segment: the log ends before its final checkpoint.
  fs::rename(segments.back().path, aside);
  VerifyResult r = Verify(dir, pub());
  const std::string& now_last = segments[segments.size() - 2].path;
  EXPECT_TRUE(FailsAt(r, {"truncated", segments.back().first_seq, now_last,
                          fs::file_size(now_last)}));
  fs::rename(aside, segments.back().path);

  // Two segments' contents swapped under their names.
  const std::string first = ReadAll(segments[0].path);
  const std::string second = ReadAll(segments[1].path);
  ASSERT_NO_FATAL_FAILURE(WriteAll(segments[0].path, second));
  ASSERT_NO_FATAL_FAILURE(WriteAll(segments[1].path, first));
  EXPECT_TRUE(FailsAt(Verify(dir, pub()), {"seq", 0, segments[0].path, 0}));
  ASSERT_NO_FATAL_FAILURE(WriteAll(segments[0].path, first));
  ASSERT_NO_FATAL_FAILURE(WriteAll(segments[1].path, second));
  EXPECT_TRUE(Verify(dir, pub()).ok());
}

TEST_F(EvidenceTamper, DetectsEveryByteFlipInACheckpointNote) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::string path = log.CheckpointPath(20);
  const std::string note = ReadAll(path);
  std::uint64_t total = 0;
  std::uint64_t detected = 0;
  for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x20}}) {
    for (std::size_t at = 0; at < note.size(); ++at) {
      std::string flipped = note;
      flipped[at] = static_cast<char>(flipped[at] ^ mask);
      ASSERT_NO_FATAL_FAILURE(WriteAll(path, flipped));
      ++total;
      auto result = FailsAt(Verify(log.dir, pub()),
                            {"checkpoint-signature", std::nullopt, path, 0});
      if (result) ++detected;
      EXPECT_TRUE(result) << "byte " << at << " ^ " << int{mask};
    }
  }
  std::printf("[ flips    ] checkpoint note: %llu/%llu detected\n",
              static_cast<unsigned long long>(detected),
              static_cast<unsigned long long>(total));
  ASSERT_NO_FATAL_FAILURE(WriteAll(path, note));
  EXPECT_TRUE(Verify(log.dir, pub()).ok());
}

// --- c. Truncation ---------------------------------------------------------

TEST_F(EvidenceTamper, DetectsATruncatedTailByTheAgentsOwnCheckpoint) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::size_t n = log.lines.size();
  for (std::size_t m : {std::size_t{1}, std::size_t{5}, n}) {
    const std::size_t kept = n - m;
    ASSERT_NO_FATAL_FAILURE(WriteAll(
        log.segment, std::string_view(log.bytes).substr(0, log.offsets[kept])));
    VerifyResult r = Verify(log.dir, pub());
    // Located where the first missing entry belongs.
    ASSERT_TRUE(FailsAt(r, {"truncated", kept, log.segment, log.offsets[kept]}))
        << "removed the last " << m;
    // The first checkpoint the shortened log no longer reaches.
    const std::uint64_t missed =
        *std::upper_bound(log.checkpoints.begin(), log.checkpoints.end(), kept);
    EXPECT_THAT(r.failure->message, HasSubstr(log.CheckpointPath(missed)));
    EXPECT_THAT(r.failure->message,
                HasSubstr("holds " + std::to_string(kept) + " entries"));
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

// Truncating the entries AND deleting the agent's checkpoints beyond the
// new end leaves a log that is consistent with itself: nothing the agent
// wrote can tell. This is why witnesses exist: a checkpoint held outside
// the agent's directory still names the size the log once had.
TEST_F(EvidenceTamper, TruncationWithCheckpointsDeletedNeedsAWitness) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::size_t n = log.lines.size();
  // What a witness kept before the attack: the final checkpoint.
  const WitnessedCheckpoint witnessed = Witness(log.CheckpointPath(n), pub());
  ASSERT_EQ(witnessed.checkpoint.size, n);
  const fs::path saved = Dir("saved-checkpoints");
  fs::copy(LogLayout{log.dir}.CheckpointDir(), saved);

  for (std::size_t m : {std::size_t{1}, std::size_t{5}, n}) {
    const std::size_t kept = n - m;
    ASSERT_NO_FATAL_FAILURE(WriteAll(
        log.segment, std::string_view(log.bytes).substr(0, log.offsets[kept])));
    for (std::uint64_t size : log.checkpoints) {
      if (size > kept) fs::remove(log.CheckpointPath(size));
    }

    VerifyResult alone = Verify(log.dir, pub());
    EXPECT_TRUE(alone.ok())
        << "removed the last " << m << ": " << Describe(alone);
    EXPECT_EQ(alone.entries, kept);

    VerifyResult r = Verify(log.dir, pub(), {witnessed});
    ASSERT_TRUE(FailsAt(r, {"truncated", kept, log.segment, log.offsets[kept]}))
        << "removed the last " << m;
    EXPECT_THAT(r.failure->message, HasSubstr(witnessed.source));

    fs::copy(saved, LogLayout{log.dir}.CheckpointDir(),
             fs::copy_options::overwrite_existing);
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
  EXPECT_TRUE(Verify(log.dir, pub(), {witnessed}).ok());
}

// Entries are authenticated only by the checkpoints that cover them. An
// attacker can append well-chained entries after the latest checkpoint,
// and no verifier can tell them from entries the agent wrote just before
// a crash; VerifyResult says how many entries no checkpoint covers. The
// writer's Open adopts them, and its next checkpoint signs them. The
// window is what checkpoint_every and checkpoint_every_entries bound, and
// a clean Close always ends on a checkpoint.
TEST_F(EvidenceTamper, EntriesAfterTheLatestCheckpointAreNotAuthenticated) {
  const std::vector<EntryDraft> scenario = Scenario();
  const std::vector<EntryDraft> drafts(scenario.begin(), scenario.begin() + 13);
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("log"), key_, drafts, DefaultLogOptions()));
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("log"), log));
  ASSERT_EQ(log.checkpoints.back(), 13u);

  // A forged, allowed and resolved action after the final checkpoint.
  std::vector<std::string> lines = log.lines;
  const std::vector<EntryDraft> forged = {
      Draft("gate.decision", "t9", "a1", {{"effect", "allow"}}),
      Draft("action.intent", "t9", "a1", {{"target", "cn=admin"}}),
      Draft("action.result", "t9", "a1", {{"exit", 0}})};
  for (const EntryDraft& d : forged) {
    auto line = FormatEntry(d, lines.size(), kStartMicros + 50 * kStepMicros,
                            EntryHash(lines.back()));
    ASSERT_TRUE(line.ok()) << line.status().ToString();
    lines.push_back(*line);
  }
  ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));

  VerifyResult r = Verify(log.dir, pub());
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.entries, 16u);
  EXPECT_EQ(r.latest_checkpoint_size, 13u);  // Seq 13..15: no signature.

  FakeClock clock(kStartMicros + 100 * kStepMicros);
  auto opened =
      EvidenceLog::Open(log.dir, key_, std::string(kActor), std::string(kOwner),
                        clock, DefaultLogOptions());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ((*opened)->recovery().entries, 16u);
  EXPECT_EQ((*opened)->recovery().cut_bytes, 0u);
  // What the writer can do is say so: the adopted, never-signed range is
  // recorded for auditors, and the verifier reports the unsigned tail.
  EXPECT_EQ(r.unsigned_tail(), 3u);
  ASSERT_TRUE((*opened)->Close().ok());
  LogFiles after;
  ASSERT_NO_FATAL_FAILURE(ReadLog(log.dir, after));
  ASSERT_EQ(after.lines.size(), 17u);
  auto adopted = ParseEntry(after.lines.back());
  ASSERT_TRUE(adopted.ok());
  EXPECT_EQ(adopted->kind, "log.reopened");
  EXPECT_THAT(std::string(adopted->payload), HasSubstr("\"unsigned_from\":13"));
  EXPECT_THAT(std::string(adopted->payload), HasSubstr("\"unsigned_to\":16"));
}

// --- d. Forks and foreign checkpoints --------------------------------------

TEST_F(EvidenceTamper, DetectsAForkAgainstAWitnessedCheckpoint) {
  // Two logs of one agent (one origin, one key) that agree on their first
  // 15 entries and then differ: B records another target at seq 15.
  const std::vector<EntryDraft> scenario = Scenario();
  std::vector<EntryDraft> a(scenario.begin(), scenario.begin() + 32);
  std::vector<EntryDraft> b(scenario.begin(), scenario.begin() + 27);
  ASSERT_EQ(b[15].kind, "action.intent");
  b[15].payload["target"] = "cn=mallory,ou=people";
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("a"), key_, a, DefaultLogOptions(), {15, 16}));
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("b"), key_, b, DefaultLogOptions(), {15, 16}));
  LogFiles log_a;
  LogFiles log_b;
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("a"), log_a));
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("b"), log_b));
  ASSERT_TRUE(Verify(log_a.dir, pub()).ok());
  ASSERT_TRUE(Verify(log_b.dir, pub()).ok());
  for (std::size_t k = 0; k < 15; ++k) {
    ASSERT_EQ(log_a.lines[k], log_b.lines[k]) << k;
  }
  ASSERT_NE(log_a.lines[15], log_b.lines[15]);
  // Up to the fork both logs signed the very same checkpoints.
  for (std::uint64_t size : {10, 15}) {
    EXPECT_EQ(ReadAll(log_a.CheckpointPath(size)),
              ReadAll(log_b.CheckpointPath(size)));
  }
  ASSERT_TRUE(log_a.HasCheckpoint(16));
  ASSERT_GT(log_a.checkpoints.back(), log_b.lines.size());

  std::uint64_t passed = 0;
  std::uint64_t forked = 0;
  std::uint64_t longer = 0;
  for (std::uint64_t size : log_a.checkpoints) {
    const WitnessedCheckpoint w = Witness(log_a.CheckpointPath(size), pub());
    VerifyResult r = Verify(log_b.dir, pub(), {w});
    if (size <= 15) {
      ++passed;
      EXPECT_TRUE(r.ok()) << "A's checkpoint " << size << ": " << Describe(r);
      EXPECT_EQ(r.witnessed_verified, 1u);
    } else if (size <= log_b.lines.size()) {
      ++forked;
      EXPECT_TRUE(FailsAt(r, {"witness-root", size - 1, log_b.segment,
                              log_b.offsets[size - 1]}))
          << "A's checkpoint " << size;
      if (r.failure) {
        EXPECT_THAT(r.failure->message, HasSubstr(w.source));
      }
    } else {
      ++longer;
      const std::size_t end = log_b.lines.size();
      ASSERT_TRUE(
          FailsAt(r, {"truncated", end, log_b.segment, log_b.offsets[end]}))
          << "A's checkpoint " << size;
      EXPECT_THAT(r.failure->message, HasSubstr(w.source));
    }
  }
  EXPECT_GE(passed, 2u);  // 10 and 15.
  EXPECT_GE(forked, 1u);  // 16 at least.
  EXPECT_EQ(longer, 1u);  // A's final checkpoint.
}

TEST_F(EvidenceTamper, RejectsACheckpointSignedByAnotherKey) {
  // Log C holds exactly B's entries but belongs to another agent key: its
  // checkpoint has the right root and origin, only the signer is wrong.
  const std::vector<EntryDraft> scenario = Scenario();
  const PrivateKey other = NewKey("agent-2");
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("b"), key_, scenario, DefaultLogOptions()));
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("c"), other, scenario, DefaultLogOptions()));
  LogFiles b;
  LogFiles c;
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("b"), b));
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("c"), c));
  ASSERT_EQ(b.bytes, c.bytes);  // Entries do not depend on the key.
  ASSERT_TRUE(Verify(c.dir, other.public_key()).ok());

  for (std::uint64_t size : b.checkpoints) {
    const std::string ours = ReadAll(b.CheckpointPath(size));
    ASSERT_NE(ours, ReadAll(c.CheckpointPath(size)));
    ASSERT_NO_FATAL_FAILURE(
        WriteAll(b.CheckpointPath(size), ReadAll(c.CheckpointPath(size))));
    VerifyResult r = Verify(b.dir, pub());
    EXPECT_TRUE(FailsAt(
        r, {"checkpoint-signature", std::nullopt, b.CheckpointPath(size), 0}))
        << "checkpoint " << size;
    ASSERT_NO_FATAL_FAILURE(WriteAll(b.CheckpointPath(size), ours));
  }
  // A genuine checkpoint filed under another size is refused too.
  fs::copy_file(b.CheckpointPath(10), b.CheckpointPath(12));
  EXPECT_TRUE(
      FailsAt(Verify(b.dir, pub()),
              {"checkpoint-signature", std::nullopt, b.CheckpointPath(12), 0}));
  fs::remove(b.CheckpointPath(12));
  EXPECT_TRUE(Verify(b.dir, pub()).ok());
}

// --- e. A rewritten entry with a re-chained suffix -------------------------

// The attacker rewrites entry k and recomputes prev for every later entry:
// every line is well formed and every link holds, so only a signed root
// can tell.
std::vector<std::string> RewriteAndRechain(const LogFiles& log,
                                           const std::vector<EntryDraft>& d,
                                           std::size_t k) {
  std::vector<std::string> lines(log.lines.begin(), log.lines.begin() + k);
  Hash prev = k == 0 ? OriginHash(kOrigin) : EntryHash(log.lines[k - 1]);
  for (std::size_t j = k; j < log.lines.size(); ++j) {
    EntryDraft draft = d[j];
    if (j == k) draft.payload["comment"] = "rewritten after the fact";
    auto time = ParseTimestamp(ParseEntry(log.lines[j])->time);
    auto line = FormatEntry(draft, j, *time, prev);
    EXPECT_TRUE(line.ok()) << line.status().ToString();
    if (j > k) {
      // Only prev differs from what the agent wrote.
      const std::size_t body = line->find(",\"kind\":");
      EXPECT_EQ(line->substr(body), log.lines[j].substr(body)) << j;
      EXPECT_NE(*line, log.lines[j]) << j;
    }
    lines.push_back(*line);
    prev = EntryHash(lines.back());
  }
  return lines;
}

TEST_F(EvidenceTamper, DetectsARechainedRewriteAtTheNextCheckpointRoot) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::vector<EntryDraft> drafts = Scenario();
  for (std::size_t k = 0; k < log.lines.size(); ++k) {
    const std::vector<std::string> lines = RewriteAndRechain(log, drafts, k);
    ASSERT_NE(lines[k], log.lines[k]);
    ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));
    const std::vector<std::uint64_t> offsets = OffsetsOf(lines);
    const std::uint64_t cp =
        *std::upper_bound(log.checkpoints.begin(), log.checkpoints.end(), k);
    VerifyResult r = Verify(log.dir, pub());
    EXPECT_TRUE(
        FailsAt(r, {"checkpoint-root", cp - 1, log.segment, offsets[cp - 1]}))
        << "rewrote seq " << k;
    if (r.failure) {
      EXPECT_THAT(r.failure->message, HasSubstr(log.CheckpointPath(cp)));
    }
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
}

TEST_F(EvidenceTamper, RechainedRewriteWithCheckpointsDeletedNeedsAWitness) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  const std::size_t k = 23;
  const WitnessedCheckpoint witnessed = Witness(log.CheckpointPath(30), pub());
  const std::vector<std::string> lines = RewriteAndRechain(log, Scenario(), k);
  ASSERT_NO_FATAL_FAILURE(log.Rewrite(lines));
  for (std::uint64_t size : log.checkpoints) {
    if (size > k) fs::remove(log.CheckpointPath(size));
  }
  // The agent's own evidence can no longer tell.
  VerifyResult alone = Verify(log.dir, pub());
  EXPECT_TRUE(alone.ok()) << Describe(alone);
  // The witness can.
  VerifyResult r = Verify(log.dir, pub(), {witnessed});
  EXPECT_TRUE(
      FailsAt(r, {"witness-root", 29, log.segment, OffsetsOf(lines)[29]}));
  if (r.failure) {
    EXPECT_THAT(r.failure->message, HasSubstr(witnessed.source));
  }
}

// --- f. Semantic rules -----------------------------------------------------

TEST_F(EvidenceTamper,
       IntentWithoutAnAllowDecisionFailsIntentNeedsAllowAtItsSeq) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("task.received", "t1", std::nullopt),
       Draft("action.intent", "t1", "a1", {{"module", "ldap.modify"}}),
       Draft("action.result", "t1", "a1", {{"exit", 0}}),
       Draft("task.completed", "t1", std::nullopt)},
      log);
  EXPECT_TRUE(
      FailsAt(r, {"intent-needs-allow", 1, log.segment, log.offsets[1]}));
}

TEST_F(EvidenceTamper, IntentAfterADenyDecisionFailsIntentNeedsAllowAtItsSeq) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("task.received", "t1", std::nullopt),
       Draft("gate.decision", "t1", "a1", {{"effect", "deny"}}),
       Draft("action.intent", "t1", "a1", {{"module", "ldap.modify"}}),
       Draft("action.result", "t1", "a1", {{"exit", 0}})},
      log);
  EXPECT_TRUE(
      FailsAt(r, {"intent-needs-allow", 2, log.segment, log.offsets[2]}));
}

TEST_F(EvidenceTamper, DenyAfterAllowRevokesTheAllow) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("gate.decision", "t1", "a1", {{"effect", "allow"}}),
       Draft("gate.decision", "t1", "a1", {{"effect", "deny"}}),
       Draft("action.intent", "t1", "a1"), Draft("action.result", "t1", "a1")},
      log);
  EXPECT_TRUE(
      FailsAt(r, {"intent-needs-allow", 2, log.segment, log.offsets[2]}));
}

TEST_F(EvidenceTamper, AllowForOneActionDoesNotCoverAnother) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("gate.decision", "t1", "a1", {{"effect", "allow"}}),
       Draft("action.intent", "t1", "a2"), Draft("action.result", "t1", "a2")},
      log);
  EXPECT_TRUE(
      FailsAt(r, {"intent-needs-allow", 1, log.segment, log.offsets[1]}));
}

TEST_F(EvidenceTamper, AnAllowIsSpentByItsResult) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("gate.decision", "t1", "a1", {{"effect", "allow"}}),
       Draft("action.intent", "t1", "a1"), Draft("action.result", "t1", "a1"),
       Draft("action.intent", "t1", "a1"), Draft("action.result", "t1", "a1")},
      log);
  EXPECT_TRUE(
      FailsAt(r, {"intent-needs-allow", 3, log.segment, log.offsets[3]}));
}

TEST_F(EvidenceTamper, IntentNeverResolvedFailsIntentResolvedNamingItsSeq) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("task.received", "t1", std::nullopt),
       Draft("gate.decision", "t1", "a1", {{"effect", "allow"}}),
       Draft("action.intent", "t1", "a1", {{"module", "ldap.modify"}}),
       Draft("gate.decision", "t1", "a2", {{"effect", "allow"}}),
       Draft("action.intent", "t1", "a2", {{"module", "ldap.modify"}}),
       Draft("action.result", "t1", "a2", {{"exit", 0}})},
      log);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->rule, "intent-resolved");
  EXPECT_EQ(r.failure->seq, std::optional<std::uint64_t>(2));
  // The rule sees the whole log before it can tell; its message names the
  // first unresolved intent.
  EXPECT_EQ(r.failure->file, log.segment);
  EXPECT_THAT(r.failure->message, HasSubstr("1 action.intent"));
  EXPECT_THAT(r.failure->message, HasSubstr("seq 2 (task t1 action a1)"));
}

TEST_F(EvidenceTamper, IntentResolvedByActionRecoveredPasses) {
  LogFiles log;
  VerifyResult r = WriteAndVerify(
      {Draft("gate.decision", "t1", "a1", {{"effect", "allow"}}),
       Draft("action.intent", "t1", "a1"),
       Draft("action.recovered", "t1", "a1", {{"outcome", "unknown"}})},
      log);
  EXPECT_TRUE(r.ok()) << Describe(r);
}

// --- g. Torn tails ---------------------------------------------------------

TEST_F(EvidenceTamper, TornFinalLineIsCutOnOpenAndRecordedAsLogRecovered) {
  const std::vector<EntryDraft> scenario = Scenario();
  const std::vector<EntryDraft> drafts(scenario.begin(), scenario.begin() + 13);
  ASSERT_NO_FATAL_FAILURE(
      WriteLog(Dir("log"), key_, drafts, DefaultLogOptions()));
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(ReadLog(Dir("log"), log));
  const std::uint64_t n = log.lines.size();
  const std::uint64_t size = log.bytes.size();

  // The first 37 bytes of what would have been the next entry.
  auto next =
      FormatEntry(Draft("task.received", "t8", std::nullopt), n,
                  kStartMicros + 20 * kStepMicros, EntryHash(log.lines.back()));
  ASSERT_TRUE(next.ok());
  const std::string torn = next->substr(0, 37);
  ASSERT_NO_FATAL_FAILURE(AppendRaw(log.segment, torn));

  VerifyResult strict = Verify(log.dir, pub());
  EXPECT_TRUE(FailsAt(strict, {"torn-line", n, log.segment, size}));
  if (strict.failure) {
    EXPECT_THAT(strict.failure->message, HasSubstr("37 bytes"));
  }
  VerifyResult lenient = Verify(log.dir, pub(), {}, true);
  EXPECT_TRUE(lenient.ok()) << Describe(lenient);
  ASSERT_TRUE(lenient.torn);
  EXPECT_EQ(lenient.torn->bytes, 37u);

  {
    FakeClock clock(kStartMicros + 100 * kStepMicros);
    auto opened =
        EvidenceLog::Open(log.dir, key_, std::string(kActor),
                          std::string(kOwner), clock, DefaultLogOptions());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EvidenceLog& recovered = **opened;
    EXPECT_EQ(recovered.recovery().entries, n);
    EXPECT_EQ(recovered.recovery().cut_bytes, 37u);
    EXPECT_EQ(recovered.recovery().cut_segment, log.segment);
    EXPECT_EQ(recovered.size(), n + 1);  // The log.recovered entry.
    ASSERT_TRUE(recovered.Close().ok());
  }

  const std::string bytes = ReadAll(log.segment);
  ASSERT_EQ(bytes.substr(0, size), log.bytes) << "only the torn bytes go";
  const std::vector<std::string> lines = SplitLines(bytes);
  ASSERT_EQ(lines.size(), n + 1);
  auto last = ParseEntry(lines.back());
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->seq, n);
  EXPECT_EQ(last->kind, "log.recovered");
  EXPECT_EQ(last->actor, kActor);
  EXPECT_EQ(last->owner, kOwner);
  const auto payload = nlohmann::json::parse(last->payload);
  EXPECT_EQ(payload.at("cut_bytes"), 37);
  EXPECT_EQ(payload.at("offset"), size);
  EXPECT_EQ(payload.at("segment"), fs::path(log.segment).filename().string());

  VerifyResult after = Verify(log.dir, pub());
  EXPECT_TRUE(after.ok()) << Describe(after);
  EXPECT_EQ(after.entries, n + 1);
  EXPECT_FALSE(after.torn);
}

TEST_F(EvidenceTamper, TornLineInANonFinalSegmentIsNotRecoverable) {
  LogOptions options = DefaultLogOptions();
  options.segment_bytes = 2000;
  ASSERT_NO_FATAL_FAILURE(WriteLog(Dir("log"), key_, Scenario(), options));
  const std::string dir = Dir("log");
  const std::vector<SegmentFile> segments = Segments(dir);
  ASSERT_GE(segments.size(), 3u);
  ASSERT_TRUE(Verify(dir, pub()).ok());

  const std::string first = ReadAll(segments[0].path);
  const std::uint64_t lines_in_first = SplitLines(first).size();
  ASSERT_EQ(segments[1].first_seq, lines_in_first);
  ASSERT_NO_FATAL_FAILURE(
      AppendRaw(segments[0].path, std::string_view(first).substr(0, 37)));

  // Not even the writer's recovery mode accepts it.
  EXPECT_TRUE(
      FailsAt(Verify(dir, pub(), {}, true),
              {"torn-line", lines_in_first, segments[0].path, first.size()}));
  FakeClock clock(kStartMicros + 100 * kStepMicros);
  auto opened = EvidenceLog::Open(dir, key_, std::string(kActor),
                                  std::string(kOwner), clock, options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("torn-line"));
  EXPECT_THAT(opened.status().message(), HasSubstr(segments[0].path));
  // Refused without touching anything.
  EXPECT_EQ(ReadAll(segments[0].path), first + first.substr(0, 37));
  EXPECT_EQ(Segments(dir).size(), segments.size());
}

// --- h. Open refuses a truncated log ---------------------------------------

TEST_F(EvidenceTamper, OpenRefusesALogShorterThanItsCheckpoint) {
  LogFiles log;
  ASSERT_NO_FATAL_FAILURE(BuildScenarioLog(log));
  // Whole lines removed, and a cut in the middle of a line (which Open
  // would otherwise treat as a torn tail).
  for (std::uint64_t cut : {log.offsets[37], log.offsets[37] + 20}) {
    const std::string shortened = log.bytes.substr(0, cut);
    ASSERT_NO_FATAL_FAILURE(WriteAll(log.segment, shortened));
    FakeClock clock(kStartMicros + 100 * kStepMicros);
    auto opened =
        EvidenceLog::Open(log.dir, key_, std::string(kActor),
                          std::string(kOwner), clock, DefaultLogOptions());
    ASSERT_FALSE(opened.ok()) << "cut at byte " << cut;
    EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
    EXPECT_THAT(opened.status().message(), HasSubstr("truncated"));
    EXPECT_THAT(opened.status().message(), HasSubstr("holds 37 entries"));
    EXPECT_THAT(opened.status().message(),
                HasSubstr(log.CheckpointPath(40) + " signed a tree of 40"));
    // Nothing was cut or appended.
    EXPECT_EQ(ReadAll(log.segment), shortened);
  }
  ASSERT_NO_FATAL_FAILURE(log.Restore());
  EXPECT_TRUE(Verify(log.dir, pub()).ok());
}

}  // namespace
}  // namespace deputy::evidence
