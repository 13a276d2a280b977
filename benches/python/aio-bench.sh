#!/usr/bin/env bash
# Benchmark of the asyncio module (piwebasync_c.aio) against simulators in benchmark mode.
# Not part of `make test`. Assumes `cargo build --workspace` (debug library) unless
# PIWEBASYNC_LIB points at another build (e.g. target/release/libpiwebasync.so).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIM_DIR=${SIM_DIR:-build/sim-aio-bench}
source scripts/sim-lib.sh
start_sim SMALL --prebuilt 64 --points 1
start_sim LARGE --prebuilt 16 --points 10 --values-per-stream 100
start_sim QUIET --quiet
export PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export PIWEBASYNC_LIB=${PIWEBASYNC_LIB:-$PWD/target/debug/libpiwebasync.so}
ulimit -n 8192 2>/dev/null || true
echo "library: $PIWEBASYNC_LIB"
timeout 900 python3 benches/python/aio_bench.py "$SMALL_STREAM" "$LARGE_ADHOC" "$QUIET_ADHOC" "${CHANNELS:-1000}"
