#!/usr/bin/env bash
# make test-kerberos: auth=negotiate against a private MIT Kerberos realm and Apache httpd with
# mod_auth_gssapi in front of the simulator (tests/kerberos.rs starts and stops them), on
# Linux (GSSAPI) and with the Windows DLL (SSPI) under Wine against the same servers: Wine's
# Kerberos provider uses the host's MIT libraries, so examples-c/stream.c cross-built against
# the x64 DLL authenticates with the test's ticket. The Wine prefix is private, created here
# and removed at exit with its wineserver.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
W=build/kerberos-wine
die() { echo "test-kerberos: FAILED: $*" >&2; exit 1; }
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc; do
    command -v "$tool" >/dev/null || die "$tool is missing: scripts/install-deps.sh (make deps) installs it"
done
rm -rf "$W"; mkdir -p "$W/bin"

echo "== the x64 Windows DLL (debug) and examples-c/stream.c against it"
$CARGO build --target x86_64-pc-windows-gnu -p piwebasync-capi >"$W/build.log" 2>&1 ||
    die "cargo build --target x86_64-pc-windows-gnu -p piwebasync-capi (log: $W/build.log; last line: $(tail -n 1 "$W/build.log"))"
dll_dir=target/x86_64-pc-windows-gnu/debug
cp "$dll_dir/piwebasync.dll" "$W/bin/"
x86_64-w64-mingw32-gcc -std=c99 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
    -D__USE_MINGW_ANSI_STDIO=1 -Iinclude examples-c/stream.c -o "$W/bin/stream.exe" \
    "$dll_dir/libpiwebasync.dll.a" -static -lpthread -lws2_32 || die "cross-compiling examples-c/stream.c"

echo "== a private Wine prefix"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
WINEPREFIX=$(mktemp -d /tmp/pwa-krb-wineprefix.XXXXXX)
export WINEPREFIX
cleanup() {
    wineserver -k 2>/dev/null || true
    wineserver -w 2>/dev/null || true
    rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
wineboot -i >"$W/wineboot.log" 2>&1 && wineserver -w ||
    die "wineboot failed in $WINEPREFIX: $(tail -n 3 "$W/wineboot.log")"
# Rust's std calls ProcessPrng (bcryptprimitives.dll), which Wine has only from 8.13: the
# stand-in of scripts/test-windows.sh (forwarding to BCryptGenRandom) is harmless after that.
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -Wl,--enable-stdcall-fixup \
    -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    tests/windows/bcryptprimitives.c tests/windows/bcryptprimitives.def -lbcrypt ||
    die "building the bcryptprimitives stand-in"
wineserver -p 600 >"$W/wineserver.log" 2>&1
# Start the prefix's services now, with their output in a file: started by the tests' first
# Wine program they would inherit (and hold open) its output.
wine cmd /c ver >"$W/warmup.log" 2>&1 || die "wine does not run in $WINEPREFIX: $(tail -n 3 "$W/warmup.log")"

echo "== tests/kerberos.rs (Linux, and the Windows program under Wine)"
PWA_KERBEROS_WINE_STREAM="$PWD/$W/bin/stream.exe" \
    $CARGO test -p piwebasync --test kerberos -- --ignored
