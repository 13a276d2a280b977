#!/usr/bin/env bash
# make test-windows: the Windows DLLs, cross-built here (debug) and tested under Wine against
# the native simulator, in a private WINEPREFIX created here and removed at exit (with the
# simulators and the prefix's wineserver).
#   - both DLLs (x64, x86): packaged as `make dist-windows` packages them; exports equal the
#     header's functions; imports are Windows system DLLs only; the .def, piwebasync.lib and
#     libpiwebasync.dll.a import every function;
#   - per architecture Wine can run (x64 always; x86 when wine32 is installed): every C test in
#     tests/c and every example in examples-c, cross-compiled and run by scripts/run-c-tests.sh
#     and scripts/test-examples.sh; a program linked against piwebasync.lib (the MSVC import
#     library made from the .def) and one against libpiwebasync.dll.a stream from the simulator;
#     wss:// through nginx with tls_ca_file as a Windows path with non-ASCII characters; without
#     it, PWA_ERR_TLS from the Windows certificate store; a LoadLibrary/FreeLibrary host (with and without pwa_shutdown;
#     the DLL must stay loaded, pinned, after FreeLibrary) and a host that exits with channels
#     open both end cleanly within 5 s;
#   - x64: the .NET binding's tests in the Windows .NET Core runtime (dotnet.exe), the .nupkg
#     with the Windows natives used as a NuGet user on win-x64 does, the win_amd64 wheel run
#     by Windows CPython;
#   - x64: the Rust tests under Wine (the library's unit and integration tests but
#     tests/nginx.rs, and the C ABI crate's).
# Assumes `cargo build --workspace` has been run (the simulator). Prints "=== name" and PASS /
# FAILED per check, then "windows: N passed, M failed"; fails if any check failed.
# Wine older than 8.13 lacks ProcessPrng (bcryptprimitives.dll), which Rust's std calls: then a
# test-only stand-in (tests/windows/bcryptprimitives.c) is built and put into the private
# prefix only. x86 runs need wine32 (PWA_REQUIRE_WINE32=1: its absence fails the run).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/windows-lib.sh
started=$SECONDS
W=build/windows
mkdir -p "$W"

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
finish() {
    # Stop what we started first, so that the closing line below is the last one.
    if declare -F cleanup >/dev/null; then cleanup; trap - EXIT; fi
    echo "test-windows took $((SECONDS - started)) s"
    echo "windows: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
die() { echo "test-windows: $*" >&2; failed=$((failed + 1)); finish; }

for tool in wine wineboot wineserver winepath x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc llvm-dlltool llvm-nm; do
    command -v "$tool" >/dev/null || die "MISSING: $tool (run scripts/install-deps.sh)"
done
[ -x target/debug/piwebasync-sim ] || die "target/debug/piwebasync-sim is missing: run cargo build --workspace"
run_arches=(x64)
if [ -x /usr/lib/wine/wine ]; then
    run_arches+=(x86)
elif [ -n "${PWA_REQUIRE_WINE32:-}" ]; then
    die "MISSING: wine32 (wine32:i386), needed to run the x86 tests (PWA_REQUIRE_WINE32 is set)"
else
    echo "test-windows: NOTE: wine32 is not installed (see scripts/install-windows-deps.sh): the x86" \
         "DLL is built and its exports and imports checked, but the x86 programs are NOT RUN"
fi

# --- build and package both DLLs (debug: what the tests use)
for arch in x64 x86; do
    echo "== cargo build --lib --target $(win_triple "$arch")"
    win_build "$arch" debug || die "building the $arch DLL failed"
done
for arch in x64 x86; do
    check "$arch: package as dist-windows does, exports = the header's functions" \
        win_package "$arch" debug "$W/$arch/pkg"
done
[ "$failed" -eq 0 ] || finish

# Windows system DLLs the library may import (all ship with Windows 10 / Server 2016).
SYSTEM_DLLS="kernel32.dll ntdll.dll msvcrt.dll ws2_32.dll userenv.dll advapi32.dll bcrypt.dll
bcryptprimitives.dll crypt32.dll ncrypt.dll secur32.dll api-ms-win-core-synch-l1-2-0.dll"
imports_are_system_dlls() {
    local arch=$1 dll bad=0 imports
    imports=$(dll_imports "$arch" "$W/$arch/pkg/piwebasync.dll")
    [ -n "$imports" ] || { echo "  no imports read from the DLL"; return 1; }
    for dll in $imports; do
        if ! grep -qw -- "$dll" <<<"$SYSTEM_DLLS"; then
            echo "  imports $dll, not a Windows system DLL"; bad=1
        fi
    done
    return $bad
}
import_libs_cover_header() {
    local arch=$1 pkg=$W/$1/pkg f want missing=0 lib_syms dlla_syms def
    want=$(header_functions)
    def=$(sed -n '/^EXPORTS/,$p' "$pkg/piwebasync.def" | tail -n +2 | tr -d ' ' | sort)
    [ "$def" = "$want" ] || { echo "  piwebasync.def does not list exactly the header's functions"; return 1; }
    lib_syms=$(llvm-nm "$pkg/piwebasync.lib" 2>/dev/null)
    dlla_syms=$("$(win_prefix "$arch")-nm" "$pkg/libpiwebasync.dll.a" 2>/dev/null)
    local u=""; [ "$arch" = x86 ] && u=_ # cdecl names carry a leading underscore on x86
    for f in $want; do
        grep -qE " __imp_${u}$f\$" <<<"$lib_syms" || { echo "  piwebasync.lib lacks __imp_${u}$f"; missing=1; }
        grep -qE " __imp_${u}$f\$" <<<"$dlla_syms" || { echo "  libpiwebasync.dll.a lacks __imp_${u}$f"; missing=1; }
    done
    return $missing
}
debug_info_beside() {
    local arch=$1 pkg=$W/$1/pkg p
    p=$(win_prefix "$arch")
    # Read whole, then grep: `objdump | grep -q` fails under pipefail when grep ends it early.
    local dll dbg
    dll=$("$p-objdump" -h "$pkg/piwebasync.dll") && dbg=$("$p-objdump" -h "$pkg/piwebasync.dll.debug") ||
        { echo "  objdump -h failed"; return 1; }
    grep -q '\.gnu_debuglink' <<<"$dll" || { echo "  no .gnu_debuglink"; return 1; }
    ! grep -q '\.debug_info' <<<"$dll" || { echo "  the DLL still has .debug_info"; return 1; }
    grep -q '\.debug_info' <<<"$dbg" || { echo "  piwebasync.dll.debug has no .debug_info"; return 1; }
}
for arch in x64 x86; do
    check "$arch: imports are Windows system DLLs only" imports_are_system_dlls "$arch"
    check "$arch: .def, piwebasync.lib and libpiwebasync.dll.a cover every function" import_libs_cover_header "$arch"
    check "$arch: DLL stripped, debug info in piwebasync.dll.debug" debug_info_beside "$arch"
done

# --- the private Wine prefix
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
WINEPREFIX=$(mktemp -d /tmp/pwa-wineprefix.XXXXXX)
source scripts/sim-lib.sh # its EXIT trap stops the simulators; ours also ends Wine
source scripts/nginx-lib.sh
cleanup() {
    stop_nginx
    stop_sims
    wineserver -k 2>/dev/null
    wineserver -w 2>/dev/null
    rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
# The Windows certificate store is the default trust under Wine: no OpenSSL variables.
unset SSL_CERT_FILE SSL_CERT_DIR
echo "== creating the Wine prefix $WINEPREFIX ($(wine --version))"
wineboot -i >"$W/wineboot.log" 2>&1 && wineserver -w ||
    die "wineboot failed in $WINEPREFIX: $(tail -n 3 "$W/wineboot.log")"
# Keep it running between the programs (faster starts); -k at exit. Its output (at exit it may
# list objects a killed program left) goes to a log.
wineserver -p 600 >"$W/wineserver.log" 2>&1

# ProcessPrng: in Wine since 8.13.
wine_version=$(wine --version | sed -nE 's/^wine-([0-9]+)\.([0-9]+).*/\1 \2/p')
read -r wmaj wmin <<<"$wine_version"
if [ -z "$wine_version" ]; then
    die "cannot read Wine's version from '$(wine --version)'"
elif [ "$wmaj" -gt 8 ] || { [ "$wmaj" -eq 8 ] && [ "$wmin" -ge 13 ]; }; then
    echo "Wine $wmaj.$wmin has ProcessPrng: no bcryptprimitives.dll stand-in needed"
else
    echo "Wine $wmaj.$wmin lacks ProcessPrng: installing the test-only bcryptprimitives.dll stand-in into the prefix"
    build_standin() { # build_standin ARCH DESTDIR
        local p; p=$(win_prefix "$1")
        "$p-gcc" -shared -O2 -Wall -Wextra -Werror -Wl,--enable-stdcall-fixup \
            -o "$2/bcryptprimitives.dll" tests/windows/bcryptprimitives.c tests/windows/bcryptprimitives.def -lbcrypt
    }
    build_standin x64 "$WINEPREFIX/drive_c/windows/system32" || die "building the x64 bcryptprimitives stand-in failed"
    build_standin x86 "$WINEPREFIX/drive_c/windows/syswow64" || die "building the x86 bcryptprimitives stand-in failed"
fi

# --- cross-compile the C tests, examples and hosts
CFLAGS_WIN=(-std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D__USE_MINGW_ANSI_STDIO=1 -g -Iinclude)
# -static: libwinpthread and libgcc into each program (no MinGW DLL beside it).
LIBS_WIN=(-static -lpthread -lws2_32)
build_programs() { # build_programs ARCH
    local arch=$1 cc bin=$W/$1/bin src name
    cc=$(win_prefix "$arch")-gcc
    rm -rf "$bin"; mkdir -p "$bin"
    cp "$W/$arch/pkg/piwebasync.dll" "$bin/"
    for src in tests/c/test_*.c examples-c/*.c tests/windows/host_*.c; do
        name=$(basename "$src" .c)
        "$cc" "${CFLAGS_WIN[@]}" "$src" -o "$bin/$name.exe" -L"$W/$arch/pkg" -lpiwebasync "${LIBS_WIN[@]}" ||
            { echo "  $cc failed on $src"; return 1; }
    done
    "$cc" "${CFLAGS_WIN[@]}" -municode tests/windows/ca_path.c -o "$bin/ca_path.exe" \
        -L"$W/$arch/pkg" -lpiwebasync "${LIBS_WIN[@]}" || { echo "  $cc failed on ca_path.c"; return 1; }
    # examples-c/stream.c linked against the MSVC import library alone (no .dll.a in reach).
    mkdir -p "$bin/msvc-lib"
    cp "$W/$arch/pkg/piwebasync.dll" "$bin/msvc-lib/"
    "$cc" "${CFLAGS_WIN[@]}" examples-c/stream.c -o "$bin/msvc-lib/stream.exe" \
        "$W/$arch/pkg/piwebasync.lib" "${LIBS_WIN[@]}" || { echo "  $cc failed linking piwebasync.lib"; return 1; }
}

PWA_VALUES_CHECKSUM=$(python3 tests/data/values_checksum.py tests/data/multi_stream.json) ||
    die "tests/data/values_checksum.py failed"
export PWA_VALUES_CHECKSUM

within_5s() { # within_5s OUT PROGRAM [ARGS...]: exits 0 within 5 s
    local out=$1 t0 rc; shift
    t0=$(date +%s%N)
    timeout 5 scripts/wine-run.sh "$@" >"$out" 2>&1
    rc=$?
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    sed 's/^/  | /' "$out" | tail -n 20
    echo "  exit status $rc after $ms ms"
    [ "$rc" -eq 0 ]
}

# examples-c/stream.c (EXE) takes 3 messages from the simulator: #1..#3 lines with values.
streams_3() {
    local exe=$1 out=$2 rc
    timeout 60 scripts/wine-run.sh "$exe" "$WSIM_STREAM?includeInitialValues=true" -n 3 >"$out" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || { echo "  exit status $rc; output:"; sed 's/^/  | /' "$out" | tail -n 20; return 1; }
    grep -q '^#3 [0-9]* stream(s), [1-9][0-9]* value(s)' "$out" ||
        { echo "  no third message with values; output:"; sed 's/^/  | /' "$out" | tail -n 20; return 1; }
}

for arch in "${run_arches[@]}"; do
    bin=$W/$arch/bin
    check "$arch: cross-compile tests/c, examples-c and tests/windows" build_programs "$arch" || continue
    [ -f "$bin/stream.exe" ] || continue
    export SIM_DIR=$W/$arch/sim
    start_sim WSIM --interval-ms 20 || die "the simulator did not start"
    # wss:// as sites serve it: nginx terminating TLS (the test CA's certificate, written by a
    # simulator started with --tls-generate) in front of a simulator that wants Basic.
    start_sim WCERT --tls-generate "$SIM_DIR/tls" --interval-ms 1000 || die "the certificate simulator did not start"
    start_sim WBASIC --user piuser --password 'pi-secret-pw' --interval-ms 20 || die "the Basic simulator did not start"
    WBASIC_HOSTPORT=${WBASIC_BASE#ws://}; WBASIC_HOSTPORT=${WBASIC_HOSTPORT%%/*}
    start_nginx_tls "$PWD/$W/$arch/nginx" "$PWD/$SIM_DIR/tls/server.pem" "$PWD/$SIM_DIR/tls/server-key.pem" \
        "$WBASIC_HOSTPORT" || die "nginx did not start"
    NGINX_STREAM="wss://127.0.0.1:$NGINX_PORT${WBASIC_STREAM#ws://$WBASIC_HOSTPORT}"

    check "$arch: stream.exe linked against piwebasync.lib (MSVC import library) streams" \
        streams_3 "$bin/msvc-lib/stream.exe" "$W/$arch/stream-lib.out"
    check "$arch: stream.exe linked against libpiwebasync.dll.a streams" \
        streams_3 "$bin/stream.exe" "$W/$arch/stream-dlla.out"

    # tls_ca_file as a Windows path through a folder and file name with non-ASCII characters.
    ca_dir="$W/$arch/Zertifikate für Prüfstand"
    mkdir -p "$ca_dir" && cp "$SIM_DIR/tls/ca.pem" "$ca_dir/Wurzel-CA ü.pem"
    ca_win=$(winepath -w "$ca_dir/Wurzel-CA ü.pem")
    check "$arch: wss:// through nginx with tls_ca_file as a Windows path ($ca_win)" \
        within_5s "$W/$arch/ca_path.out" "$bin/ca_path.exe" "$NGINX_STREAM" piuser pi-secret-pw "$ca_win"
    check "$arch: wss:// through nginx without tls_ca_file: PWA_ERR_TLS naming the certificate problem" \
        within_5s "$W/$arch/ca_none.out" "$bin/ca_path.exe" "$NGINX_STREAM" piuser pi-secret-pw --no-ca
    stop_nginx

    check "$arch: LoadLibrary, stream, FreeLibrary (DLL stays pinned), again; exit within 5 s" \
        within_5s "$W/$arch/host_ll.out" "$bin/host_loadlibrary.exe" "$WSIM_STREAM" 2
    check "$arch: LoadLibrary, stream, pwa_shutdown, FreeLibrary, reload: PWA_ERR_SHUTDOWN; within 5 s" \
        within_5s "$W/$arch/host_ll_shutdown.out" "$bin/host_loadlibrary.exe" "$WSIM_STREAM" 2 --shutdown
    check "$arch: exit with 3 channels open, without pwa_shutdown, within 5 s" \
        within_5s "$W/$arch/host_exit.out" "$bin/host_exit_open.exe" "$WSIM_STREAM" "$WSIM_ADHOC"
    stop_sims

    tests=()
    for t in tests/c/test_*.c; do tests+=("$bin/$(basename "$t" .c).exe"); done
    check "$arch: tests/c and examples stream/callback under Wine (scripts/run-c-tests.sh)" \
        env SIM_DIR="$W/$arch/sim-c" PWA_RUN=scripts/wine-run.sh PWA_BIN="$bin" PWA_EXE=.exe \
            PWA_WINDOWS=1 PWA_NO_VALGRIND=1 scripts/run-c-tests.sh "${tests[@]}"
    check "$arch: examples update and watchdog under Wine (scripts/test-examples.sh)" \
        env SIM_DIR="$W/$arch/sim-examples" PWA_RUN=scripts/wine-run.sh PWA_BIN="$bin" PWA_EXE=.exe \
            scripts/test-examples.sh
done

# --- the bindings in Windows runtimes, x64 (from PyPI, unpacked by scripts/install-deps.sh into
# the cache): the .NET binding's tests in .NET Core 3.1's dotnet.exe; the .nupkg (linux-x64,
# win-x64, win-x86 natives) as a NuGet user on win-x64 uses it; the win_amd64 wheel installed
# and run by Windows CPython 3.13 (embeddable distribution).
WIN_RUNTIMES=${PWA_WINDOWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/piwebasync-windows}
export PWA_WINDOWS_DOTNET=$WIN_RUNTIMES/dotnet/dotnet.exe
if [ ! -f "$PWA_WINDOWS_DOTNET" ] || [ ! -f "$WIN_RUNTIMES/python/python.exe" ]; then
    die "MISSING: the Windows .NET and Python runtimes in $WIN_RUNTIMES (run scripts/install-deps.sh)"
fi
check "x64: the .NET binding's tests in the Windows .NET Core runtime (scripts/test-dotnet.sh)" \
    env SIM_DIR="$W/x64/sim-dotnet" PWA_WINDOWS_DLL="$W/x64/pkg/piwebasync.dll" scripts/test-dotnet.sh
nupkg_windows() {
    local out=$W/pkgs
    scripts/build-nupkg.sh "$out" linux-x64=target/debug/libpiwebasync.so \
        win-x64="$W/x64/pkg/piwebasync.dll" win-x86="$W/x86/pkg/piwebasync.dll" >/dev/null &&
        SIM_DIR="$W/x64/sim-nupkg" NUPKG_RID=win-x64 scripts/test-nupkg.sh "$out"/PiWebAsync.*.nupkg
}
check "x64: the .nupkg (linux-x64, win-x64, win-x86) used by a program on win-x64 (scripts/test-nupkg.sh)" nupkg_windows
wheel_windows() {
    local whl
    whl=$(scripts/build-wheel.sh "$W/x64/pkg/piwebasync.dll" "$W/pkgs" | tail -n 1) &&
        SIM_DIR="$W/x64/sim-wheel" WHEEL_WINDOWS_PYTHON="$WIN_RUNTIMES/python" scripts/test-wheel.sh "$whl"
}
check "x64: the win_amd64 wheel in Windows CPython (scripts/test-wheel.sh)" wheel_windows

# --- the Rust tests for x64 under Wine: the library's unit and integration tests (all but
# tests/nginx.rs, which needs a native nginx and POSIX process groups: it runs in the native
# suite) and the C ABI crate's, the simulator in-process.
rust_tests() {
    local t args=(--lib)
    for t in tests/*.rs; do
        t=$(basename "$t" .rs)
        [ "$t" = nginx ] || args+=(--test "$t")
    done
    # The subscription set's large test at 2,000 WebIds, not 20,000: Wine's sockets are far
    # slower than the host's (the 20,000 run natively, in test-rust).
    PWA_TEST_SET_POINTS=2000 CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-run.sh" \
        timeout 1200 $CARGO test --target x86_64-pc-windows-gnu -p piwebasync "${args[@]}" &&
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-run.sh" \
        timeout 600 $CARGO test --target x86_64-pc-windows-gnu -p piwebasync-capi --lib
}
check "x64: the Rust tests under Wine (piwebasync: --lib and tests/*.rs but nginx.rs; piwebasync-capi --lib)" rust_tests
finish
