#include "agent/evidence/log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/evidence/verifier.h"

namespace deputy::evidence {
namespace {

constexpr std::int64_t kStart = 1796320800000000;  // 2026-12-03T18:00:00Z.
constexpr char kOrigin[] = "deputy.test/agent-1";

// Injects failures into the log's writes and syncs, and counts syncs.
class FaultyOps final : public FileOps {
 public:
  ssize_t Write(int fd, const void* data, std::size_t size) override {
    if (write_errno.load() != 0) {
      errno = write_errno.load();
      return -1;
    }
    return FileOps::Write(fd, data, size);
  }
  int DataSync(int fd) override {
    syncs.fetch_add(1);
    if (hang_sync.load()) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    if (sync_errno.load() != 0) {
      errno = sync_errno.load();
      return -1;
    }
    return FileOps::DataSync(fd);
  }
  std::atomic<int> write_errno{0};
  std::atomic<int> sync_errno{0};
  std::atomic<bool> hang_sync{false};
  std::atomic<int> syncs{0};
};

class EvidenceLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/deputy-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/log";
    auto key = keys::PrivateKey::Generate("agent-1");
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<keys::PrivateKey>(std::move(*key));
    ASSERT_TRUE(EvidenceLog::Create(dir_, kOrigin).ok());
  }
  void TearDown() override {
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path());
  }

  std::unique_ptr<EvidenceLog> OpenLog(LogOptions options = {}) {
    auto log =
        EvidenceLog::Open(dir_, *key_, "agent-1", "alice", clock_, options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }

  static EntryDraft Draft(std::string kind = "operator.note",
                          nlohmann::json payload = {{"n", 1}}) {
    return EntryDraft{std::move(kind), "agent-1",    "alice",
                      "T-1",           std::nullopt, std::move(payload)};
  }

  VerifyResult Verify() {
    VerifyOptions options;
    options.agent_key = &key_->public_key();
    options.rules = DefaultRules();
    auto r = VerifyLog(dir_, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(*r);
  }

  std::string dir_;
  std::unique_ptr<keys::PrivateKey> key_;
  FakeClock clock_{kStart};
};

TEST_F(EvidenceLogTest, SyncAppendIsOnDiskWhenItReturns) {
  auto log = OpenLog();
  auto a = log->Append(Draft(), Durability::kSync);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->seq, 0u);
  EXPECT_EQ(log->durable_size(), 1u);
  // Readable by an independent reader before Close.
  std::ifstream in(LogLayout{dir_}.SegmentPath(0));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(EntryHash(line), a->hash);
  auto e = ParseEntry(line);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->prev, HexEncode(OriginHash(kOrigin)));
  EXPECT_EQ(e->time, "2026-12-03T18:00:00.000000Z");
}

TEST_F(EvidenceLogTest, ChainContinuesAcrossReopenAndVerifies) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 10; ++i) {
      clock_.Advance(1000);
      ASSERT_TRUE(log->Append(Draft(), Durability::kAsync).ok());
    }
    ASSERT_TRUE(log->Close().ok());
  }
  {
    auto log = OpenLog();
    EXPECT_EQ(log->size(), 10u);
    EXPECT_EQ(log->recovery().cut_bytes, 0u);
    ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
  }
  VerifyResult r = Verify();
  EXPECT_TRUE(r.ok()) << r.failure->ToString();
  EXPECT_EQ(r.entries, 11u);
  EXPECT_GE(r.checkpoints_verified, 2u);
}

