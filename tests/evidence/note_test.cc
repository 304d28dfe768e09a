#include "agent/evidence/note.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "keys/private_key.h"
#include "keys/public_key.h"

namespace deputy::evidence {
namespace {

using keys::PrivateKey;
using keys::PublicKey;

constexpr std::string_view kDash = "\xe2\x80\x94 ";  // U+2014 and a space.

// From golang.org/x/mod/sumdb/note's note_test.go.
constexpr std::string_view kGoText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr std::string_view kPeterVkey =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr std::string_view kPeterSig =
    "\xe2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngot"
    "pRZb6KE6RyyBwJnAM=\n";
constexpr std::string_view kEnochVkey =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
constexpr std::string_view kEnochSig =
    "\xe2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n";

// From the c2sp.org/tlog-checkpoint and tlog-cosignature examples.
constexpr std::string_view kSofaNote =
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\xe2\x80\x94 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nT"
    "o+zyWE+xeMcTOAYQ8=\n"
    "\xe2\x80\x94 witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1n"
    "PZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

// A verifier key "<name>+<hex id>+<base64(type || key)>", parsed here only
// to check the reference vectors.
struct Vkey {
  std::string name;
  std::string id_hex;
  std::uint8_t type = 0;
  Bytes key;
};

Vkey SplitVkey(std::string_view vkey) {
  std::size_t a = vkey.find('+');
  std::size_t b = vkey.find('+', a + 1);
  Vkey out;
  out.name = std::string(vkey.substr(0, a));
  out.id_hex = std::string(vkey.substr(a + 1, b - a - 1));
  Bytes typed = *Base64Decode(vkey.substr(b + 1));
  out.type = typed.at(0);
  out.key.assign(typed.begin() + 1, typed.end());
  return out;
}

PrivateKey Generate(std::string name) {
  auto key = PrivateKey::Generate(std::move(name));
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return std::move(key).value();
}

Hash FilledHash(std::uint8_t b) {
  Hash h;
  h.fill(b);
  return h;
}

std::string CheckpointText(std::uint64_t size = 42) {
  Checkpoint cp;
  cp.origin = "example.com/deputy/log";
  cp.size = size;
  cp.root = FilledHash(0xab);
  return cp.Body();
}

SignedNote SignedCheckpoint(const PrivateKey& log_key,
                            std::uint64_t size = 42) {
  SignedNote note;
  note.text = CheckpointText(size);
  EXPECT_TRUE(SignNote(note, "example.com/deputy/log", log_key).ok());
  return note;
}

// Replaces the first occurrence of `from` in `s`.
std::string Replace(std::string s, std::string_view from, std::string_view to) {
  std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// ---------------------------------------------------------------- SignedNote

TEST(SignedNote, SignedNoteRoundTripsByteForByteAndVerifies) {
  PrivateKey key = Generate("alice");
  SignedNote note;
  note.text = "hello\n\nwith a blank line inside\n";
  ASSERT_TRUE(SignNote(note, "example.org/alice", key).ok());
  std::string wire = note.Serialize();
  auto back = SignedNote::Parse(wire);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->text, note.text);
  ASSERT_EQ(back->signatures.size(), 1u);
  EXPECT_EQ(back->signatures[0].name, "example.org/alice");
  EXPECT_EQ(back->signatures[0].key_id,
            NoteKeyId("example.org/alice", kSigTypeEd25519, key.public_key()));
  EXPECT_EQ(back->signatures[0].signature.size(), 64u);
  EXPECT_EQ(back->Serialize(), wire);
  EXPECT_TRUE(VerifyNote(*back, "example.org/alice", key.public_key()).ok());
}

TEST(SignedNote, VerifiesGoReferenceVectorPeterNeumann) {
  Vkey v = SplitVkey(kPeterVkey);
  ASSERT_EQ(v.type, kSigTypeEd25519);
  auto pub = PublicKey::FromRaw(v.key, "PeterNeumann");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(NoteKeyId("PeterNeumann", kSigTypeEd25519, *pub), 0xc74f20a3u);
  EXPECT_EQ(VerifierKeyString("PeterNeumann", kSigTypeEd25519, *pub),
            kPeterVkey);

  std::string wire = std::string(kGoText) + "\n" + std::string(kPeterSig);
  auto note = SignedNote::Parse(wire);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(note->text, kGoText);
  ASSERT_EQ(note->signatures.size(), 1u);
  EXPECT_EQ(note->signatures[0].key_id, 0xc74f20a3u);
  EXPECT_EQ(note->Serialize(), wire);
  Status st = VerifyNote(*note, "PeterNeumann", *pub);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(SignedNote, VerifiesEachGoReferenceSignerAndIgnoresTheOther) {
  Vkey pv = SplitVkey(kPeterVkey);
  Vkey ev = SplitVkey(kEnochVkey);
  auto peter = PublicKey::FromRaw(pv.key, "PeterNeumann");
  auto enoch = PublicKey::FromRaw(ev.key, "EnochRoot");
  ASSERT_TRUE(peter.ok() && enoch.ok());
  EXPECT_EQ(VerifierKeyString("EnochRoot", kSigTypeEd25519, *enoch),
            kEnochVkey);
  auto note =
      SignedNote::Parse(std::string(kGoText) + "\n" + std::string(kPeterSig) +
                        std::string(kEnochSig));
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  ASSERT_EQ(note->signatures.size(), 2u);
  EXPECT_TRUE(VerifyNote(*note, "PeterNeumann", *peter).ok());
  EXPECT_TRUE(VerifyNote(*note, "EnochRoot", *enoch).ok());
  // Right key, wrong name: the name is part of the key identity.
  EXPECT_EQ(VerifyNote(*note, "EnochRoot", *peter).code(),
            ErrorCode::kUnauthenticated);
}

TEST(SignedNote, GoReferenceCorruptedSignatureByKnownKeyRejectsNote) {
  auto peter = PublicKey::FromRaw(SplitVkey(kPeterVkey).key, "PeterNeumann");
  ASSERT_TRUE(peter.ok());
  // As note_test.go: four base64 characters spliced into the signature keep
  // the key id, so the known key must verify it, and it fails.
  std::string bad = std::string(kPeterSig.substr(0, 60)) + "ABCD" +
                    std::string(kPeterSig.substr(60));
  auto note = SignedNote::Parse(std::string(kGoText) + "\n" + bad);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(VerifyNote(*note, "PeterNeumann", *peter).code(),
            ErrorCode::kUnauthenticated);
  // A good signature by the same key does not rescue the note.
  note = SignedNote::Parse(std::string(kGoText) + "\n" +
                           std::string(kPeterSig) + bad);
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(VerifyNote(*note, "PeterNeumann", *peter).code(),
            ErrorCode::kUnauthenticated);
}

TEST(SignedNote, GoReferenceWrongKeyIdIsNotASignatureByTheKey) {
  auto peter = PublicKey::FromRaw(SplitVkey(kPeterVkey).key, "PeterNeumann");
  ASSERT_TRUE(peter.ok());
  std::string wrong_id = Replace(std::string(kPeterSig), "x08g", "xxxx");
  auto note = SignedNote::Parse(std::string(kGoText) + "\n" + wrong_id);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_NE(note->signatures[0].key_id, 0xc74f20a3u);
  EXPECT_EQ(VerifyNote(*note, "PeterNeumann", *peter).code(),
            ErrorCode::kUnauthenticated);
}

TEST(SignedNote, RejectsGoReferenceMalformedNotes) {
  std::string text(kGoText);
  std::string sig(kPeterSig);
  const std::vector<std::string> bad = {
      text,
      text + "\n",
      text + "\n" + sig.substr(0, sig.size() - 1),
      "\x01" + text + "\n" + sig,
      "\xff" + text + "\n" + sig,
      text + "\n" + std::string(kDash) +
          "Bad Name "
          "x08go/ZJkuBS9UG/"
          "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
          "dngotpRZb6KE6RyyBwJnAM=",
      text + "\n" + sig + "Unexpected line.\n",
  };
  for (const std::string& msg : bad) {
    EXPECT_FALSE(SignedNote::Parse(msg).ok()) << msg;
  }
}

TEST(SignedNote, ParsesSpecExampleSplittingAtTheLastBlankLine) {
  const std::string text =
      "Ognuno sta solo sul cuor della terra\n"
      "trafitto da un raggio di sole:\n"
      "\n"
      "ed \xc3\xa8 subito sera.\n";
  const std::string wire = text + "\n" + std::string(kDash) +
                           "quasimodo.example/salvatore "
                           "NnugSzTjtVAewIS+Z/iJhUPeFDkO/"
                           "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99"
                           "ihAQwaqP3ZekRwNtIc=\n";
  auto note = SignedNote::Parse(wire);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(note->text, text);
  ASSERT_EQ(note->signatures.size(), 1u);
  EXPECT_EQ(note->signatures[0].name, "quasimodo.example/salvatore");
  EXPECT_EQ(note->signatures[0].signature.size(), 64u);
  EXPECT_EQ(note->Serialize(), wire);
}

TEST(SignedNote, RejectsMissingFinalNewline) {
  PrivateKey key = Generate("k");
  SignedNote note = SignedCheckpoint(key);
  std::string wire = note.Serialize();
  EXPECT_FALSE(SignedNote::Parse(wire.substr(0, wire.size() - 1)).ok());
  SignedNote unterminated;
  unterminated.text = "no newline";
  EXPECT_EQ(SignNote(unterminated, "k", key).code(),
            ErrorCode::kInvalidArgument);
  unterminated.text.clear();
  EXPECT_FALSE(SignNote(unterminated, "k", key).ok());
}

TEST(SignedNote, RejectsNoteWithoutBlankLine) {
  std::string one_newline = std::string(kGoText) + std::string(kPeterSig);
  EXPECT_FALSE(SignedNote::Parse(one_newline).ok());
  EXPECT_FALSE(SignedNote::Parse("").ok());
  EXPECT_FALSE(SignedNote::Parse(kPeterSig).ok());
}

TEST(SignedNote, RejectsZeroSignatures) {
  EXPECT_FALSE(SignedNote::Parse(std::string(kGoText) + "\n").ok());
  EXPECT_FALSE(SignedNote::Parse("\n\n").ok());
  EXPECT_FALSE(SignedNote::Parse(std::string(kGoText) + "\n\n").ok());
}

TEST(SignedNote, RejectsControlCharactersAnywhere) {
  std::string good = std::string(kGoText) + "\n" + std::string(kPeterSig);
  ASSERT_TRUE(SignedNote::Parse(good).ok());
  for (char c : {'\x00', '\x01', '\t', '\r', '\x0b', '\x0c', '\x1b', '\x1f'}) {
    std::string in_text = good;
    in_text.insert(5, 1, c);
    EXPECT_FALSE(SignedNote::Parse(in_text).ok()) << int(c);
    std::string in_sig = good;
    in_sig.insert(in_sig.size() - 1, 1, c);
    EXPECT_FALSE(SignedNote::Parse(in_sig).ok()) << int(c);
  }
  // CRLF line endings are control characters too.
  EXPECT_FALSE(SignedNote::Parse(Replace(good, "\n\n", "\r\n\r\n")).ok());
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = "tab\there\n";
  EXPECT_EQ(SignNote(note, "k", key).code(), ErrorCode::kInvalidArgument);
}

TEST(SignedNote, AcceptsNonAsciiTextAndDelAsTheSpecAllows) {
  // The spec forbids only controls below U+0020 (other than newline).
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = "caf\xc3\xa9 \xf0\x9f\x94\x8f del:\x7f \xe2\x80\xa8\n";
  ASSERT_TRUE(SignNote(note, "k", key).ok());
  auto back = SignedNote::Parse(note.Serialize());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(VerifyNote(*back, "k", key.public_key()).ok());
}

TEST(SignedNote, RejectsInvalidUtf8) {
  std::string good = std::string(kGoText) + "\n" + std::string(kPeterSig);
  const std::vector<std::string> bad_sequences = {
      "\xff",              // Never valid.
      "\x80",              // Lone continuation byte.
      "\xc0\xaf",          // Overlong '/'.
      "\xe0\x80\xaf",      // Overlong '/'.
      "\xed\xa0\x80",      // UTF-16 surrogate U+D800.
      "\xe2\x80",          // Truncated em dash.
      "\xf4\x90\x80\x80",  // Above U+10FFFF.
      "\xf8\x88\x80\x80\x80",
  };
  for (const std::string& seq : bad_sequences) {
    std::string in_text = good;
    in_text.insert(3, seq);
    EXPECT_FALSE(SignedNote::Parse(in_text).ok()) << HexEncode(AsBytes(seq));
    std::string at_end = good;
    at_end.insert(at_end.size() - 1, seq);
    EXPECT_FALSE(SignedNote::Parse(at_end).ok()) << HexEncode(AsBytes(seq));
  }
}

TEST(SignedNote, RejectsSignatureLineWithoutExactEmDashAndSpace) {
  std::string text(kGoText);
  std::string sig(kPeterSig);
  const std::vector<std::string> bad_prefixes = {
      "- ",                    // ASCII hyphen.
      "\xe2\x80\x93 ",         // U+2013 EN DASH.
      "\xe2\x80\x95 ",         // U+2015 HORIZONTAL BAR.
      "\xe2\x80\x94",          // No space.
      "\xe2\x80\x94  ",        // Two spaces: empty key name.
      " \xe2\x80\x94 ",        // Leading space.
      "\xe2\x80\x94\xc2\xa0",  // No-break space.
  };
  for (const std::string& prefix : bad_prefixes) {
    std::string line = prefix + sig.substr(kDash.size());
    EXPECT_FALSE(SignedNote::Parse(text + "\n" + line).ok()) << line;
  }
}

TEST(SignedNote, RejectsKeyNameWithPlusOrSpace) {
  std::string text(kGoText);
  std::string payload(kPeterSig.substr(kDash.size() + 13));  // After name.
  const std::vector<std::string> bad_names = {
      "Peter+Neumann",
      "+",
      "Peter\xc2\xa0Neumann",
      "Peter\xe3\x80\x80Neumann",
      "Peter\xe2\x80\x83Neumann",
      "Peter\xc2\x85Neumann",
  };
  for (const std::string& name : bad_names) {
    EXPECT_FALSE(ValidateNoteKeyName(name).ok()) << name;
    std::string line = std::string(kDash) + name + " " + payload;
    EXPECT_FALSE(SignedNote::Parse(text + "\n" + line).ok()) << line;
  }
  // A space in the name makes the rest of the line bad base64.
  EXPECT_FALSE(SignedNote::Parse(text + "\n" + std::string(kDash) +
                                 "Peter Neumann " + payload)
                   .ok());
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = "hi\n";
  EXPECT_FALSE(SignNote(note, "a+b", key).ok());
  EXPECT_FALSE(SignNote(note, "a b", key).ok());
  EXPECT_FALSE(SignNote(note, "", key).ok());
  EXPECT_TRUE(note.signatures.empty());
}

TEST(SignedNote, KeyNameValidationFollowsSpec) {
  EXPECT_TRUE(ValidateNoteKeyName("example.com/log42").ok());
  EXPECT_TRUE(ValidateNoteKeyName("PeterNeumann").ok());
  EXPECT_TRUE(ValidateNoteKeyName("oid/1.3.6.1.4.1").ok());
  EXPECT_TRUE(ValidateNoteKeyName("caf\xc3\xa9").ok());
  EXPECT_FALSE(ValidateNoteKeyName("").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\tb").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\nb").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\x01").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\x7f").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\xff").ok());
  EXPECT_FALSE(ValidateNoteKeyName("a\xe2\x80\xa8").ok());  // U+2028.
}

TEST(SignedNote, RejectsShortOrNonCanonicalBase64) {
  std::string head = std::string(kGoText) + "\n" + std::string(kDash) + "k ";
  const std::vector<std::string> bad_payloads = {
      "",          // Empty.
      "AAAAAA==",  // Only a 4-byte key id, no signature.
      "AAAA",      // 3 bytes.
      "AAAAAAA",   // Unpadded.
      "AAAAAAB=",  // Non-zero padding bits.
      "AAAAAA=A",  // Padding in the middle.
      "AAAA AAA=",
      "AAAA-_A=",  // URL alphabet.
  };
  for (const std::string& p : bad_payloads) {
    EXPECT_FALSE(SignedNote::Parse(head + p + "\n").ok()) << p;
  }
  // A 5-byte payload is well-formed (an unknown signer's business).
  auto ok = SignedNote::Parse(head + "AAAAAAE=\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->signatures[0].signature, Bytes{1});
}

TEST(SignedNote, RejectsMoreThanMaxSignatures) {
  std::string body = std::string(kGoText) + "\n";
  std::string sigs;
  for (std::size_t i = 0; i < kMaxNoteSignatures; ++i) sigs += kPeterSig;
  auto at_limit = SignedNote::Parse(body + sigs);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(at_limit->signatures.size(), kMaxNoteSignatures);
  EXPECT_EQ(
      SignedNote::Parse(body + sigs + std::string(kPeterSig)).status().code(),
      ErrorCode::kResourceExhausted);
}

TEST(SignedNote, RejectsOversizedNote) {
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = std::string(kMaxNoteBytes - 200, 'a') + "\n";
  ASSERT_TRUE(SignNote(note, "k", key).ok());
  ASSERT_LE(note.Serialize().size(), kMaxNoteBytes);
  EXPECT_TRUE(SignedNote::Parse(note.Serialize()).ok());

  std::string huge =
      std::string(kMaxNoteBytes, 'a') + "\n\n" + std::string(kPeterSig);
  EXPECT_EQ(SignedNote::Parse(huge).status().code(),
            ErrorCode::kResourceExhausted);
  SignedNote big;
  big.text = std::string(kMaxNoteBytes, 'a') + "\n";
  EXPECT_EQ(SignNote(big, "k", key).code(), ErrorCode::kResourceExhausted);
  EXPECT_TRUE(big.signatures.empty());
}

TEST(SignedNote, SignRefusesToExceedSignatureLimit) {
  SignedNote note;
  note.text = "many signers\n";
  std::vector<PrivateKey> keys;
  for (std::size_t i = 0; i < kMaxNoteSignatures; ++i) {
    keys.push_back(Generate("k" + std::to_string(i)));
    ASSERT_TRUE(SignNote(note, keys.back().name(), keys.back()).ok());
  }
  PrivateKey extra = Generate("extra");
  EXPECT_EQ(SignNote(note, "extra", extra).code(),
            ErrorCode::kResourceExhausted);
  EXPECT_EQ(note.signatures.size(), kMaxNoteSignatures);
  // Re-signing with a key already present replaces, so it still fits.
  EXPECT_TRUE(SignNote(note, "k0", keys[0]).ok());
  EXPECT_EQ(note.signatures.size(), kMaxNoteSignatures);
}

TEST(SignedNote, ResigningReplacesTheEarlierSignature) {
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = "hello\n";
  ASSERT_TRUE(SignNote(note, "k", key).ok());
  ASSERT_TRUE(SignNote(note, "k", key).ok());
  EXPECT_EQ(note.signatures.size(), 1u);
  ASSERT_TRUE(SignNote(note, "other-name", key).ok());
  EXPECT_EQ(note.signatures.size(), 2u);
}

TEST(SignedNote, TamperedTextFailsVerification) {
  PrivateKey key = Generate("k");
  SignedNote note = SignedCheckpoint(key);
  std::string wire = note.Serialize();
  auto tampered = SignedNote::Parse(Replace(wire, "42\n", "43\n"));
  ASSERT_TRUE(tampered.ok());
  EXPECT_EQ(
      VerifyNote(*tampered, "example.com/deputy/log", key.public_key()).code(),
      ErrorCode::kUnauthenticated);
  SignedNote flipped = note;
  flipped.signatures[0].signature[10] ^= 1;
  EXPECT_EQ(
      VerifyNote(flipped, "example.com/deputy/log", key.public_key()).code(),
      ErrorCode::kUnauthenticated);
  EXPECT_TRUE(
      VerifyNote(note, "example.com/deputy/log", key.public_key()).ok());
}

TEST(SignedNote, WrongKeyIdOrNameIsNotASignature) {
  PrivateKey key = Generate("k");
  SignedNote note = SignedCheckpoint(key);
  SignedNote wrong_id = note;
  wrong_id.signatures[0].key_id ^= 1;
  Status st = VerifyNote(wrong_id, "example.com/deputy/log", key.public_key());
  EXPECT_EQ(st.code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(st.message().find("no signature"), std::string::npos)
      << st.message();
  EXPECT_EQ(VerifyNote(note, "example.com/other", key.public_key()).code(),
            ErrorCode::kUnauthenticated);
  // Relabelled with the other name's matching key id, the signature is
  // still checked and holds (names are labels; the key is what signs).
  SignedNote relabelled = note;
  relabelled.signatures[0].name = "example.com/other";
  relabelled.signatures[0].key_id =
      NoteKeyId("example.com/other", kSigTypeEd25519, key.public_key());
  EXPECT_TRUE(
      VerifyNote(relabelled, "example.com/other", key.public_key()).ok());
}

TEST(SignedNote, SignatureByAnotherKeyDoesNotVerify) {
  PrivateKey alice = Generate("alice");
  PrivateKey mallory = Generate("mallory");
  SignedNote note;
  note.text = CheckpointText();
  // Mallory signs under alice's name: a different key id, so not alice's.
  ASSERT_TRUE(SignNote(note, "example.com/deputy/log", mallory).ok());
  EXPECT_EQ(
      VerifyNote(note, "example.com/deputy/log", alice.public_key()).code(),
      ErrorCode::kUnauthenticated);
  // Mallory also copies alice's key id: now it must verify, and fails.
  note.signatures[0].key_id =
      NoteKeyId("example.com/deputy/log", kSigTypeEd25519, alice.public_key());
  Status st = VerifyNote(note, "example.com/deputy/log", alice.public_key());
  EXPECT_EQ(st.code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(st.message().find("invalid signature"), std::string::npos)
      << st.message();
}

TEST(SignedNote, UnknownSignersAreKeptAndIgnored) {
  PrivateKey log = Generate("log");
  PrivateKey other = Generate("other");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(SignNote(note, "someone.else", other).ok());
  auto back = SignedNote::Parse(note.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->signatures.size(), 2u);
  EXPECT_TRUE(
      VerifyNote(*back, "example.com/deputy/log", log.public_key()).ok());
  EXPECT_TRUE(VerifyNote(*back, "someone.else", other.public_key()).ok());
}

TEST(SignedNote, SignRefusesCosignatureLookalikeText) {
  PrivateKey key = Generate("k");
  SignedNote note;
  note.text = "cosignature/v1\ntime 1\n" + CheckpointText();
  EXPECT_EQ(SignNote(note, "k", key).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(note.signatures.empty());
}

TEST(SignedNote, VerifierKeyStringHasNameHexIdAndTypedKey) {
  PrivateKey key = Generate("k");
  const PublicKey& pub = key.public_key();
  std::string vkey = VerifierKeyString("example.com/w", kSigTypeEd25519, pub);
  Vkey v = SplitVkey(vkey);
  EXPECT_EQ(v.name, "example.com/w");
  ASSERT_EQ(v.id_hex.size(), 8u);
  EXPECT_EQ(v.id_hex, HexEncode(*HexDecode(v.id_hex)));  // Lower case.
  EXPECT_EQ(std::stoul(v.id_hex, nullptr, 16),
            NoteKeyId("example.com/w", kSigTypeEd25519, pub));
  EXPECT_EQ(v.type, kSigTypeEd25519);
  EXPECT_EQ(v.key, Bytes(pub.raw().begin(), pub.raw().end()));
  // Same key, other type: another key id.
  EXPECT_NE(NoteKeyId("example.com/w", kSigTypeCosignatureV1, pub),
            NoteKeyId("example.com/w", kSigTypeEd25519, pub));
  EXPECT_EQ(
      SplitVkey(VerifierKeyString("example.com/w", kSigTypeCosignatureV1, pub))
          .type,
      kSigTypeCosignatureV1);
}

// ---------------------------------------------------------------- Checkpoint

TEST(Checkpoint, BodyRoundTripsWithAndWithoutExtensions) {
  Checkpoint cp;
  cp.origin = "example.com/log";
  cp.size = 18446744073709551615u;
  cp.root = FilledHash(7);
  for (bool with_ext : {false, true}) {
    if (with_ext) cp.extensions = {"ext one", "\xe2\x80\x94 lookalike"};
    std::string body = cp.Body();
    auto back = Checkpoint::ParseBody(body);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->origin, cp.origin);
    EXPECT_EQ(back->size, cp.size);
    EXPECT_EQ(back->root, cp.root);
    EXPECT_EQ(back->extensions, cp.extensions);
    EXPECT_EQ(back->Body(), body);
  }
  Checkpoint empty;
  empty.origin = "o";
  auto zero = Checkpoint::ParseBody(empty.Body());
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->size, 0u);
}

TEST(Checkpoint, ParsesSpecExampleWithLogSignatureAndCosignature) {
  auto note = SignedNote::Parse(kSofaNote);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(note->Serialize(), kSofaNote);
  auto cp = Checkpoint::ParseBody(note->text);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->origin, "example.com/behind-the-sofa");
  EXPECT_EQ(cp->size, 20852163u);
  EXPECT_EQ(Base64Encode(cp->root),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  EXPECT_TRUE(cp->extensions.empty());
  ASSERT_EQ(note->signatures.size(), 2u);
  EXPECT_EQ(note->signatures[0].signature.size(), 64u);
  // The spec's cosignature: 8-byte timestamp 1679315147 (the "time" line
  // of its signed-message example), then a 64-byte signature.
  const NoteSignature& cosig = note->signatures[1];
  EXPECT_EQ(cosig.name, "witness.example.com/w1");
  EXPECT_EQ(cosig.key_id, 0x8d66cf3fu);
  ASSERT_EQ(cosig.signature.size(), 72u);
  std::uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts = ts << 8 | cosig.signature[i];
  EXPECT_EQ(ts, 1679315147u);
}

TEST(Checkpoint, RejectsNonCanonicalTreeSize) {
  const std::vector<std::string> bad_sizes = {
      "",
      "01",
      "00",
      "+1",
      "-1",
      " 1",
      "1 ",
      "0x10",
      "1e3",
      "1.0",
      "18446744073709551616",  // 2^64.
      "99999999999999999999",
      "100000000000000000000",
      "\xd9\xa1",
  };
  for (const std::string& s : bad_sizes) {
    std::string body = "o\n" + s + "\n" + Base64Encode(FilledHash(1)) + "\n";
    EXPECT_FALSE(Checkpoint::ParseBody(body).ok()) << s;
  }
  for (std::string s : {"0", "1", "10", "18446744073709551615"}) {
    std::string body = "o\n" + s + "\n" + Base64Encode(FilledHash(1)) + "\n";
    EXPECT_TRUE(Checkpoint::ParseBody(body).ok()) << s;
  }
}

TEST(Checkpoint, RejectsRootThatIsNotA32ByteHash) {
  Bytes b31(31, 1), b33(33, 1);
  for (const std::string& root :
       {Base64Encode(b31), Base64Encode(b33), std::string(""),
        std::string("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I"),
        std::string("CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I="),
        HexEncode(FilledHash(1))}) {
    EXPECT_FALSE(Checkpoint::ParseBody("o\n1\n" + root + "\n").ok()) << root;
  }
}

TEST(Checkpoint, RejectsEmptyOriginAndBlankLines) {
  std::string root = Base64Encode(FilledHash(1));
  const std::vector<std::string> bad = {
      "\n1\n" + root + "\n",          // Empty origin.
      "o\n\n1\n" + root + "\n",       // Blank line after origin.
      "o\n1\n" + root + "\n\n",       // Trailing blank line.
      "o\n1\n" + root + "\next\n\n",  // Blank after an extension.
      "o\n1\n" + root + "\n\next\n",  // Empty extension line.
      "o\n1\n" + root,                // No final newline.
      "o\n1\n",                       // No root.
      "",                             // Empty body.
      "o\n1\n" + root + "\r\n",       // CR.
      "o\x01\n1\n" + root + "\n",     // Control character.
      "o\xff\n1\n" + root + "\n",     // Invalid UTF-8.
  };
  for (const std::string& body : bad) {
    EXPECT_FALSE(Checkpoint::ParseBody(body).ok()) << body;
  }
  EXPECT_EQ(Checkpoint::ParseBody(std::string(kMaxNoteBytes + 1, 'a'))
                .status()
                .code(),
            ErrorCode::kResourceExhausted);
}

TEST(Checkpoint, SignedCheckpointRoundTripsAndVerifies) {
  PrivateKey key = Generate("log");
  SignedNote note = SignedCheckpoint(key, 1234);
  auto back = SignedNote::Parse(note.Serialize());
  ASSERT_TRUE(back.ok());
  auto cp = Checkpoint::ParseBody(back->text);
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(cp->size, 1234u);
  EXPECT_EQ(cp->root, FilledHash(0xab));
  EXPECT_TRUE(
      VerifyNote(*back, "example.com/deputy/log", key.public_key()).ok());
}

// --------------------------------------------------------------- Cosignature

TEST(Cosignature, CosignRoundTripsAndReturnsTheTimestamp) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "witness.example/w1", witness, 1679315147).ok());
  auto back = SignedNote::Parse(note.Serialize());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  auto ts =
      VerifyCosignature(*back, "witness.example/w1", witness.public_key());
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_EQ(*ts, 1679315147u);
  EXPECT_TRUE(
      VerifyNote(*back, "example.com/deputy/log", log.public_key()).ok());
}

TEST(Cosignature, PayloadIsKeyIdThenBigEndianTimestampThenSignature) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "w", witness, 0x0102030405060708u).ok());
  const NoteSignature& sig = note.signatures.back();
  EXPECT_EQ(sig.key_id,
            NoteKeyId("w", kSigTypeCosignatureV1, witness.public_key()));
  ASSERT_EQ(sig.signature.size(), 72u);
  EXPECT_EQ(Bytes(sig.signature.begin(), sig.signature.begin() + 8),
            (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  std::string wire = note.Serialize();
  std::string line = wire.substr(wire.rfind(kDash));
  std::string b64 = line.substr(line.find(' ', kDash.size()) + 1);
  b64.pop_back();
  EXPECT_EQ(Base64Decode(b64)->size(), 76u);
  // The signed message is the cosignature/v1 header, the time line and the
  // note text, verified here without going through VerifyCosignature.
  std::string msg = "cosignature/v1\ntime 72623859790382856\n" + note.text;
  EXPECT_TRUE(witness.public_key()
                  .Verify(AsBytes(msg), ByteSpan(sig.signature).subspan(8))
                  .ok());
}

TEST(Cosignature, CosignatureDoesNotVerifyAsPlainSignature) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "w", witness, 100).ok());
  EXPECT_EQ(VerifyNote(note, "w", witness.public_key()).code(),
            ErrorCode::kUnauthenticated);
  // Even relabelled with the type-0x01 key id, it is not a note signature.
  SignedNote relabelled = note;
  relabelled.signatures.back().key_id =
      NoteKeyId("w", kSigTypeEd25519, witness.public_key());
  EXPECT_EQ(VerifyNote(relabelled, "w", witness.public_key()).code(),
            ErrorCode::kUnauthenticated);
  // And with the timestamp stripped, the message still differs.
  auto& bytes = relabelled.signatures.back().signature;
  bytes.erase(bytes.begin(), bytes.begin() + 8);
  EXPECT_EQ(VerifyNote(relabelled, "w", witness.public_key()).code(),
            ErrorCode::kUnauthenticated);
}

