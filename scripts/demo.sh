#!/usr/bin/env bash
# make demo: start the simulator on a free local port, stream from it with examples-c/stream.c
# for a few seconds, stop everything started here.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sim-lib.sh
start_sim SIM --interval-ms 250
echo "simulator listening at $SIM_BASE"
echo "--- stream channel, with initial values"
build/stream "$SIM_STREAM?includeInitialValues=true" -n 8
echo "--- ad hoc stream-set channel (several PI points in one channel)"
build/stream "$SIM_ADHOC" -n 8
echo "--- demo done; simulator stopped"
