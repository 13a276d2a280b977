#!/usr/bin/env bash
# `make bench`: every benchmark of benches/ on loopback, each figure beside its baseline measured
# in the same run; prints one markdown table at the end and writes it to build/bench/results.md
# (raw results: build/bench/results.jsonl, one JSON object per measurement).
#
# Builds in release (cargo build --release --workspace), compiles benches/c/*.c, makes a Python
# venv with `websockets` from PyPI (build/bench-venv), and starts every simulator it uses (each in
# its own process), stopping them at exit. About 5 minutes on 2 cores.
#
# The Python asyncio client last (benches/python/aio-bench.sh), with the original piwebasync
# beside it when PIWEBASYNC_ORIGINAL="CHECKOUT [DEPENDENCY_CHECKOUT...]" is given (see
# scripts/compare-piwebasync.sh).
#
# Knobs (environment): BENCH_REPS (3: throughput runs per figure; the median is reported),
# BENCH_SMALL_N (1000000), BENCH_LARGE_N (5000), BENCH_SCALE ("1 100 1000 5000"),
# BENCH_IDLE_S (4), BENCH_SUBSET_S (8: the subscription section's measured period),
# BENCH_QUICK=1 (fewer messages and repetitions: a smoke test), BENCH_ONLY="SECTION..." (only
# these of: throughput latency scale subset recovery parse aio).
set -uo pipefail
cd "$(dirname "$0")/.."

REPS=${BENCH_REPS:-3}
SMALL_N=${BENCH_SMALL_N:-1000000}
LARGE_N=${BENCH_LARGE_N:-5000}
SCALE=${BENCH_SCALE:-"1 100 1000 5000"}
IDLE_S=${BENCH_IDLE_S:-4}
SUBSET_S=${BENCH_SUBSET_S:-8}
LAT1K_N=10000; LAT10K_N=50000; PY_SMALL_N=200000; PY_LARGE_N=1500; PARSE_S=2
if [ -n "${BENCH_QUICK:-}" ]; then
    REPS=1; SMALL_N=200000; LARGE_N=1000; SCALE="1 100 1000"; IDLE_S=2
    LAT1K_N=2000; LAT10K_N=10000; PY_SMALL_N=50000; PY_LARGE_N=300; PARSE_S=0.5
fi