TEST(Cosignature, PlainSignatureDoesNotVerifyAsCosignature) {
  PrivateKey log = Generate("log");
  SignedNote note = SignedCheckpoint(log);
  EXPECT_EQ(VerifyCosignature(note, "example.com/deputy/log", log.public_key())
                .status()
                .code(),
            ErrorCode::kUnauthenticated);
  SignedNote relabelled = note;
  relabelled.signatures[0].key_id = NoteKeyId(
      "example.com/deputy/log", kSigTypeCosignatureV1, log.public_key());
  EXPECT_EQ(
      VerifyCosignature(relabelled, "example.com/deputy/log", log.public_key())
          .status()
          .code(),
      ErrorCode::kUnauthenticated);
  // With a zero timestamp prepended, the message still differs.
  auto& bytes = relabelled.signatures[0].signature;
  bytes.insert(bytes.begin(), 8, 0);
  EXPECT_EQ(
      VerifyCosignature(relabelled, "example.com/deputy/log", log.public_key())
          .status()
          .code(),
      ErrorCode::kUnauthenticated);
}

TEST(Cosignature, RejectsATimestampOtherThanTheSignedOne) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "w", witness, 1700000000).ok());
  SignedNote later = note;
  later.signatures.back().signature[7] ^= 1;
  EXPECT_EQ(VerifyCosignature(later, "w", witness.public_key()).status().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_TRUE(VerifyCosignature(note, "w", witness.public_key()).ok());
}

