#!/usr/bin/env bash
# Verification throughput and memory of `deputy log verify` on a generated
# log, beside sha256sum over the same segment files, in one run, pinned to
# one core. Usage: bench/evidence_verify.sh [ENTRIES] [BUILD_DIR]
# (defaults 1000000 and build/release). Needs ~0.5 GB of disk per 1M
# entries under $BENCH_DIR (default: a temporary directory in /var/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
entries=${1:-1000000}
build=${2:-build/release}
[ -x "$build/bench/evidence_append_bench" ] && [ -x "$build/agent/deputy" ] ||
  scripts/build release --target deputy evidence_append_bench >/dev/null
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/deputy-verify-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bench/evidence_append_bench" "$work/log" generate 1 "$entries" 300 \
  >/dev/null
bytes=$(cat "$work"/log/segments/*.log | wc -c)
deputy=$build/agent/deputy
# Warm the page cache so every contender reads from memory.
cat "$work"/log/segments/*.log >/dev/null

measure() {  # prints "seconds max_rss_kb"
  /usr/bin/time -f '%e %M' -o "$work/time" taskset -c 0 "$@" >/dev/null
  cat "$work/time"
}
read -r sha_s _ < <(measure sha256sum "$work"/log/segments/*.log)
read -r int_s int_kb < <(measure "$deputy" log verify "$work/log" \
  --trust "$work/log.pub" --integrity-only)
read -r full_s full_kb < <(measure "$deputy" log verify "$work/log" \
  --trust "$work/log.pub")

awk -v n="$entries" -v b="$bytes" -v sha="$sha_s" -v i="$int_s" \
    -v ik="$int_kb" -v f="$full_s" -v fk="$full_kb" 'BEGIN {
  printf "log: %d entries, %.0f MB (%.0f bytes/entry)\n", n, b/1e6, b/n
  printf "%-42s %8.2f s %10.0f entries/s %7.0f MB/s\n", "sha256sum (coreutils), one core", sha, n/sha, b/sha/1e6
  printf "%-42s %8.2f s %10.0f entries/s %7.0f MB/s  RSS %.1f MB\n", "deputy log verify --integrity-only", i, n/i, b/i/1e6, ik/1024
  printf "%-42s %8.2f s %10.0f entries/s %7.0f MB/s  RSS %.1f MB\n", "deputy log verify (with semantic rules)", f, n/f, b/f/1e6, fk/1024
  printf "integrity verify / sha256sum throughput: %.2f\n", sha/i
}'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
