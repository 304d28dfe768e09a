#!/usr/bin/env bash
# Fail-closed on a full disk, with a real filesystem: the evidence log lives
# on a 256 KiB tmpfs; appends run until the disk fills. The append that
# hits ENOSPC must fail (exit 1, "No space left") quickly, nothing after
# the failure may claim durability, and the log on disk must still verify.
# Needs root (mount); fails loudly otherwise.
# Usage: evidence_enospc_test.sh PATH_TO_DEPUTY
set -uo pipefail
deputy=$(realpath "$1")
[ -x "$deputy" ] || { echo "not executable: $1" >&2; exit 1; }
work=$(mktemp -d /tmp/deputy-enospc-XXXXXX)
mnt=$work/tiny
mkdir -p "$mnt"
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=256k,mode=0700 deputy-tiny "$mnt"; then
  echo "FAIL: cannot mount a tmpfs (this test needs root)"
  echo "0 passed, 1 failed"
  exit 1
fi
failures=0
checks=0
check() {
  checks=$((checks + 1))
  if ! eval "$1"; then
    echo "FAIL: $2"
    failures=$((failures + 1))
  fi
}
cd "$work"
umask 077
"$deputy" keys gen --name agent-1 --out keys --insecure-unencrypted-key >/dev/null
"$deputy" log init "$mnt/log" --origin deputy.test/agent-1 >/dev/null
payload="{\"note\":\"$(head -c 3000 /dev/zero | tr '\0' x)\"}"
ok=0
fail_rc=0
fail_msg=
for i in $(seq 1 500); do
  start=$(date +%s%N)
  if out=$("$deputy" log append "$mnt/log" --key keys/agent-1.key \
      --insecure-unencrypted-key --kind operator.note --actor agent-1 \
      --owner alice --payload "$payload" 2>&1); then
    ok=$((ok + 1))
  else
    fail_rc=$?
    fail_msg=$out
    took_ms=$((($(date +%s%N) - start) / 1000000))
    break
  fi
done
echo "appended $ok entries before the disk filled; then: $fail_msg"
check '[ "$fail_rc" = 1 ]' "the append on a full disk must exit 1 (got $fail_rc)"
check '[[ "$fail_msg" == *"No space left"* ]]' "the error must name ENOSPC"
check '[ "${took_ms:-99999}" -lt 2000 ]' "the failing command took ${took_ms:-?} ms"
# What is on disk is still a valid log: the part of the failed batch that
# landed was taken back, so no entry after the failure exists.
check '"$deputy" log verify "$mnt/log" --trust keys/agent-1.pub \
  --integrity-only' "the log must verify after the failure"
# Once space is freed, the agent opens the log again and carries on.
mount -o remount,size=1m "$mnt"
check '"$deputy" log append "$mnt/log" --key keys/agent-1.key \
  --insecure-unencrypted-key --kind operator.note --actor agent-1 \
  --owner alice --checkpoint >/dev/null' "append after freeing space"
check '"$deputy" log verify "$mnt/log" --trust keys/agent-1.pub \
  --integrity-only' "the log must verify after recovery"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
