#!/usr/bin/env bash
# Benchmark of the asyncio module (piwebasync_c.aio) against simulators in benchmark mode,
# and of the original piwebasync beside it in the same run when ORIG_PYTHON (an interpreter
# that imports it, with ORIG_PYTHONPATH) is set: scripts/compare-piwebasync.sh sets both
# (BENCH=1). Not part of `make test`; `make bench` runs it for our side. Prints a markdown
# table (also build/aio-bench/results.md; raw: build/aio-bench/results.jsonl).
# Knobs: PIWEBASYNC_LIB (default: the release library if built, else the debug one),
# BENCH_SECONDS (5: receiving time per throughput figure), CHANNELS (1000).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=build/aio-bench
mkdir -p "$OUT"
SIM_DIR=${SIM_DIR:-$OUT/sim}
if [ -z "${SIM_BIN:-}" ] && [ -x target/release/piwebasync-sim ]; then SIM_BIN=target/release/piwebasync-sim; fi
source scripts/sim-lib.sh
start_sim SMALL --prebuilt 64 --points 1 || exit 1
start_sim LARGE --prebuilt 16 --points 10 --values-per-stream 100 || exit 1
start_sim QUIET --quiet || exit 1
if [ -z "${PIWEBASYNC_LIB:-}" ]; then
    PIWEBASYNC_LIB=$PWD/target/release/libpiwebasync.so
    [ -e "$PIWEBASYNC_LIB" ] || PIWEBASYNC_LIB=$PWD/target/debug/libpiwebasync.so
fi
export PIWEBASYNC_LIB
ulimit -n 8192 2>/dev/null || true
RES=$OUT/results.jsonl
: > "$RES"
echo "aio-bench: library $PIWEBASYNC_LIB, simulator $SIM_BIN, ${BENCH_SECONDS:-5} s per figure" >&2
status=0
# each client on the same simulators, one after the other; the many-channels run in a fresh
# process (its RSS baseline is the interpreter with the client imported)
sides=("piwebasync_c.aio python3 $PWD/bindings/python")
[ -n "${ORIG_PYTHON:-}" ] && sides+=("piwebasync $ORIG_PYTHON ${ORIG_PYTHONPATH:-}")
for side in "${sides[@]}"; do
    read -r impl py pp <<< "$side"
    for run in "rates $SMALL_STREAM $LARGE_ADHOC" "many $QUIET_ADHOC ${CHANNELS:-1000}"; do
        # shellcheck disable=SC2086
        PIWEBASYNC_IMPL=$impl PYTHONPATH=$pp timeout 900 "$py" benches/python/aio_bench.py $run \
            >> "$RES" 2> "$OUT/last.err" || { echo "aio-bench: $impl ${run%% *} failed: $(tail -1 "$OUT/last.err")" >&2; status=1; }
        sleep 1
    done
done
for mode in poll callback shared; do  # where the asyncio client's memory per channel goes
    PIWEBASYNC_IMPL=piwebasync_c.aio PYTHONPATH=$PWD/bindings/python timeout 300 python3 \
        benches/python/aio_bench.py modes "$QUIET_ADHOC" "${CHANNELS:-1000}" "$mode" >> "$RES" \
        2> "$OUT/last.err" || { echo "aio-bench: modes $mode failed: $(tail -1 "$OUT/last.err")" >&2; status=1; }
    sleep 1
done
python3 - "$RES" > "$OUT/results.md" <<'PY' || status=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
impls = [i for i in ("piwebasync_c.aio", "piwebasync") if any(r["impl"] == i for r in rows)]
get = {(r["impl"], r["name"]): r for r in rows}
def cell(r):
    return f"{r['msg_per_s']:,.0f} msg/s, {r['cpu_us_per_msg']:,.0f} µs CPU/msg" if r else "-"
print("| messages | client | `recv()` only | `recv()` + `select(\"Items.Items.Timestamp\")` |")
print("|---|---|---|---|")
for size, label in (("small", "small (1 value)"), ("large", "large (1000 values)")):
    for i in impls:
        print(f"| {label} | {i} | {cell(get.get((i, size + '.recv')))} | {cell(get.get((i, size + '.select')))} |")
    s = get.get(("piwebasync_c.aio", size + ".sync"))
    if s:
        print(f"| {label} | piwebasync_c sync `Channel.poll` (typed values) | {cell(s)} | (values included) |")
print()
print("| channels in one event loop | client | opened in | open after 2 s | RSS per channel | process RSS before / with them | largest loop lag | closed in |")
print("|---|---|---|---|---|---|---|---|")
for i in impls:
    m = get.get((i, "many"))
    if m:
        print(f"| {m['channels']:,} | {i} | {m['open_s']:.2f} s | {m['open_after']:,} | "
              f"{m['rss_kib_per_channel']:.0f} KiB | {m['rss_mib_before']:.0f} / {m['rss_mib_total']:.0f} MiB | "
              f"{m['max_loop_lag_ms']:.1f} ms | {m['close_s']:.2f} s |")
p, c = get.get(("piwebasync_c.aio", "mode.poll")), get.get(("piwebasync_c.aio", "mode.callback"))
s = get.get(("piwebasync_c.aio", "mode.shared"))
if p and c and s:
    print()
    print(f"The same {p['channels']:,} channels with the synchronous binding: poll mode "
          f"{p['rss_kib_per_channel']:.0f} KiB RSS each ({p['threads_added']} threads added), "
          f"callback mode with a thread each (callback_thread=own) {c['rss_kib_per_channel']:.0f} KiB "
          f"each ({c['threads_added']:,} threads added), callback mode on the shared thread "
          f"(callback_thread=shared, as the asyncio client runs them) "
          f"{s['rss_kib_per_channel']:.0f} KiB each ({s['threads_added']} threads added).")
PY
cat "$OUT/results.md"
exit "$status"
