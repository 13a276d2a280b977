#!/usr/bin/env bash
# Run the C tests (given as arguments) against simulators started here, stopped at exit.
# Prints a closing line "N passed, N failed" and fails if any test failed.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/sim-lib.sh
set -e
start_sim SIM --interval-ms 20                 # data flows quickly
start_sim QUIET --quiet --interval-ms 50       # no data: initial values and heartbeats only
start_sim AUTH --user piuser --password 'pi-secret-pw' --interval-ms 50
set +e
passed=0; failed=0
for t in "$@"; do
    echo "=== $t"
    if timeout 300 "$t"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $t"
        failed=$((failed + 1))
    fi
done
echo "c-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
