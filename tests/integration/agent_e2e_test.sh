#!/usr/bin/env bash
# The agent end to end against real slapd and PostgreSQL servers: the
# example tickets (joiner, mover, leavers, revoke, a grant needing approval,
# an out-of-scope request, a ticket against the agent's own account, a
# malformed ticket, a duplicate), each outcome checked on the servers
# themselves, not through deputy; then the log and receipts verified
# offline, a tampered receipt refused, and a revocation freezing the agent.
# Usage: agent_e2e_test.sh DEPUTY BUILD_DIR SOURCE_DIR
set -uo pipefail
deputy=$(realpath "$1")
build=$(realpath "$2")
export DEPUTY_ROOT
DEPUTY_ROOT=$(realpath "$3")
# shellcheck source=scripts/lib/deputy-env.sh
. "$DEPUTY_ROOT/scripts/lib/deputy-env.sh"
for b in "$deputy" "$build/capabilities/ldap/deputy-ldap" \
         "$build/capabilities/postgres/deputy-postgres"; do
  [ -x "$b" ] || { echo "FAIL: missing $b" >&2; exit 1; }
done
state=$(mktemp -d /tmp/deputy-e2e-XXXXXX)
trap 'deputy_env_stop "$state"; rm -rf "$state"' EXIT
failures=0
checks=0
check() {  # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  checks=$((checks + 1))
  if ! "$@" >/dev/null 2>&1; then
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
refute() {  # refute DESCRIPTION COMMAND...: passes when COMMAND fails
  local what=$1
  shift
  checks=$((checks + 1))
  if "$@" >/dev/null 2>&1; then
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}
contains() {  # contains DESCRIPTION NEEDLE HAYSTACK
  checks=$((checks + 1))
  if [[ "$3" != *"$2"* ]]; then
    echo "FAIL: $1: no \"$2\" in: $3"
    failures=$((failures + 1))
  fi
}

deputy_env_servers "$state" || { echo "FAIL: servers did not start"; exit 1; }
deputy_env_identities "$state" "$deputy" insecure
deputy_env_policy "$state" "$deputy"
deputy_env_config "$state" "$build"
ldap_port=$(cat "$state/servers/ldap/port")
pg_port=$(cat "$state/servers/postgres/port")
mkdir -p "$state/intake"
cp "$DEPUTY_ROOT"/examples/tickets/*.json "$state/intake/"

# dave_leaver holds a live session that the leaver must end.
printf '127.0.0.1:%s:appdb:dave_leaver:pw-dave.leaver\n' "$pg_port" >"$state/dave.pgpass"
chmod 0600 "$state/dave.pgpass"
PGPASSFILE=$state/dave.pgpass psql -X -q -h 127.0.0.1 -p "$pg_port" \
  -U dave_leaver -d appdb -c 'SELECT pg_sleep(120)' >/dev/null 2>&1 &
session=$!
sleep 0.5

run=$("$deputy" run --config "$state/deputy.json" --once 2>&1)
contains "first run summary" "5 done, 2 failed, 1 waiting, 1 rejected" "$run"
contains "duplicate recognised" "duplicate delivery of CHG-2004@1" "$run"
contains "bad ticket rejected" "CHG-2009-bad.json: rejected" "$run"
check "bad ticket has its reason" grep -q uid "$state/intake/rejected/CHG-2009-bad.json.reason"

# The approval: bob asked for nothing here, alice approves.
request=$(ls "$state"/state/approvals/*.json)
# shellcheck disable=SC2046
check "alice approves" "$deputy" approve --action "$request" \
  $(deputy_env_key_flags "$state" alice) --out "$state/approval.json"
check "approval delivered" "$deputy" submit --config "$state/deputy.json" "$state/approval.json"
run=$("$deputy" run --config "$state/deputy.json" --once 2>&1)
contains "second run summary" "6 done, 2 failed, 0 waiting" "$run"
wait "$session" 2>/dev/null

# --- Outcomes, read from the servers themselves -------------------------
# The directory manager's password, in a 0600 file for -y (never argv).
(umask 077 && sed 's/.*"password":"\([^"]*\)".*/\1/' "$state/servers/ldap/root.cred" |
  tr -d '\n' >"$state/root.pw")
