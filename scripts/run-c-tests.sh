#!/usr/bin/env bash
# Run the C tests (given as arguments) against simulators started here, stopped at exit.
# Prints a closing line "N passed, N failed" and fails if any test failed.
# For Windows builds run under Wine (scripts/test-windows.sh): PWA_RUN is a command that runs
# each program (e.g. scripts/wine-run.sh), PWA_BIN the folder of the examples (default build),
# PWA_EXE their file suffix (.exe), and PWA_WINDOWS=1 passes file paths as Windows paths.
# PWA_SANITIZER=address|thread: the tests and the examples (in PWA_BUILD_DIR) were built with
# that sanitizer (scripts/sanitize.sh does it); they run natively then, not under valgrind.
set -uo pipefail
cd "$(dirname "$0")/.."
SAN=${PWA_SANITIZER:-}
if [ -n "$SAN" ]; then SIM_DIR=${SIM_DIR:-build/sim-$SAN}; fi
source scripts/sim-lib.sh
set -e
start_sim SIM --interval-ms 20                 # data flows quickly
start_sim QUIET --quiet --interval-ms 50       # no data: initial values and heartbeats only
start_sim AUTH --user piuser --password 'pi-secret-pw' --interval-ms 50
start_sim ARCHIVE --archive --interval-ms 20   # a recorded history (gap fill), restarted by tests
# wss:// with a fresh test CA (written to $SIM_DIR/tls/ca.pem) and Basic auth.
start_sim TLS --tls-generate "$SIM_DIR/tls" --user piuser --password 'pi-secret-pw' --interval-ms 20
set +e
# Under valgrind memcheck (when present; `make test` installs it): any invalid read or write,
# or a definite leak, fails the test. PWA_NO_VALGRIND=1 runs the tests natively.
run=()
if [ -z "$SAN" ] && [ -z "${PWA_NO_VALGRIND:-}" ] && command -v valgrind >/dev/null; then
    run=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
         --errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp)
fi
runner=(); [ -n "${PWA_RUN:-}" ] && runner=($PWA_RUN)
BIN=${PWA_BIN:-${PWA_BUILD_DIR:-build}}; EXE=${PWA_EXE:-}
# A file path as the program under test takes it (a Windows path under Wine).
target_path() { if [ -n "${PWA_WINDOWS:-}" ]; then winepath -w "$1" 2>/dev/null; else echo "$1"; fi; }
passed=0; failed=0
for t in "$@"; do
    echo "=== $t"
    wrap=("${runner[@]}" "${run[@]}")
    # A forked child under memcheck reports the parent's live allocations as its own leaks:
    # the lifecycle test, which forks on purpose, runs natively.
    case "$t" in *lifecycle*) wrap=("${runner[@]}") ;; esac
    if timeout 600 "${wrap[@]}" "$t"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $t"
        failed=$((failed + 1))
    fi
done
# The examples run too, natively: a user copies them, so they must work as shipped.
for example in "$BIN/stream$EXE $SIM_STREAM?includeInitialValues=true -n 5" "$BIN/callback$EXE $SIM_ADHOC -n 5"; do
    echo "=== $example"
    if timeout 60 "${runner[@]}" $example; then passed=$((passed + 1)); else echo "FAILED: $example"; failed=$((failed + 1)); fi
done
# examples-c/stream.c takes the auth and TLS settings on its command line. A check that expects
# the example to fail also makes sure no sanitizer report is in its output: a sanitizer error
# exits non-zero too.
check_example() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $name"
        failed=$((failed + 1))
    fi
}
if [ -x "$BIN/stream$EXE" ]; then
    stream=("${runner[@]}" "$BIN/stream$EXE")
    ca_file=$(target_path "$SIM_DIR/tls/ca.pem")
    out="$SIM_DIR/stream-example.out"
    check_example "stream: wss://, Basic from the environment, --ca-file" \
        env PWA_EXAMPLE_PW='pi-secret-pw' timeout 60 "${stream[@]}" "$TLS_STREAM" -n 3 \
            --ca-file "$ca_file" --user piuser --password-env PWA_EXAMPLE_PW
    check_example "stream: a wrong password fails with PWA_ERR_AUTH and is not shown" bash -c '
        ! timeout 60 "${@:4}" "$1" -n 1 --ca-file "$2" --user piuser --password "Wrong-pw-3141" >"$3" 2>&1 &&
        grep -q PWA_ERR_AUTH "$3" && ! grep -q "Wrong-pw-3141" "$3" && ! grep -q Sanitizer "$3"' _ "$TLS_STREAM" "$ca_file" "$out" "${stream[@]}"
    check_example "stream: without --ca-file (the system store lacks the test CA), PWA_ERR_TLS" bash -c '
        ! timeout 60 "${@:3}" "$1" -n 1 --user piuser --password pi-secret-pw >"$2" 2>&1 &&
        grep -q PWA_ERR_TLS "$2" && ! grep -q Sanitizer "$2"' _ "$TLS_STREAM" "$out" "${stream[@]}"
    check_example "stream: --insecure connects" \
        timeout 60 "${stream[@]}" "$TLS_STREAM" -n 1 --insecure --user piuser --password pi-secret-pw
fi
echo "c-tests${SAN:+ ($SAN sanitizer)}: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
