#include "agent/evidence/note.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "keys/sha256.h"

namespace deputy::evidence {
namespace {

// "— ": U+2014 EM DASH and a space, the start of every signature line.
constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";
constexpr std::string_view kCosignatureHeader = "cosignature/v1\n";
constexpr std::string_view kProofHeader = "c2sp.org/tlog-proof@v1";
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kKeyIdBytes = 4;
constexpr std::size_t kTimestampBytes = 8;
constexpr std::uint64_t kMaxTimestamp =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
// The proof lines before the checkpoint: the header, an extra line of at
// most a note's size, the index and the hashes.
constexpr std::size_t kMaxProofFileBytes = 2 * kMaxNoteBytes + 4096;

// Decodes the UTF-8 sequence at s[i]. Refuses overlong forms, surrogates
// and code points above U+10FFFF, so that one text has one meaning.
// Returns the code point and sets `len`, or returns -1.
long DecodeRune(std::string_view s, std::size_t i, std::size_t& len) {
  auto at = [&](std::size_t k) -> unsigned {
    return static_cast<unsigned char>(s[k]);
  };
  unsigned b0 = at(i);
  if (b0 < 0x80) {
    len = 1;
    return static_cast<long>(b0);
  }
  std::size_t n;
  unsigned lo = 0x80, hi = 0xbf;
  long cp;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
    cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    cp = b0 & 0x0f;
    if (b0 == 0xe0) lo = 0xa0;  // Overlong.
    if (b0 == 0xed) hi = 0x9f;  // Surrogates.
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    cp = b0 & 0x07;
    if (b0 == 0xf0) lo = 0x90;  // Overlong.
    if (b0 == 0xf4) hi = 0x8f;  // Above U+10FFFF.
  } else {
    return -1;
  }
  if (s.size() - i < n) return -1;
  for (std::size_t k = 1; k < n; ++k) {
    unsigned b = at(i + k);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) return -1;
    cp = cp << 6 | (b & 0x3f);
  }
  len = n;
  return cp;
}

// Unicode White_Space (what Go's unicode.IsSpace accepts, which is what
// the reference implementation checks key names against).
bool IsUnicodeSpace(long cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

std::string CodePoint(long cp) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "U+";
  for (int shift = cp > 0xffff ? 20 : 12; shift >= 0; shift -= 4) {
    out += kHex[(cp >> shift) & 0xf];
  }
  return out;
}

// The signed-note character rules: valid UTF-8 and no ASCII control
// character (below U+0020) other than newline.
Status ValidateNoteChars(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = 0;
    long cp = DecodeRune(text, i, len);
    if (cp < 0) {
      return Status::Invalid("invalid UTF-8 at byte offset " +
                             std::to_string(i));
    }
    if (cp < 0x20 && cp != '\n') {
      return Status::Invalid("control character " + CodePoint(cp) +
                             " at byte offset " + std::to_string(i));
    }
    i += len;
  }
  return Status::Ok();
}

Status ValidateNoteText(std::string_view text) {
  if (text.empty() || text.back() != '\n') {
    return Status::Invalid("note text must end with a newline");
  }
  return ValidateNoteChars(text);
}

// Canonical ASCII decimal: digits only, no sign, no leading zero unless the
// value is 0, and within uint64.
bool ParseDecimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string KeyIdHex(std::uint32_t id) {
  std::uint8_t b[4] = {
      static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16),
      static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id)};
  return HexEncode(b);
}

std::string KeyLabel(std::string_view name, std::uint32_t id) {
  return std::string(name) + "+" + KeyIdHex(id);
}

std::uint64_t LoadBigEndian64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

// Whether a note with `note`'s fields serialises to something Parse
// accepts; SignNote and Cosign check this so deputy never writes a note it
// would refuse to read.
Status ValidateNoteFields(const SignedNote& note) {
  RETURN_IF_ERROR(ValidateNoteText(note.text));
  if (note.signatures.size() > kMaxNoteSignatures) {
    return Status::ResourceExhausted("a note carries at most " +
                                     std::to_string(kMaxNoteSignatures) +
                                     " signatures");
  }
  for (const NoteSignature& sig : note.signatures) {
    RETURN_IF_ERROR(ValidateNoteKeyName(sig.name).Within("signature name"));
    if (sig.signature.empty()) {
      return Status::Invalid("empty signature by " +
                             KeyLabel(sig.name, sig.key_id));
    }
  }
  return Status::Ok();
}

