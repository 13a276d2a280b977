#!/usr/bin/env bash
# `make install` into a staging directory, then build examples-c/stream.c against the installed
# copy the way a user would (pkg-config), shared and static, and stream from the simulator.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/sim-lib.sh
STAGE=$PWD/build/stage
rm -rf "$STAGE"
passed=0; failed=0
check() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}
check "make install DESTDIR=build/stage PREFIX=/usr" make -s install DESTDIR="$STAGE" PREFIX=/usr
export PKG_CONFIG_PATH=$STAGE/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$STAGE
check "pkg-config knows the installed version" \
    bash -c '[ "$(pkg-config --modversion piwebasync)" = "$(sed -n "s/^version = \"\(.*\)\"/\1/p" Cargo.toml | head -1)" ]'
mkdir -p build
cflags=$(pkg-config --cflags piwebasync)
check "stream.c builds against the installed shared library" \
    gcc -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $cflags examples-c/stream.c \
        -o build/stream-installed $(pkg-config --libs piwebasync)
check "it records the SONAME, not the file name" \
    bash -c 'readelf -d build/stream-installed | grep -q "NEEDED.*\[libpiwebasync\.so\.0\.[0-9]*\]"'
check "stream.c builds against the static library" \
    gcc -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $cflags examples-c/stream.c \
        -o build/stream-static "$STAGE/usr/lib/libpiwebasync.a" \
        $(pkg-config --static --libs-only-l piwebasync | sed 's/-lpiwebasync//')
check "the static build needs no libpiwebasync at run time" \
    bash -c '! readelf -d build/stream-static | grep -q libpiwebasync'
start_sim INST --interval-ms 20 || exit 1
check "the shared build streams (loaded through the SONAME link)" \
    env LD_LIBRARY_PATH="$STAGE/usr/lib" timeout 60 build/stream-installed "$INST_STREAM?includeInitialValues=true" -n 3
check "the static build streams" timeout 60 build/stream-static "$INST_STREAM?includeInitialValues=true" -n 3
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
