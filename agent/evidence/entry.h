// One evidence log entry: the exact line format, how the writer produces
// it and how the verifier reads it back (docs/evidence-log.md).
//
//   {"seq":0,"time":"2026-12-03T18:00:00.000000Z","prev":"<64 hex>",
//    "kind":"agent.started","actor":"agent-1","owner":"alice",
//    "task":null,"action":null,"payload":{...}}
//
// on one line, fields in exactly this order, ending with '\n'. The entry
// hash is the RFC 6962 leaf hash SHA-256(0x00 || line bytes without the
// newline); `prev` is the previous entry's hash, and for seq 0 the hash
// of the log's origin string. Hashes cover the exact bytes; nothing is
// ever re-serialised. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/evidence/merkle.h"
#include "base/status.h"

namespace deputy::evidence {

inline constexpr std::size_t kMaxEntryBytes = 64 * 1024;

// What a caller asks to record. The writer adds seq, time and prev.
struct EntryDraft {
  std::string kind;   // "action.intent", ...: [a-z]+(.[a-z_]+)+
  std::string actor;  // The agent id.
  std::string owner;  // The named human accountable for this entry.
  std::optional<std::string> task;
  std::optional<std::string> action;
  nlohmann::json payload = nlohmann::json::object();
};

// A parsed line. String views point into the line.
struct EntryView {
  std::uint64_t seq = 0;
  std::string_view time;
  std::string_view prev;  // 64 lower-case hex digits.
  std::string kind;
  std::string actor;
  std::string owner;
  std::optional<std::string> task;
  std::optional<std::string> action;
  std::string_view payload;  // Raw JSON object text.
};

// The hash every chain starts from: SHA-256 of the origin string.
Hash OriginHash(std::string_view origin);
// The entry hash of one line (without its newline).
inline Hash EntryHash(std::string_view line) { return LeafHash(AsBytes(line)); }

// Checks a draft before it is written: field syntax, payload is an object,
// and no payload field anywhere looks like a secret (password, secret,
// token, private key, credential, API key) unless its name says it is a
// fingerprint; no value holds a PEM private key.
Status ValidateDraft(const EntryDraft& draft);
// The name test ValidateDraft applies to payload fields: true for names
// that say "password", "secret", "token", "private key", "credential",
// "API key", "passphrase" or "seed", unless they end in "fingerprint",
// "sha256", "digest" or "keyid". (A field holding true or false passes
// whatever its name.)
bool LooksLikeSecretName(std::string_view name);

// Serialises a draft into a line (without the newline), validating it
// first and checking that the verifier will read it back.
Result<std::string> FormatEntry(const EntryDraft& draft, std::uint64_t seq,
                                std::int64_t time_micros, const Hash& prev);

// The writer's split of FormatEntry: the body (from ,"kind": to the final
// '}') is built and validated outside the log's lock; the head (seq, time,
// prev) is added under it. FormatEntry == FormatEntryHead + body.
Result<std::string> FormatEntryBody(const EntryDraft& draft);
std::string FormatEntryHead(std::uint64_t seq, std::int64_t time_micros,
                            const Hash& prev);

// Reads a line (without its newline) strictly: field order, types, a
// valid timestamp and hash, a payload object of strict JSON.
Result<EntryView> ParseEntry(std::string_view line);
// The same into an existing view, reusing its strings' storage (the
// verifier's hot loop). On error `out` holds partial data.
Status ParseEntryInto(std::string_view line, EntryView& out);

}  // namespace deputy::evidence
