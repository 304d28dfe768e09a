// libFuzzer target: the evidence log entry reader. Any input gives an entry
// or a Status; an entry that parses re-parses identically, and the strict
// JSON reader agrees that the line is valid JSON.
#include <cstdint>
#include <cstdlib>

#include "agent/evidence/entry.h"
#include "base/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto entry = deputy::evidence::ParseEntry(line);
  if (!entry.ok()) return 0;
  if (!deputy::json::ParseStrict(line).ok()) std::abort();
  auto payload = deputy::json::ParseStrict(entry->payload);
  if (!payload.ok() || !payload->is_object()) std::abort();
  auto again = deputy::evidence::ParseEntry(line);
  if (!again.ok() || again->seq != entry->seq || again->kind != entry->kind ||
      again->payload != entry->payload) {
    std::abort();
  }
  return 0;
}
