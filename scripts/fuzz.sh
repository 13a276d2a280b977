#!/usr/bin/env bash
# Run the cargo-fuzz targets of fuzz/ (nightly), each for SECONDS: `make test-fuzz` (bounded,
# part of `make test`) and `make fuzz` (long runs, FUZZ_SECONDS). See fuzz/README.md.
#
#   scripts/fuzz.sh SECONDS [TARGET...]     (default: every target)
#
# Builds once (release with debug assertions, AddressSanitizer) into target/fuzz, so a later
# run reuses the build. Each target starts from its committed seeds (fuzz/corpus/<target>,
# read only) and from what earlier runs found (target/fuzz/corpus/<target>, where new inputs
# are written). A failure leaves its input in fuzz/artifacts/<target>/ and says how to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(message http_response http_body urls config c_abi)
CARGO=${CARGO:-cargo}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz: FAILED: no nightly toolchain (cargo-fuzz needs one: rustup toolchain list)" >&2
    exit 1
fi
if ! $CARGO +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: FAILED: cargo-fuzz is not installed (make deps installs it)" >&2
    exit 1
fi
target_dir=$PWD/target/fuzz
mkdir -p "$target_dir"
# -a: debug assertions (overflow checks; capi/ then keeps the system allocator, which ASan
# watches, instead of mimalloc).
fuzz=($CARGO +nightly fuzz)
opts=(-a --target-dir "$target_dir")
# FUZZ_PROFILE=dev (make test-fuzz): unoptimised, so the build that a fresh machine pays for a
# 10-second run is minutes shorter; the long runs (make fuzz) keep the optimised build.
[ "${FUZZ_PROFILE:-}" = dev ] && opts+=(--dev)
start=$(date +%s)
# Every target, in one cargo build.
(cd fuzz && "${fuzz[@]}" build "${opts[@]}" >/dev/null 2>"$target_dir/build.log") || {
    tail -30 "$target_dir/build.log" >&2
    echo "fuzz: FAILED to build the fuzz targets (log: $target_dir/build.log)" >&2
    exit 1
}
echo "fuzz: built in $(( $(date +%s) - start )) s"
passed=0 failed=0
for t in "${targets[@]}"; do
    seeds=(corpus/$t)
    # The C ABI reads the same messages as the parser.
    [ "$t" = c_abi ] && seeds+=(corpus/message)
    work=$target_dir/corpus/$t
    mkdir -p "$work"
    log=$target_dir/$t.log
    if (cd fuzz && "${fuzz[@]}" run "${opts[@]}" "$t" "$work" "${seeds[@]}" -- \
            -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            >"$log" 2>&1); then
        passed=$((passed + 1))
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        last=$(grep -E '^#[0-9]+' "$log" | tail -1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
        corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
        echo "fuzz $t: ok, ${runs:-?} runs in ${seconds} s (${speed:-?}/s), cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    else
        failed=$((failed + 1))
        grep -E 'panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz $t: FAILED (log: $log; input: ${artifact:-none}); replay: cd fuzz && cargo +nightly fuzz run -a --target-dir ../target/fuzz $t ${artifact#fuzz/}" >&2
    fi
done
echo "fuzz: $passed passed, $failed failed ($(( $(date +%s) - start )) s in all)"
[ "$failed" -eq 0 ]
