#!/usr/bin/env bash
# Measures deputy's keys library beside `openssl speed` in one run on this
# machine and prints the ratios (deputy / openssl; above 1.0 is faster).
# Usage: bench/keys_vs_openssl.sh [BUILD_DIR]   (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
[ -x "$build/bench/bench_keys" ] || scripts/build release --target bench_keys
seconds=${BENCH_SECONDS:-3}

csv=$("$build/bench/bench_keys" --benchmark_format=csv \
  --benchmark_min_time="$seconds" 2>/dev/null)
# Columns: name,iterations,real_time,cpu_time,time_unit,bytes_per_second,
# items_per_second,...
field() { awk -F, -v n="\"$1\"" '$1==n {print $'"$2"'}' <<<"$csv"; }
sign=$(field BM_Ed25519Sign/64 7)
verify=$(field BM_Ed25519Verify/64 7)
sha=$(field BM_Sha256/16384 6)
sha300=$(field BM_Sha256/300 6)
dsse=$(field BM_DsseParseAndVerify 7)

ossl_ed=$(openssl speed -seconds "$seconds" ed25519 2>/dev/null |
  awk '/Ed25519/ {print $(NF-1), $NF}')
ossl_sign=${ossl_ed% *}
ossl_verify=${ossl_ed#* }
ossl_sha=$(openssl speed -seconds "$seconds" -bytes 16384 -evp sha256 \
  2>/dev/null | awk '/^sha256/ {sub("k","",$2); print $2 * 1000}')

awk -v s="$sign" -v v="$verify" -v h="$sha" -v h3="$sha300" -v d="$dsse" \
    -v os="$ossl_sign" -v ov="$ossl_verify" -v oh="$ossl_sha" 'BEGIN {
  printf "%-34s %14s %14s %7s\n", "measure", "deputy", "openssl", "ratio"
  printf "%-34s %12.0f/s %12.0f/s %7.2f\n", "Ed25519 sign (64 B)", s, os, s/os
  printf "%-34s %12.0f/s %12.0f/s %7.2f\n", "Ed25519 verify (64 B)", v, ov, v/ov
  printf "%-34s %10.0f MB/s %10.0f MB/s %7.2f\n", "SHA-256 (16 KiB blocks)", h/1e6, oh/1e6, h/oh
  printf "%-34s %10.0f MB/s %14s\n", "SHA-256 (300 B, one call each)", h3/1e6, "-"
  printf "%-34s %12.0f/s %14s\n", "DSSE parse+verify (4 KiB payload)", d, "-"
}'
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(openssl version)"
