// libFuzzer target: the ticket reader and the planner behind it. Any input
// gives a ticket or a Status; a ticket that parses re-parses from its own
// JSON form to the same ticket, and its uid always maps to an account name
// (the planner never sees a name the targets' rules would refuse).
#include <cstdint>
#include <cstdlib>

#include "agent/planner.h"
#include "agent/ticket.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = deputy::agent::Ticket::Parse(text);
  if (!t.ok()) return 0;
  auto again = deputy::agent::Ticket::Parse(t->ToJson().dump());
  if (!again.ok() || again->ToJson() != t->ToJson()) std::abort();
  deputy::agent::TargetConfig ldap;
  ldap.kind = "ldap";
  ldap.options = {{"base_dn", "dc=example,dc=org"}};
  deputy::agent::TargetConfig pg;
  pg.kind = "postgres";
  if (!deputy::agent::AccountName(ldap, t->subject.uid).ok()) std::abort();
  if (!deputy::agent::AccountName(pg, t->subject.uid).ok()) std::abort();
  return 0;
}
