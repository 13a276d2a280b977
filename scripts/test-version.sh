#!/usr/bin/env bash
# One version, every place agrees: Cargo.toml ([package] version, scripts/version.sh) against
# the header's PWA_VERSION_* macros, pwa_version() of the built and of the installed library, the
# installed pkg-config and CMake files, the Python and .NET bindings' mirrored constants, the
# .csproj, and, given a folder of built packages (make dist / make test), the wheel's and the
# .nupkg's metadata.
#   scripts/test-version.sh [STAGE_PREFIX [PACKAGES_DIR]]
# Prints "version: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
stage=${1:-}
pkgs=${2:-}
v=$(scripts/version.sh) || exit 1
IFS=. read -r major minor patch <<< "$v"
passed=0; failed=0
agree() {  # agree WHAT FOUND
    if [ "$2" = "$v" ]; then passed=$((passed + 1)); echo "ok   $1: $2"
    else failed=$((failed + 1)); echo "FAIL $1: '$2', Cargo.toml says $v"; fi
}
macro() { sed -n "s/^#define $1 \([0-9]*\)$/\1/p" "$2"; }
triple() { echo "$(macro PWA_VERSION_MAJOR "$1").$(macro PWA_VERSION_MINOR "$1").$(macro PWA_VERSION_PATCH "$1")"; }
pwa_version() {  # the string the library itself reports
    python3 -c 'import ctypes, sys; f = ctypes.CDLL(sys.argv[1]).pwa_version; f.restype = ctypes.c_char_p; print(f().decode())' "$1" 2>&1
}

agree "include/piwebasync.h PWA_VERSION_*" "$(triple include/piwebasync.h)"
[ -f target/debug/libpiwebasync.so ] && agree "pwa_version() of target/debug" "$(pwa_version target/debug/libpiwebasync.so)"
agree "bindings/python _ffi.PWA_VERSION_*" "$(sed -n 's/^PWA_VERSION_MAJOR = //p' bindings/python/piwebasync_c/_ffi.py).$(sed -n 's/^PWA_VERSION_MINOR = //p' bindings/python/piwebasync_c/_ffi.py).$(sed -n 's/^PWA_VERSION_PATCH = //p' bindings/python/piwebasync_c/_ffi.py)"
cs() { sed -n "s/.*const int $1 = \([0-9]*\);.*/\1/p" bindings/dotnet/Native.cs; }
agree "bindings/dotnet Native.PWA_VERSION_*" "$(cs PWA_VERSION_MAJOR).$(cs PWA_VERSION_MINOR).$(cs PWA_VERSION_PATCH)"
agree "bindings/dotnet/PiWebAsync.csproj <Version>" "$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' bindings/dotnet/PiWebAsync.csproj)"

if [ -n "$stage" ]; then
    agree "installed piwebasync.h" "$(triple "$stage/include/piwebasync.h")"
    agree "installed libpiwebasync.so.$v: pwa_version()" "$(pwa_version "$stage/lib/libpiwebasync.so.$v")"
    agree "piwebasync.pc Version" "$(sed -n 's/^Version: //p' "$stage/lib/pkgconfig/piwebasync.pc")"
    agree "piwebasync-static.pc Version" "$(sed -n 's/^Version: //p' "$stage/lib/pkgconfig/piwebasync-static.pc")"
    agree "piwebasync-config-version.cmake PACKAGE_VERSION" \
        "$(sed -n 's/^set(PACKAGE_VERSION "\([0-9.]*\)")$/\1/p' "$stage/lib/cmake/piwebasync/piwebasync-config-version.cmake")"
fi
if [ -n "$pkgs" ]; then
    whl=$(ls "$pkgs"/piwebasync_c-*.whl 2>/dev/null | head -1)
    if [ -z "$whl" ]; then failed=$((failed + 1)); echo "FAIL no wheel in $pkgs"
    else
        agree "wheel file name" "$(basename "$whl" | cut -d- -f2)"
        agree "wheel METADATA Version" "$(python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
m = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]
print([l[9:] for l in z.read(m).decode().splitlines() if l.startswith("Version: ")][0])' "$whl")"
        agree "wheel piwebasync_c/_version.py" "$(python3 -c 'import sys, zipfile, re
print(re.search(r"\"(.*)\"", zipfile.ZipFile(sys.argv[1]).read("piwebasync_c/_version.py").decode()).group(1))' "$whl")"
    fi
    nupkg=$(ls "$pkgs"/PiWebAsync.*.nupkg 2>/dev/null | head -1)
    if [ -z "$nupkg" ]; then failed=$((failed + 1)); echo "FAIL no .nupkg in $pkgs"
    else
        agree ".nupkg file name" "$(basename "$nupkg" .nupkg | sed 's/^PiWebAsync\.//')"
        agree ".nuspec <version>" "$(python3 -c 'import sys, zipfile
print(zipfile.ZipFile(sys.argv[1]).read("PiWebAsync.nuspec").decode())' "$nupkg" | sed -n 's|.*<version>\(.*\)</version>.*|\1|p')"
    fi
fi
echo "version: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
