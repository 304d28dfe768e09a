#!/usr/bin/env bash
# End-to-end test of the owners' and auditors' policy commands with the
# real binary: trust root pinning and thresholds, scope signing and
# verification (rollback, other agent, one signature short, revocation),
# approvals, gate explanations, and replaying logged decisions.
# Usage: policy_cli_test.sh PATH_TO_DEPUTY EXAMPLES_DIR
set -uo pipefail
deputy=$(realpath "$1")
examples=$(realpath "$2")
[ -x "$deputy" ] || { echo "not executable: $1" >&2; exit 1; }
work=$(mktemp -d /tmp/deputy-policy-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
umask 077
failures=0
checks=0
expect() {  # expect CODE DESCRIPTION -- COMMAND...
  local want=$1 what=$2
  shift 3
  checks=$((checks + 1))
  out=$("$@" 2>"$work/stderr")
  local got=$?
  err=$(cat "$work/stderr")
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"
    echo "  stdout: $out"
    echo "  stderr: $err"
    failures=$((failures + 1))
  fi
}
contains() {  # contains TEXT HAYSTACK DESCRIPTION
  checks=$((checks + 1))
  if [[ "$2" != *"$1"* ]]; then
    echo "FAIL: $3: output lacks \"$1\": $2"
    failures=$((failures + 1))
  fi
}
insecure=--insecure-unencrypted-key
for n in alice bob carol agent-1 mallory; do
  "$deputy" keys gen --name "$n" --out k $insecure >/dev/null
done
# The example trust root and scope, with this run's keys.
key() { tr -d '\n' <"k/$1.pub"; }
sed -e "s|ed25519 [^\"]* alice|$(key alice)|" \
    -e "s|ed25519 [^\"]* bob|$(key bob)|" \
    -e "s|ed25519 [^\"]* carol|$(key carol)|" \
    -e "s|ed25519 [^\"]* agent-1|$(key agent-1)|" \
    "$examples/policy/trust-root.json" >trust.json
cp "$examples/policy/scope.json" scope.json

expect 0 "trust init" -- "$deputy" trust init trust.json
pin=$(sed -n 's/^sha256: //p' <<<"$out")
contains "alice" "$out" "trust init lists owners"
expect 0 "alice signs the root" -- "$deputy" trust sign trust.json \
  --key k/alice.key $insecure --out trust.env
expect 1 "one owner is below the trust_change threshold" -- \
  "$deputy" trust verify trust.env --pin "$pin"
contains "needs 2" "$err" "threshold message"
expect 1 "a second signature by alice still counts once" -- \
  "$deputy" trust sign trust.env --key k/alice.key $insecure --out trust2.env
expect 0 "bob co-signs" -- "$deputy" trust sign trust.env --key k/bob.key \
  $insecure --out trust.env
expect 1 "a wrong pin is refused" -- "$deputy" trust pin trust.env \
  --sha256 "$(printf '%064d' 0)" --out trust.pin
expect 0 "pin" -- "$deputy" trust pin trust.env --sha256 "$pin" --out trust.pin
expect 0 "trust verify" -- "$deputy" trust verify trust.env --pin @trust.pin

expect 0 "alice signs the scope" -- "$deputy" scope sign scope.json \
  --key k/alice.key $insecure --out scope1.env
expect 1 "one owner is below the scope_grant threshold" -- \
  "$deputy" scope verify scope1.env --trust trust.env --pin @trust.pin \
  --agent agent-1 --at 2026-12-02T10:00:00Z
# Anyone can add a signature; only owners' signatures count.
expect 0 "a stranger can sign" -- "$deputy" scope sign scope1.env \
  --key k/mallory.key $insecure --out scope-m.env
expect 1 "alice + mallory is still one owner" -- "$deputy" scope verify \
  scope-m.env --trust trust.env --pin @trust.pin --agent agent-1 \
  --at 2026-12-02T10:00:00Z
expect 0 "bob co-signs the scope" -- "$deputy" scope sign scope1.env \
  --key k/bob.key $insecure --out scope.env
expect 0 "scope verify" -- "$deputy" scope verify scope.env --trust trust.env \
  --pin @trust.pin --agent agent-1 --at 2026-12-02T10:00:00Z
contains "signed by: alice, bob" "$out" "scope signers"
expect 1 "the scope is for agent-1 only" -- "$deputy" scope verify scope.env \
  --trust trust.env --pin @trust.pin --agent agent-2 --at 2026-12-02T10:00:00Z
expect 1 "expired scope" -- "$deputy" scope verify scope.env --trust trust.env \
  --pin @trust.pin --agent agent-1 --at 2030-01-01T00:00:00Z
contains "expired" "$err" "expiry message"
expect 1 "a trust root offered as a scope" -- "$deputy" scope verify trust.env \
  --trust trust.env --pin @trust.pin --agent agent-1 --at 2026-12-02T10:00:00Z

cat >disable.json <<'JSON'
{"target":"ldap","operation":"DISABLE","resource":"UID=Dave, OU=People,DC=example,DC=org","subject":"","task":"T-1","requester":"carol.hr"}
JSON
cat >self.json <<'JSON'
{"target":"ldap","operation":"disable","resource":"cn=deputy,ou=services,dc=example,dc=org","subject":"","task":"T-2","requester":"carol.hr"}
JSON
at=2026-12-02T10:00:00Z  # A Wednesday inside the example's window.
expect 0 "gate allows a leaver's disable" -- "$deputy" gate explain \
  --trust trust.env --pin @trust.pin --scope scope.env --action disable.json \
  --at $at
contains "decision: allow" "$out" "allow explanation"
expect 1 "gate denies the agent's own account" -- "$deputy" gate explain \
  --trust trust.env --pin @trust.pin --scope scope.env --action self.json \
  --at $at
contains "invariant_agent_self" "$out" "invariant reason"

# Replayable decisions: log a true record and a forged one.
"$deputy" log init log --origin deputy.test/agent-1 >/dev/null
"$deputy" gate explain --trust trust.env --pin @trust.pin --scope scope.env \
  --action disable.json --at $at --record >allow.record
"$deputy" gate explain --trust trust.env --pin @trust.pin --scope scope.env \
  --action self.json --at $at --record >deny.record
append() {
  "$deputy" log append log --key k/agent-1.key $insecure --actor agent-1 \
    --owner alice "$@" >/dev/null
}
append --kind gate.decision --task T-1 --action a-1 --payload @allow.record
append --kind gate.decision --task T-2 --action a-1 --payload @deny.record
expect 0 "decisions replay against the signed scope" -- "$deputy" log verify \
  log --trust trust.env --pin @trust.pin --scope scope.env
contains "decision-reproduces" "$out" "replay rule ran"
sed 's/"effect":"deny"/"effect":"allow"/' deny.record >forged.record
append --kind gate.decision --task T-2 --action a-2 --payload @forged.record
expect 1 "a forged allow is caught by replay" -- "$deputy" log verify log \
  --trust trust.env --pin @trust.pin --scope scope.env
contains "decision-reproduces" "$err" "replay failure rule"
contains "seq 2" "$err" "replay failure location"
expect 0 "the agent key from the trust root verifies integrity" -- \
  "$deputy" log verify log --trust trust.env --pin @trust.pin --integrity-only

# Revocation and approvals.
expect 0 "an owner revokes" -- "$deputy" scope revoke --agent agent-1 \
  --version 1 --reason "test" --key k/bob.key $insecure --out revoke.env
cat >grant.json <<'JSON'
{"target":"postgres","operation":"grant_role","resource":"app_reporting","subject":"dave","task":"T-3","requester":"carol.hr"}
JSON
expect 1 "approval required" -- "$deputy" gate explain --trust trust.env \
  --pin @trust.pin --scope scope.env --action grant.json --at $at
contains "needs_approval" "$out" "needs approval"
expect 0 "alice approves" -- "$deputy" approve --action grant.json \
  --key k/alice.key $insecure --out approval.env
expect 0 "alice's approval allows it" -- "$deputy" gate explain \
  --trust trust.env --pin @trust.pin --scope scope.env --action grant.json \
  --approval approval.env --at $at
contains "approved_by:alice" "$out" "approval reason"
expect 0 "mallory can sign an approval" -- "$deputy" approve \
  --action grant.json --key k/mallory.key $insecure --out m.env
expect 1 "the gate refuses a non-owner's approval" -- "$deputy" gate \
  explain --trust trust.env --pin @trust.pin --scope scope.env \
  --action grant.json --approval m.env --at $at

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