lsearch() {  # lsearch BASE FILTER ATTRS...: LDIF from slapd as its manager
  ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$ldap_port" \
    -D "cn=admin,dc=example,dc=org" -y "$state/root.pw" -b "$1" "$2" "${@:3}"
}
psql_q() {
  psql -X -A -t -h "$state/servers/postgres/socket" -p "$pg_port" -U postgres \
    -d postgres -c "$1"
}
member_of() {  # member_of ROLE GROUP
  [ "$(psql_q "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '$1' AND g.rolname = '$2'")" = 1 ]
}
g=ou=groups,dc=example,dc=org
people=ou=people,dc=example,dc=org
# Joiner.
check "nora.vale exists in LDAP" test -n "$(lsearch "uid=nora.vale,$people" '(objectClass=*)' dn)"
check "nora.vale is in engineering" test -n "$(lsearch "cn=engineering,$g" "(member=uid=nora.vale,$people)" dn)"
check "nora.vale is in engineering-unix" test -n "$(lsearch "cn=engineering-unix,$g" '(memberUid=nora.vale)' dn)"
check "role nora_vale can log in" test "$(psql_q "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'nora_vale'")" = t
check "nora_vale has app_engineering" member_of nora_vale app_engineering
# Mover.
check "gina.shaw is in finance" test -n "$(lsearch "cn=finance,$g" "(member=uid=gina.shaw,$people)" dn)"
check "gina.shaw left engineering" test -z "$(lsearch "cn=engineering,$g" "(member=uid=gina.shaw,$people)" dn)"
check "gina_shaw has app_finance" member_of gina_shaw app_finance
refute "gina_shaw lost app_engineering" member_of gina_shaw app_engineering
# Leavers: the proof of removal, independently.
check "dave.leaver's entry is gone" test -z "$(lsearch "$people" '(uid=dave.leaver)' dn)"
check "no group lists dave.leaver" test -z "$(lsearch dc=example,dc=org "(|(member=uid=dave.leaver,$people)(uniqueMember=uid=dave.leaver,$people)(memberUid=dave.leaver))" dn)"
refute "dave.leaver cannot bind" ldapwhoami -x -H "ldap://127.0.0.1:$ldap_port" \
  -D "uid=dave.leaver,$people" -w pw-dave.leaver
check "role dave_leaver is gone" test "$(psql_q "SELECT count(*) FROM pg_roles WHERE rolname = 'dave_leaver'")" = 0
check "dave's session is gone" test "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'dave_leaver'")" = 0
check "dave's objects went to app_archive" test "$(psql -X -A -t -h "$state/servers/postgres/socket" -p "$pg_port" -U postgres -d appdb -c "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'dave_notes'")" = app_archive
refute "dave.leaver cannot log in to PostgreSQL" env PGPASSFILE="$state/dave.pgpass" \
  psql -X -h 127.0.0.1 -p "$pg_port" -U dave_leaver -d appdb -c 'SELECT 1'
