#!/usr/bin/env bash
# 1,000 leaver actions against slapd, in one run, two ways:
#   (a) deputy: the deputy-ldap module's `apply` then `verify` of a
#       `delete` per leaver (out of every group, entry gone; then the read
#       back: entry_absent, bind_fails, no_group_lists_dn), each a fresh
#       process with the credential on fd 3;
#   (b) a plain shell script doing the same changes and read-backs with
#       the OpenLDAP tools: ldapsearch for the groups that list the
#       leaver, one ldapmodify that removes him from each and deletes the
#       entry, then ldapsearch for the entry, ldapsearch for any group
#       still listing him, and ldapwhoami for a bind that must fail.
# Each side gets its own fresh server (scripts/ldap-server) seeded with
# examples/ldap/seed.ldif plus the same generated leavers, each in three
# groups (two groupOfNames, one posixGroup; no group ever loses its last
# member). Both bind as the agent's service account. Prints the wall time
# of each side and the ratio; checks afterwards, as the root DN, that both
# directories end with no leaver entry and no group listing one, and exits
# non-zero if not, or if any apply or verify failed.
#
# Usage: bench/ldap_leavers.sh [BUILD_DIR [N]]
#   BUILD_DIR  holds capabilities/ldap/deputy-ldap (default build/release,
#              built with scripts/build release when missing)
#   N          leavers (default 1000)
# DEPUTY_MODULE_RUNNER, when set, is a command run as
#   $DEPUTY_MODULE_RUNNER MODULE_PATH <request 3<credential
# instead of the module itself (e.g. deputy's sandboxed runner); it must
# print the module's response. The requests name the target as
# DEPUTY_BENCH_HOST (default 127.0.0.1), and the runner finds the server's
# port in DEPUTY_BENCH_PORT (exported). bench/sandbox_runner.sh runs the
# module with `deputy sandbox run`, full isolation:
# DEPUTY_SANDBOX_BATCH, when set, is build/release/bench/sandboxed_batch:
# every request goes through one sandbox policy on one warm thread, as the
# agent runs modules (per-run costs only, no process start of deputy).
#   DEPUTY_MODULE_RUNNER="bench/sandbox_runner.sh build/release/agent/deputy" \
#   DEPUTY_BENCH_HOST=ldap.example.org bench/ldap_leavers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
n=${2:-1000}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer" >&2; exit 2; }
module=$build/capabilities/ldap/deputy-ldap
if [ ! -x "$module" ]; then
  if [ "$build" = build/release ]; then
    scripts/build release --target deputy-ldap >/dev/null
  else
    cmake --build "$build" --target deputy-ldap >/dev/null
  fi
fi
module=$(realpath "$module")
for tool in ldapsearch ldapmodify ldapwhoami; do
  command -v "$tool" >/dev/null ||
    { echo "$tool is missing: install the Debian package ldap-utils" >&2; exit 1; }
done
runner=()
if [ -n "${DEPUTY_MODULE_RUNNER:-}" ]; then
  read -r -a runner <<<"$DEPUTY_MODULE_RUNNER"
fi

umask 077
work=$(mktemp -d /tmp/deputy-ldap-bench-XXXXXX)
cleanup() {
  local s
  for s in deputy script; do
    [ -f "$work/$s/slapd.conf" ] && scripts/ldap-server stop "$work/$s" >/dev/null 2>&1
  done
  rm -rf "$work"
}
trap cleanup EXIT

base="dc=example,dc=org"
people="ou=people,$base"
groups="ou=groups,$base"
uid_of() { printf 'bench%05d' "$1"; }