// Adds `sig` to a copy of `note`, replacing an earlier signature with the
// same key name and id (a re-signature or a fresher cosignature), and
// commits the copy only if it stays within the parsing limits.
Status AppendSignature(SignedNote& note, NoteSignature sig) {
  SignedNote out = note;
  std::erase_if(out.signatures, [&](const NoteSignature& s) {
    return s.name == sig.name && s.key_id == sig.key_id;
  });
  out.signatures.push_back(std::move(sig));
  RETURN_IF_ERROR(ValidateNoteFields(out));
  if (out.Serialize().size() > kMaxNoteBytes) {
    return Status::ResourceExhausted("signed note would exceed " +
                                     std::to_string(kMaxNoteBytes) + " bytes");
  }
  note = std::move(out);
  return Status::Ok();
}

std::string CosignedMessage(std::string_view text, std::uint64_t timestamp) {
  std::string msg(kCosignatureHeader);
  msg += "time ";
  msg += std::to_string(timestamp);
  msg += '\n';
  msg += text;
  return msg;
}

// Splits off the next '\n'-terminated line of `rest`; false when no newline
// is left.
bool NextLine(std::string_view& rest, std::string_view& line) {
  std::size_t nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  for (char c : s.substr(0, kMax)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += HexEncode(ByteSpan(&u, 1));
    } else {
      out += c;
    }
  }
  out += s.size() > kMax ? "\"..." : "\"";
  return out;
}

}  // namespace

Status ValidateNoteKeyName(std::string_view name) {
  if (name.empty()) return Status::Invalid("note key name is empty");
  for (std::size_t i = 0; i < name.size();) {
    std::size_t len = 0;
    long cp = DecodeRune(name, i, len);
    if (cp < 0) {
      return Status::Invalid("note key name has invalid UTF-8 at byte " +
                             std::to_string(i));
    }
    if (IsUnicodeSpace(cp)) {
      return Status::Invalid("note key name contains white space " +
                             CodePoint(cp));
    }
    // Not printable: C0 controls, DEL and C1 controls.
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      return Status::Invalid("note key name contains control character " +
                             CodePoint(cp));
    }
    if (cp == '+') return Status::Invalid("note key name contains '+'");
    i += len;
  }
  return Status::Ok();
}

std::uint32_t NoteKeyId(std::string_view name, std::uint8_t type,
                        const keys::PublicKey& key) {
  keys::Sha256Hasher hasher;
  const std::uint8_t sep_type[2] = {'\n', type};
  hasher.Update(name).Update(ByteSpan(sep_type, 2)).Update(key.raw());
  keys::Digest d = hasher.Finish();
  return static_cast<std::uint32_t>(d[0]) << 24 |
         static_cast<std::uint32_t>(d[1]) << 16 |
         static_cast<std::uint32_t>(d[2]) << 8 |
         static_cast<std::uint32_t>(d[3]);
}

std::string VerifierKeyString(std::string_view name, std::uint8_t type,
                              const keys::PublicKey& key) {
  Bytes typed;
  typed.reserve(1 + key.raw().size());
  typed.push_back(type);
  typed.insert(typed.end(), key.raw().begin(), key.raw().end());
  return KeyLabel(name, NoteKeyId(name, type, key)) + "+" + Base64Encode(typed);
}

