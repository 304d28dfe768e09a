#include "agent/evidence/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/files.h"

namespace deputy::evidence {
namespace {

constexpr std::size_t kMaxQueuedCheckpoints = 64;

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open directory " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::Errno("fsync directory " + dir, err);
  return Status::Ok();
}

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::Errno("create directory " + dir, errno);
  }
  return Status::Ok();
}

}  // namespace

Status EvidenceLog::Create(const std::string& dir, std::string_view origin) {
  RETURN_IF_ERROR(ValidateNoteKeyName(origin).Within("log origin"));
  LogLayout layout{dir};
  RETURN_IF_ERROR(MakeDir(dir));
  if (::access(layout.MetaPath().c_str(), F_OK) == 0) {
    return Status::AlreadyExists(dir + " already holds an evidence log");
  }
  RETURN_IF_ERROR(MakeDir(layout.SegmentDir()));
  RETURN_IF_ERROR(MakeDir(layout.CheckpointDir()));
  nlohmann::json meta = {
      {"format", kLogFormat}, {"version", 1}, {"origin", origin}};
  RETURN_IF_ERROR(WriteFileAtomic(layout.MetaPath(), meta.dump(2) + "\n", 0644,
                                  Overwrite::kRefuse));
  RETURN_IF_ERROR(SyncDir(layout.SegmentDir()));
  RETURN_IF_ERROR(SyncDir(layout.CheckpointDir()));
  std::filesystem::path parent = std::filesystem::absolute(dir).parent_path();
  return SyncDir(parent.string());
}

EvidenceLog::EvidenceLog(LogLayout layout, std::string origin,
                         const keys::PrivateKey& key, const Clock& clock,
                         LogOptions options)
    : layout_(std::move(layout)),
      origin_(std::move(origin)),
      key_(key),
      clock_(clock),
      options_(options),
      ops_(options.file_ops ? *options.file_ops : RealFileOps()) {}

Result<std::unique_ptr<EvidenceLog>> EvidenceLog::Open(
    const std::string& dir, const keys::PrivateKey& agent_key,
    std::string actor, std::string owner, const Clock& clock,
    LogOptions options) {
  LogLayout layout{dir};
  ASSIGN_OR_RETURN(std::string origin, ReadLogOrigin(layout));
  // Verify everything already there with our own key before adding to
  // it: appending to a tampered or truncated log would launder it.
  VerifyOptions verify;
  verify.agent_key = &agent_key.public_key();
  verify.allow_torn_tail = true;
  ASSIGN_OR_RETURN(VerifyResult verified, VerifyLog(dir, verify));
  if (!verified.ok()) {
    return Status::DataLoss("refusing to open " + dir +
                            " for append: " + verified.failure->ToString());
  }
  std::unique_ptr<EvidenceLog> log(
      new EvidenceLog(layout, origin, agent_key, clock, options));
  log->recovery_.entries = verified.entries;
  RETURN_IF_ERROR(log->StartAfterRecovery(verified));
  if (verified.unsigned_tail() > 0) {
    // Entries written after the last checkpoint (a crash between a batch
    // and its checkpoint) are chained but were never signed; the next
    // checkpoint will sign them. Say so, so an auditor can look closer.
    nlohmann::json payload = {
        {"unsigned_from", verified.latest_checkpoint_size},
        {"unsigned_to", verified.entries},
        {"reason",
         "entries after the latest signed checkpoint were adopted at open"}};
    EntryDraft draft{"log.reopened", actor,        owner,
                     std::nullopt,   std::nullopt, std::move(payload)};
    auto appended = log->Append(draft, Durability::kSync);
    if (!appended.ok()) return appended.status();
  }
  if (verified.torn) {
    nlohmann::json payload = {
        {"segment",
         std::filesystem::path(verified.torn->segment).filename().string()},
        {"offset", verified.torn->offset},
        {"cut_bytes", verified.torn->bytes},
        {"reason", "final line was incomplete (never synced) and was cut"}};
    EntryDraft draft{"log.recovered", std::move(actor), std::move(owner),
                     std::nullopt,    std::nullopt,     std::move(payload)};
    auto appended = log->Append(draft, Durability::kSync);
    if (!appended.ok()) return appended.status();
  }
  return log;
}