# The leavers and their groups. One known password for all (its hash is
# made once): the read-back proves that it no longer binds.
{
  hash_file=$work/pw
  printf '%s' "pw-bench" >"$hash_file"
  hash=$(slappasswd -h '{SSHA}' -T "$hash_file")
  for ((i = 0; i < n; i++)); do
    u=$(uid_of "$i")
    printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: Bench %s\nsn: %s\nuidNumber: %d\ngidNumber: 10000\nhomeDirectory: /home/%s\nuserPassword: %s\n\n' \
      "$u" "$people" "$u" "$i" "$u" $((50000 + i)) "$u" "$hash"
  done
  # Every group keeps a member that is not a leaver (ann.lee).
  for ((k = 0; k < 10; k++)); do
    printf 'dn: cn=bench-a%d,%s\nobjectClass: groupOfNames\ncn: bench-a%d\nmember: uid=ann.lee,%s\n' "$k" "$groups" "$k" "$people"
    for ((i = k; i < n; i += 10)); do printf 'member: uid=%s,%s\n' "$(uid_of "$i")" "$people"; done
    echo
    printf 'dn: cn=bench-unix%d,%s\nobjectClass: posixGroup\ncn: bench-unix%d\ngidNumber: %d\nmemberUid: ann.lee\n' "$k" "$groups" "$k" $((30000 + k))
    for ((i = k; i < n; i += 10)); do printf 'memberUid: %s\n' "$(uid_of "$i")"; done
    echo
  done
  for ((k = 0; k < 7; k++)); do
    printf 'dn: cn=bench-b%d,%s\nobjectClass: groupOfNames\ncn: bench-b%d\nmember: uid=ann.lee,%s\n' "$k" "$groups" "$k" "$people"
    for ((i = k; i < n; i += 7)); do printf 'member: uid=%s,%s\n' "$(uid_of "$i")" "$people"; done
    echo
  done
} >"$work/leavers.ldif"

for s in deputy script; do
  scripts/ldap-server start "$work/$s" --seed examples/ldap/seed.ldif \
    --seed "$work/leavers.ldif" >/dev/null
done

now() { date +%s%N; }

# --- (a) deputy-ldap, apply + verify per leaver ------------------------
port=$(cat "$work/deputy/port")
export DEPUTY_BENCH_PORT=$port
host=${DEPUTY_BENCH_HOST:-127.0.0.1}
cred=$work/deputy/admin.cred
target="{\"name\":\"ldap\",\"host\":\"$host\",\"port\":$port,\"options\":{\"base_dn\":\"$base\",\"tls\":\"none\"}}"
run_module() {
  if [ ${#runner[@]} -gt 0 ]; then
    "${runner[@]}" "$module" 3<"$cred"
  else
    "$module" 3<"$cred"
  fi
}
failures=0
if [ -n "${DEPUTY_SANDBOX_BATCH:-}" ]; then
  # All requests through one sandbox policy on one warm thread, as the
  # agent runs them: apply then verify, leaver after leaver.
  for ((i = 0; i < n; i++)); do
    dn="uid=$(uid_of "$i"),$people"
    action="{\"operation\":\"delete\",\"resource\":\"$dn\",\"subject\":\"$dn\",\"params\":{}}"
    echo "{\"protocol\":1,\"op\":\"apply\",\"id\":\"a$i\",\"target\":$target,\"action\":$action}"
    echo "{\"protocol\":1,\"op\":\"verify\",\"id\":\"v$i\",\"target\":$target,\"action\":$action}"
  done >"$work/requests"
  start=$(now)
  "$DEPUTY_SANDBOX_BATCH" "$module" "$host" "$port" "$cred" <"$work/requests" >"$work/responses"
  deputy_ns=$(($(now) - start))
  applies=$(awk 'NR % 2 == 1' "$work/responses" | grep -c '"ok":true.*"changed":true' || true)
  verifies=$(awk 'NR % 2 == 0' "$work/responses" | grep -c '"satisfied":true' || true)
  failures=$((failures + 2 * n - applies - verifies))
  runner=("sandboxed_batch")
else
start=$(now)
for ((i = 0; i < n; i++)); do
  dn="uid=$(uid_of "$i"),$people"
  action="{\"operation\":\"delete\",\"resource\":\"$dn\",\"subject\":\"$dn\",\"params\":{}}"
  out=$(run_module <<<"{\"protocol\":1,\"op\":\"apply\",\"id\":\"a$i\",\"target\":$target,\"action\":$action}")
  [[ "$out" == *'"ok":true'*'"changed":true'* ]] ||
    { failures=$((failures + 1)); echo "apply $dn: $out" >&2; }
  out=$(run_module <<<"{\"protocol\":1,\"op\":\"verify\",\"id\":\"v$i\",\"target\":$target,\"action\":$action}")
  [[ "$out" == *'"satisfied":true'* ]] ||
    { failures=$((failures + 1)); echo "verify $dn: $out" >&2; }
done
deputy_ns=$(($(now) - start))
fi

# --- (b) the same with ldapmodify and ldapsearch -------------------------
port=$(cat "$work/script/port")
url="ldap://127.0.0.1:$port"
sed 's/.*"password":"\([^"]*\)".*/\1/' "$work/script/admin.cred" | tr -d '\n' >"$work/script.pw"
chmod 0600 "$work/script.pw"
auth=(-x -H "$url" -D "cn=deputy,ou=services,$base" -y "$work/script.pw")
start=$(now)
for ((i = 0; i < n; i++)); do
  u=$(uid_of "$i")
  dn="uid=$u,$people"
  listing="(|(member=$dn)(uniqueMember=$dn)(memberUid=$u))"
  # The changes: out of every group that lists him, by its class; then
  # the entry.
  {
    ldapsearch "${auth[@]}" -LLL -o ldif-wrap=no -b "$base" "$listing" objectClass |
      awk -v dn="$dn" -v uid="$u" '
        /^dn: / { g = substr($0, 5) }
        /^objectClass: groupOfNames$/ { printf "dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n\n", g, dn }
        /^objectClass: groupOfUniqueNames$/ { printf "dn: %s\nchangetype: modify\ndelete: uniqueMember\nuniqueMember: %s\n\n", g, dn }
        /^objectClass: posixGroup$/ { printf "dn: %s\nchangetype: modify\ndelete: memberUid\nmemberUid: %s\n\n", g, uid }'
    printf 'dn: %s\nchangetype: delete\n' "$dn"
  } | ldapmodify "${auth[@]}" >/dev/null ||
    { failures=$((failures + 1)); echo "ldapmodify $dn failed" >&2; }
  # The read-backs: no entry, no group listing him, no bind.
  rc=0
  ldapsearch "${auth[@]}" -LLL -s base -b "$dn" '(objectClass=*)' 1.1 >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 32 ] || { failures=$((failures + 1)); echo "$dn still exists" >&2; }
  [ -z "$(ldapsearch "${auth[@]}" -LLL -b "$base" "$listing" 1.1)" ] ||
    { failures=$((failures + 1)); echo "a group still lists $dn" >&2; }
  rc=0
  ldapwhoami -x -H "$url" -D "$dn" -w "x-$RANDOM$RANDOM$RANDOM" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 49 ] || { failures=$((failures + 1)); echo "bind as $dn: $rc" >&2; }
