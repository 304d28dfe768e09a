// File intake: tickets arrive as files in a directory (written there by
// `deputy submit`, a ticketing connector, or by hand); each is taken in
// name order and moved, once the agent has recorded it, to done/ or, when
// it cannot be accepted, to rejected/ with the reason in a .reason file
// beside it. Owners' signed documents (approvals, revocations, new scope
// manifests) arrive the same way in the agent's inbox. Functions are
// stateless and thread-safe; the agent's main loop is their only caller.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace deputy::agent {

// Regular files named *.json directly in `dir`, sorted by name; a missing
// directory is created.
Result<std::vector<std::string>> ListInbox(const std::string& dir);

// Moves `path` into `dir`/`subdir`/ (created if needed), keeping its name,
// and, when `reason` is not empty, writes it to <name>.reason beside it.
// Returns the new path.
Result<std::string> FileAway(const std::string& path, const std::string& dir,
                             const std::string& subdir,
                             const std::string& reason);

// Writes `bytes` to `dir`/`name` atomically (a temporary file renamed into
// place, so a reader never sees half a ticket); refuses to overwrite.
Status DropInto(const std::string& dir, const std::string& name,
                std::string_view bytes);

}  // namespace deputy::agent