OUT=build/bench
RES=$OUT/results.jsonl
mkdir -p "$OUT"
: > "$RES"
log() { printf '\n== %s\n' "$*" >&2; }
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# Many sockets for the scale runs (client and simulator are separate processes, each needs
# one descriptor per channel): as high as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
need=$(( $(echo "$SCALE" | tr ' ' '\n' | sort -n | tail -1) + 200 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    echo "bench: open-file limit $(ulimit -n) is below $need; scale runs may fail" >&2
fi

log "build (release)"
cargo build --release --workspace || exit 1
LIB=$PWD/target/release
CFLAGS=(-std=c99 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -Iinclude)
for src in benches/c/*.c; do
    gcc "${CFLAGS[@]}" "$src" -o "$OUT/$(basename "$src" .c)" -L"$LIB" -Wl,-rpath,"$LIB" -lpiwebasync -lpthread || exit 1
done

log "python venv (websockets from PyPI)"
VENV=build/bench-venv
if ! "$VENV/bin/python" -c 'import websockets' 2>/dev/null; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check websockets || exit 1
fi
PY=$VENV/bin/python

# The simulator runs from a copy under its own name, so that a broad `pkill piwebasync-sim`
# elsewhere on a shared machine does not end it mid-run; ours are stopped by pid at exit.
cp target/release/piwebasync-sim "$OUT/pwabench-server" || exit 1
SIM_BIN=$OUT/pwabench-server
SIM_DIR=$OUT/sim
source scripts/sim-lib.sh
BENCH=target/release/pwa-bench

# run NAME CMD...: run once (bounded), tag its JSON line with "name", append to results.
run() {
    local name=$1; shift
    local line
    line=$(timeout 300 "$@" 2> "$OUT/last.err" | tail -1)
    if [[ "$line" != \{* ]]; then
        echo "bench: $name failed: $(tail -3 "$OUT/last.err")" >&2
        echo "{\"name\":\"$name\",\"failed\":true}" >> "$RES"
        return 1
    fi
    echo "{\"name\":\"$name\",${line#\{}" >> "$RES"
    echo "  $name: $line" >&2
}
adhoc_all() { awk '/^adhoc-all /{print $2; exit}' "$SIM_DIR/$1.out"; }

if want throughput; then
    log "throughput: small messages (1 stream x 1 value), prebuilt, $SMALL_N per connection"
    start_sim SMALL --points 1 --prebuilt 64 --close-after "$SMALL_N" || exit 1
    for r in $(seq 1 "$REPS"); do
        run small.frames "$BENCH" frames "$SMALL_STREAM" "$SMALL_N"
        run small.discard "$BENCH" discard "$SMALL_STREAM" "$SMALL_N"
        run small.value "$BENCH" value "$SMALL_STREAM" "$SMALL_N"
        run small.python "$PY" benches/python/ws_bench.py read "$SMALL_STREAM" "$PY_SMALL_N"
        for mode in poll-json poll-typed cb-json cb-typed; do
            run "small.$mode" "$OUT/bench_throughput" "$SMALL_STREAM" "$SMALL_N" "$mode" 1
        done
    done
    run capture.small "$BENCH" capture "$SMALL_STREAM" "$OUT/small.json"

    log "throughput: large messages (100 streams x 10 values), prebuilt, $LARGE_N per connection"
    start_sim LARGE --points 100 --values-per-stream 10 --prebuilt 8 --close-after "$LARGE_N" || exit 1
    LARGE_URL=$(adhoc_all LARGE)
    for r in $(seq 1 "$REPS"); do
        run large.frames "$BENCH" frames "$LARGE_URL" "$LARGE_N"
        run large.discard "$BENCH" discard "$LARGE_URL" "$LARGE_N"
        run large.value "$BENCH" value "$LARGE_URL" "$LARGE_N"
        run large.python "$PY" benches/python/ws_bench.py read "$LARGE_URL" "$PY_LARGE_N"
        for mode in poll-json poll-typed cb-json cb-typed; do
            run "large.$mode" "$OUT/bench_throughput" "$LARGE_URL" "$LARGE_N" "$mode" 1000
        done
    done
    run capture.large "$BENCH" capture "$LARGE_URL" "$OUT/large.json"
    stop_sims
fi

if want latency; then
    log "latency: paced, stamped at send"
    start_sim LAT1K --points 1 --rate 1000 || exit 1
    start_sim LAT10K --points 1 --rate 10000 || exit 1
    run lat1k.ours "$OUT/bench_latency" "$LAT1K_STREAM" "$LAT1K_N" 500
    run lat1k.bare "$BENCH" latency "$LAT1K_STREAM" "$LAT1K_N" 500
    run lat10k.ours "$OUT/bench_latency" "$LAT10K_STREAM" "$LAT10K_N" 5000
    run lat10k.bare "$BENCH" latency "$LAT10K_STREAM" "$LAT10K_N" 5000
    stop_sims
fi

if want scale; then
    log "scale: idle channels with heartbeats (interval 1 s, heartbeatRate=3: one every 3 s)"
    start_sim QUIET --points 1 --quiet --interval-ms 1000 || exit 1
    for n in $SCALE; do
        run "scale.ours.$n" "$OUT/bench_scale" "$QUIET_STREAM?heartbeatRate=3" "$n" "$IDLE_S"
        sleep 1
        run "scale.bare.$n" "$BENCH" scale "$QUIET_STREAM?heartbeatRate=3" "$n" "$IDLE_S"
        sleep 1
    done
    # Evidence for the memory figure: the same bare client with a 4 KiB WebSocket read buffer.
    n_max=$(echo "$SCALE" | tr ' ' '\n' | sort -n | tail -1)
    run "scale.bare4k.$n_max" env PWA_BENCH_READ_BUFFER=4096 "$BENCH" scale "$QUIET_STREAM?heartbeatRate=3" "$n_max" "$IDLE_S"
    stop_sims
fi

if want subset; then
    log "subscription sets: 20,000 points, one value per point per second (event mode)"
    start_sim SUBSET --points 20000 --stream-period-ms 1000 --web-ids-file "$OUT/web-ids-20k.txt" || exit 1
    SUBSET_HTTP=${SUBSET_BASE/#ws:/http:}
    for rep in $(seq 1 "$REPS"); do
        run subset.set "$BENCH" subset "$SUBSET_HTTP" "$OUT/web-ids-20k.txt" "$SUBSET_S" set
        sleep 1
        run subset.channels "$BENCH" subset "$SUBSET_HTTP" "$OUT/web-ids-20k.txt" "$SUBSET_S" channels
        sleep 1
    done
    stop_sims
fi

if want recovery; then
    log "recovery: simulator restart, reconnect; watchdog"
    start_sim REC --points 1 --interval-ms 20 || exit 1
    start_sim WD --points 1 --interval-ms 20 || exit 1
    run restart.fast "$OUT/bench_recovery" "$REC_STREAM?includeInitialValues=true" restart 500 5 0.1
    run restart.default "$OUT/bench_recovery" "$REC_STREAM?includeInitialValues=true" restart 1000 3 0.5
    run watchdog "$OUT/bench_recovery" "$WD_STREAM?includeInitialValues=true" watchdog 1 0.1
    stop_sims
fi

if want parse; then
    log "message parsing (no network)"
    for size in small large; do
        if [ -s "$OUT/$size.json" ]; then
            run "parse.$size.c" "$OUT/bench_parse" "$OUT/$size.json" "$PARSE_S"
            run "parse.$size.rust" "$BENCH" parse "$OUT/$size.json" "$PARSE_S"
            run "parse.$size.python" "$PY" benches/python/ws_bench.py parse "$OUT/$size.json" "$PARSE_S"
        fi
    done
fi

if want aio; then
    log "python asyncio client (piwebasync_c.aio; the original piwebasync beside it when PIWEBASYNC_ORIGINAL names its checkout)"
    if [ -n "${PIWEBASYNC_ORIGINAL:-}" ]; then
        # shellcheck disable=SC2086
        BENCH=only PIWEBASYNC_LIB=$LIB/libpiwebasync.so SIM_BIN=$SIM_BIN \
            scripts/compare-piwebasync.sh $PIWEBASYNC_ORIGINAL > /dev/null
    else
        PIWEBASYNC_LIB=$LIB/libpiwebasync.so SIM_BIN=$SIM_BIN benches/python/aio-bench.sh > /dev/null
    fi
fi

log "report"
python3 benches/report.py "$RES" > "$OUT/results.md" || exit 1
cat "$OUT/results.md"
if [ -s build/aio-bench/results.md ]; then
    printf '\nPython asyncio client (benches/python/aio-bench.sh; build/aio-bench/results.md):\n\n'
    cat build/aio-bench/results.md
fi