TEST_F(EvidenceLogTest, GroupCommitSharesOneSyncAmongConcurrentAppends) {
  FaultyOps ops;
  LogOptions options;
  options.file_ops = &ops;
  auto log = OpenLog(options);
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!log->Append(Draft(), Durability::kSync).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(log->durable_size(), kThreads * kPerThread);
  // Every append was durable on return, yet far fewer syncs than appends.
  EXPECT_LT(ops.syncs.load(), kThreads * kPerThread);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(EvidenceLogTest, FailedWriteFailsClosedAndStaysFailed) {
  FaultyOps ops;
  LogOptions options;
  options.file_ops = &ops;
  auto log = OpenLog(options);
  ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
  ops.write_errno = ENOSPC;
  auto start = std::chrono::steady_clock::now();
  auto a = log->Append(Draft(), Durability::kSync);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("No space left"), std::string::npos)
      << a.status().message();
  EXPECT_LT(took, std::chrono::milliseconds(250));
  // Even with the disk back, the log stays closed: the caller must restart
  // (and recover) rather than carry on with an unknown state.
  ops.write_errno = 0;
  EXPECT_FALSE(log->Append(Draft(), Durability::kSync).ok());
  EXPECT_FALSE(log->Append(Draft(), Durability::kAsync).ok());
}

TEST_F(EvidenceLogTest, FailedSyncFailsClosed) {
  FaultyOps ops;
  LogOptions options;
  options.file_ops = &ops;
  auto log = OpenLog(options);
  ops.sync_errno = EIO;
  auto a = log->Append(Draft(), Durability::kSync);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), ErrorCode::kIo);
  EXPECT_NE(a.status().message().find("fdatasync"), std::string::npos);
}

TEST_F(EvidenceLogTest, HangingDiskFailsWithinTheSyncTimeout) {
  FaultyOps ops;
  LogOptions options;
  options.file_ops = &ops;
  auto log = OpenLog(options);
  ops.hang_sync = true;
  auto start = std::chrono::steady_clock::now();
  auto a = log->Append(Draft(), Durability::kSync);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), ErrorCode::kUnavailable);
  EXPECT_GE(took, std::chrono::milliseconds(240));
  EXPECT_LT(took, std::chrono::milliseconds(400));
  EXPECT_FALSE(log->Append(Draft(), Durability::kSync).ok());
}

TEST_F(EvidenceLogTest, RefusesSecretsInPayloads) {
  auto log = OpenLog();
  const nlohmann::json secrets[] = {
      {{"password", "hunter2"}},
      {{"user", {{"Private-Key", "x"}}}},
      {{"items", {{{"api_token", "x"}}}}},
      {{"clientSecret", "x"}},
      {{"note", "-----BEGIN PRIVATE KEY-----\nMII..."}},
  };
  for (const auto& p : secrets) {
    auto a = log->Append(Draft("credential.rotated", p), Durability::kSync);
    ASSERT_FALSE(a.ok()) << p.dump();
    EXPECT_EQ(a.status().code(), ErrorCode::kPermissionDenied) << p.dump();
  }
  // Fingerprints of secrets are what belongs in the log, and so are
  // true/false facts about one ("password_set": a flag holds no secret);
  // a number under such a name is refused (it could be a PIN).
  EXPECT_TRUE(log->Append(Draft("credential.rotated",
                                {{"password_fingerprint", "sha256:ab12"},
                                 {"token_sha256", "cd34"},
                                 {"password_set", true}}),
                          Durability::kSync)
                  .ok());
  EXPECT_FALSE(
      log->Append(Draft("credential.rotated", {{"pin_password", 1234}}),
                  Durability::kSync)
          .ok());
  EXPECT_FALSE(
      log->Append(Draft("credential.rotated", {{"password", {{"set", true}}}}),
                  Durability::kSync)
          .ok());
  EXPECT_EQ(log->size(), 1u);
}

TEST_F(EvidenceLogTest, RefusesMalformedDrafts) {
  auto log = OpenLog();
  EntryDraft bad_kind = Draft("Action Intent");
  EntryDraft no_owner = Draft();
  no_owner.owner = "";
  EntryDraft array_payload = Draft("operator.note", nlohmann::json::array());
  EntryDraft huge =
      Draft("operator.note", {{"blob", std::string(kMaxEntryBytes, 'x')}});
  EntryDraft unsafe_int =
      Draft("operator.note", {{"n", std::int64_t{1} << 60}});
  EntryDraft bad_utf8 = Draft("operator.note", {{"s", "\xff"}});
  for (const auto* d :
       {&bad_kind, &no_owner, &array_payload, &huge, &unsafe_int, &bad_utf8}) {
    EXPECT_FALSE(log->Append(*d, Durability::kSync).ok()) << d->kind;
  }
  EXPECT_EQ(log->size(), 0u);
  // A refused draft does not close the log.
  EXPECT_TRUE(log->Append(Draft(), Durability::kSync).ok());
}

