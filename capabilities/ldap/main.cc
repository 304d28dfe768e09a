// deputy-ldap: the LDAP capability module (docs/module-ldap.md). One
// request on stdin, the credential on fd 3, one response on stdout.
#include "capabilities/ldap/ldap_module.h"

int main() {
  deputy::ldap::LdapModule module;
  return deputy::protocol::ServeModule(module);
}
