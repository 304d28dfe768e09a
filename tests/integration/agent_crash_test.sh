#!/usr/bin/env bash
# Crash test: 500 tickets against real slapd and PostgreSQL while the agent
# is killed with SIGKILL at 100 random moments and restarted each time.
# At the end every ticket must be done exactly once (no action's apply
# reported a change twice, none lost), both servers must show the planned
# end state, and the evidence log must verify.
# Usage: agent_crash_test.sh DEPUTY BUILD_DIR SOURCE_DIR [KILLS]
set -uo pipefail
deputy=$(realpath "$1")
build=$(realpath "$2")
export DEPUTY_ROOT
DEPUTY_ROOT=$(realpath "$3")
kills=${4:-100}
# shellcheck source=scripts/lib/deputy-env.sh
. "$DEPUTY_ROOT/scripts/lib/deputy-env.sh"
state=$(mktemp -d /tmp/deputy-crash-XXXXXX)
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
  deputy_env_stop "$state"
  [ -n "${KEEP:-}" ] && echo "state kept in $state" || rm -rf "$state"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

leavers=100   # 1-100: every account and membership removed
grants=200    # 101-300: added to cn=crash-extra and app_engineering
revokes=200   # 301-500: removed from cn=crash-team and app_crash
total=$((leavers + grants + revokes))
id() { printf 'crash.%04d' "$1"; }      # uid; the role is crash_NNNN
role() { printf 'crash_%04d' "$1"; }

# 500 extra people in both servers.
{
  for i in $(seq 1 $total); do
    u=$(id "$i")
    printf 'dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: Crash %s\nsn: %s\nuidNumber: %d\ngidNumber: 10000\nhomeDirectory: /home/%s\n\n' \
      "$u" "$u" "$u" "$u" $((30000 + i)) "$u"
  done
  printf 'dn: cn=crash-team,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: crash-team\n'
  for i in $(seq 1 $total); do printf 'member: uid=%s,ou=people,dc=example,dc=org\n' "$(id "$i")"; done
  printf '\ndn: cn=crash-unix,ou=groups,dc=example,dc=org\nobjectClass: posixGroup\ncn: crash-unix\ngidNumber: 29999\n'
  for i in $(seq 1 $leavers); do printf 'memberUid: %s\n' "$(id "$i")"; done
  printf '\ndn: cn=crash-extra,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: crash-extra\nmember:\n\n'
} >"$state/extra.ldif"
{
  echo "CREATE ROLE app_crash NOLOGIN;"
  for i in $(seq 1 $total); do
    echo "CREATE ROLE $(role "$i") LOGIN; GRANT app_crash TO $(role "$i");"
  done
} >"$state/extra.sql"
deputy_env_servers "$state" || fail "servers did not start"
deputy_env_identities "$state" "$deputy" insecure
deputy_env_policy "$state" "$deputy" 100000 1000
deputy_env_config "$state" "$build" 2
ldap_port=$(cat "$state/servers/ldap/port")
pg_port=$(cat "$state/servers/postgres/port")
mkdir -p "$state/intake"
for i in $(seq 1 $total); do
  u=$(id "$i")
  if [ "$i" -le $leavers ]; then
    body='"type": "leaver"'
  elif [ "$i" -le $((leavers + grants)) ]; then
    body='"type": "grant", "entitlements": [{"target": "ldap", "group": "cn=crash-extra,ou=groups,dc=example,dc=org"}, {"target": "postgres", "role": "app_engineering"}]'
  else
    body='"type": "revoke", "entitlements": [{"target": "ldap", "group": "cn=crash-team,ou=groups,dc=example,dc=org"}, {"target": "postgres", "role": "app_crash"}]'
  fi
  printf '{"id": "K-%04d", "revision": 1, "requester": "hr", "subject": {"uid": "%s"}, %s}\n' \
    "$i" "$u" "$body" >"$state/intake/K-$(printf %04d "$i").json"
done

# The agent, killed at random moments and restarted each time.
start=$(date +%s)
for k in $(seq 1 "$kills"); do
  "$deputy" run --config "$state/deputy.json" >>"$state/runs.log" 2>&1 &
  agent_pid=$!
  # 50 to 600 ms: sometimes during start-up and recovery, mostly mid-work.
  sleep "0.$(printf %03d $((50 + RANDOM % 550)))"
  kill -9 "$agent_pid" 2>/dev/null
  wait "$agent_pid" 2>/dev/null
  agent_pid=
