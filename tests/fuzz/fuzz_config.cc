// libFuzzer target: the agent's configuration reader. Any input gives a
// configuration or a Status; an accepted one has its invariants.
#include <cstdint>
#include <cstdlib>

#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = deputy::agent::Config::Parse(text, "/etc/deputy");
  if (!c.ok()) return 0;
  if (c->targets.empty() || c->workers < 1 || c->trust_pin.size() != 64) {
    std::abort();
  }
  for (const auto& t : c->targets) {
    if (t.port < 1 || t.port > 65535) std::abort();
    if (c->FindTarget(t.name) != &t) std::abort();
  }
  return 0;
}
