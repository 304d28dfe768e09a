#include "agent/evidence/entry.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "agent/evidence/clock.h"
#include "base/json_scan.h"

namespace deputy::evidence {
namespace {

constexpr std::array<std::uint8_t, 256> MakeLowerHexTable() {
  std::array<std::uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = 1;
  for (int c = 'a'; c <= 'f'; ++c) t[c] = 1;
  return t;
}
constexpr std::array<std::uint8_t, 256> kLowerHex = MakeLowerHexTable();

// Branch-free: this runs on every line the verifier reads.
bool IsLowerHex(std::string_view s) {
  unsigned ok = 1;
  for (unsigned char c : s) ok &= kLowerHex[c];
  return ok != 0;
}

Status ValidateKind(std::string_view kind) {
  // [a-z]+ ( '.' [a-z_]+ )+, at most 64 bytes.
  bool ok = !kind.empty() && kind.size() <= 64 && kind.front() != '.' &&
            kind.back() != '.' && kind.find("..") == std::string_view::npos &&
            kind.find('.') != std::string_view::npos &&
            std::all_of(kind.begin(), kind.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || c == '.' || c == '_';
            });
  if (!ok) {
    return Status::Invalid("kind \"" + std::string(kind.substr(0, 64)) +
                           "\" is not of the form area.event (lower case)");
  }
  return Status::Ok();
}

Status ValidateName(std::string_view field, std::string_view value,
                    bool required) {
  if (value.empty()) {
    return required ? Status::Invalid(std::string(field) + " is empty")
                    : Status::Invalid(std::string(field) +
                                      " is empty; omit it instead");
  }
  if (value.size() > 256) {
    return Status::Invalid(std::string(field) + " is longer than 256 bytes");
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return Status::Invalid(std::string(field) +
                             " contains a control character");
    }
  }
  return Status::Ok();
}

// Lower-cases and drops '_', '-', '.' and spaces: "Private-Key" and
// "private_key" both become "privatekey".
std::string Normalise(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') continue;
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

}  // namespace

bool LooksLikeSecretName(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kWords = {
      "password",   "passwd", "passphrase", "secret", "token",
      "privatekey", "apikey", "credential", "seed"};
  std::string n = Normalise(name);
  // Fingerprints and digests of secrets are what the log should hold.
  for (std::string_view ok : {"fingerprint", "sha256", "digest", "keyid"}) {
    if (n.size() >= ok.size() &&
        n.compare(n.size() - ok.size(), ok.size(), ok) == 0) {
      return false;
    }
  }
  for (std::string_view w : kWords) {
    if (n.find(w) != std::string::npos) return true;
  }
  return false;
}

namespace {

Status CheckNoSecrets(const nlohmann::json& value, const std::string& path) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) {
      std::string child_path = json::ChildPath(path, key);
      // A true/false flag ("password_set": true) cannot carry a secret.
      if (LooksLikeSecretName(key) && !child.is_boolean()) {
        return Status::PermissionDenied(
            child_path +
            ": field name looks like a secret; log a fingerprint "
            "(e.g. \"" +
            key + "_fingerprint\") instead");
      }
      RETURN_IF_ERROR(CheckNoSecrets(child, child_path));
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      RETURN_IF_ERROR(CheckNoSecrets(value[i], json::IndexPath(path, i)));
    }
  } else if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.find("PRIVATE KEY-----") != std::string::npos) {
      return Status::PermissionDenied(path + ": value holds a private key");
    }
  }
  return Status::Ok();
}

void AppendJsonString(std::string& out, std::string_view s) {
  // Dumping through nlohmann validates UTF-8 (throws on invalid, caught by
  // the caller) and escapes control characters.
  out += nlohmann::json(s).dump();
}

// Reads a string into `out`, reusing its capacity: the raw bytes when the
// string has no escapes (the common case), else the unescaped text.
Status StringInto(json::Scanner& s, std::string& out) {
  auto plain = s.PlainString();
  if (plain.ok()) {
    out.assign(*plain);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(out, s.String());
  return Status::Ok();
}

// Reads a string or null into `out`.
Status OptionalStringInto(json::Scanner& s, std::string_view rest,
                          std::optional<std::string>& out) {
  if (!rest.empty() && rest.front() == 'n') {
    ASSIGN_OR_RETURN(std::string_view v, s.Value());
    if (v != "null") return Status::Invalid("expected a string or null");
    out.reset();
    return Status::Ok();
  }
  if (!out) out.emplace();
  return StringInto(s, *out);
}

std::string_view SkipWs(std::string_view line, std::size_t pos) {
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' ||
                               line[pos] == '\r' || line[pos] == '\n')) {
    ++pos;
  }
  return line.substr(std::min(pos, line.size()));
}

}  // namespace

Hash OriginHash(std::string_view origin) { return keys::Sha256(origin); }

