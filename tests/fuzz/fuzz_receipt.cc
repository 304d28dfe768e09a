// libFuzzer target: the offline receipt verifier, with a fixed key. Any
// input is refused or verified without crashing; since nothing here holds
// the agent's private key, nothing may ever verify.
#include <cstdint>
#include <cstdlib>

#include "agent/receipt.h"
#include "keys/private_key.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static auto key = deputy::keys::PrivateKey::Generate("agent-1").value();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = deputy::agent::VerifyReceipt(text, key.public_key());
  if (r.ok()) std::abort();
  return 0;
}
