#!/usr/bin/env bash
# Run piwebasync's websocket scenarios (tests/python/test_piwebasync_scenarios.py) and the
# seed guide's examples (tests/python/test_seed_examples.py) against the ORIGINAL piwebasync
# and against piwebasync_c.aio, each against its own fresh simulators, then (with BENCH=1)
# the asyncio benchmark with the original beside ours. A manual run, not part of `make test`:
# CI has no copy of the original. Exits non-zero when our side fails (or nothing could run);
# the original's result is printed beside ours.
#
#   scripts/compare-piwebasync.sh ORIGINAL_CHECKOUT [DEPENDENCY_CHECKOUT...]
#
# ORIGINAL_CHECKOUT: a checkout of github.com/newvicx/piwebasync (the directory holding the
# `piwebasync` package). It is used in place (on PYTHONPATH), not built or installed. Its
# dependencies from PyPI go into a venv (build/orig-venv): websockets 10.x (the legacy client
# it is written for), httpx 0.22, pydantic 1.x, orjson, and ws-auth / httpx-extensions when
# the registry has them; when it does not, give their checkouts (newvicx/ws_auth,
# newvicx/httpx_extensions) as DEPENDENCY_CHECKOUTs: they go on PYTHONPATH too.
# Assumes `cargo build --workspace` (debug build). BENCH=1 also runs benches/python/aio-bench.sh
# with the original beside ours (its knobs: BENCH_SECONDS, CHANNELS, PIWEBASYNC_LIB, SIM_BIN);
# BENCH=only runs just that (`make bench PIWEBASYNC_ORIGINAL="CHECKOUT..."` does).
set -uo pipefail
cd "$(dirname "$0")/.."

orig=${1:-}
if [ -z "$orig" ] || [ ! -f "$orig/piwebasync/websockets/client.py" ]; then
    echo "compare-piwebasync: give the path of a piwebasync checkout (the directory holding piwebasync/websockets/client.py) as the first argument" >&2
    exit 2
fi
shift
orig_path=$(cd "$orig" && pwd)
for d in "$@"; do
    [ -d "$d" ] || { echo "compare-piwebasync: $d is not a directory" >&2; exit 2; }
    orig_path="$orig_path:$(cd "$d" && pwd)"
done

VENV=${ORIG_VENV:-build/orig-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || exit 1
fi
if ! "$VENV/bin/python" -c 'import websockets, httpx, pydantic, orjson' 2>/dev/null; then
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        'websockets>=10.1,<11' 'httpx==0.22.0' 'pydantic>=1.9,<2' 'orjson>=3.6' || exit 1
fi
for dep in ws_auth:ws-auth httpx_extensions:httpx-extensions; do
    if ! PYTHONPATH=$orig_path "$VENV/bin/python" -c "import ${dep%%:*}" 2>/dev/null; then
        "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps "${dep##*:}" 2>/dev/null || true
    fi
done
if ! err=$(PYTHONPATH=$orig_path "$VENV/bin/python" -c 'import piwebasync' 2>&1); then
    echo "compare-piwebasync: the original does not import: $(echo "$err" | tail -1) (give the checkouts of its missing dependencies as further arguments)" >&2
    exit 2
fi
ORIG_PY=$(cd "$VENV/bin" && pwd)/python

lib=$PWD/target/debug/libpiwebasync.so
SIM_DIR=build/sim-compare
source scripts/sim-lib.sh
if [ "${BENCH:-}" != only ]; then
    for f in "$lib" "$SIM_BIN"; do
        [ -e "$f" ] || { echo "compare-piwebasync: $f is missing: run cargo build --workspace" >&2; exit 2; }
    done
fi

run_side() {  # run_side IMPL PYTHON PYTHONPATH
    local impl=$1 py=$2 pp=$3
    start_sim PWA_SIM --interval-ms 20 || return 1
    start_sim PWA_SCEN --interval-ms 20 || return 1
    start_sim PWA_SCEN2 --interval-ms 20 || return 1
    start_sim PWA_SCENCLOSE --interval-ms 20 --close-after 5 || return 1
    start_sim PWA_SCENTLS --interval-ms 20 --tls-generate "$SIM_DIR/scentls" \
        --user piuser --password 'pi-secret-pw' || return 1
    export PWA_SCENTLS_CA="$(cd "$SIM_DIR" && pwd)/scentls/ca.pem"
    echo "== $impl ($py)" >&2
    PIWEBASYNC_IMPL=$impl PYTHONPATH=$pp PIWEBASYNC_LIB=$lib PWA_REQUIRE_SIM=1 \
        timeout 300 "$py" -m unittest discover -v -s tests/python -p 'test_[ps]*.py' 2>&1 \
        | tee "build/compare-$impl.log"
    local status=${PIPESTATUS[0]}
    stop_sims
    return "$status"
}

mkdir -p build
status=0
if [ "${BENCH:-}" != only ]; then
    # The original's result is reported, not judged: its receivers sometimes die of an
    # AttributeError when the channel closes under them (a race of its own; README).
    run_side piwebasync "$ORIG_PY" "$orig_path" || true
    run_side piwebasync_c.aio python3 "$PWD/bindings/python" || status=1
    echo
    echo "compare-piwebasync: results (expected failure = a documented difference of the original):"
    for impl in piwebasync piwebasync_c.aio; do
        printf '  %-18s %s\n' "$impl" "$(grep -E '^(OK|FAILED)' "build/compare-$impl.log" | tail -1)"
    done
fi
if [ -n "${BENCH:-}" ]; then
    ORIG_PYTHON=$ORIG_PY ORIG_PYTHONPATH=$orig_path benches/python/aio-bench.sh || status=1
fi
exit "$status"
