#!/usr/bin/env bash
# `make install` into a staging directory, move the installed tree elsewhere (every path in it
# must be relative), check its layout, then use it out of tree the way users do and stream from
# the simulator with each build:
#   - pkg-config: piwebasync (shared) and piwebasync-static (gcc -static: a fully static program)
#   - CMake: find_package(piwebasync 0.1 CONFIG), piwebasync::piwebasync and
#     piwebasync::piwebasync_static, from C89 and from C++14 (the installed C++ wrapper)
# The consumer (tests/install/consumer.c) defines its own mi_malloc, as a host with mimalloc
# would. Prints "install: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/sim-lib.sh
STAGE=$PWD/build/stage
OUT=$PWD/build/install-test
rm -rf "$STAGE" "$OUT"
mkdir -p "$OUT"
passed=0; failed=0
check() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}
version=$(scripts/version.sh) || exit 1

# PREFIX=/opt/piwebasync, then moved: nothing may point at /opt/piwebasync any more.
if ! make -s install DESTDIR="$STAGE" PREFIX=/opt/piwebasync; then
    echo "FAILED: make install"; echo "install: $passed passed, 1 failed"; exit 1
fi
ROOT=$STAGE/moved
mv "$STAGE/opt/piwebasync" "$ROOT"
LIB=$ROOT/lib
real=$LIB/libpiwebasync.so.$version

check "the installed tree is complete" bash -c '
    for f in "$0"/lib/libpiwebasync.so "$0"/lib/libpiwebasync.so.0.* "$0"/lib/libpiwebasync.a \
             "$0"/lib/.debug/libpiwebasync.so.'"$version"'.debug \
             "$0"/lib/pkgconfig/piwebasync.pc "$0"/lib/pkgconfig/piwebasync-static.pc \
             "$0"/lib/cmake/piwebasync/piwebasync-config.cmake \
             "$0"/lib/cmake/piwebasync/piwebasync-config-version.cmake \
             "$0"/include/piwebasync.h "$0"/include/piwebasync.hpp \
             "$0"/share/doc/piwebasync/LICENSE-MIT "$0"/share/doc/piwebasync/LICENSE-APACHE; do
        [ -e "$f" ] || { echo "missing: $f"; exit 1; }
    done' "$ROOT"
check "no installed file names the install prefix (relocatable)" \
    bash -c '! grep -rn "/opt/piwebasync" "$0/lib/pkgconfig" "$0/lib/cmake"' "$ROOT"

# --- the shared library: stripped, with its debug info beside it --------------------------------
check "the shared library is stripped (no .debug_info, no .symtab)" \
    bash -c '! readelf -SW "$0" | grep -Eq "\.debug_info|\.symtab"' "$real"
check "its debug file has the debug info and the symbol table" \
    bash -c 'readelf -SW "$0" | grep -q "\.debug_info" && readelf -SW "$0" | grep -q "\.symtab"' \
    "$LIB/.debug/libpiwebasync.so.$version.debug"
check ".gnu_debuglink names the debug file and carries its CRC" python3 - "$real" \
    "$LIB/.debug/libpiwebasync.so.$version.debug" <<'PY'
import subprocess, sys, tempfile, zlib, os, struct
so, dbg = sys.argv[1], sys.argv[2]
with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "link")
    subprocess.run(["objcopy", "--dump-section", ".gnu_debuglink=" + out, so, os.path.join(d, "x")],
                   check=True)
    raw = open(out, "rb").read()
name = raw[:raw.index(b"\0")].decode()
crc = struct.unpack("<I", raw[-4:])[0]
want = zlib.crc32(open(dbg, "rb").read()) & 0xffffffff
print(f"debuglink: {name}, crc {crc:08x}; debug file crc {want:08x}")
sys.exit(0 if name == os.path.basename(dbg) and crc == want else 1)
PY
check "the stripped library is under 8 MB" bash -c '[ "$(stat -c %s "$0")" -lt 8000000 ]' "$real"
check "its SONAME is libpiwebasync.so.<abi>" \
    bash -c 'readelf -d "$0" | grep -q "SONAME.*\[libpiwebasync\.so\.0\.[0-9]*\]"' "$real"

# --- the static library: only pwa_* global ----------------------------------------------------
nm -g --defined-only "$LIB/libpiwebasync.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u \
    > "$OUT/static-globals.txt"
nm -D --defined-only "$real" | awk 'NF == 3 { print $3 }' | sort -u > "$OUT/shared-exports.txt"
check "the static library defines no global symbol outside pwa_*" bash -c '
    bad=$(grep -v "^pwa_" "$0"); [ -z "$bad" ] && exit 0
    echo "global symbols a host could collide with ($(echo "$bad" | wc -l)):"; echo "$bad" | head -20
    exit 1' "$OUT/static-globals.txt"
check "it defines exactly the functions the shared library exports" \
    bash -c '[ -s "$0" ] && diff "$0" "$1"' "$OUT/static-globals.txt" "$OUT/shared-exports.txt"
