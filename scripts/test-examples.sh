#!/usr/bin/env bash
# Build examples-c/update.c and examples-c/watchdog.c and run them against simulators started
# here (stopped at exit): an update between two simulators, a failed update (rolled back and
# not), a server that goes away for good (watchdog timeout) and one that comes back in time.
# Assumes `cargo build --workspace` has been run. Every check runs natively, then again under
# valgrind memcheck when it is installed (PWA_NO_VALGRIND=1 skips that).
# Prints "=== name" and PASS / FAILED per check, then "examples: N passed, M failed",
# and fails if any check failed.
# For Windows builds run under Wine (scripts/test-windows.sh): PWA_RUN is a command that runs
# each program (e.g. scripts/wine-run.sh), PWA_BIN the folder of the already built programs
# (then nothing is built here and valgrind is not used), PWA_EXE their file suffix (.exe).
set -uo pipefail
cd "$(dirname "$0")/.."
# PWA_SANITIZER=address|thread (scripts/sanitize.sh sets it, with PWA_BUILD_DIR, PWA_LIB_DIR,
# PWA_SAN_CFLAGS and PWA_SAN_LDFLAGS): the examples are built with that sanitizer against the
# sanitizer build of the library, and every check runs once that way (no valgrind, no plain
# run).
SAN=${PWA_SANITIZER:-}
BIN_DIR=${PWA_BUILD_DIR:-build} # where the examples are built
LIB=${PWA_LIB_DIR:-$PWD/target/debug} # the library they link
SIM_DIR=${SIM_DIR:-build/sim-examples${SAN:+-$SAN}} # sims' output and the examples' output go here
source scripts/sim-lib.sh

passed=0; failed=0
check() { # check NAME FUNCTION [ARGS...]: the function returns 0 on success
    local name=$1; shift
    echo "=== $name"
    if "$@"; then
        echo "PASS"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; failed=$((failed + 1))
    fi
}
fail() { # fail REASON OUTPUT_FILE: say why, show the output (and OUTPUT_FILE.err), return 1
    echo "  $1; output:"; sed 's/^/  | /' "$2" | tail -n 40
    [ -s "$2.err" ] && { echo "  stderr:"; sed 's/^/  | /' "$2.err" | tail -n 40; }
    return 1
}

# --- build
build_examples() {
    mkdir -p "$BIN_DIR"
    local ex
    for ex in update watchdog; do
        # shellcheck disable=SC2086 # PWA_SAN_CFLAGS and PWA_SAN_LDFLAGS are lists of flags
        gcc -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -g ${PWA_SAN_CFLAGS:-} -Iinclude \
            -c "examples-c/$ex.c" -o "$BIN_DIR/$ex.o" || return 1
        # shellcheck disable=SC2086
        gcc "$BIN_DIR/$ex.o" -o "$BIN_DIR/$ex" ${PWA_SAN_LDFLAGS:-} \
            -L"$LIB" -Wl,-rpath,"$LIB" -lpiwebasync -lpthread || return 1
    done
}
runner=(); [ -n "${PWA_RUN:-}" ] && runner=($PWA_RUN)
BIN=${PWA_BIN:-$BIN_DIR}; EXE=${PWA_EXE:-}
[ -n "${PWA_BIN:-}" ] || check "build examples-c/update.c and examples-c/watchdog.c" build_examples
if [ "$failed" -ne 0 ]; then
    echo "examples${SAN:+ ($SAN sanitizer)}: $passed passed, $failed failed"; exit 1
fi
mkdir -p "$SIM_DIR"