Status ValidateDraft(const EntryDraft& draft) {
  RETURN_IF_ERROR(ValidateKind(draft.kind));
  RETURN_IF_ERROR(ValidateName("actor", draft.actor, true));
  RETURN_IF_ERROR(ValidateName("owner", draft.owner, true));
  if (draft.task) RETURN_IF_ERROR(ValidateName("task", *draft.task, false));
  if (draft.action) {
    RETURN_IF_ERROR(ValidateName("action", *draft.action, false));
  }
  if (!draft.payload.is_object()) {
    return Status::Invalid("payload must be a JSON object");
  }
  return CheckNoSecrets(draft.payload, "$.payload");
}

std::string FormatEntryHead(std::uint64_t seq, std::int64_t time_micros,
                            const Hash& prev) {
  std::string head;
  head.reserve(128);
  head += "{\"seq\":";
  head += std::to_string(seq);
  head += ",\"time\":\"";
  head += FormatTimestamp(time_micros);
  head += "\",\"prev\":\"";
  head += HexEncode(prev);
  head += '"';
  return head;
}

Result<std::string> FormatEntryBody(const EntryDraft& draft) {
  RETURN_IF_ERROR(ValidateDraft(draft));
  std::string body;
  body.reserve(256);
  try {
    body += ",\"kind\":";
    AppendJsonString(body, draft.kind);
    body += ",\"actor\":";
    AppendJsonString(body, draft.actor);
    body += ",\"owner\":";
    AppendJsonString(body, draft.owner);
    body += ",\"task\":";
    if (draft.task) {
      AppendJsonString(body, *draft.task);
    } else {
      body += "null";
    }
    body += ",\"action\":";
    if (draft.action) {
      AppendJsonString(body, *draft.action);
    } else {
      body += "null";
    }
    body += ",\"payload\":";
    body += draft.payload.dump();
    body += '}';
  } catch (const nlohmann::json::exception& e) {
    return Status::Invalid(std::string("entry is not valid UTF-8 JSON: ") +
                           e.what());
  }
  // The longest head is 20 + 27 + 64 + punctuation bytes.
  if (body.size() + 160 > kMaxEntryBytes) {
    return Status::ResourceExhausted("entry is " + std::to_string(body.size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(kMaxEntryBytes));
  }
  // The payload may hold what nlohmann writes but the strict reader
  // refuses (integers beyond 2^53): check the line as a verifier will.
  auto parsed = ParseEntry(FormatEntryHead(0, 0, Hash{}) + body);
  if (!parsed.ok()) return parsed.status().Within("entry would not verify");
  return body;
}

Result<std::string> FormatEntry(const EntryDraft& draft, std::uint64_t seq,
                                std::int64_t time_micros, const Hash& prev) {
  ASSIGN_OR_RETURN(std::string body, FormatEntryBody(draft));
  return FormatEntryHead(seq, time_micros, prev) + body;
}

Result<EntryView> ParseEntry(std::string_view line) {
  EntryView e;
  RETURN_IF_ERROR(ParseEntryInto(line, e));
  return e;
}

namespace {

// Consumes `literal` at `pos`.
bool Lit(std::string_view line, std::size_t& pos, std::string_view literal) {
  if (line.compare(pos, literal.size(), literal) != 0) return false;
  pos += literal.size();
  return true;
}

// A JSON string of plain printable ASCII (no escapes, no control or
// non-ASCII bytes) at `pos`; anything else sends the caller to the
// general scanner.
bool PlainAscii(std::string_view line, std::size_t& pos,
                std::string_view& out) {
  if (pos >= line.size() || line[pos] != '"') return false;
  const std::size_t start = pos + 1;
  const void* quote =
      std::memchr(line.data() + start, '"', line.size() - start);
  if (quote == nullptr) return false;
  const std::size_t end = static_cast<const char*>(quote) - line.data();
  // Eight bytes at a time (SWAR): any byte >= 0x80, < 0x20 or '\\'?
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  std::uint64_t bad8 = 0;
  std::size_t i = start;
  for (; i + 8 <= end; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, line.data() + i, 8);
    const std::uint64_t bs = w ^ (kOnes * '\\');
    bad8 |= w | ((w - kOnes * 0x20) & ~w) | ((bs - kOnes) & ~bs);
  }
  if ((bad8 & kHigh) != 0) return false;
  unsigned bad = 0;
  for (; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    bad |= static_cast<unsigned>(c == '\\') | static_cast<unsigned>(c < 0x20) |
           static_cast<unsigned>(c >= 0x80);
  }
  if (bad != 0) return false;
  out = line.substr(start, end - start);
  pos = end + 1;
  return true;
}

bool PlainOptional(std::string_view line, std::size_t& pos,
                   std::optional<std::string>& out) {
  if (Lit(line, pos, "null")) {
    out.reset();
    return true;
  }
  std::string_view v;
  if (!PlainAscii(line, pos, v)) return false;
  if (!out) out.emplace();
  out->assign(v);
  return true;
}

// The fast path for lines exactly as the writer lays them out (no
// whitespace, fields in order, header strings in plain ASCII). It accepts
// a subset of what the general path accepts and checks the same rules;
// on any doubt it returns false and the general path decides (and words
// the error).
bool ParseCanonical(std::string_view line, EntryView& e) {
  std::size_t pos = 0;
  if (!Lit(line, pos, "{\"seq\":")) return false;
  std::uint64_t seq = 0;
  std::size_t digits = 0;
  while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9' &&
         digits < 16) {
    seq = seq * 10 + static_cast<std::uint64_t>(line[pos] - '0');
    ++pos;
    ++digits;
  }
  if (digits == 0 || (digits > 1 && line[pos - digits] == '0') ||
      seq > static_cast<std::uint64_t>(json::kMaxSafeInteger)) {
    return false;
  }
  e.seq = seq;
  std::string_view v;
  if (!Lit(line, pos, ",\"time\":") || !PlainAscii(line, pos, v) ||
      !ParseTimestamp(v).ok()) {
    return false;
  }
  e.time = v;
  if (!Lit(line, pos, ",\"prev\":") || !PlainAscii(line, pos, v) ||
      v.size() != 64 || !IsLowerHex(v)) {
    return false;
  }
  e.prev = v;
  if (!Lit(line, pos, ",\"kind\":") || !PlainAscii(line, pos, v) ||
      !ValidateKind(v).ok()) {
    return false;
  }
  e.kind.assign(v);
  if (!Lit(line, pos, ",\"actor\":") || !PlainAscii(line, pos, v) ||
      !ValidateName("actor", v, true).ok()) {
    return false;
  }
  e.actor.assign(v);
  if (!Lit(line, pos, ",\"owner\":") || !PlainAscii(line, pos, v) ||
      !ValidateName("owner", v, true).ok()) {
    return false;
  }
  e.owner.assign(v);
  if (!Lit(line, pos, ",\"task\":") || !PlainOptional(line, pos, e.task) ||
      (e.task && !ValidateName("task", *e.task, false).ok())) {
    return false;
  }
  if (!Lit(line, pos, ",\"action\":") || !PlainOptional(line, pos, e.action) ||
      (e.action && !ValidateName("action", *e.action, false).ok())) {
    return false;
  }
  if (!Lit(line, pos, ",\"payload\":") || pos >= line.size() ||
      line[pos] != '{' || line.back() != '}') {
    return false;
  }
  // The payload is everything up to the final '}', validated in full.
  std::string_view payload = line.substr(pos, line.size() - 1 - pos);
  json::Scanner s(payload);
  auto value = s.Value(1);
  if (!value.ok() || !s.End().ok()) return false;
  e.payload = payload;
  return true;
}

}  // namespace

