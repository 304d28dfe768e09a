#!/usr/bin/env bash
# The agent under load, beside a plain shell script, in one run:
#   (a) deputy: N leaver tickets through a running agent (2 workers): each
#       ticket observed on both targets, planned, every action gated,
#       logged before it runs, applied and read back in its sandbox;
#       receipts written. Throughput, p50/p99 ticket latency (task.received
#       to task.done, from the log's own timestamps), the agent's RSS when
#       idle and its peak under the load.
#   (b) a plain shell script doing the same changes and read-backs for N
#       other leavers, two at a time (as two workers): per action one
#       command that changes the target and one that reads it back, with
#       ldapmodify/ldapdelete/ldapsearch and psql.
# Each leaver has an LDAP entry in two groups (a groupOfNames and a
# posixGroup of 100 people each) and a PostgreSQL role in one group role.
# Prints both, and the ratio of wall times (the cost of governance).
#
# Usage: bench/agent_leavers.sh [N]   (default 1000; builds Release)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEPUTY_ROOT=$PWD
n=${1:-1000}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
scripts/bootstrap
scripts/build release --target deputy deputy-ldap deputy-postgres >/dev/null
deputy=$PWD/build/release/agent/deputy
# shellcheck source=scripts/lib/deputy-env.sh
. scripts/lib/deputy-env.sh
state=$(mktemp -d /tmp/deputy-agent-bench-XXXXXX)
agent=
cleanup() {
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  deputy_env_stop "$state"
  [ -n "${KEEP:-}" ] && echo "state kept in $state" || rm -rf "$state"
}
trap cleanup EXIT
id() { printf 'bench.%04d' "$1"; }
role() { printf 'bench_%04d' "$1"; }
total=$((2 * n))
teams=$(((total + 99) / 100))
{
  for i in $(seq 1 $total); do
    printf 'dn: uid=%s,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: Bench %s\nsn: %s\nuidNumber: %d\ngidNumber: 10000\nhomeDirectory: /home/%s\nuserPassword: bench\n\n' \
      "$(id "$i")" "$(id "$i")" "$i" "$i" $((40000 + i)) "$(id "$i")"
  done
  for t in $(seq 1 $teams); do
    printf 'dn: cn=bench-team-%d,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: bench-team-%d\n' "$t" "$t"
    for i in $(seq $(((t - 1) * 100 + 1)) $((t * 100 < total ? t * 100 : total))); do
      printf 'member: uid=%s,ou=people,dc=example,dc=org\n' "$(id "$i")"
    done
    printf 'member: uid=root,ou=people,dc=example,dc=org\n\n'
    printf 'dn: cn=bench-unix-%d,ou=groups,dc=example,dc=org\nobjectClass: posixGroup\ncn: bench-unix-%d\ngidNumber: %d\n' "$t" "$t" $((50000 + t))
    for i in $(seq $(((t - 1) * 100 + 1)) $((t * 100 < total ? t * 100 : total))); do
      printf 'memberUid: %s\n' "$(id "$i")"
    done
    echo
  done
} >"$state/extra.ldif"
{
  for t in $(seq 1 $teams); do echo "CREATE ROLE app_bench_$t NOLOGIN;"; done
  for i in $(seq 1 $total); do
    echo "CREATE ROLE $(role "$i") LOGIN; GRANT app_bench_$(((i - 1) / 100 + 1)) TO $(role "$i");"
  done
} >"$state/extra.sql"
echo "setting up $total people on slapd and PostgreSQL..."
deputy_env_servers "$state"
deputy_env_identities "$state" "$deputy" insecure
deputy_env_policy "$state" "$deputy" 1000000 100000
deputy_env_config "$state" "$PWD/build/release" 2
ldap_port=$(cat "$state/servers/ldap/port")
pg_port=$(cat "$state/servers/postgres/port")
mkdir -p "$state/intake" "$state/tickets"
for i in $(seq 1 $n); do
  printf '{"id": "B-%04d", "revision": 1, "type": "leaver", "requester": "hr", "subject": {"uid": "%s"}}\n' \
    "$i" "$(id "$i")" >"$state/tickets/B-$(printf %04d "$i").json"
done

calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# (a) deputy.
"$deputy" run --config "$state/deputy.json" >"$state/agent.log" 2>&1 &
agent=$!
for _ in $(seq 1 100); do
  grep -q agent.started "$state"/log/segments/*.log 2>/dev/null && break
  sleep 0.1
done
sleep 2
idle_kb=$(rss "$agent")
start=$(date +%s.%N)
mv "$state"/tickets/*.json "$state/intake/"
while [ "$(cat "$state"/log/segments/*.log | grep -c '"kind":"task.done"')" -lt "$n" ]; do
  kill -0 "$agent" 2>/dev/null || { echo "the agent died: $(tail -3 "$state/agent.log")" >&2; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
peak_kb=$(hwm "$agent")
after_kb=$(rss "$agent")
kill -TERM "$agent"
wait "$agent" || true
agent=
deputy_wall=$(calc "$end - $start")
failed=$(cat "$state"/log/segments/*.log | grep '"kind":"task.done"' | grep -vc '"outcome":"done"' || true)
# Ticket latency from the log's own timestamps (received -> done).
lat() {
  cat "$state"/log/segments/*.log | grep -E '"kind":"task\.(received|done)"' |
    sed -E 's/.*"time":"[0-9-]+T([0-9]+):([0-9]+):([0-9.]+)Z".*"kind":"task\.([a-z]+)".*"task":"([^"]+)".*/\5 \4 \1 \2 \3/' |
    awk '{ t = $3 * 3600 + $4 * 60 + $5
           if ($2 == "received") r[$1] = t; else { d = t - r[$1]; if (d < 0) d += 86400; print d } }' |
    sort -n
}
lat >"$state/latency"
pct() { awk -v p="$1" '{ a[NR] = $1 } END { i = int(p * (NR - 1)) + 1; printf "%.3f", a[i] }' "$state/latency"; }

# (b) the shell script, on the other N people.
# The directory manager's password, in a 0600 file for -y (never argv).
(umask 077 && sed 's/.*"password":"\([^"]*\)".*/\1/' "$state/servers/ldap/root.cred" |
  tr -d '\n' >"$state/root.pw")
cat >"$state/leaver.sh" <<SCRIPT
#!/usr/bin/env bash
# One leaver, action by action: change, then read back.
set -euo pipefail
u=\$1; i=\$2; team=\$(((i - 1) / 100 + 1)); role=bench_\$(printf %04d \$i)
dn="uid=\$u,ou=people,dc=example,dc=org"
L=(-x -H ldap://127.0.0.1:$ldap_port -D cn=admin,dc=example,dc=org -y "$state/root.pw")
P=(psql -X -q -A -t -h $state/servers/postgres/socket -p $pg_port -U postgres)
printf 'dn: %s\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n-\ndelete: userPassword\n' "\$dn" | ldapmodify "\${L[@]}" >/dev/null
ldapsearch "\${L[@]}" -LLL -b "\$dn" -s base '(pwdAccountLockedTime=000001010000Z)' dn | grep -q dn:
printf 'dn: cn=bench-team-%d,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\nmember: %s\n' \$team "\$dn" | ldapmodify "\${L[@]}" >/dev/null
[ -z "\$(ldapsearch "\${L[@]}" -LLL -b cn=bench-team-\$team,ou=groups,dc=example,dc=org "(member=\$dn)" dn)" ]
printf 'dn: cn=bench-unix-%d,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: memberUid\nmemberUid: %s\n' \$team "\$u" | ldapmodify "\${L[@]}" >/dev/null
[ -z "\$(ldapsearch "\${L[@]}" -LLL -b cn=bench-unix-\$team,ou=groups,dc=example,dc=org "(memberUid=\$u)" dn)" ]
ldapdelete "\${L[@]}" "\$dn"
[ -z "\$(ldapsearch "\${L[@]}" -LLL -b dc=example,dc=org "(|(uid=\$u)(member=\$dn)(memberUid=\$u))" dn)" ]
"\${P[@]}" -d postgres -c "REVOKE app_bench_\$team FROM \$role"
[ "\$("\${P[@]}" -d postgres -c "SELECT count(*) FROM pg_auth_members WHERE member = '\$role'::regrole")" = 0 ]
"\${P[@]}" -d postgres -c "ALTER ROLE \$role NOLOGIN; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '\$role'" >/dev/null
[ "\$("\${P[@]}" -d postgres -c "SELECT NOT rolcanlogin FROM pg_roles WHERE rolname = '\$role'")" = t ]
for db in appdb appdb2 postgres; do
  "\${P[@]}" -d \$db -c "REASSIGN OWNED BY \$role TO app_archive; DROP OWNED BY \$role"
done
"\${P[@]}" -d postgres -c "DROP ROLE \$role"
[ "\$("\${P[@]}" -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname = '\$role'")" = 0 ]
SCRIPT
chmod +x "$state/leaver.sh"
start=$(date +%s.%N)
for i in $(seq $((n + 1)) $total); do echo "$(id "$i") $i"; done |
  xargs -P 2 -n 2 "$state/leaver.sh"
end=$(date +%s.%N)
script_wall=$(calc "$end - $start")

echo
echo "N = $n leavers each way, 2 at a time, on $(nproc) cores"
printf 'deputy:  %.1f s, %.1f tickets/s, latency p50 %s s p99 %s s, %s failed\n' \
  "$deputy_wall" "$(calc "$n / $deputy_wall")" "$(pct 0.5)" "$(pct 0.99)" "$failed"
printf 'deputy RSS: idle %d KiB, peak %d KiB, after %d KiB\n' "$idle_kb" "$peak_kb" "$after_kb"
printf 'script:  %.1f s, %.1f leavers/s\n' "$script_wall" "$(calc "$n / $script_wall")"
printf 'ratio deputy/script (wall): %.2f\n' "$(calc "$deputy_wall / $script_wall")"
