#!/usr/bin/env bash
# End-to-end test of the deputy binary's keys, sign and verify commands:
# every documented exit code and every bad input the foundation issue names.
# Usage: cli_keys_test.sh PATH_TO_DEPUTY
set -uo pipefail
deputy=$(realpath "$1")
[ -x "$deputy" ] || { echo "not executable: $1" >&2; exit 1; }
work=$(mktemp -d /tmp/deputy-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
umask 077
failures=0
checks=0

# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code,
# keeps stdout in $out and stderr in $err.
expect() {
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
# contains TEXT HAYSTACK DESCRIPTION
contains() {
  checks=$((checks + 1))
  if [[ "$2" != *"$1"* ]]; then
    echo "FAIL: $3: output lacks \"$1\": $2"
    failures=$((failures + 1))
  fi
}

printf 'correct horse battery\n' >pass
printf 'wrong horse\n' >wrong
printf '{"grant":"ldap-read"}\n' >doc.json

expect 0 "help" -- "$deputy" --help
contains "Exit codes" "$out" "help text"
for sub in "keys" "keys gen" "keys show" "sign" "verify"; do
  # shellcheck disable=SC2086
  expect 0 "$sub --help" -- "$deputy" $sub --help
  contains "Usage" "$out" "$sub --help"
done
expect 2 "no subcommand" -- "$deputy"
expect 2 "unknown subcommand" -- "$deputy" frobnicate
expect 2 "gen without passphrase source" -- \
  "$deputy" keys gen --name alice --out k
contains "passphrase is required" "$err" "gen without passphrase"

expect 0 "gen alice" -- "$deputy" keys gen --name alice --out k \
  --passphrase-file pass --kdf interactive
expect 0 "gen bob" -- "$deputy" keys gen --name bob --out k \
  --passphrase-file pass --kdf interactive
[ "$(stat -c %a k/alice.key)" = 600 ] ||
  { echo "FAIL: private key mode $(stat -c %a k/alice.key)"; failures=$((failures + 1)); }
grep -q "correct horse" k/alice.key &&
  { echo "FAIL: passphrase in key file"; failures=$((failures + 1)); }
expect 1 "gen refuses to overwrite" -- "$deputy" keys gen --name alice \
  --out k --passphrase-file pass --kdf interactive
contains "exists" "$err" "overwrite refusal"
expect 1 "bad key name" -- "$deputy" keys gen --name ../x --out k \
  --passphrase-file pass

expect 0 "show public" -- "$deputy" keys show k/alice.pub
contains "key id:" "$out" "show public"
expect 0 "show private, no passphrase needed" -- "$deputy" keys show k/alice.key
contains "argon2id13" "$out" "show private"

expect 0 "sign" -- "$deputy" sign --key k/alice.key --passphrase-file pass \
  --type application/vnd.deputy.test+json doc.json
printf '%s\n' "$out" >env.json
expect 0 "verify valid" -- "$deputy" verify --pub k/alice.pub env.json
contains "signed by alice" "$out" "verify output"
expect 0 "verify with type" -- "$deputy" verify --pub k/alice.pub \
  --type application/vnd.deputy.test+json --payload-out - env.json
contains '"grant":"ldap-read"' "$out" "payload out"

expect 1 "wrong passphrase" -- "$deputy" sign --key k/alice.key \
  --passphrase-file wrong --type t doc.json
contains "wrong passphrase" "$err" "wrong passphrase message"
printf 'correct horse battery\n' >loose && chmod 644 loose
expect 1 "world-readable passphrase file" -- "$deputy" sign --key k/alice.key \
  --passphrase-file loose --type t doc.json
contains "chmod 600" "$err" "loose passphrase file"
expect 0 "passphrase from a descriptor" -- "$deputy" sign --key k/alice.key \
  --passphrase-fd 3 --type t doc.json 3<pass

head -c 100 k/alice.key >trunc.key
expect 1 "truncated key file" -- "$deputy" sign --key trunc.key \
  --passphrase-file pass --type t doc.json
contains "byte" "$err" "truncated key message"
sed 's/"ciphertext": "./"ciphertext": "A/' k/alice.key >corrupt.key
cmp -s corrupt.key k/alice.key && sed -i 's/"ciphertext": "A/"ciphertext": "B/' corrupt.key
expect 1 "corrupted key file" -- "$deputy" sign --key corrupt.key \
  --passphrase-file pass --type t doc.json

expect 1 "signature by another key" -- "$deputy" verify --pub k/bob.pub env.json
contains "no signature by a trusted key" "$err" "other key"
expect 1 "different payloadType" -- "$deputy" verify --pub k/alice.pub \
  --type application/vnd.deputy.scope+json env.json
contains "payloadType" "$err" "type mismatch"
sed 's/"payload":"[^"]*"/"payload":"eyJncmFudCI6ImFkbWluIn0K"/' env.json >tampered.json
expect 1 "tampered payload" -- "$deputy" verify --pub k/alice.pub tampered.json
contains "does not verify" "$err" "tampered"
sed 's/^{/{"payloadType":"x",/' env.json >dup.json
expect 1 "duplicate JSON key" -- "$deputy" verify --pub k/alice.pub dup.json
contains "duplicate key" "$err" "duplicate"
head -c 2000000 /dev/zero | tr '\0' ' ' >huge.json
expect 1 "oversized envelope" -- "$deputy" verify --pub k/alice.pub huge.json
contains "limit" "$err" "oversized"
expect 2 "verify without --pub" -- "$deputy" verify env.json
expect 1 "missing envelope file" -- "$deputy" verify --pub k/alice.pub nope.json

expect 0 "cosign" -- "$deputy" sign --cosign --key k/bob.key \
  --passphrase-file pass env.json
printf '%s\n' "$out" >cosigned.json
expect 0 "verify cosigned with both keys" -- "$deputy" verify \
  --pub k/alice.pub --pub k/bob.pub cosigned.json
contains "alice" "$out" "cosigned alice"
contains "bob" "$out" "cosigned bob"

expect 0 "gen unencrypted with the insecure flag" -- "$deputy" keys gen \
  --name test --out k --insecure-unencrypted-key
expect 1 "unencrypted key refused without the flag" -- "$deputy" sign \
  --key k/test.key --passphrase-file pass --type t doc.json
contains "insecure-unencrypted-key" "$err" "unencrypted refusal"
expect 0 "unencrypted key accepted with the flag" -- "$deputy" sign \
  --key k/test.key --insecure-unencrypted-key --type t doc.json

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