done
script_ns=$(($(now) - start))

# --- Both directories end the same way, as the root DN sees them --------
for s in deputy script; do
  p=$(cat "$work/$s/port")
  sed 's/.*"password":"\([^"]*\)".*/\1/' "$work/$s/root.cred" | tr -d '\n' >"$work/$s.root"
  chmod 0600 "$work/$s.root"
  left=$(ldapsearch -x -H "ldap://127.0.0.1:$p" -D "cn=admin,$base" -y "$work/$s.root" \
    -LLL -b "$base" '(|(uid=bench*)(member=uid=bench*)(memberUid=bench*))' 1.1 | grep -c '^dn:' || true)
  if [ "$left" -ne 0 ]; then
    failures=$((failures + 1))
    echo "$s: $left entries still name a leaver" >&2
  fi
done

ms() { awk -v ns="$1" -v n="$2" 'BEGIN { printf "%.2f s (%.2f ms per leaver)", ns / 1e9, ns / 1e6 / n }'; }
echo "leavers: $n, each in 3 groups (2 groupOfNames, 1 posixGroup); one at a time"
echo "deputy-ldap apply + verify:        $(ms "$deputy_ns" "$n")${runner[*]:+ via ${runner[*]}}"
echo "ldapsearch/ldapmodify/ldapwhoami:  $(ms "$script_ns" "$n")"
awk -v a="$deputy_ns" -v b="$script_ns" 'BEGIN { printf "ratio deputy / script: %.2f\n", a / b }'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(/usr/sbin/slapd -VV 2>&1 | head -1 | sed 's/.*slapd \([^ ]*\).*/slapd \1/')"
if [ "$failures" -ne 0 ]; then
  echo "FAILED: $failures checks did not hold" >&2
  exit 1
fi