TEST(Cosignature, RejectsTamperedCheckpointAndOtherWitness) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  PrivateKey other = Generate("other");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "w", witness, 5).ok());
  auto tampered = SignedNote::Parse(Replace(note.Serialize(), "42\n", "41\n"));
  ASSERT_TRUE(tampered.ok());
  EXPECT_EQ(
      VerifyCosignature(*tampered, "w", witness.public_key()).status().code(),
      ErrorCode::kUnauthenticated);
  EXPECT_EQ(VerifyCosignature(note, "w", other.public_key()).status().code(),
            ErrorCode::kUnauthenticated);
  // Another witness's bytes under this witness's key id must verify, and
  // do not.
  SignedNote forged = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(forged, "w", other, 5).ok());
  forged.signatures.back().key_id =
      NoteKeyId("w", kSigTypeCosignatureV1, witness.public_key());
  EXPECT_EQ(
      VerifyCosignature(forged, "w", witness.public_key()).status().code(),
      ErrorCode::kUnauthenticated);
}

TEST(Cosignature, TimestampMustNotExceed2To63Minus1) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  SignedNote note = SignedCheckpoint(log);
  constexpr std::uint64_t kMax = 0x7fffffffffffffffu;
  EXPECT_EQ(Cosign(note, "w", witness, kMax + 1).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(Cosign(note, "w", witness, kMax).ok());
  auto ts = VerifyCosignature(note, "w", witness.public_key());
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  EXPECT_EQ(*ts, kMax);
  note.signatures.back().signature[0] |= 0x80;
  EXPECT_FALSE(VerifyCosignature(note, "w", witness.public_key()).ok());
}

