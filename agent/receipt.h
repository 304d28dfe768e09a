// Receipts: for every ticket, what was done and the proof of it
// (docs/receipts.md). A receipt holds the outcome of each action with the
// end state its verification observed (for a leaver, the proof of
// removal), a checkpoint of the evidence log signed by the agent, and an
// inclusion proof (c2sp.org/tlog-proof, entry included) for every entry of
// the ticket, so that anyone with the agent's public key can check it
// offline: `deputy log verify-proof RECEIPT`.
//
// Pure functions over values; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/evidence/note.h"
#include "agent/journal.h"
#include "base/status.h"
#include "keys/public_key.h"

namespace deputy::agent {

inline constexpr std::string_view kReceiptFormat = "deputy-receipt";

// Builds the receipt of `task` with proofs against the checkpoint `note`
// of `size` entries, taking entry lines and proofs from `journal`.
Result<nlohmann::json> BuildReceipt(const TaskState& task,
                                    const evidence::SignedNote& note,
                                    std::uint64_t size, const Journal& journal);

struct ReceiptCheck {
  std::string ticket;
  std::string outcome;
  std::string origin;
  std::uint64_t tree_size = 0;
  std::size_t entries = 0;
  std::size_t actions = 0;
};

// Verifies a receipt offline: the checkpoint's signature by `agent_key`,
// every entry's inclusion proof against that one checkpoint, that the
// entries are the ticket's, and that every outcome the receipt states is
// the one its proven entries record. DataLoss or Unauthenticated naming
// the first problem.
Result<ReceiptCheck> VerifyReceipt(std::string_view text,
                                   const keys::PublicKey& agent_key);

}  // namespace deputy::agent