Result<SignedNote> SignedNote::Parse(std::string_view note) {
  if (note.size() > kMaxNoteBytes) {
    return Status::ResourceExhausted("note of " + std::to_string(note.size()) +
                                     " bytes exceeds the limit of " +
                                     std::to_string(kMaxNoteBytes));
  }
  RETURN_IF_ERROR(ValidateNoteChars(note).Within("note"));
  // The text ends at the last blank line; the text itself may hold blank
  // lines, but signature lines are never empty.
  std::size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) {
    return Status::Invalid("note has no blank line before its signatures");
  }
  SignedNote out;
  out.text = std::string(note.substr(0, split + 1));
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty()) return Status::Invalid("note has no signature lines");
  if (sigs.back() != '\n') {
    return Status::Invalid("note does not end with a newline");
  }
  std::string_view line;
  while (NextLine(sigs, line)) {
    std::string where =
        "signature line " + std::to_string(out.signatures.size() + 1);
    if (out.signatures.size() == kMaxNoteSignatures) {
      return Status::ResourceExhausted("note has more than " +
                                       std::to_string(kMaxNoteSignatures) +
                                       " signatures");
    }
    if (!line.starts_with(kSigPrefix)) {
      return Status::Invalid(where + " " + Quote(line) +
                             " does not start with an em dash and a space");
    }
    line.remove_prefix(kSigPrefix.size());
    std::size_t space = line.find(' ');
    if (space == std::string_view::npos) {
      return Status::Invalid(where + " has no space after the key name");
    }
    std::string_view name = line.substr(0, space);
    std::string_view b64 = line.substr(space + 1);
    RETURN_IF_ERROR(ValidateNoteKeyName(name).Within(where));
    auto raw = Base64Decode(b64);
    if (!raw.ok()) return raw.status().Within(where);
    if (raw->size() <= kKeyIdBytes) {
      return Status::Invalid(where + " holds " + std::to_string(raw->size()) +
                             " bytes; a key id and a signature need at "
                             "least 5");
    }
    NoteSignature sig;
    sig.name = std::string(name);
    sig.key_id = static_cast<std::uint32_t>((*raw)[0]) << 24 |
                 static_cast<std::uint32_t>((*raw)[1]) << 16 |
                 static_cast<std::uint32_t>((*raw)[2]) << 8 |
                 static_cast<std::uint32_t>((*raw)[3]);
    sig.signature.assign(raw->begin() + kKeyIdBytes, raw->end());
    out.signatures.push_back(std::move(sig));
  }
  return out;
}

std::string SignedNote::Serialize() const {
  std::string out = text;
  out += '\n';
  for (const NoteSignature& sig : signatures) {
    Bytes raw;
    raw.reserve(kKeyIdBytes + sig.signature.size());
    raw.push_back(static_cast<std::uint8_t>(sig.key_id >> 24));
    raw.push_back(static_cast<std::uint8_t>(sig.key_id >> 16));
    raw.push_back(static_cast<std::uint8_t>(sig.key_id >> 8));
    raw.push_back(static_cast<std::uint8_t>(sig.key_id));
    raw.insert(raw.end(), sig.signature.begin(), sig.signature.end());
    out += kSigPrefix;
    out += sig.name;
    out += ' ';
    out += Base64Encode(raw);
    out += '\n';
  }
  return out;
}

Status SignNote(SignedNote& note, std::string_view name,
                const keys::PrivateKey& key) {
  RETURN_IF_ERROR(ValidateNoteKeyName(name));
  RETURN_IF_ERROR(ValidateNoteText(note.text));
  // Key separation in depth: a plain signature over a text that reads like
  // a cosigned message would also be a valid cosignature by the same key
  // (cosignature/v1 does not commit to the key id), so never make one.
  if (std::string_view(note.text).starts_with(kCosignatureHeader)) {
    return Status::Invalid(
        "refusing to sign a note text that starts with \"cosignature/v1\"");
  }
  NoteSignature sig;
  sig.name = std::string(name);
  sig.key_id = NoteKeyId(name, kSigTypeEd25519, key.public_key());
  keys::Signature s = key.Sign(AsBytes(note.text));
  sig.signature.assign(s.begin(), s.end());
  return AppendSignature(note, std::move(sig));
}

Status VerifyNote(const SignedNote& note, std::string_view name,
                  const keys::PublicKey& key) {
  std::uint32_t id = NoteKeyId(name, kSigTypeEd25519, key);
  bool verified = false;
  for (const NoteSignature& sig : note.signatures) {
    if (sig.name != name || sig.key_id != id) continue;
    // A known key's signature must verify; one bad signature rejects the
    // whole note, as the signed-note spec recommends.
    Status st = key.Verify(AsBytes(note.text), sig.signature);
    if (!st.ok()) {
      return Status::Unauthenticated("invalid signature by " +
                                     KeyLabel(name, id) + ": " + st.message());
    }
    verified = true;
  }
  if (!verified) {
    return Status::Unauthenticated("note carries no signature by " +
                                   KeyLabel(name, id));
  }
  return Status::Ok();
}