TEST(Cosignature, CosignRefusesTextThatIsNotACheckpoint) {
  PrivateKey witness = Generate("witness");
  SignedNote note;
  note.text = "just some text\n";
  EXPECT_EQ(Cosign(note, "w", witness, 1).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(note.signatures.empty());
  note.text = CheckpointText();
  EXPECT_FALSE(Cosign(note, "w+1", witness, 1).ok());
  EXPECT_TRUE(note.signatures.empty());
}

TEST(Cosignature, RecosigningReplacesAndSeveralWitnessesCoexist) {
  PrivateKey log = Generate("log");
  PrivateKey w1 = Generate("w1");
  PrivateKey w2 = Generate("w2");
  SignedNote note = SignedCheckpoint(log);
  ASSERT_TRUE(Cosign(note, "w1.example", w1, 10).ok());
  ASSERT_TRUE(Cosign(note, "w2.example", w2, 20).ok());
  ASSERT_TRUE(Cosign(note, "w1.example", w1, 30).ok());
  EXPECT_EQ(note.signatures.size(), 3u);
  auto back = SignedNote::Parse(note.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*VerifyCosignature(*back, "w1.example", w1.public_key()), 30u);
  EXPECT_EQ(*VerifyCosignature(*back, "w2.example", w2.public_key()), 20u);
  EXPECT_TRUE(
      VerifyNote(*back, "example.com/deputy/log", log.public_key()).ok());
}

// ----------------------------------------------------------------- ProofFile

InclusionProofFile SampleProof(const PrivateKey& log, std::size_t hashes,
                               std::optional<std::string> extra) {
  InclusionProofFile p;
  p.index = 73894;
  for (std::size_t i = 0; i < hashes; ++i) {
    p.proof.push_back(FilledHash(static_cast<std::uint8_t>(i)));
  }
  p.extra = std::move(extra);
  p.checkpoint = SignedCheckpoint(log, 109482);
  return p;
}

TEST(ProofFile, RoundTripsByteForByte) {
  PrivateKey log = Generate("log");
  PrivateKey witness = Generate("witness");
  for (std::size_t n : {0u, 1u, 5u, 64u}) {
    for (const std::optional<std::string>& extra :
         {std::optional<std::string>(),
          std::optional<std::string>(std::string()),
          std::optional<std::string>(std::string("\x00\xff\n raw", 7))}) {
      InclusionProofFile p = SampleProof(log, n, extra);
      ASSERT_TRUE(Cosign(p.checkpoint, "w", witness, 9).ok());
      std::string wire = p.Serialize();
      auto back = InclusionProofFile::Parse(wire);
      ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << wire;
      EXPECT_EQ(back->index, p.index);
      EXPECT_EQ(back->proof, p.proof);
      EXPECT_EQ(back->extra, p.extra);
      EXPECT_EQ(back->checkpoint.text, p.checkpoint.text);
      EXPECT_EQ(back->Serialize(), wire);
      EXPECT_TRUE(VerifyNote(back->checkpoint, "example.com/deputy/log",
                             log.public_key())
                      .ok());
      EXPECT_TRUE(
          VerifyCosignature(back->checkpoint, "w", witness.public_key()).ok());
    }
  }
}

TEST(ProofFile, SerializesInTheSpecLayout) {
  PrivateKey log = Generate("log");
  InclusionProofFile p = SampleProof(log, 2, std::string("hi"));
  std::string expected = "c2sp.org/tlog-proof@v1\nextra aGk=\nindex 73894\n" +
                         Base64Encode(FilledHash(0)) + "\n" +
                         Base64Encode(FilledHash(1)) + "\n\n" +
                         p.checkpoint.Serialize();
  EXPECT_EQ(p.Serialize(), expected);
}

TEST(ProofFile, RejectsHashesThatAreNot32Bytes) {
  PrivateKey log = Generate("log");
  std::string wire = SampleProof(log, 1, std::nullopt).Serialize();
  std::string h = Base64Encode(FilledHash(0));
  EXPECT_FALSE(
      InclusionProofFile::Parse(Replace(wire, h, Base64Encode(Bytes(33, 0))))
          .ok());
  EXPECT_FALSE(
      InclusionProofFile::Parse(Replace(wire, h, Base64Encode(Bytes(31, 0))))
          .ok());
  EXPECT_FALSE(InclusionProofFile::Parse(Replace(wire, h, "!!!!")).ok());
  EXPECT_FALSE(
      InclusionProofFile::Parse(Replace(wire, h, h.substr(0, h.size() - 1)))
          .ok());
}

TEST(ProofFile, RejectsUnknownOrMisplacedLines) {
  PrivateKey log = Generate("log");
  std::string wire = SampleProof(log, 1, std::string("x")).Serialize();
  ASSERT_TRUE(InclusionProofFile::Parse(wire).ok());
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"},
      {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\ncomment hi\n"},
      {"extra eA==\n", "extra eA==\nextra eA==\n"},
      {"extra eA==\nindex 73894\n", "index 73894\nextra eA==\n"},
      {"extra eA==", "extra  eA=="},
      {"extra eA==", "extra eA"},
      {"extra eA==", "Extra eA=="},
      {"index 73894\n", "index 73894\nfoo bar\n"},
      {"index 73894\n", "index 73894\nindex 1\n"},
      {"index 73894", "Index 73894"},
      {"index 73894", "index  73894"},
      {"index 73894", "index 073894"},
      {"index 73894", "index +73894"},
      {"index 73894", "index -1"},
      {"index 73894", "index 18446744073709551616"},
      {"index 73894", "index"},
      {"index 73894\n", "index 73894\r\n"},
      {"c2sp.org/tlog-proof@v1\n", ""},
  };
  for (const auto& [from, to] : edits) {
    std::string bad = Replace(wire, from, to);
    EXPECT_FALSE(InclusionProofFile::Parse(bad).ok()) << bad;
  }
  EXPECT_FALSE(InclusionProofFile::Parse("").ok());
  EXPECT_FALSE(InclusionProofFile::Parse("c2sp.org/tlog-proof@v1\n").ok());
  EXPECT_FALSE(
      InclusionProofFile::Parse("c2sp.org/tlog-proof@v1\nindex 0\n").ok());
}

TEST(ProofFile, RejectsMoreThanMaxHashes) {
  PrivateKey log = Generate("log");
  InclusionProofFile p = SampleProof(log, kMaxProofHashes + 1, std::nullopt);
  EXPECT_EQ(InclusionProofFile::Parse(p.Serialize()).status().code(),
            ErrorCode::kResourceExhausted);
  p.proof.pop_back();
  EXPECT_TRUE(InclusionProofFile::Parse(p.Serialize()).ok());
}

TEST(ProofFile, RejectsBadCheckpointOrIndexBeyondTreeSize) {
  PrivateKey log = Generate("log");
  InclusionProofFile p = SampleProof(log, 1, std::nullopt);
  std::string wire = p.Serialize();
  // Missing blank line between proof and checkpoint.
  EXPECT_FALSE(InclusionProofFile::Parse(
                   Replace(wire, "\n\nexample.com", "\nexample.com"))
                   .ok());
  // The checkpoint note must be a valid signed note...
  std::string head = wire.substr(0, wire.find("\n\n") + 2);
  EXPECT_FALSE(InclusionProofFile::Parse(head).ok());
  EXPECT_FALSE(InclusionProofFile::Parse(head + p.checkpoint.text).ok());
  // ...whose text is a checkpoint.
  SignedNote not_checkpoint;
  not_checkpoint.text = "hello\n";
  ASSERT_TRUE(SignNote(not_checkpoint, "k", log).ok());
  EXPECT_FALSE(
      InclusionProofFile::Parse(head + not_checkpoint.Serialize()).ok());
  // The index must lie inside the tree.
  p.index = 109482;
  EXPECT_FALSE(InclusionProofFile::Parse(p.Serialize()).ok());
  p.index = 109481;
  EXPECT_TRUE(InclusionProofFile::Parse(p.Serialize()).ok());
}

}  // namespace
}  // namespace deputy::evidence
