#!/usr/bin/env bash
# Run the tests of the Python ctypes binding (bindings/python/piwebasync_c) against simulators
# started here and stopped at exit. Assumes `cargo build --workspace` was run (debug build).
set -uo pipefail
cd "$(dirname "$0")/.."
SIM_DIR=${SIM_DIR:-build/sim-python}   # apart from the C tests' simulator files
source scripts/sim-lib.sh

lib=$PWD/target/debug/libpiwebasync.so
for f in "$lib" "$SIM_BIN"; do
    [ -e "$f" ] || { echo "test-python: $f is missing: run cargo build --workspace" >&2; exit 2; }
done

set -e
start_sim PWA_SIM --interval-ms 20                       # data flows quickly
start_sim PWA_SIM2 --interval-ms 20                      # the target of updates
start_sim PWA_SIMCLOSE --interval-ms 20 --close-after 5  # Close(1000) after 5 data messages
start_sim PWA_SIMAUTH --interval-ms 20 --user piuser --password 'pi-secret-pw'
start_sim PWA_SIMSTALL --interval-ms 20                  # stalled by tests (no close answer)
start_sim PWA_SIMFAULT --interval-ms 20                  # test_aio: reset and stalled
start_sim PWA_SIMDOG --interval-ms 20                    # test_aio: taken down (watchdog)
start_sim PWA_SIMARCHIVE --interval-ms 20 --archive      # gap fill: recorded history
start_sim PWA_SCEN --interval-ms 20                      # test_piwebasync_scenarios (faults)
start_sim PWA_SCEN2 --interval-ms 20                     # test_piwebasync_scenarios (faults)
start_sim PWA_SCENCLOSE --interval-ms 20 --close-after 5 # test_piwebasync_scenarios
start_sim PWA_SCENTLS --interval-ms 20 --tls-generate "$SIM_DIR/scentls" \
    --user piuser --password 'pi-secret-pw'              # test_piwebasync_scenarios (wss, Basic)
export PWA_SCENTLS_CA="$(cd "$SIM_DIR" && pwd)/scentls/ca.pem"
set +e

export PWA_REQUIRE_SIM=1   # a missing simulator variable fails a test instead of skipping it
export PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
PIWEBASYNC_LIB=$lib timeout 300 python3 -m unittest discover -s tests/python -v
status=$?
echo "test-python: exit status $status"
exit "$status"