# The control: the same host against the raw Rust staticlib collides, so the check above matters.
check "control: the raw Rust staticlib collides with the host's mi_malloc" bash -c '
    ! gcc -Iinclude tests/install/consumer.c -o "$0/collide" target/release/libpiwebasync.a \
        -lpthread -ldl -lm 2>"$0/collide.err" && grep -q "multiple definition of .mi_malloc" "$0/collide.err"' "$OUT"

# --- pkg-config --------------------------------------------------------------------------------
export PKG_CONFIG_PATH=$LIB/pkgconfig
unset PKG_CONFIG_SYSROOT_DIR
CFLAGS89="-std=c89 -pedantic -Wall -Wextra -Werror"
check "pkg-config knows the installed version" \
    bash -c '[ "$(pkg-config --modversion piwebasync)" = "$0" ] && [ "$(pkg-config --modversion piwebasync-static)" = "$0" ]' "$version"
check "no -lgcc_s in what pkg-config gives" \
    bash -c '! pkg-config --static --libs piwebasync piwebasync-static | grep -q gcc_s'
check "the installed header compiles as C89 (-pedantic -Werror) and as C++98" bash -c '
    printf "#include <piwebasync.h>\nint main(void) { return pwa_version() == 0; }\n" > "$0/h.c" &&
    gcc $1 $(pkg-config --cflags piwebasync) -c "$0/h.c" -o "$0/h89.o" &&
    g++ -std=c++98 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags piwebasync) -x c++ -c "$0/h.c" -o "$0/h98.o"' \
    "$OUT" "$CFLAGS89"
# The deprecation marking CHANGELOG.md's ABI policy promises: a warning in the caller's build,
# silenced by PWA_NO_DEPRECATION_WARNINGS.
check "PWA_DEPRECATED_WITH_NOTE warns the caller; PWA_NO_DEPRECATION_WARNINGS silences it" bash -c '
    printf "#include <piwebasync.h>\nPWA_DEPRECATED_WITH_NOTE(\"use pwa_new instead\") int pwa_old(void);\nint main(void) { return pwa_old(); }\n" > "$0/dep.c"
    gcc $1 $(pkg-config --cflags piwebasync) -c "$0/dep.c" -o "$0/dep.o" 2> "$0/dep.err" && { echo "no warning"; exit 1; }
    grep -q "use pwa_new instead" "$0/dep.err" || { cat "$0/dep.err"; exit 1; }
    gcc $1 -DPWA_NO_DEPRECATION_WARNINGS $(pkg-config --cflags piwebasync) -c "$0/dep.c" -o "$0/dep.o"' \
    "$OUT" "$CFLAGS89"
check "pkg-config, shared: consumer.c builds (C89)" \
    gcc $CFLAGS89 $(pkg-config --cflags piwebasync) tests/install/consumer.c -o "$OUT/pc-shared" \
        $(pkg-config --libs piwebasync)
check "it records the SONAME, not the file name" \
    bash -c 'readelf -d "$0" | grep -q "NEEDED.*\[libpiwebasync\.so\.0\.[0-9]*\]"' "$OUT/pc-shared"
check "pkg-config, static: consumer.c builds with gcc -static" \
    gcc -static $CFLAGS89 $(pkg-config --cflags piwebasync-static) tests/install/consumer.c \
        -o "$OUT/pc-static" $(pkg-config --libs piwebasync-static)
check "the -static build is fully static (no dynamic section)" \
    bash -c '! readelf -d "$0" | grep -q NEEDED && ! readelf -lW "$0" | grep -q INTERP' "$OUT/pc-static"

# --- CMake -------------------------------------------------------------------------------------
check "the CMake version file follows the 0.x policy" \
    cmake -DCONFIG_VERSION_FILE="$LIB/cmake/piwebasync/piwebasync-config-version.cmake" \
        -P tests/install/version-policy.cmake
check "find_package(piwebasync 0.1 CONFIG): configure" \
    cmake -S tests/install -B "$OUT/cmake" -DCMAKE_PREFIX_PATH="$ROOT" -DCMAKE_BUILD_TYPE=Release
check "CMake: build (C89 and C++14, shared and static)" cmake --build "$OUT/cmake" -j 2
check "CMake: the static targets need no libpiwebasync at run time" bash -c '
    for t in consumer_static consumer_cpp_static; do
        readelf -d "$0/cmake/$t" | grep -q libpiwebasync && { echo "$t: NEEDED libpiwebasync"; exit 1; }
    done; readelf -d "$0/cmake/consumer_shared" | grep -q "NEEDED.*libpiwebasync"' "$OUT"

# --- each build streams from the simulator ------------------------------------------------------
start_sim INST --interval-ms 20 || exit 1
url="$INST_STREAM?includeInitialValues=true"
check "pkg-config shared build streams" \
    env LD_LIBRARY_PATH="$LIB" timeout 60 "$OUT/pc-shared" "$url" 3
check "pkg-config gcc -static build streams" timeout 60 "$OUT/pc-static" "$url" 3
# CMake sets an RPATH to the imported library's folder in the build tree: no LD_LIBRARY_PATH.
for t in consumer_shared consumer_static consumer_cpp consumer_cpp_static; do
    check "CMake $t streams" timeout 60 "$OUT/cmake/$t" "$url" 3
done
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
