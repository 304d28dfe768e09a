// Clock: the evidence log's (and later the gate's) only source of time, a
// swap point so tests control time. Times are microseconds since the Unix
// epoch, UTC. SystemClock is thread-safe; FakeClock is thread-safe too
// (atomic), so a test can advance it while a writer thread runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace deputy::evidence {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t NowMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t micros) : now_(micros) {}
  std::int64_t NowMicros() const override { return now_.load(); }
  void Set(std::int64_t micros) { now_.store(micros); }
  void Advance(std::int64_t micros) { now_.fetch_add(micros); }

 private:
  std::atomic<std::int64_t> now_;
};

// "2026-12-03T18:00:00.123456Z": fixed width, so string order is time
// order. Years 0000-9999 only.
std::string FormatTimestamp(std::int64_t micros);
// Parses exactly the format above; Invalid for anything else.
Result<std::int64_t> ParseTimestamp(std::string_view text);

}  // namespace deputy::evidence