# http://HOST:PORT of a simulator's control endpoint, from its ws://HOST:PORT/piwebapi base.
control() { local hostport=${1#ws://}; echo "http://${hostport%%/*}"; }

# Stop a simulator we started (by its PID, taken out of SIM_PIDS so that stop_sims does not
# signal a PID that may have been reused by then).
stop_sim_pid() {
    local pid=$1 p keep=()
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for p in "${SIM_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    SIM_PIDS=("${keep[@]}")
}

# Wait (at most 60 s) until FILE has a line matching PATTERN; give up early if PID exited.
wait_for_line() {
    local file=$1 pattern=$2 pid=$3 i
    for i in $(seq 1 600); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { grep -q -- "$pattern" "$file" 2>/dev/null; return; }
        sleep 0.1
    done
    return 1
}

# The "#N ..." message lines of FILE (update.c's output) after the first line starting with
# START: there is at least one, and each ends with " from URL".
messages_after_come_from() {
    awk -v start="$2" -v tail=" from $3" '
        !seen && index($0, start) == 1 { seen = 1; next }
        seen && /^#[0-9]+ / { n++; if (substr($0, length($0) - length(tail) + 1) != tail) bad++ }
        END { exit !(n > 0 && bad == 0) }' "$1"
}

# In update.c's output FILE, no message from URL A after the first message from URL B.
no_a_after_b() {
    awk -v a=" from $2" -v b=" from $3" '
        function ends(s, t) { return substr(s, length(s) - length(t) + 1) == t }
        /^#[0-9]+ / { if (ends($0, b)) seen_b = 1; else if (seen_b && ends($0, a)) bad = 1 }
        END { exit bad }' "$1"
}

BAD_URL="ws://127.0.0.1:1/piwebapi/streams/F1DPnothing/channel" # nothing listens on port 1

start_sim A --interval-ms 20 || exit 1
start_sim B --interval-ms 20 || exit 1

# --- update.c
update_to_b() { # $1: output file, $2: message count; the rest: how to run the program
    local out=$1 count=$2; shift 2
    timeout 60 "$@" "$BIN/update$EXE" "$A_STREAM" "$B_STREAM" -n "$count" > "$out" 2> "$out.err"
    local rc=$?
    [ "$rc" -eq 0 ] || { fail "exit status $rc, expected 0" "$out"; return; }
    grep -q '^update: PWA_OK' "$out" || { fail "no 'update: PWA_OK'" "$out"; return; }
    grep -qF "from $A_STREAM" "$out" || { fail "no message from A's URL" "$out"; return; }
    grep -qF "from $B_STREAM" "$out" || { fail "no message from B's URL" "$out"; return; }
    # Messages stay in order of arrival: after the first message from B, none from A.
    no_a_after_b "$out" "$A_STREAM" "$B_STREAM" || fail "a message from A after one from B" "$out"
}

update_rolled_back() {
    local out=$1; shift
    timeout 60 "$@" "$BIN/update$EXE" "$A_STREAM" "$BAD_URL" -n 15 --expect-rollback > "$out" 2> "$out.err"
    local rc=$?
    [ "$rc" -eq 0 ] || { fail "exit status $rc, expected 0" "$out"; return; }
    grep -q '^update: PWA_ROLLED_BACK' "$out" || { fail "no 'update: PWA_ROLLED_BACK'" "$out"; return; }
    messages_after_come_from "$out" 'update: ' "$A_STREAM" ||
        fail "after the update, messages do not all come from A" "$out"
}

update_failed_no_rollback() { # -n 1000: the channel ends first, after its buffer is drained
    local out=$1; shift
    timeout 60 "$@" "$BIN/update$EXE" "$A_STREAM" "$BAD_URL" -n 1000 --no-rollback > "$out" 2> "$out.err"
    local rc=$?
    [ "$rc" -eq 1 ] || { fail "exit status $rc, expected 1" "$out"; return; }
    grep -q '^update: PWA_UPDATE_FAILED' "$out" || { fail "no 'update: PWA_UPDATE_FAILED'" "$out"; return; }
    grep -q '^poll: PWA_UPDATE_FAILED' "$out.err" || { fail "the channel did not end with PWA_UPDATE_FAILED" "$out"; }
}

# --- watchdog.c
watchdog_server_gone() { # the simulator is stopped after 3 messages and never comes back
    local prefix=$1 out=$2; shift 2
    start_sim "$prefix" --interval-ms 50 || return 1
    local sim_pid=${SIM_PIDS[-1]} stream_var="${prefix}_STREAM"
    timeout 60 "$@" "$BIN/watchdog$EXE" "${!stream_var}" -t 2000 > "$out" 2> "$out.err" &
    local pid=$!
    wait_for_line "$out" '^#3 ' "$pid" || { wait "$pid"; fail "no 3 messages" "$out"; return; }
    local stopped=$SECONDS
    stop_sim_pid "$sim_pid"
    wait "$pid"
    local rc=$? took=$((SECONDS - stopped))
    [ "$rc" -eq 0 ] || { fail "exit status $rc, expected 0" "$out"; return; }
    grep -q '^\[state\] disconnected: ' "$out" || { fail "no disconnected event" "$out"; return; }
    grep -q '^\[state\] reconnecting: attempt 2 ' "$out" || { fail "no second reconnect attempt" "$out"; return; }
    grep -q '^\[state\] closed: PWA_WATCHDOG_TIMEOUT' "$out" || { fail "no closed event" "$out"; return; }
    grep -q '^channel ended: PWA_WATCHDOG_TIMEOUT' "$out" || { fail "wrong terminal status" "$out"; return; }
    # dead_channel_timeout is 2 s: the channel must give up well before 60 s.
    [ "$took" -le 20 ] || fail "ended ${took} s after the simulator stopped" "$out"
}

watchdog_server_back() { # a 500 ms outage, within the 3 s timeout: it reconnects and goes on
    local prefix=$1 out=$2 count=$3; shift 3
    start_sim "$prefix" --interval-ms 50 || return 1
    local base_var="${prefix}_BASE" stream_var="${prefix}_STREAM"
    timeout 60 "$@" "$BIN/watchdog$EXE" "${!stream_var}" -t 3000 -n "$count" --expect PWA_CLOSED \
        > "$out" 2> "$out.err" &
    local pid=$!
    wait_for_line "$out" '^#3 ' "$pid" || { wait "$pid"; fail "no 3 messages" "$out"; return; }
    curl -fsS --max-time 10 "$(control "${!base_var}")/_sim/restart?ms=500" > /dev/null ||
        { wait "$pid"; fail "the simulator's restart failed" "$out"; return; }
    wait "$pid"
    local rc=$?
    [ "$rc" -eq 0 ] || { fail "exit status $rc, expected 0" "$out"; return; }
    grep -q '^\[state\] disconnected: ' "$out" || { fail "no disconnected event" "$out"; return; }
    grep -q '^\[state\] reconnected to ' "$out" || { fail "no reconnected event" "$out"; return; }
    # COUNT messages (more than were buffered when the restart came) and 1 reconnect: messages
    # came over the new connection. (Not checked by line order: state events are printed by the
    # callback thread, messages by the polling thread, so their lines need not be in order.)
    local n
    n=$(sed -nE 's/^channel ended: PWA_CLOSED .* after ([0-9]+) messages, 1 reconnect\(s\)$/\1/p' "$out")
    [ -n "$n" ] && [ "$n" -ge "$count" ] ||
        fail "did not end with PWA_CLOSED after $count messages and 1 reconnect" "$out"
}

# --- run every check natively, then under valgrind memcheck
modes=(native)
if [ -z "${PWA_NO_VALGRIND:-}" ] && [ -z "${PWA_BIN:-}" ] && command -v valgrind > /dev/null; then
    modes+=(valgrind)
fi
if [ -n "$SAN" ]; then modes=("$SAN"); fi
for mode in "${modes[@]}"; do
    # Both simulators send 50 messages/s: all that A sent until the update returned (a backlog of
    # ~20 under valgrind, over 100 on a loaded machine) is polled before B's first message.
    # Likewise the watchdog's backlog when the simulator restarts: up to ~30 under valgrind.
    wrap=("${runner[@]}"); suffix=""; update_count=60; watchdog_count=40
    if [ "$mode" = valgrind ]; then
        update_count=400; watchdog_count=100
        wrap=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
              --errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp)
        suffix=" (valgrind)"
    elif [ -n "$SAN" ]; then
        # Slower than native, faster than valgrind: a backlog between the two.
        update_count=200; watchdog_count=60
        suffix=" ($SAN sanitizer)"
    fi
    o="$SIM_DIR/$mode"
    check "update: A -> B, messages from both URLs$suffix" update_to_b "$o-update.out" "$update_count" "${wrap[@]}"
    check "update: unreachable URL with rollback, PWA_ROLLED_BACK, goes on at A$suffix" \
        update_rolled_back "$o-rollback.out" "${wrap[@]}"
    check "update: unreachable URL without rollback, PWA_UPDATE_FAILED, channel ends$suffix" \
        update_failed_no_rollback "$o-norollback.out" "${wrap[@]}"
    check "watchdog: simulator stopped, PWA_WATCHDOG_TIMEOUT$suffix" \
        watchdog_server_gone "WDGONE_$mode" "$o-watchdog-gone.out" "${wrap[@]}"
    check "watchdog: simulator back within the timeout, streams on, PWA_CLOSED after -n$suffix" \
        watchdog_server_back "WDBACK_$mode" "$o-watchdog-back.out" "$watchdog_count" "${wrap[@]}"
done

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