Status EvidenceLog::StartAfterRecovery(const VerifyResult& verified) {
  // A checkpoint write interrupted by a crash leaves its temporary file
  // behind; it was never part of the log.
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(layout_.CheckpointDir(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind('.', 0) == 0 && name.find(".tmp") != std::string::npos) {
      std::filesystem::remove(e.path(), ec);
    }
  }
  if (verified.torn) {
    // Cut the torn tail: those bytes were never acknowledged as durable.
    int fd = ::open(verified.torn->segment.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::Errno("open " + verified.torn->segment, errno);
    int rc = ::ftruncate(fd, static_cast<off_t>(verified.torn->offset));
    int err = errno;
    if (rc == 0) rc = ::fsync(fd), err = errno;
    ::close(fd);
    if (rc != 0) {
      return Status::Errno("cut torn tail of " + verified.torn->segment, err);
    }
    recovery_.cut_bytes = verified.torn->bytes;
    recovery_.cut_segment = verified.torn->segment;
  }
  next_seq_ = verified.entries;
  prev_ = verified.last_hash;
  last_time_ = verified.last_time;
  tree_ = verified.tree;
  durable_size_ = verified.entries;
  durable_root_ = tree_.Root();
  checkpointed_size_ = verified.latest_checkpoint_size;
  checkpointed_at_ = clock_.NowMicros();
  if (verified.last_segment.empty()) {
    RETURN_IF_ERROR(OpenSegment(0, /*create=*/true));
  } else {
    RETURN_IF_ERROR(OpenSegment(verified.last_segment_first_seq, false));
    struct stat st;
    if (::fstat(segment_fd_, &st) != 0) {
      return Status::Errno("stat " + verified.last_segment, errno);
    }
    segment_bytes_written_ = static_cast<std::uint64_t>(st.st_size);
  }
  flusher_ = std::thread([this] { FlusherLoop(); });
  checkpointer_ = std::thread([this] { CheckpointerLoop(); });
  return Status::Ok();
}

EvidenceLog::~EvidenceLog() {
  if (flusher_.joinable()) (void)Close();
  if (segment_fd_ >= 0) ::close(segment_fd_);
}

Status EvidenceLog::OpenSegment(std::uint64_t first_seq, bool create) {
  std::string path = layout_.SegmentPath(first_seq);
  int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
  if (create) flags |= O_CREAT | O_EXCL;
  int fd = ::open(path.c_str(), flags, 0640);
  if (fd < 0) return Status::Errno("open segment " + path, errno);
  if (create) {
    Status s = SyncDir(layout_.SegmentDir());
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
  }
  if (segment_fd_ >= 0) ::close(segment_fd_);
  segment_fd_ = fd;
  segment_bytes_written_ = 0;
  return Status::Ok();
}

Status EvidenceLog::WriteBatch(const std::string& batch,
                               std::uint64_t first_seq) {
  if (segment_bytes_written_ >= options_.segment_bytes) {
    RETURN_IF_ERROR(OpenSegment(first_seq, /*create=*/true));
  }
  std::string_view rest(batch);
  const std::uint64_t before = segment_bytes_written_;
  while (!rest.empty()) {
    ssize_t n = ops_.Write(segment_fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Status failed = Status::Errno("write evidence segment", errno);
      // Best effort: take back the part of the batch that did land, so the
      // file ends on a whole line. If this fails too, the next Open() cuts
      // the torn tail and records it.
      if (::ftruncate(segment_fd_, static_cast<off_t>(before)) == 0) {
        segment_bytes_written_ = before;
      }
      return failed;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
    segment_bytes_written_ += static_cast<std::uint64_t>(n);
  }
  if (ops_.DataSync(segment_fd_) != 0) {
    return Status::Errno("fdatasync evidence segment", errno);
  }
  return Status::Ok();
}

Status EvidenceLog::WriteCheckpoint(std::uint64_t size, const Hash& root,
                                    SignedNote* out) {
  std::lock_guard<std::mutex> guard(checkpoint_mu_);
  Checkpoint cp{origin_, size, root, {}};
  SignedNote note{cp.Body(), {}};
  RETURN_IF_ERROR(SignNote(note, origin_, key_));
  RETURN_IF_ERROR(WriteFileAtomic(layout_.CheckpointPath(size),
                                  note.Serialize(), 0644, Overwrite::kReplace));
  if (out != nullptr) *out = std::move(note);
  return Status::Ok();
}

void EvidenceLog::FlusherLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait_for(lock, options_.checkpoint_every, [&] {
      return stop_ || !pending_.empty() || force_checkpoint_;
    });
    if (!failed_.ok()) {
      // Nothing more is written once the log has failed.
      pending_.clear();
      durable_cv_.notify_all();
      if (stop_) return;
      continue;
    }
    if (!pending_.empty()) {
      std::string batch;
      batch.swap(pending_);
      const std::uint64_t first = pending_first_seq_;
      const std::uint64_t end = next_seq_;
      const Hash root = tree_.Root();
      lock.unlock();
      Status s = WriteBatch(batch, first);
      lock.lock();
      if (!s.ok()) {
        failed_ = std::move(s).Within("evidence log closed for writing");
        durable_cv_.notify_all();
        continue;
      }
      durable_size_ = end;
      durable_root_ = root;
      durable_cv_.notify_all();
      if (options_.on_durable) {
        lock.unlock();
        options_.on_durable(end);
        lock.lock();
      }
    }
    const std::int64_t now = clock_.NowMicros();
    // On stop, the final checkpoint covers every entry, however the last
    // batches were split.
    const bool due = durable_size_ > checkpointed_size_ &&
                     (force_checkpoint_ || stop_ ||
                      durable_size_ - checkpointed_size_ >=
                          options_.checkpoint_every_entries ||
                      now - checkpointed_at_ >=
                          std::chrono::duration_cast<std::chrono::microseconds>(
                              options_.checkpoint_every)
                              .count());
    force_checkpoint_ = false;
    if (due) {
      // Signing and storing a checkpoint (three syncs) happens on its own
      // thread so it never delays the next batch. Requests are written in
      // order; only if that thread falls far behind are the oldest
      // dropped (a later checkpoint covers them).
      if (checkpoint_queue_.size() >= kMaxQueuedCheckpoints) {
        checkpoint_queue_.pop_front();
      }
      checkpoint_queue_.emplace_back(durable_size_, durable_root_);
      checkpointed_size_ = durable_size_;
      checkpointed_at_ = now;
      checkpoint_cv_.notify_one();
    }
    if (stop_ && pending_.empty()) return;
  }
}

