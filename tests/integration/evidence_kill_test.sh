#!/usr/bin/env bash
# Crash test of the evidence log writer: `deputy log append` is killed with
# SIGKILL at a random moment while it appends, then the next writer must
# open the log (cutting a torn final line, if the kill left one, and
# recording it as log.recovered) and the log must verify, having lost no
# complete entry. 20 rounds on one log, then one forced torn tail (a kill
# tears a line only if it lands inside write(), which is rare: see the
# count printed). Prints "N passed, M failed".
# Usage: evidence_kill_test.sh PATH_TO_DEPUTY
set -uo pipefail
deputy=$(realpath "$1")
[ -x "$deputy" ] || { echo "not executable: $1" >&2; exit 1; }
work=$(mktemp -d /tmp/deputy-kill-XXXXXX)
writer_pid=""
cleanup() {
  # Only the writer this script started, by its PID.
  if [ -n "$writer_pid" ] && kill -0 "$writer_pid" 2>/dev/null; then
    kill -9 "$writer_pid" 2>/dev/null
    wait "$writer_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1
umask 077

rounds=20
passed=0
failed=0
recovered=0
log="$work/log"
key="$work/keys/agent.key"
pub="$work/keys/agent.pub"
common=(--key "$key" --insecure-unencrypted-key --actor agent-1
        --owner alice)

"$deputy" keys gen --name agent --out keys --insecure-unencrypted-key \
  >/dev/null || { echo "FAIL: keys gen"; exit 1; }
"$deputy" log init "$log" --origin deputy.example.org/agent-1 >/dev/null ||
  { echo "FAIL: log init"; exit 1; }

# last_line_but N: the Nth line from the end of the log (1 = the last).
last_line_but() {
  local files
  files=$(find "$log/segments" -name '*.log' | sort | tail -n "$1")
  # shellcheck disable=SC2086
  tail -q -n "$1" $files | tail -n "$1" | head -n 1
}
# verified_entries: verifies the log, prints its entry count.
verified_entries() {
  "$deputy" log verify "$log" --trust "$pub" --integrity-only \
    >"$work/verify.out" 2>"$work/verify.err" || return 1
  grep -o 'valid: [0-9]* entries' "$work/verify.out" | grep -o '[0-9]*'
}

start=$SECONDS
entries=0
for round in $(seq 1 "$rounds"); do
  # A writer with far more to append than it has time for.
  "$deputy" log append "$log" "${common[@]}" --kind test.flood \
    --payload "{\"round\":$round,\"filler\":\"kill -9 at a random moment\"}" \
    --count 200000 >/dev/null 2>"$work/writer.err" &
  writer_pid=$!
  delay_ms=$((10 + RANDOM % 291))
  sleep "$(printf '0.%03d' "$delay_ms")"
  if kill -0 "$writer_pid" 2>/dev/null; then
    kill -9 "$writer_pid"
    wait "$writer_pid" 2>/dev/null
    how="killed after ${delay_ms} ms"
  else
    wait "$writer_pid"
    how="finished before the kill (exit $?)"
  fi
  writer_pid=""

  problems=()
  # The next writer opens the log: it verifies what is there and cuts a
  # torn final line.
  if ! "$deputy" log append "$log" "${common[@]}" --kind operator.note \
      --payload "{\"round\":$round,\"after\":\"kill\"}" \
      >"$work/append.out" 2>"$work/append.err"; then
    problems+=("recovering append failed: $(cat "$work/append.err")")
  fi
  state="clean"
  if grep -q "recovered" "$work/append.err"; then
    state="recovered ($(grep -o 'cut [0-9]* bytes' "$work/append.err"))"
    recovered=$((recovered + 1))
    # The cut is in the log itself, just before this round's note.
    if ! last_line_but 2 | grep -q '"kind":"log.recovered"'; then
      problems+=("no log.recovered entry before the recovering append")
    fi
  fi
  before=$entries
  if ! entries=$(verified_entries); then
    problems+=("verify failed: $(cat "$work/verify.out" "$work/verify.err")")
    entries=$before
  elif [ "$entries" -le "$before" ]; then
    # At least this round's note was added; no complete line was cut.
    problems+=("the log shrank or did not grow: $before -> $entries entries")
  fi
  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    echo "round $round: ok: writer $how; $state; $entries entries"
  else
    failed=$((failed + 1))
    echo "round $round: FAIL: writer $how; $state"
    printf '  %s\n' "${problems[@]}"
  fi
done
echo "$recovered of $rounds rounds needed recovery (a torn final line)"

# What a kill inside write() leaves: the start of an entry without its end.
problems=()
last_segment=$(find "$log/segments" -name '*.log' | sort | tail -n 1)
last_line=$(last_line_but 1)
printf '%s' "${last_line:0:37}" >>"$last_segment"
if "$deputy" log verify "$log" --trust "$pub" --integrity-only \
    >/dev/null 2>"$work/verify.err" ||
    ! grep -q "torn-line" "$work/verify.err"; then
  problems+=("verify accepted a torn final line: $(cat "$work/verify.err")")
fi
if ! "$deputy" log append "$log" "${common[@]}" --kind operator.note \
    >/dev/null 2>"$work/append.err"; then
  problems+=("recovering append failed: $(cat "$work/append.err")")
elif ! grep -q "recovered: cut 37 bytes" "$work/append.err"; then
  problems+=("no recovery reported: $(cat "$work/append.err")")
fi
if ! last_line_but 2 | grep -q '"kind":"log.recovered".*"cut_bytes":37'; then
  problems+=("no log.recovered entry naming the 37 cut bytes")
fi
before=$entries
if ! entries=$(verified_entries); then
  problems+=("verify failed: $(cat "$work/verify.out" "$work/verify.err")")
elif [ "$entries" -ne $((before + 2)) ]; then
  problems+=("expected $((before + 2)) entries, found $entries")
fi
if [ ${#problems[@]} -eq 0 ]; then
  passed=$((passed + 1))
  echo "forced torn tail: ok: cut 37 bytes, recorded, $entries entries"
else
  failed=$((failed + 1))
  echo "forced torn tail: FAIL"
  printf '  %s\n' "${problems[@]}"
fi

echo "$passed passed, $failed failed ($rounds kill rounds and one forced" \
  "torn tail, $((SECONDS - start)) s)"
[ "$failed" -eq 0 ]
