// libFuzzer target: the DSSE envelope reader and verifier.
// Any input must give a value or a Status, never a crash; a parsed envelope
// must serialise and parse back to the same envelope.
#include <cstdint>
#include <cstdlib>

#include "keys/dsse.h"

namespace {

const deputy::keys::PrivateKey& Key() {
  static auto key = deputy::keys::PrivateKey::Generate("fuzz");
  if (!key.ok()) std::abort();
  return *key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  using namespace deputy::keys;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto env = Envelope::Parse(text);
  if (!env.ok()) return 0;
  auto again = Envelope::Parse(env->Serialize());
  if (!again.ok() || again->payload != env->payload ||
      again->payload_type != env->payload_type ||
      again->signatures.size() != env->signatures.size()) {
    std::abort();
  }
  Keyring ring({Key().public_key()});
  auto verified = VerifyEnvelope(*env, ring, env->payload_type);
  // Nobody but this process holds the key: no fuzzed input can verify
  // unless it was signed here.
  if (verified.ok()) std::abort();
  Envelope signed_env = SignEnvelope(env->payload_type, env->payload, Key());
  if (!VerifyEnvelope(signed_env, ring, env->payload_type).ok()) std::abort();
  return 0;
}
