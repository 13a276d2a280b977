#!/usr/bin/env bash
# scripts/sanitize.sh address|thread: the C tests (tests/c) and the C examples (examples-c)
# against a sanitizer build of the library, run against simulators like scripts/run-c-tests.sh
# and scripts/test-examples.sh do (they start the simulators and stop them at exit).
#
#   address  AddressSanitizer + LeakSanitizer (`make test`, via `make test-asan`)
#   thread   ThreadSanitizer, with the suppressions of tests/c/tsan.supp (`make sanitize`)
#
# The library is built with the nightly toolchain (`-Zsanitizer=...` is nightly-only) for the
# explicit target x86_64-unknown-linux-gnu, so that build scripts and proc macros are not
# instrumented, into its own target dir (target/san-MODE): the stable debug build is left
# alone. The C programs are compiled with gcc's -fsanitize=MODE. The sanitizer runtime lives in
# the executable, the Rust library only carries the instrumentation: for address, gcc's own
# libasan (it has every entry point the nightly's instrumentation calls); for thread, the
# nightly's own TSan runtime (librustc-nightly_rt.tsan.a, linked whole and exported with
# -rdynamic so that the library's calls reach its interceptors), because gcc 12's libtsan
# lacks __tsan_memcpy/__tsan_memmove/__tsan_memset, which the nightly's LLVM emits. The
# simulators are the ordinary debug build (`make build`).
#
# ThreadSanitizer also rebuilds the standard library with the instrumentation (-Zbuild-std,
# which needs the nightly's rust-src component): with an uninstrumented std, TSan cannot see
# the synchronisation inside Arc, Mutex, channels and thread spawn/join, and reports races that
# are not there. AddressSanitizer does not need it: every allocation goes through the
# intercepted malloc (debug builds use the system allocator), and the generic std code we use
# (Vec, String, HashMap, ...) is compiled into our crate, instrumented.
#
# Before the real runs, a canary must be caught: a program that leaks a pwa_config (address;
# proves LeakSanitizer sees the library's allocations) or races on a variable (thread; proves
# the runtime reports and the suppressions do not hide everything). A canary that passes
# unnoticed fails this script.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?usage: scripts/sanitize.sh address|thread}
case "$MODE" in address | thread) ;; *) echo "unknown sanitizer '$MODE': address or thread" >&2; exit 2 ;; esac

TARGET=x86_64-unknown-linux-gnu
NIGHTLY=${PWA_NIGHTLY:-nightly}
TARGET_DIR=target/san-$MODE
LIB_DIR=$PWD/$TARGET_DIR/$TARGET/debug
OUT=build/san-$MODE
SAN_CFLAGS="-fsanitize=$MODE -fno-omit-frame-pointer"
CFLAGS=(-std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -g -Iinclude)
LIBS=(-L"$LIB_DIR" -Wl,-rpath,"$LIB_DIR" -lpiwebasync -lpthread)
if [ "$MODE" = address ]; then
    SAN_LDFLAGS="-fsanitize=address"
else
    rt="$(rustc "+$NIGHTLY" --print sysroot)/lib/rustlib/$TARGET/lib/librustc-nightly_rt.tsan.a"
    [ -f "$rt" ] || { echo "no TSan runtime in the $NIGHTLY toolchain ($rt)" >&2; exit 1; }
    SAN_LDFLAGS="-rdynamic -Wl,--whole-archive $rt -Wl,--no-whole-archive -ldl -lm"
fi
# cc_san SOURCE OUTPUT: compile with the sanitizer's instrumentation, link with its runtime.
cc_san() {
    # shellcheck disable=SC2086 # the flag strings are lists of flags
    gcc "${CFLAGS[@]}" $SAN_CFLAGS -c "$1" -o "$2.o" &&
        gcc "$2.o" -o "$2" $SAN_LDFLAGS "${LIBS[@]}"
}

# Sanitizer reports exit with a code of their own, so a program that is expected to fail
# (exit 1) cannot hide one. Reports go to stderr, which the test scripts show on failure.
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export LSAN_OPTIONS="exitcode=86"
export TSAN_OPTIONS="exitcode=66:halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/tests/c/tsan.supp"

step() { echo "--- sanitize ($MODE): $*"; }

# --- toolchain: nightly, and for thread also its rust-src (rustup downloads it when missing).
if ! cargo "+$NIGHTLY" --version > /dev/null 2>&1; then
    echo "the $NIGHTLY toolchain is missing: rustup toolchain install $NIGHTLY" >&2
    exit 1
fi
build_std=()
if [ "$MODE" = thread ]; then
    sysroot=$(rustc "+$NIGHTLY" --print sysroot)
    if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
        step "installing the rust-src component of $NIGHTLY (for -Zbuild-std)"
        rustup component add rust-src --toolchain "$NIGHTLY" || exit 1
    fi
    build_std=(-Zbuild-std)
fi

# --- the library
step "building the library with -Zsanitizer=$MODE into $TARGET_DIR"
RUSTFLAGS="-Zsanitizer=$MODE" RUSTDOCFLAGS="-Zsanitizer=$MODE" \
    cargo "+$NIGHTLY" build "${build_std[@]}" -p piwebasync-capi --lib --target "$TARGET" \
    --target-dir "$TARGET_DIR" || exit 1

# --- the C programs
step "compiling tests/c and examples-c with -fsanitize=$MODE into $OUT"
mkdir -p "$OUT"
tests=()
for src in tests/c/test_*.c; do
    name=$(basename "$src" .c)
    cc_san "$src" "$OUT/$name" || exit 1
    tests+=("$OUT/$name")
done
for src in examples-c/stream.c examples-c/callback.c; do
    cc_san "$src" "$OUT/$(basename "$src" .c)" || exit 1
done

# --- the canary: the sanitizer must report it
step "canary: the sanitizer must catch tests/c/san_canary_$MODE.c"
cc_san "tests/c/san_canary_$MODE.c" "$OUT/san_canary" || exit 1
"$OUT/san_canary" > "$OUT/san_canary.out" 2>&1
rc=$?
want=86; [ "$MODE" = thread ] && want=66
if [ "$rc" -ne "$want" ] || ! grep -q 'Sanitizer' "$OUT/san_canary.out"; then
    echo "FAILED: the canary exited $rc (expected $want with a sanitizer report): the sanitizer is not working" >&2
    sed 's/^/  | /' "$OUT/san_canary.out" >&2
    exit 1
fi
echo "canary caught (exit $rc): $(grep -m1 -o '[A-Za-z]*Sanitizer: [a-z -]*' "$OUT/san_canary.out")"

# --- the tests and the examples
failed=0
PWA_SANITIZER=$MODE PWA_BUILD_DIR=$OUT scripts/run-c-tests.sh "${tests[@]}" || failed=1
PWA_SANITIZER=$MODE PWA_BUILD_DIR=$OUT PWA_LIB_DIR=$LIB_DIR PWA_SAN_CFLAGS=$SAN_CFLAGS \
    PWA_SAN_LDFLAGS=$SAN_LDFLAGS scripts/test-examples.sh || failed=1
exit "$failed"
