#!/usr/bin/env bash
# A DEPUTY_MODULE_RUNNER for the module benchmarks (bench/ldap_leavers.sh):
# runs one module request in deputy's sandbox with full isolation, through
# `deputy sandbox run`.
#   bench/sandbox_runner.sh DEPUTY MODULE <request 3<credential
# The target is DEPUTY_BENCH_HOST (the name the module is told, mapped
# inside the sandbox to the forwarder) on 127.0.0.1:DEPUTY_BENCH_PORT.
# Prints the module's response; the run's summary is discarded.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: sandbox_runner.sh DEPUTY MODULE" >&2; exit 2; }
exec "$1" sandbox run --module "$2" --host "${DEPUTY_BENCH_HOST:?}" \
  --address 127.0.0.1 --port "${DEPUTY_BENCH_PORT:?}" \
  --credential-file /dev/fd/3 --summary ""
