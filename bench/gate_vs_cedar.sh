#!/usr/bin/env bash
# deputy's policy gate beside Cedar's own engine (@cedar-policy/cedar-wasm
# from npm, run by Node.js) in one run, on the same generated policy set
# (100 grants, 1,000 forbids) and the same 4,096-request stream: prints
# deputy's p50/p99 per decision, Cedar's median per decision, the ratio,
# and "decisions agree: N/N". Exits non-zero if any decision differs.
# Needs node and npm, so it is a bench script, not part of scripts/test.
# Usage: bench/gate_vs_cedar.sh [BUILD_DIR [OUT_DIR]]
#   BUILD_DIR  default build/release (built with scripts/build release)
#   OUT_DIR    keep the generated inputs there (default: a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
if [ "$build" = build/release ]; then
  scripts/build release --target gate_compare >/dev/null
else
  cmake --build "$build" --target gate_compare >/dev/null
fi
(cd bench/cedar && npm ci --silent --no-audit --no-fund)

if [ -n "${2:-}" ]; then
  out=$2
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
"$build/bench/gate_compare" "$out" >/dev/null
node bench/cedar/run.mjs "$out"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo |
  cut -d: -f2 | sed 's/^ //'), node $(node --version)"