void EvidenceLog::CheckpointerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    checkpoint_cv_.wait(
        lock, [&] { return !checkpoint_queue_.empty() || checkpointer_stop_; });
    if (!checkpoint_queue_.empty()) {
      const auto [size, root] = checkpoint_queue_.front();
      checkpoint_queue_.pop_front();
      lock.unlock();
      Status s = WriteCheckpoint(size, root, nullptr);
      lock.lock();
      if (!s.ok() && failed_.ok()) {
        failed_ = std::move(s).Within("evidence log closed for writing");
        durable_cv_.notify_all();
      }
      continue;
    }
    return;  // Stopped, and every request written.
  }
}

Status EvidenceLog::WaitDurable(std::unique_lock<std::mutex>& lock,
                                std::uint64_t seq) {
  const auto deadline =
      std::chrono::steady_clock::now() + options_.sync_timeout;
  bool done = durable_cv_.wait_until(
      lock, deadline, [&] { return durable_size_ > seq || !failed_.ok(); });
  if (!failed_.ok()) return failed_;
  if (!done) {
    failed_ = Status::Unavailable(
        "entry seq " + std::to_string(seq) + " was not durable within " +
        std::to_string(options_.sync_timeout.count()) +
        " ms; evidence log closed for writing");
    durable_cv_.notify_all();
    return failed_;
  }
  return Status::Ok();
}

