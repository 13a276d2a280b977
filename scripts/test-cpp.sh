#!/usr/bin/env bash
# Build and run the C++ wrapper's test (tests/cpp/test_binding.cpp, bindings/cpp/piwebasync.hpp)
# against two simulators started here and stopped at exit. Assumes `cargo build --workspace`
# was run (target/debug/libpiwebasync.so and target/debug/piwebasync-sim).
# Under valgrind memcheck when it is installed (PWA_NO_VALGRIND=1 runs natively).
# Prints "cpp-binding: PASS", or fails with a non-zero exit.
set -uo pipefail
cd "$(dirname "$0")/.."
# Our own directory for the simulators' output: the C tests use build/sim with the same names.
SIM_DIR=${SIM_DIR:-build/sim-cpp}
source scripts/sim-lib.sh

for f in target/debug/libpiwebasync.so "$SIM_BIN"; do
    [ -e "$f" ] || { echo "cpp-binding: $f is missing: run cargo build --workspace first" >&2; exit 1; }
done

mkdir -p build
if ! g++ -std=c++17 -Wall -Wextra -Werror -pedantic -g -Iinclude -Ibindings/cpp \
        tests/cpp/test_binding.cpp -o build/test_cpp_binding \
        -Ltarget/debug -Wl,-rpath,"$PWD/target/debug" -lpiwebasync -lpthread; then
    echo "cpp-binding: FAIL (compile)" >&2
    exit 1
fi

start_sim SIM --interval-ms 20 || { echo "cpp-binding: FAIL (simulator A)" >&2; exit 1; }
start_sim SIM2 --interval-ms 20 || { echo "cpp-binding: FAIL (simulator B)" >&2; exit 1; }
start_sim ARCHIVE --interval-ms 20 --archive || { echo "cpp-binding: FAIL (archive simulator)" >&2; exit 1; }

run=()
if [ -z "${PWA_NO_VALGRIND:-}" ] && command -v valgrind >/dev/null; then
    # --show-leak-kinds=definite: as in run-c-tests.sh, do not print the Rust runtime's
    # "possibly lost" thread-locals (not errors).
    run=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
         --errors-for-leak-kinds=definite --suppressions=tests/c/valgrind.supp)
fi

timeout 300 "${run[@]}" build/test_cpp_binding "$SIM_ADHOC" "$SIM2_ADHOC" "$SIM_BASE" "$ARCHIVE_ADHOC" "$ARCHIVE_BASE"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "cpp-binding: FAIL (exit $rc)" >&2
    exit "$rc"
fi
echo "cpp-binding: PASS"