TEST_F(EvidenceLogTest, TimeNeverGoesBackwards) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Append(Draft(), Durability::kAsync).ok());
  clock_.Advance(-5000000);  // The system clock steps back 5 s.
  ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
  ASSERT_TRUE(log->Close().ok());
  EXPECT_TRUE(Verify().ok());
}

TEST_F(EvidenceLogTest, CheckpointsEveryNEntriesAndOnDemand) {
  LogOptions options;
  options.checkpoint_every_entries = 5;
  auto log = OpenLog(options);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
  }
  auto note = log->CheckpointNow();
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  auto cp = Checkpoint::ParseBody(note->text);
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->size, 12u);
  EXPECT_EQ(cp->origin, kOrigin);
  EXPECT_TRUE(VerifyNote(*note, kOrigin, key_->public_key()).ok());
  ASSERT_TRUE(log->Close().ok());
  auto files = ListCheckpoints(LogLayout{dir_});
  ASSERT_TRUE(files.ok());
  // Written by a background thread, in order: at 5, 10 and 12.
  std::vector<std::uint64_t> sizes;
  for (const auto& f : *files) sizes.push_back(f.size);
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{5, 10, 12}));
  VerifyResult r = Verify();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.checkpoints_verified, files->size());
}

TEST_F(EvidenceLogTest, SegmentsRollAndVerifyAcrossFiles) {
  LogOptions options;
  options.segment_bytes = 1500;
  {
    auto log = OpenLog(options);
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
    }
  }
  auto segments = ListSegments(LogLayout{dir_});
  ASSERT_TRUE(segments.ok());
  EXPECT_GT(segments->size(), 3u);
  VerifyResult r = Verify();
  EXPECT_TRUE(r.ok()) << r.failure->ToString();
  EXPECT_EQ(r.entries, 40u);
  // Reopening continues in the last segment.
  auto log = OpenLog(options);
  ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
}

// Lines straddle the reader's 1 MiB chunks many times over.
TEST_F(EvidenceLogTest, VerifiesALogLargerThanTheReadChunk) {
  {
    auto log = OpenLog();
    for (int i = 0; i < 6000; ++i) {
      ASSERT_TRUE(
          log->Append(Draft("operator.note",
                            {{"i", i}, {"pad", std::string(i % 700, 'x')}}),
                      Durability::kAsync)
              .ok());
    }
    ASSERT_TRUE(log->Close().ok());
  }
  VerifyResult r = Verify();
  EXPECT_TRUE(r.ok()) << r.failure->ToString();
  EXPECT_EQ(r.entries, 6000u);
  EXPECT_GT(r.bytes, 3u << 20);
}

TEST_F(EvidenceLogTest, CreateRefusesAnExistingLogAndBadOrigins) {
  EXPECT_EQ(EvidenceLog::Create(dir_, kOrigin).code(),
            ErrorCode::kAlreadyExists);
  EXPECT_FALSE(EvidenceLog::Create(dir_ + "2", "has space").ok());
  EXPECT_FALSE(EvidenceLog::Create(dir_ + "3", "a+b").ok());
}

TEST_F(EvidenceLogTest, OpenRefusesAnotherAgentsLog) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Append(Draft(), Durability::kSync).ok());
  }
  auto other = keys::PrivateKey::Generate("agent-2");
  ASSERT_TRUE(other.ok());
  auto log = EvidenceLog::Open(dir_, *other, "agent-2", "bob", clock_);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find("checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace deputy::evidence