done
echo "$kills kills in $(($(date +%s) - start)) s"
# In the background so that cleanup can stop it if this script is killed.
"$deputy" run --config "$state/deputy.json" --once >>"$state/runs.log" 2>&1 &
agent_pid=$!
wait "$agent_pid" || fail "the last run failed: $(tail -5 "$state/runs.log")"
agent_pid=
echo "finished after $(($(date +%s) - start)) s"

recovered=$(grep -c "recovered after a restart" "$state/runs.log")
echo "actions resolved by recovery after a kill: $recovered"

# Every ticket done, exactly once.
report=$("$deputy" report --config "$state/deputy.json")
done_count=$(grep -c '^K-[0-9]*@1 .*: done$' <<<"$report")
[ "$done_count" -eq "$total" ] ||
  fail "$done_count of $total tickets done: $(grep '^K-' <<<"$report" | grep -v ': done$' | head -5)"
dup=$(cat "$state"/log/segments/*.log | grep '"kind":"action.result"' |
  grep -o '"task":"[^"]*","action":"[^"]*","payload":{"attempts":[0-9]*,"changed":true' |
  sed 's/,"payload.*//' | sort | uniq -d)
[ -z "$dup" ] || fail "applied twice: $(head -3 <<<"$dup")"
received=$(cat "$state"/log/segments/*.log | grep -c '"kind":"task.received"')
[ "$received" -eq "$total" ] || fail "$received tickets received, not $total"

# The targets match the plan.
# The directory manager's password, in a 0600 file for -y (never argv).
(umask 077 && sed 's/.*"password":"\([^"]*\)".*/\1/' "$state/servers/ldap/root.cred" |
  tr -d '\n' >"$state/root.pw")
lcount() {
  ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$ldap_port" \
    -D "cn=admin,dc=example,dc=org" -y "$state/root.pw" -b "$1" "$2" "${@:3}" |
    grep -c "^${3:-dn}:"
}
psql_q() {
  psql -X -A -t -h "$state/servers/postgres/socket" -p "$pg_port" -U postgres \
    -d postgres -c "$1"
}
left=$(ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$ldap_port" \
  -D "cn=admin,dc=example,dc=org" -y "$state/root.pw" -b ou=people,dc=example,dc=org \
  '(uid=crash.*)' uid | sed -n 's/^uid: crash\.//p')
n=$(awk -v l=$leavers '$1 + 0 <= l' <<<"$left" | wc -l)
[ "$n" -eq 0 ] || fail "$n leavers still have an LDAP entry"
[ "$(wc -l <<<"$left")" -eq $((grants + revokes)) ] ||
  fail "$(wc -l <<<"$left") crash entries left, not $((grants + revokes))"
n=$(lcount cn=crash-unix,ou=groups,dc=example,dc=org '(objectClass=*)' memberUid)
[ "$n" -eq 0 ] || fail "$n leavers still listed in crash-unix"
n=$(lcount cn=crash-extra,ou=groups,dc=example,dc=org '(objectClass=*)' member)
[ "$n" -eq "$grants" ] || fail "crash-extra lists $n members, not $grants (with no placeholder)"
n=$(lcount cn=crash-team,ou=groups,dc=example,dc=org '(objectClass=*)' member)
[ "$n" -eq "$grants" ] || fail "crash-team lists $n members, not the $grants granted ones"
n=$(psql_q "SELECT count(*) FROM pg_roles WHERE rolname ~ '^crash_[0-9]{4}$' AND substr(rolname, 7)::int <= $leavers")
[ "$n" -eq 0 ] || fail "$n leaver roles remain"
n=$(psql_q "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'app_engineering' AND pg_get_userbyid(m.member) ~ '^crash_[0-9]{4}$'")
[ "$n" -eq "$grants" ] || fail "app_engineering has $n crash members, not $grants"
n=$(psql_q "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'app_crash'")
[ "$n" -eq "$grants" ] || fail "app_crash has $n members, not $grants"

"$deputy" log verify "$state/log" --trust "$state/trust.json" \
  --pin @"$state/trust.pin" --scope "$state/scope.json" || fail "the log does not verify"
echo "crash test passed: $total tickets, $kills kills, $recovered recoveries"
