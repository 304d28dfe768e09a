#include <sodium.h>
#include <stdlib.h>

#include "capabilities/ldap/ldap_module.h"

int main() {
  // libldap would read ldap.conf and ldaprc files from the working and home
  // directories; every option the module needs is set in code.
  ::setenv("LDAPNOINIT", "1", 1);
  if (sodium_init() < 0) return 1;
  deputy::ldapmod::LdapModule module;
  return deputy::protocol::ServeModule(module);
}