std::string Checkpoint::Body() const {
  std::string out = origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += Base64Encode(root);
  out += '\n';
  for (const std::string& ext : extensions) {
    out += ext;
    out += '\n';
  }
  return out;
}

Result<Checkpoint> Checkpoint::ParseBody(std::string_view body) {
  if (body.size() > kMaxNoteBytes) {
    return Status::ResourceExhausted("checkpoint body exceeds " +
                                     std::to_string(kMaxNoteBytes) + " bytes");
  }
  RETURN_IF_ERROR(ValidateNoteText(body).Within("checkpoint"));
  std::vector<std::string_view> lines;
  std::string_view rest = body, line;
  while (NextLine(rest, line)) {
    if (line.empty()) {
      return Status::Invalid("checkpoint line " +
                             std::to_string(lines.size() + 1) + " is empty");
    }
    lines.push_back(line);
  }
  if (lines.size() < 3) {
    return Status::Invalid(
        "checkpoint needs an origin, a tree size and a root hash line");
  }
  Checkpoint out;
  out.origin = std::string(lines[0]);
  if (!ParseDecimal(lines[1], out.size)) {
    return Status::Invalid("checkpoint tree size " + Quote(lines[1]) +
                           " is not a canonical decimal uint64");
  }
  auto root = Base64Decode(lines[2]);
  if (!root.ok()) return root.status().Within("checkpoint root hash");
  if (root->size() != kHashBytes) {
    return Status::Invalid("checkpoint root hash is " +
                           std::to_string(root->size()) + " bytes, not 32");
  }
  std::copy(root->begin(), root->end(), out.root.begin());
  for (std::size_t i = 3; i < lines.size(); ++i) {
    out.extensions.emplace_back(lines[i]);
  }
  return out;
}

Status Cosign(SignedNote& checkpoint_note, std::string_view witness_name,
              const keys::PrivateKey& witness_key, std::uint64_t timestamp) {
  RETURN_IF_ERROR(ValidateNoteKeyName(witness_name));
  if (timestamp > kMaxTimestamp) {
    return Status::Invalid("cosignature timestamp exceeds 2^63-1");
  }
  auto checkpoint = Checkpoint::ParseBody(checkpoint_note.text);
  if (!checkpoint.ok()) return checkpoint.status().Within("cosign");
  keys::Signature s = witness_key.Sign(
      AsBytes(CosignedMessage(checkpoint_note.text, timestamp)));
  NoteSignature sig;
  sig.name = std::string(witness_name);
  sig.key_id =
      NoteKeyId(witness_name, kSigTypeCosignatureV1, witness_key.public_key());
  sig.signature.reserve(kTimestampBytes + s.size());
  for (int shift = 56; shift >= 0; shift -= 8) {
    sig.signature.push_back(static_cast<std::uint8_t>(timestamp >> shift));
  }
  sig.signature.insert(sig.signature.end(), s.begin(), s.end());
  return AppendSignature(checkpoint_note, std::move(sig));
}

