# Shared by scripts/demo, the agent's integration tests and the benchmarks:
# a complete deputy environment in one directory (sourced, not run).
#
#   deputy_env_servers STATE [LDAP_PORT PG_PORT]
#       slapd and PostgreSQL on 127.0.0.1 in STATE/servers, seeded with the
#       example organisation plus STATE/extra.ldif and STATE/extra.sql when
#       present; the agent's credentials in STATE/credentials (0600).
#   deputy_env_stop STATE
#   deputy_env_identities STATE DEPUTY encrypted|insecure
#       keys for alice and bob (owners), carol (auditor), agent-1.
#   deputy_env_policy STATE DEPUTY [ACTIONS_PER_HOUR DELETIONS_PER_DAY]
#       the trust root signed by alice and bob and pinned (STATE/trust.json,
#       STATE/trust.pin), and examples/policy/scope.json valid from
#       yesterday for 90 days, without its office-hours window, signed 2-of-2
#       (STATE/scope.json). With ACTIONS_PER_HOUR, every per-hour limit
#       (global and per grant) is that, and deletions per day the next.
#   deputy_env_config STATE BIN_DIR [WORKERS]
#       STATE/deputy.json for the agent against those servers.
# Each function expects DEPUTY_ROOT (the repository) to be set.

deputy_env_servers() {
  local state=$1 ldap_port=${2:-} pg_port=${3:-}
  local servers=$state/servers
  rm -rf "$servers"
  mkdir -p "$servers" "$state/credentials"
  # PostgreSQL runs as its own OS user, which must reach its directory.
  chmod o+x "$state" "$servers"
  local ldap_seeds=(--seed "$DEPUTY_ROOT/examples/ldap/seed.ldif")
  local pg_seeds=(--seed "$DEPUTY_ROOT/examples/postgres/seed.sql")
  [ -f "$state/extra.ldif" ] && ldap_seeds+=(--seed "$state/extra.ldif")
  [ -f "$state/extra.sql" ] && pg_seeds+=(--seed "$state/extra.sql")
  "$DEPUTY_ROOT/scripts/ldap-server" start "$servers/ldap" "${ldap_seeds[@]}" \
    ${ldap_port:+--port "$ldap_port"} >/dev/null || return 1
  "$DEPUTY_ROOT/scripts/pg-server" start "$servers/postgres" "${pg_seeds[@]}" \
    ${pg_port:+--port "$pg_port"} >/dev/null || return 1
  install -m 0600 "$servers/ldap/admin.cred" "$state/credentials/ldap.json"
  install -m 0600 "$servers/postgres/admin.cred" \
    "$state/credentials/postgres.json"
}

deputy_env_stop() {
  local servers=$1/servers
  if [ -d "$servers/ldap" ]; then
    "$DEPUTY_ROOT/scripts/ldap-server" stop "$servers/ldap" || true
  fi
  if [ -d "$servers/postgres" ]; then
    "$DEPUTY_ROOT/scripts/pg-server" stop "$servers/postgres" || true
  fi
}

deputy_env_identities() {
  local state=$1 deputy=$2 mode=$3 who
  mkdir -p "$state/keys"
  for who in alice bob carol agent-1; do
    if [ "$mode" = encrypted ]; then
      (umask 077 && head -c 24 /dev/urandom | base64 >"$state/keys/$who.pass")
      "$deputy" keys gen --name "$who" --out "$state/keys" \
        --passphrase-file "$state/keys/$who.pass" --kdf interactive >/dev/null
    else
      "$deputy" keys gen --name "$who" --out "$state/keys" \
        --insecure-unencrypted-key >/dev/null
    fi
  done
}

# The signing flags for one person's key.
deputy_env_key_flags() {
  local state=$1 who=$2
  if [ -f "$state/keys/$who.pass" ]; then
    echo "--key $state/keys/$who.key --passphrase-file $state/keys/$who.pass"
  else
    echo "--key $state/keys/$who.key --insecure-unencrypted-key"
  fi
}

