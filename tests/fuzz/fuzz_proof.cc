// libFuzzer target: c2sp.org/tlog-proof@v1 files. Any input must give a
// value or a Status, never a crash; the parser accepts only canonical
// forms, so a parsed proof must serialise back to the very same bytes and
// parse again to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/evidence/note.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace deputy::evidence;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto proof = InclusionProofFile::Parse(input);
  if (!proof.ok()) return 0;
  std::string wire = proof->Serialize();
  if (wire != input) std::abort();
  auto again = InclusionProofFile::Parse(wire);
  if (!again.ok()) std::abort();
  if (again->index != proof->index || again->proof != proof->proof ||
      again->extra != proof->extra ||
      again->checkpoint.text != proof->checkpoint.text ||
      again->checkpoint.signatures.size() !=
          proof->checkpoint.signatures.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < proof->checkpoint.signatures.size(); ++i) {
    const NoteSignature& a = again->checkpoint.signatures[i];
    const NoteSignature& b = proof->checkpoint.signatures[i];
    if (a.name != b.name || a.key_id != b.key_id ||
        a.signature != b.signature) {
      std::abort();
    }
  }
  // The checkpoint inside a proof is a checkpoint, and the index is in it.
  auto cp = Checkpoint::ParseBody(proof->checkpoint.text);
  if (!cp.ok() || proof->index >= cp->size) std::abort();
  if (proof->proof.size() > kMaxProofHashes) std::abort();
  return 0;
}