Status ParseEntryInto(std::string_view line, EntryView& e) {
  if (line.size() > kMaxEntryBytes) {
    return Status::ResourceExhausted("entry longer than " +
                                     std::to_string(kMaxEntryBytes) + " bytes");
  }
  if (ParseCanonical(line, e)) return Status::Ok();
  json::Scanner s(line);
  RETURN_IF_ERROR(s.Expect('{'));
  RETURN_IF_ERROR(s.ExpectKey("seq"));
  ASSIGN_OR_RETURN(std::int64_t seq, s.Integer());
  if (seq < 0) return Status::Invalid("seq is negative");
  e.seq = static_cast<std::uint64_t>(seq);
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("time"));
  ASSIGN_OR_RETURN(e.time, s.PlainString());
  auto t = ParseTimestamp(e.time);
  if (!t.ok()) return t.status().Within("time");
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("prev"));
  ASSIGN_OR_RETURN(e.prev, s.PlainString());
  if (e.prev.size() != 64 || !IsLowerHex(e.prev)) {
    return Status::Invalid("prev is not 64 lower-case hex digits");
  }
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("kind"));
  RETURN_IF_ERROR(StringInto(s, e.kind));
  RETURN_IF_ERROR(ValidateKind(e.kind));
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("actor"));
  RETURN_IF_ERROR(StringInto(s, e.actor));
  RETURN_IF_ERROR(ValidateName("actor", e.actor, true));
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("owner"));
  RETURN_IF_ERROR(StringInto(s, e.owner));
  RETURN_IF_ERROR(ValidateName("owner", e.owner, true));
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("task"));
  RETURN_IF_ERROR(OptionalStringInto(s, SkipWs(line, s.offset()), e.task));
  if (e.task) RETURN_IF_ERROR(ValidateName("task", *e.task, false));
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("action"));
  RETURN_IF_ERROR(OptionalStringInto(s, SkipWs(line, s.offset()), e.action));
  if (e.action) RETURN_IF_ERROR(ValidateName("action", *e.action, false));
  RETURN_IF_ERROR(s.Expect(','));
  RETURN_IF_ERROR(s.ExpectKey("payload"));
  std::string_view rest = SkipWs(line, s.offset());
  if (rest.empty() || rest.front() != '{') {
    return Status::Invalid("byte " + std::to_string(line.size() - rest.size()) +
                           ": payload must be an object");
  }
  ASSIGN_OR_RETURN(e.payload, s.Value(1));
  RETURN_IF_ERROR(s.Expect('}'));
  return s.End();
}

}  // namespace deputy::evidence