Result<std::uint64_t> VerifyCosignature(const SignedNote& checkpoint_note,
                                        std::string_view witness_name,
                                        const keys::PublicKey& witness_key) {
  auto checkpoint = Checkpoint::ParseBody(checkpoint_note.text);
  if (!checkpoint.ok()) {
    return checkpoint.status().Within("verify cosignature");
  }
  std::uint32_t id =
      NoteKeyId(witness_name, kSigTypeCosignatureV1, witness_key);
  std::optional<std::uint64_t> latest;
  for (const NoteSignature& sig : checkpoint_note.signatures) {
    if (sig.name != witness_name || sig.key_id != id) continue;
    std::string label = KeyLabel(witness_name, id);
    if (sig.signature.size() != kTimestampBytes + keys::kSignatureBytes) {
      return Status::Unauthenticated("cosignature by " + label + " is " +
                                     std::to_string(sig.signature.size()) +
                                     " bytes, not 72");
    }
    std::uint64_t timestamp = LoadBigEndian64(sig.signature.data());
    if (timestamp > kMaxTimestamp) {
      return Status::Unauthenticated("cosignature by " + label +
                                     " has a timestamp above 2^63-1");
    }
    std::string msg = CosignedMessage(checkpoint_note.text, timestamp);
    Status st = witness_key.Verify(
        AsBytes(msg), ByteSpan(sig.signature).subspan(kTimestampBytes));
    if (!st.ok()) {
      return Status::Unauthenticated("invalid cosignature by " + label + ": " +
                                     st.message());
    }
    latest = std::max(latest.value_or(0), timestamp);
  }
  if (!latest) {
    return Status::Unauthenticated("checkpoint carries no cosignature by " +
                                   KeyLabel(witness_name, id));
  }
  return *latest;
}

std::string InclusionProofFile::Serialize() const {
  std::string out(kProofHeader);
  out += '\n';
  if (extra) {
    out += "extra ";
    out += Base64Encode(AsBytes(*extra));
    out += '\n';
  }
  out += "index ";
  out += std::to_string(index);
  out += '\n';
  for (const Hash& h : proof) {
    out += Base64Encode(h);
    out += '\n';
  }
  out += '\n';
  out += checkpoint.Serialize();
  return out;
}

Result<InclusionProofFile> InclusionProofFile::Parse(std::string_view text) {
  if (text.size() > kMaxProofFileBytes) {
    return Status::ResourceExhausted(
        "proof file exceeds " + std::to_string(kMaxProofFileBytes) + " bytes");
  }
  InclusionProofFile out;
  std::string_view rest = text, line;
  if (!NextLine(rest, line) || line != kProofHeader) {
    return Status::Invalid("proof does not start with \"" +
                           std::string(kProofHeader) + "\"");
  }
  if (!NextLine(rest, line)) {
    return Status::Invalid("proof ends after its header line");
  }
  if (line.starts_with("extra ")) {
    auto extra = Base64Decode(line.substr(6));
    if (!extra.ok()) return extra.status().Within("proof extra data");
    out.extra = std::string(AsChars(*extra));
    if (!NextLine(rest, line)) {
      return Status::Invalid("proof ends after its extra line");
    }
  }
  if (!line.starts_with("index ") || !ParseDecimal(line.substr(6), out.index)) {
    return Status::Invalid("expected \"index <canonical decimal>\", got " +
                           Quote(line));
  }
  // Hash lines run up to the empty line that precedes the checkpoint.
  while (true) {
    if (!NextLine(rest, line)) {
      return Status::Invalid("proof has no blank line before its checkpoint");
    }
    if (line.empty()) break;
    std::string where =
        "proof hash line " + std::to_string(out.proof.size() + 1);
    if (out.proof.size() == kMaxProofHashes) {
      return Status::ResourceExhausted(
          "proof has more than " + std::to_string(kMaxProofHashes) + " hashes");
    }
    auto hash = Base64Decode(line);
    if (!hash.ok()) {
      return Status::Invalid(
          where + " " + Quote(line) +
          " is not a base64 hash: " + hash.status().message());
    }
    if (hash->size() != kHashBytes) {
      return Status::Invalid(where + " holds " + std::to_string(hash->size()) +
                             " bytes, not 32");
    }
    Hash h;
    std::copy(hash->begin(), hash->end(), h.begin());
    out.proof.push_back(h);
  }
  auto note = SignedNote::Parse(rest);
  if (!note.ok()) return note.status().Within("proof checkpoint");
  auto checkpoint = Checkpoint::ParseBody(note->text);
  if (!checkpoint.ok()) return checkpoint.status().Within("proof checkpoint");
  if (out.index >= checkpoint->size) {
    return Status::Invalid("proof index " + std::to_string(out.index) +
                           " is not below the checkpoint tree size " +
                           std::to_string(checkpoint->size));
  }
  out.checkpoint = std::move(*note);
  return out;
}

}  // namespace deputy::evidence
