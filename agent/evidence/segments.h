// The evidence log's directory layout and a streaming line reader.
//
//   DIR/log.json                   {"format":"deputy-evidence-log",
//                                   "version":1,"origin":"..."}
//   DIR/segments/<first seq>.log   entries, one per line (20-digit names)
//   DIR/checkpoints/<size>.note    signed checkpoints (20-digit names)
//
// LineReader streams one segment in fixed-size chunks, so verifying a log
// of any length uses bounded memory. Not thread-safe (one per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace deputy::evidence {

inline constexpr std::string_view kLogFormat = "deputy-evidence-log";

struct LogLayout {
  std::string dir;
  std::string MetaPath() const { return dir + "/log.json"; }
  std::string SegmentDir() const { return dir + "/segments"; }
  std::string CheckpointDir() const { return dir + "/checkpoints"; }
  std::string SegmentPath(std::uint64_t first_seq) const;
  std::string CheckpointPath(std::uint64_t size) const;
};

// "00000000000000001000".
std::string SeqName(std::uint64_t n);

// Reads log.json; returns the origin.
Result<std::string> ReadLogOrigin(const LogLayout& layout);

struct SegmentFile {
  std::uint64_t first_seq;
  std::string path;
};
// Segments sorted by first seq; names that are not 20 digits + ".log" are
// an error (a stray file in the log is suspicious, not ignorable).
Result<std::vector<SegmentFile>> ListSegments(const LogLayout& layout);

struct CheckpointFile {
  std::uint64_t size;
  std::string path;
};
Result<std::vector<CheckpointFile>> ListCheckpoints(const LogLayout& layout);

// Yields the lines of one file with their byte offsets. A final fragment
// without '\n' is reported separately (a torn tail), never as a line.
class LineReader {
 public:
  static Result<LineReader> Open(const std::string& path);
  LineReader(LineReader&&) noexcept;
  LineReader& operator=(LineReader&&) noexcept;
  ~LineReader();

  // Next complete line (without '\n'); false at the end of the file or on
  // error (then status() says which). The view is valid until the next
  // call.
  bool Next(std::string_view& line, std::uint64_t& offset);
  const Status& status() const { return status_; }
  // Bytes after the last '\n' (only meaningful once Next returned false).
  std::uint64_t tail_offset() const { return tail_offset_; }
  std::uint64_t tail_bytes() const { return tail_bytes_; }

 private:
  explicit LineReader(int fd) : fd_(fd) {}
  bool Fill();

  int fd_ = -1;
  // A plain array, not a std::string: growing a string zero-fills it,
  // which costs more than the read on a hot verify.
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;    // Bytes held in buffer_.
  std::size_t start_ = 0;   // First unread byte in buffer_.
  std::uint64_t base_ = 0;  // File offset of buffer_[0].
  bool eof_ = false;
  Status status_;
  std::uint64_t tail_offset_ = 0;
  std::uint64_t tail_bytes_ = 0;
};

}  // namespace deputy::evidence
