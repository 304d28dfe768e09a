// libFuzzer target: C2SP signed notes, checkpoint bodies and cosignatures.
// Any input must give a value or a Status, never a crash. A parsed note
// must serialise back to the very same bytes (the parser accepts only
// canonical forms), and so must a parsed checkpoint body. No fuzzed input
// may verify against a key that only this process holds, while what this
// process signs or cosigns must verify.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/evidence/note.h"

namespace {

using deputy::evidence::Checkpoint;
using deputy::evidence::SignedNote;

constexpr std::string_view kName = "fuzz.example/log";

const deputy::keys::PrivateKey& Key() {
  static auto key = deputy::keys::PrivateKey::Generate("fuzz");
  if (!key.ok()) std::abort();
  return *key;
}

bool SameNote(const SignedNote& a, const SignedNote& b) {
  if (a.text != b.text || a.signatures.size() != b.signatures.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.signatures.size(); ++i) {
    const auto& x = a.signatures[i];
    const auto& y = b.signatures[i];
    if (x.name != y.name || x.key_id != y.key_id ||
        x.signature != y.signature) {
      return false;
    }
  }
  return true;
}

bool SameCheckpoint(const Checkpoint& a, const Checkpoint& b) {
  return a.origin == b.origin && a.size == b.size && a.root == b.root &&
         a.extensions == b.extensions;
}

// A parsed checkpoint body must print back to the same bytes and parse to
// the same value.
void CheckBodyRoundTrip(std::string_view body, const Checkpoint& cp) {
  std::string again = cp.Body();
  if (again != body) std::abort();
  auto reparsed = Checkpoint::ParseBody(again);
  if (!reparsed.ok() || !SameCheckpoint(*reparsed, cp)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace deputy::evidence;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const deputy::keys::PublicKey& pub = Key().public_key();

  auto note = SignedNote::Parse(input);
  if (!note.ok()) {
    // Bare bodies exercise the checkpoint parser on its own.
    auto cp = Checkpoint::ParseBody(input);
    if (cp.ok()) CheckBodyRoundTrip(input, *cp);
    return 0;
  }
  std::string wire = note->Serialize();
  if (wire != input) std::abort();
  auto again = SignedNote::Parse(wire);
  if (!again.ok() || !SameNote(*again, *note)) std::abort();

  // Nobody but this process holds the key, whatever name a line claims.
  if (VerifyNote(*note, kName, pub).ok()) std::abort();
  if (VerifyCosignature(*note, kName, pub).ok()) std::abort();
  for (const NoteSignature& sig : note->signatures) {
    if (VerifyNote(*note, sig.name, pub).ok()) std::abort();
    if (VerifyCosignature(*note, sig.name, pub).ok()) std::abort();
  }

  auto cp = Checkpoint::ParseBody(note->text);
  if (cp.ok()) {
    CheckBodyRoundTrip(note->text, *cp);
    SignedNote cosigned = *note;
    if (Cosign(cosigned, kName, Key(), 1234).ok()) {
      auto back = SignedNote::Parse(cosigned.Serialize());
      if (!back.ok()) std::abort();
      auto ts = VerifyCosignature(*back, kName, pub);
      if (!ts.ok() || *ts != 1234) std::abort();
      // A cosignature is never a plain note signature.
      if (VerifyNote(*back, kName, pub).ok()) std::abort();
    }
  }

  SignedNote signed_note = *note;
  if (SignNote(signed_note, kName, Key()).ok()) {
    auto back = SignedNote::Parse(signed_note.Serialize());
    if (!back.ok() || !VerifyNote(*back, kName, pub).ok()) std::abort();
    if (VerifyCosignature(*back, kName, pub).ok()) std::abort();
  }
  return 0;
}