check "tom.sato's entry is gone" test -z "$(lsearch "$people" '(uid=tom.sato)' dn)"
check "role tom_sato is gone" test "$(psql_q "SELECT count(*) FROM pg_roles WHERE rolname = 'tom_sato'")" = 0
# Revoke, approved grant.
check "ben.kim left payroll-admins" test -z "$(lsearch "cn=payroll-admins,$g" "(member=uid=ben.kim,$people)" dn)"
check "ann_lee has app_reporting (approved)" member_of ann_lee app_reporting
# Denied: nothing happened.
check "paul.moss is not an admin" test -z "$(lsearch "cn=admins,$g" "(member=uid=paul.moss,$people)" dn)"
check "deputy_svc still logs in" test "$(psql_q "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'deputy_svc'")" = t
report=$("$deputy" report --config "$state/deputy.json")
contains "CHG-2006 denied by the forbid" "forbid:no-ldap-admins" "$report"
contains "CHG-2007 denied by the invariant" "invariant_agent_self" "$report"
for t in CHG-2001 CHG-2002 CHG-2003 CHG-2004 CHG-2005 CHG-2008; do
  contains "$t done" "$t@1  " "$(grep "^$t@1 .*: done$" <<<"$report")"
done

# --- Offline verification ------------------------------------------------
trust=(--trust "$state/trust.json" --pin @"$state/trust.pin")
check "the log verifies, decisions replay" "$deputy" log verify "$state/log" \
  "${trust[@]}" --scope "$state/scope.json"
for r in "$state"/receipts/*@*.json; do
  case "$r" in *.sealed.json) continue ;; esac
  check "receipt $(basename "$r") verifies" "$deputy" log verify-proof "$r" "${trust[@]}"
done
check "a receipt lies beside its ticket" test -f "$state/intake/done/CHG-2003.json.receipt.json"
sed 's/"outcome": "failed"/"outcome": "done"/' "$state/receipts/CHG-2006@1.json" >"$state/forged.json"
refute "a forged receipt is refused" "$deputy" log verify-proof "$state/forged.json" "${trust[@]}"

# --- Serving: a ticket submitted to a running agent, then SIGTERM -------
"$deputy" run --config "$state/deputy.json" >"$state/serve.log" 2>&1 &
server=$!
cat >"$state/serve-ticket.json" <<'JSON'
{"id": "CHG-4001", "revision": 1, "type": "grant", "requester": "carol.hr",
 "subject": {"uid": "ann.lee"},
 "entitlements": [{"target": "postgres", "role": "app_sales"}]}
JSON
check "submit to a running agent" "$deputy" submit --config "$state/deputy.json" "$state/serve-ticket.json"
for _ in $(seq 1 100); do
  grep -q "CHG-4001@1: done" "$state/serve.log" && break
  sleep 0.2
done
contains "the running agent carried it out" "CHG-4001@1: done" "$(cat "$state/serve.log")"
kill -TERM "$server"
wait "$server"
rc=$?
checks=$((checks + 1))
[ "$rc" -eq 0 ] || { echo "FAIL: SIGTERM exit status $rc"; failures=$((failures + 1)); }
check "it logged its stop" grep -q '"kind":"agent.stopped"' "$state"/log/segments/*.log
check "ann_lee has app_sales" member_of ann_lee app_sales

# --- Revocation: bob alone stops the agent ------------------------------
# shellcheck disable=SC2046
check "bob revokes the scope" "$deputy" scope revoke --agent agent-1 --version 1 \
  --reason "e2e test" $(deputy_env_key_flags "$state" bob) --out "$state/revoke.json"
check "revocation delivered" "$deputy" submit --config "$state/deputy.json" "$state/revoke.json"
cat >"$state/late.json" <<'JSON'
{"id": "CHG-3001", "revision": 1, "type": "leaver", "requester": "carol.hr",
 "subject": {"uid": "ann.lee"}}
JSON
check "a ticket after the revocation is accepted" "$deputy" submit --config "$state/deputy.json" "$state/late.json"
run=$("$deputy" run --config "$state/deputy.json" --once 2>&1)
contains "frozen by the revocation" "frozen" "$run"
check "ann.lee is untouched" test -n "$(lsearch "uid=ann.lee,$people" '(objectClass=*)' dn)"
refute "status reports frozen (exit 1)" "$deputy" status --config "$state/deputy.json"
check "the log still verifies" "$deputy" log verify "$state/log" "${trust[@]}" --scope "$state/scope.json"

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
