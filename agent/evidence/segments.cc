#include "agent/evidence/segments.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/evidence/file_ops.h"
#include "base/files.h"
#include "base/strict_json.h"

namespace deputy::evidence {
namespace {

constexpr std::size_t kChunk = 1 << 20;

Result<std::uint64_t> ParseSeqName(const std::string& name,
                                   std::string_view suffix) {
  if (name.size() != 20 + suffix.size() ||
      name.compare(20, suffix.size(), suffix) != 0) {
    return Status::DataLoss("unexpected file \"" + name + "\"");
  }
  std::uint64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    char c = name[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') {
      return Status::DataLoss("unexpected file \"" + name + "\"");
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

template <typename T>
Result<std::vector<T>> ListNumbered(const std::string& dir,
                                    std::string_view suffix) {
  std::vector<T> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Status::Io("list " + dir + ": " + ec.message());
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.rfind('.', 0) == 0 && name.find(".tmp") != std::string::npos) {
      continue;  // An interrupted atomic write; never part of the log.
    }
    auto n = ParseSeqName(name, suffix);
    if (!n.ok()) return n.status().Within(dir);
    out.push_back({*n, entry.path().string()});
  }
  std::sort(out.begin(), out.end(),
            [](const T& a, const T& b) { return a.size_key() < b.size_key(); });
  return out;
}

}  // namespace

FileOps& RealFileOps() {
  static FileOps ops;
  return ops;
}

std::string SeqName(std::uint64_t n) {
  std::string s = std::to_string(n);
  return std::string(20 - s.size(), '0') + s;
}

std::string LogLayout::SegmentPath(std::uint64_t first_seq) const {
  return SegmentDir() + "/" + SeqName(first_seq) + ".log";
}

std::string LogLayout::CheckpointPath(std::uint64_t size) const {
  return CheckpointDir() + "/" + SeqName(size) + ".note";
}

Result<std::string> ReadLogOrigin(const LogLayout& layout) {
  ASSIGN_OR_RETURN(std::string text, ReadFileBounded(layout.MetaPath(), 4096));
  auto doc = json::ParseStrict(text);
  if (!doc.ok()) return doc.status().Within(layout.MetaPath());
  ASSIGN_OR_RETURN(auto r, json::ObjectReader::Create(*doc, "$"));
  ASSIGN_OR_RETURN(std::string format, r.String("format"));
  ASSIGN_OR_RETURN(std::int64_t version, r.Int("version"));
  ASSIGN_OR_RETURN(std::string origin, r.String("origin"));
  RETURN_IF_ERROR(r.Finish().Within(layout.MetaPath()));
  if (format != kLogFormat || version != 1) {
    return Status::Invalid(layout.MetaPath() +
                           ": not a version 1 deputy evidence log");
  }
  return origin;
}

Result<std::vector<SegmentFile>> ListSegments(const LogLayout& layout) {
  struct Item {
    std::uint64_t n;
    std::string path;
    std::uint64_t size_key() const { return n; }
  };
  ASSIGN_OR_RETURN(auto items, ListNumbered<Item>(layout.SegmentDir(), ".log"));
  std::vector<SegmentFile> out;
  for (auto& i : items) out.push_back({i.n, std::move(i.path)});
  return out;
}

Result<std::vector<CheckpointFile>> ListCheckpoints(const LogLayout& layout) {
  struct Item {
    std::uint64_t n;
    std::string path;
    std::uint64_t size_key() const { return n; }
  };
  ASSIGN_OR_RETURN(auto items,
                   ListNumbered<Item>(layout.CheckpointDir(), ".note"));
  std::vector<CheckpointFile> out;
  for (auto& i : items) out.push_back({i.n, std::move(i.path)});
  return out;
}

Result<LineReader> LineReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open " + path, errno);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return LineReader(fd);
}

LineReader::LineReader(LineReader&& o) noexcept
    : fd_(o.fd_),
      buffer_(std::move(o.buffer_)),
      capacity_(o.capacity_),
      size_(o.size_),
      start_(o.start_),
      base_(o.base_),
      eof_(o.eof_),
      status_(std::move(o.status_)),
      tail_offset_(o.tail_offset_),
      tail_bytes_(o.tail_bytes_) {
  o.fd_ = -1;
}

LineReader& LineReader::operator=(LineReader&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    buffer_ = std::move(o.buffer_);
    capacity_ = o.capacity_;
    size_ = o.size_;
    start_ = o.start_;
    base_ = o.base_;
    eof_ = o.eof_;
    status_ = std::move(o.status_);
    tail_offset_ = o.tail_offset_;
    tail_bytes_ = o.tail_bytes_;
  }
  return *this;
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

bool LineReader::Fill() {
  // Keep the unread part at the front, then read another chunk after it.
  if (start_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + start_, size_ - start_);
    size_ -= start_;
    base_ += start_;
    start_ = 0;
  }
  if (capacity_ - size_ < kChunk) {
    std::size_t capacity = std::max(2 * capacity_, size_ + kChunk);
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (size_ > 0) std::memcpy(bigger.get(), buffer_.get(), size_);
    buffer_ = std::move(bigger);
    capacity_ = capacity;
  }
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.get() + size_, kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status_ = Status::Errno("read segment", errno);
      return false;
    }
    size_ += static_cast<std::size_t>(n);
    if (n == 0) eof_ = true;
    return n > 0;
  }
}

bool LineReader::Next(std::string_view& line, std::uint64_t& offset) {
  for (;;) {
    const char* begin = buffer_.get() + start_;
    std::size_t avail = size_ - start_;
    const void* nl = avail ? std::memchr(begin, '\n', avail) : nullptr;
    if (nl != nullptr) {
      std::size_t len = static_cast<const char*>(nl) - begin;
      line = std::string_view(begin, len);
      offset = base_ + start_;
      start_ += len + 1;
      return true;
    }
    if (avail > 2 * kChunk) {
      // No entry is this long: refuse instead of buffering without end.
      status_ = Status::DataLoss("no line end within " + std::to_string(avail) +
                                 " bytes at offset " +
                                 std::to_string(base_ + start_));
    }
    if (eof_ || !status_.ok() || !Fill()) {
      tail_offset_ = base_ + start_;
      tail_bytes_ = size_ - start_;
      return false;
    }
  }
}

}  // namespace deputy::evidence