Result<Appended> EvidenceLog::Append(const EntryDraft& draft,
                                     Durability durability) {
  // Serialise and validate outside the lock; only the head is ordered.
  ASSIGN_OR_RETURN(std::string body, FormatEntryBody(draft));
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (stop_) return Status::FailedPrecondition("evidence log is closed");
  if (pending_.size() > options_.max_pending_bytes) {
    const auto deadline =
        std::chrono::steady_clock::now() + options_.sync_timeout;
    if (!durable_cv_.wait_until(lock, deadline, [&] {
          return pending_.size() <= options_.max_pending_bytes || !failed_.ok();
        })) {
      failed_ =
          Status::Unavailable("evidence log writer made no progress within " +
                              std::to_string(options_.sync_timeout.count()) +
                              " ms; evidence log closed for writing");
      durable_cv_.notify_all();
    }
    if (!failed_.ok()) return failed_;
  }
  // Time never goes back in the log, even if the system clock does.
  const std::int64_t time = std::max(clock_.NowMicros(), last_time_);
  const std::uint64_t seq = next_seq_;
  std::string line = FormatEntryHead(seq, time, prev_);
  line += body;
  const Hash hash = EntryHash(line);
  tree_.Append(hash);
  prev_ = hash;
  last_time_ = time;
  ++next_seq_;
  if (pending_.empty()) pending_first_seq_ = seq;
  pending_ += line;
  pending_ += '\n';
  work_cv_.notify_one();
  if (durability == Durability::kSync) {
    RETURN_IF_ERROR(WaitDurable(lock, seq));
  }
  return Appended{seq, hash, time, std::move(line)};
}

Status EvidenceLog::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return failed_;
  if (next_seq_ == 0 || durable_size_ >= next_seq_) return Status::Ok();
  return WaitDurable(lock, next_seq_ - 1);
}

Result<SignedNote> EvidenceLog::CheckpointNow() {
  RETURN_IF_ERROR(Sync());
  std::uint64_t size;
  Hash root;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (!failed_.ok()) return failed_;
    size = durable_size_;
    root = durable_root_;
  }
  SignedNote note;
  Status s = WriteCheckpoint(size, root, &note);
  std::lock_guard<std::mutex> guard(mu_);
  if (!s.ok()) {
    failed_ = std::move(s).Within("evidence log closed for writing");
    durable_cv_.notify_all();
    return failed_;
  }
  checkpointed_size_ = std::max(checkpointed_size_, size);
  checkpointed_at_ = clock_.NowMicros();
  return note;
}

Status EvidenceLog::Close() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (stop_) return failed_;
    stop_ = true;
    force_checkpoint_ = true;
  }
  work_cv_.notify_one();
  if (flusher_.joinable()) flusher_.join();
  {
    // The flusher has posted its final checkpoint; let it be written.
    std::lock_guard<std::mutex> guard(mu_);
    checkpointer_stop_ = true;
  }
  checkpoint_cv_.notify_one();
  if (checkpointer_.joinable()) checkpointer_.join();
  std::lock_guard<std::mutex> guard(mu_);
  return failed_;
}

std::uint64_t EvidenceLog::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return next_seq_;
}

std::uint64_t EvidenceLog::durable_size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return durable_size_;
}

}  // namespace deputy::evidence
