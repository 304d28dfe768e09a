// deputy-postgres: the PostgreSQL capability module. One request on stdin,
// the credential on fd 3, one response on stdout (docs/module-protocol.md).
#include "capabilities/postgres/postgres_module.h"

int main() {
  deputy::postgres::PostgresModule m;
  return deputy::protocol::ServeModule(m);
}
