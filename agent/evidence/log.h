// EvidenceLog: the append side of the evidence log, and the runtime's
// write-ahead log.
//
// Append() assigns seq, time and the prev link under one lock, queues the
// line, and (for Durability::kSync) returns only once a background thread
// has written and fdatasync'd the batch holding it: one fdatasync per
// batch (group commit). Any write or sync failure, or a sync that does not
// complete within `sync_timeout` (250 ms by default), fails the append and
// every later one: the log is then closed for writing, and the caller must
// not act (fail closed). Checkpoints are signed every N entries or T ms
// and on demand.
//
// Open() verifies the whole log with the agent's key, cuts a torn final
// line (recording the cut in a log.recovered entry), and refuses to open a
// log that ends before its latest signed checkpoint.
//
// Thread-safe: any number of threads may Append concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "agent/evidence/clock.h"
#include "agent/evidence/entry.h"
#include "agent/evidence/file_ops.h"
#include "agent/evidence/merkle.h"
#include "agent/evidence/note.h"
#include "agent/evidence/segments.h"
#include "agent/evidence/verifier.h"
#include "base/status.h"
#include "keys/private_key.h"

namespace deputy::evidence {

enum class Durability {
  kSync,   // Return once the entry is on disk.
  kAsync,  // Return once queued; a later kSync append or Sync() covers it.
};

struct LogOptions {
  std::uint64_t checkpoint_every_entries = 1000;
  std::chrono::milliseconds checkpoint_every{1000};
  std::uint64_t segment_bytes = 64ull << 20;
  std::chrono::milliseconds sync_timeout{250};
  // Appends wait (up to sync_timeout) while this much is queued unwritten.
  std::size_t max_pending_bytes = 32u << 20;
  FileOps* file_ops = nullptr;  // nullptr: RealFileOps().
  // Called by the writer thread, without locks held, each time entries
  // [0, durable_size) have become durable (metrics, benchmarks). Must be
  // quick and must not call back into the log.
  std::function<void(std::uint64_t durable_size)> on_durable;
};

struct Appended {
  std::uint64_t seq;
  Hash hash;
  std::int64_t time_micros;  // The time the writer gave the entry.
  std::string line;          // The exact line (without '\n') it hashed.
};

struct RecoveryInfo {
  std::uint64_t entries = 0;  // Entries found at open.
  std::uint64_t cut_bytes = 0;
  std::string cut_segment;
};

class EvidenceLog {
 public:
  // Creates an empty log in `dir` (which must not hold one). The origin
  // names the log in checkpoints and is its note key name: printable, no
  // spaces, no '+', e.g. "deputy.example.org/agent-1".
  static Status Create(const std::string& dir, std::string_view origin);

  // Opens for appending. `agent_key` signs checkpoints and must outlive
  // the log; `actor` and `owner` are recorded in the log's own entries
  // (log.recovered).
  static Result<std::unique_ptr<EvidenceLog>> Open(
      const std::string& dir, const keys::PrivateKey& agent_key,
      std::string actor, std::string owner, const Clock& clock,
      LogOptions options = {});

  ~EvidenceLog();  // Writes what is queued, then stops; errors are lost:
                   // call Close() to see them.
  EvidenceLog(const EvidenceLog&) = delete;
  EvidenceLog& operator=(const EvidenceLog&) = delete;

  [[nodiscard]] Result<Appended> Append(const EntryDraft& draft,
                                        Durability durability);
  // Waits until everything appended so far is durable.
  Status Sync();
  // Syncs, then signs and stores a checkpoint of the whole log (unless
  // one of this size exists). Returns the signed note.
  Result<SignedNote> CheckpointNow();
  // Syncs, writes a final checkpoint and stops the writer thread.
  Status Close();

  const std::string& origin() const { return origin_; }
  std::uint64_t size() const;
  std::uint64_t durable_size() const;
  const RecoveryInfo& recovery() const { return recovery_; }

 private:
  EvidenceLog(LogLayout layout, std::string origin, const keys::PrivateKey& key,
              const Clock& clock, LogOptions options);
  Status StartAfterRecovery(const VerifyResult& verified);
  void FlusherLoop();
  void CheckpointerLoop();
  Status WriteBatch(const std::string& batch, std::uint64_t first_seq);
  Status OpenSegment(std::uint64_t first_seq, bool create);
  Status WriteCheckpoint(std::uint64_t size, const Hash& root, SignedNote* out);
  Status WaitDurable(std::unique_lock<std::mutex>& lock, std::uint64_t seq);

  const LogLayout layout_;
  const std::string origin_;
  const keys::PrivateKey& key_;
  const Clock& clock_;
  const LogOptions options_;
  FileOps& ops_;
  RecoveryInfo recovery_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // Flusher waits for work.
  std::condition_variable durable_cv_;  // Appenders wait for durability.
  // Guarded by mu_.
  std::uint64_t next_seq_ = 0;
  Hash prev_{};
  std::int64_t last_time_ = 0;
  TreeBuilder tree_;
  std::string pending_;
  std::uint64_t pending_first_seq_ = 0;
  std::uint64_t durable_size_ = 0;
  Hash durable_root_{};
  Status failed_;
  bool stop_ = false;
  bool force_checkpoint_ = false;
  std::uint64_t checkpointed_size_ = 0;
  std::int64_t checkpointed_at_ = 0;

  // Only the flusher thread touches these.
  int segment_fd_ = -1;
  std::uint64_t segment_bytes_written_ = 0;

  std::condition_variable checkpoint_cv_;  // Checkpointer waits for work.
  // Guarded by mu_: checkpoints the flusher asked for, oldest first.
  std::deque<std::pair<std::uint64_t, Hash>> checkpoint_queue_;
  bool checkpointer_stop_ = false;

  std::mutex checkpoint_mu_;  // Serialises checkpoint writes.
  std::thread flusher_;
  std::thread checkpointer_;
};

}  // namespace deputy::evidence