deputy_env_policy() {
  local state=$1 deputy=$2 per_hour=${3:-} per_day=${4:-50}
  local key
  key() { tr -d '\n' <"$state/keys/$1.pub"; }
  sed -e "s|ed25519 [^\"]* alice|$(key alice)|" \
      -e "s|ed25519 [^\"]* bob|$(key bob)|" \
      -e "s|ed25519 [^\"]* carol|$(key carol)|" \
      -e "s|ed25519 [^\"]* agent-1|$(key agent-1)|" \
      "$DEPUTY_ROOT/examples/policy/trust-root.json" >"$state/trust-root.json"
  local pin
  pin=$("$deputy" trust init "$state/trust-root.json" | sed -n 's/^sha256: //p')
  # shellcheck disable=SC2046
  "$deputy" trust sign "$state/trust-root.json" $(deputy_env_key_flags "$state" alice) \
    --out "$state/trust.json" 2>/dev/null
  # shellcheck disable=SC2046
  "$deputy" trust sign "$state/trust.json" $(deputy_env_key_flags "$state" bob) \
    --out "$state/trust.json" 2>/dev/null
  "$deputy" trust pin "$state/trust.json" --sha256 "$pin" \
    --out "$state/trust.pin" >/dev/null
  awk -v nb="$(date -u -d '-1 day' +%Y-%m-%dT00:00:00Z)" \
      -v ex="$(date -u -d '+90 days' +%Y-%m-%dT00:00:00Z)" \
      -v hour="$per_hour" -v day="$per_day" '
    /"not_before":/ { sub(/"not_before": "[^"]*"/, "\"not_before\": \"" nb "\"") }
    /"expires":/ { sub(/"expires": "[^"]*"/, "\"expires\": \"" ex "\"") }
    hour != "" && /"actions_per_hour":/ {
      sub(/"actions_per_hour": [0-9]+/, "\"actions_per_hour\": " hour)
      sub(/"deletions_per_day": [0-9]+/, "\"deletions_per_day\": " day)
    }
    hour != "" && /"per_hour":/ { sub(/"per_hour": [0-9]+/, "\"per_hour\": " hour) }
    /^  "windows": \[/ { skip = 1; next }
    skip { if ($0 ~ /^  \],/) skip = 0; next }
    { print }' "$DEPUTY_ROOT/examples/policy/scope.json" >"$state/scope-payload.json"
  # shellcheck disable=SC2046
  "$deputy" scope sign "$state/scope-payload.json" \
    $(deputy_env_key_flags "$state" alice) --out "$state/scope.json" 2>/dev/null
  # shellcheck disable=SC2046
  "$deputy" scope sign "$state/scope.json" $(deputy_env_key_flags "$state" bob) \
    --out "$state/scope.json" 2>/dev/null
}

deputy_env_config() {
  local state=$1 bin=$2 workers=${3:-2}
  local ldap_port pg_port key_fields
  ldap_port=$(cat "$state/servers/ldap/port")
  pg_port=$(cat "$state/servers/postgres/port")
  if [ -f "$state/keys/agent-1.pass" ]; then
    key_fields='"passphrase_file": "keys/agent-1.pass",'
  else
    key_fields='"insecure_unencrypted_key": true,'
  fi
  local groups="ou=groups,dc=example,dc=org" depts="" d
  for d in engineering finance hr sales support operations; do
    depts+="${depts:+,
    }\"$d\": {\"ldap\": [\"cn=$d,$groups\", \"cn=$d-unix,$groups\"], \"postgres\": [\"app_$d\"]}"
  done
  cat >"$state/deputy.json" <<JSON
{
  "agent": "agent-1",
  "origin": "deputy.example.org/agent-1",
  "key": "keys/agent-1.key",
  $key_fields
  "trust": "trust.json",
  "trust_pin": "@trust.pin",
  "scope": "scope.json",
  "state_dir": "state",
  "log_dir": "log",
  "intake": {"directory": "intake"},
  "receipts_dir": "receipts",
  "workers": $workers,
  "targets": [
    {"name": "ldap", "kind": "ldap",
     "module": "$bin/capabilities/ldap/deputy-ldap",
     "host": "ldap.example.org", "address": "127.0.0.1", "port": $ldap_port,
     "credential_file": "credentials/ldap.json",
     "options": {"base_dn": "dc=example,dc=org", "tls": "none"}},
    {"name": "postgres", "kind": "postgres",
     "module": "$bin/capabilities/postgres/deputy-postgres",
     "host": "db.example.org", "address": "127.0.0.1", "port": $pg_port,
     "credential_file": "credentials/postgres.json",
     "options": {"sslmode": "disable"}}
  ],
  "departments": {
    $depts
  },
  "leaver": {"grace_seconds": 0},
  "retry": {"max_attempts": 3, "initial_backoff_ms": 200, "max_backoff_ms": 2000}
}
JSON
}
