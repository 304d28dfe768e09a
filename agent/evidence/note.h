// C2SP signed notes, transparency-log checkpoints, Ed25519 cosignatures
// and inclusion-proof files:
//
//   c2sp.org/signed-note        note text, signature lines, key ids
//   c2sp.org/tlog-checkpoint    origin / size / root body
//   c2sp.org/tlog-cosignature   witness cosignatures (signature type 0x04)
//   c2sp.org/tlog-proof         an inclusion proof with its checkpoint
//
// Signing and verification use keys::PrivateKey / keys::PublicKey; the
// note key name is given separately because C2SP key names may not
// contain '+' (deputy uses the log origin as the agent's note key name).
// All types are values; all functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/evidence/merkle.h"
#include "base/encoding.h"
#include "base/status.h"
#include "keys/private_key.h"
#include "keys/public_key.h"

namespace deputy::evidence {

// Upper bounds for parsing untrusted notes and proofs.
inline constexpr std::size_t kMaxNoteBytes = 1 << 16;
inline constexpr std::size_t kMaxNoteSignatures = 64;
inline constexpr std::size_t kMaxProofHashes = 64;

// Valid C2SP key name: non-empty, printable, no whitespace, no '+'.
Status ValidateNoteKeyName(std::string_view name);

// First four bytes of SHA-256(name || 0x0A || type || public key),
// big-endian. Type 0x01 is Ed25519, 0x04 is an Ed25519 cosignature.
inline constexpr std::uint8_t kSigTypeEd25519 = 0x01;
inline constexpr std::uint8_t kSigTypeCosignatureV1 = 0x04;
std::uint32_t NoteKeyId(std::string_view name, std::uint8_t type,
                        const keys::PublicKey& key);

// "<name>+<8 hex key id>+<base64(type || key)>", the vkey text form.
std::string VerifierKeyString(std::string_view name, std::uint8_t type,
                              const keys::PublicKey& key);

struct NoteSignature {
  std::string name;
  std::uint32_t key_id = 0;
  Bytes signature;  // Without the 4-byte key id prefix.
};

struct SignedNote {
  std::string text;  // The signed body, ending with '\n'.
  std::vector<NoteSignature> signatures;

  // Strict: text of valid UTF-8 without control characters other than
  // '\n', a blank line, then one or more well-formed signature lines, and
  // at most kMaxNoteBytes. Unknown signers are kept (callers filter).
  static Result<SignedNote> Parse(std::string_view note);
  std::string Serialize() const;
};

// Appends an Ed25519 (type 0x01) signature by `key` under `name`,
// replacing an earlier one by the same key name and id. Refuses a text that
// starts with "cosignature/v1\n" (it would double as a cosignature) and a
// result that Parse would refuse (size and signature-count limits).
Status SignNote(SignedNote& note, std::string_view name,
                const keys::PrivateKey& key);
// OK when `note` carries a valid type-0x01 signature by `key` under
// `name`; Unauthenticated when it carries none or a bad one.
Status VerifyNote(const SignedNote& note, std::string_view name,
                  const keys::PublicKey& key);

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // Extra body lines, rarely used.

  std::string Body() const;  // "origin\nsize\nbase64(root)\n[ext\n]..."
  static Result<Checkpoint> ParseBody(std::string_view body);
};

// Cosignature (c2sp.org/tlog-cosignature, cosignature/v1): signs
// "cosignature/v1\ntime <timestamp>\n" + checkpoint body; the signature
// line carries key id || 8-byte big-endian timestamp || signature.
// The note text must be a valid checkpoint and the timestamp at most
// 2^63-1; an earlier cosignature by the same key name and id is replaced.
Status Cosign(SignedNote& checkpoint_note, std::string_view witness_name,
              const keys::PrivateKey& witness_key, std::uint64_t timestamp);
// Returns the cosignature's timestamp when `note` carries a valid
// cosignature by `witness_key` under `witness_name` (the latest, if it
// carries several); Unauthenticated when none, or any bad one, is found.
Result<std::uint64_t> VerifyCosignature(const SignedNote& checkpoint_note,
                                        std::string_view witness_name,
                                        const keys::PublicKey& witness_key);

// c2sp.org/tlog-proof@v1: an inclusion proof of one leaf with the signed
// checkpoint it leads to.
struct InclusionProofFile {
  std::uint64_t index = 0;
  std::vector<Hash> proof;
  std::optional<std::string> extra;  // Raw bytes of the optional extra data.
  SignedNote checkpoint;

  std::string Serialize() const;
  // Strict; also requires the note's text to be a valid checkpoint and
  // index < its tree size. Verifies neither the proof nor any signature.
  static Result<InclusionProofFile> Parse(std::string_view text);
};

}  // namespace deputy::evidence
