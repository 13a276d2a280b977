# Sourced by the demo and test scripts: start simulators, read their URLs, stop them on exit.
# start_sim PREFIX [sim args...] starts one and sets ${PREFIX}_BASE, ${PREFIX}_STREAM,
# ${PREFIX}_STREAMSET and ${PREFIX}_ADHOC from the lines it prints.

SIM_BIN=${SIM_BIN:-target/debug/piwebasync-sim}
SIM_DIR=${SIM_DIR:-build/sim}
SIM_PIDS=()

stop_sims() {
    for pid in "${SIM_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${SIM_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    SIM_PIDS=()
}
trap stop_sims EXIT

start_sim() {
    local prefix=$1; shift
    mkdir -p "$SIM_DIR"
    local out="$SIM_DIR/$prefix.out"
    : > "$out"
    "$SIM_BIN" --bind 127.0.0.1:0 "$@" > "$out" 2> "$SIM_DIR/$prefix.err" < /dev/null &
    SIM_PIDS+=($!)
    local i
    for i in $(seq 1 300); do
        grep -q '^adhoc ' "$out" 2>/dev/null && break
        if ! kill -0 "${SIM_PIDS[-1]}" 2>/dev/null; then
            echo "simulator $prefix exited:" >&2; cat "$SIM_DIR/$prefix.err" >&2; return 1
        fi
        sleep 0.1
    done
    grep -q '^adhoc ' "$out" || { echo "simulator $prefix did not start within 30 s" >&2; return 1; }
    printf -v "${prefix}_BASE" '%s' "$(awk '/^listening /{print $2; exit}' "$out")"
    printf -v "${prefix}_STREAM" '%s' "$(awk '/^stream /{print $2; exit}' "$out")"
    printf -v "${prefix}_STREAMSET" '%s' "$(awk '/^streamset /{print $2; exit}' "$out")"
    printf -v "${prefix}_ADHOC" '%s' "$(awk '/^adhoc /{print $2; exit}' "$out")"
    export "${prefix}_BASE" "${prefix}_STREAM" "${prefix}_STREAMSET" "${prefix}_ADHOC"
}
