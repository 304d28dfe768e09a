// json::ValidateStrict (the allocation-free scanner) against
// json::ParseStrict (nlohmann SAX plus a DOM) and plain nlohmann::json::parse,
// on one evidence-log line and on a 64 KiB document. Reports bytes/s; the
// time per iteration of the *LogLine benchmarks is the cost per line.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/json_scan.h"
#include "base/strict_json.h"

namespace {

using deputy::json::ParseStrict;
using deputy::json::Scanner;
using deputy::json::ValidateStrict;

constexpr std::string_view kLogLine =
    R"({"seq":12,"time":"2026-12-03T18:00:00.123456Z","prev":")"
    R"(9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",)"
    R"("kind":"action.intent","actor":"agent-1","owner":"alice",)"
    R"("task":"T-1","action":"a-3","payload":{"target":"ldap","op":)"
    R"("disable","dn":"uid=bob,ou=people,dc=example,dc=org","n":3}})";

// An array of log entries of varied shape (nested payloads, floats,
// escapes, non-ASCII text), cut to 64 KiB.
std::string MakeDocument(std::size_t target) {
  std::string doc = "[";
  for (int i = 0; doc.size() < target - 600; ++i) {
    if (i > 0) doc += ",\n";
    doc +=
        R"({"seq":)" + std::to_string(i) +
        R"(,"time":"2026-12-03T18:00:00.123456Z","prev":")"
        R"(9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")"
        R"(,"kind":"action.result","actor":"agent-)" +
        std::to_string(i % 7) + R"(","payload":{"target":"ldap","ok":)" +
        (i % 2 == 0 ? "true" : "false") + R"(,"latency":)" + std::to_string(i) +
        ".25e-3" +
        R"(,"note":"Zürich \u2192 Genève, tab\there","tags":["a","b",null],)"
        R"("dn":"uid=user)" +
        std::to_string(i) + R"(,ou=people,dc=example,dc=org"}})";
  }
  doc += "]";
  doc.append(target - doc.size(), ' ');
  return doc;
}

const std::string& LogLine() {
  static const std::string line(kLogLine);
  return line;
}

const std::string& Document() {
  static const std::string doc = MakeDocument(64 * 1024);
  return doc;
}

template <typename Parse>
void Run(benchmark::State& state, const std::string& text, Parse parse) {
  for (auto _ : state) {
    const bool ok = parse(text);
    benchmark::DoNotOptimize(ok);
    if (!ok) {
      state.SkipWithError("document rejected");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}

bool Validate(const std::string& text) { return ValidateStrict(text).ok(); }
bool Strict(const std::string& text) { return ParseStrict(text).ok(); }
bool Nlohmann(const std::string& text) {
  return !nlohmann::json::parse(text).is_discarded();
}

// What the log verifier does with a header it knows: read fields in order.
bool ScanHeader(const std::string& text) {
  Scanner s(text);
  if (!s.Expect('{').ok() || !s.ExpectKey("seq").ok()) return false;
  if (!s.Integer().ok()) return false;
  for (std::string_view key :
       {"time", "prev", "kind", "actor", "owner", "task", "action"}) {
    if (!s.Expect(',').ok() || !s.ExpectKey(key).ok()) return false;
    if (!s.PlainString().ok()) return false;
  }
  if (!s.Expect(',').ok() || !s.ExpectKey("payload").ok()) return false;
  if (!s.Value(1).ok()) return false;
  return s.Expect('}').ok() && s.End().ok();
}

void BM_ValidateStrict_LogLine(benchmark::State& state) {
  Run(state, LogLine(), Validate);
}
void BM_ScannerFields_LogLine(benchmark::State& state) {
  Run(state, LogLine(), ScanHeader);
}
void BM_ParseStrict_LogLine(benchmark::State& state) {
  Run(state, LogLine(), Strict);
}
void BM_NlohmannParse_LogLine(benchmark::State& state) {
  Run(state, LogLine(), Nlohmann);
}
void BM_ValidateStrict_64KiB(benchmark::State& state) {
  Run(state, Document(), Validate);
}
void BM_ParseStrict_64KiB(benchmark::State& state) {
  Run(state, Document(), Strict);
}
void BM_NlohmannParse_64KiB(benchmark::State& state) {
  Run(state, Document(), Nlohmann);
}

BENCHMARK(BM_ValidateStrict_LogLine);
BENCHMARK(BM_ScannerFields_LogLine);
BENCHMARK(BM_ParseStrict_LogLine);
BENCHMARK(BM_NlohmannParse_LogLine);
BENCHMARK(BM_ValidateStrict_64KiB);
BENCHMARK(BM_ParseStrict_64KiB);
BENCHMARK(BM_NlohmannParse_64KiB);

}  // namespace

BENCHMARK_MAIN();
