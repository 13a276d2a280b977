#!/usr/bin/env bash
# scripts/test-nupkg.sh NUPKG: use the .nupkg as a NuGet user does, with Mono.
# 1. "Restore": unpack it into a packages folder laid out as NuGet's global packages folder
#    (piwebasync/<version>/, lower case) and check the parts a client needs.
# 2. Build tests/dotnet-package/Program.cs against lib/netstandard2.0/PiWebAsync.dll and lay the
#    output out as the .NET SDK does for linux-x64 (the assembly and runtimes/linux-x64/native/*
#    beside the program); run it against the simulator with no LD_LIBRARY_PATH.
# 3. The same program without the native library: the exception must name the file names and
#    folders tried and how to fix it.
# Prints "nupkg: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
nupkg=$(realpath "$1")
SIM_DIR=${SIM_DIR:-build/sim-nupkg}
source scripts/sim-lib.sh
version=$(scripts/version.sh) || exit 1
T=$PWD/build/nupkg-test
rm -rf "$T"; mkdir -p "$T"
passed=0; failed=0
check() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}
pkg=$T/packages/piwebasync/$version
check "restore: unpack into packages/piwebasync/$version" \
    bash -c 'mkdir -p "$1" && python3 -m zipfile -e "$0" "$1"' "$nupkg" "$pkg"
check "the package has its manifest, assembly and linux-x64 library" bash -c '
    for f in PiWebAsync.nuspec "[Content_Types].xml" _rels/.rels lib/netstandard2.0/PiWebAsync.dll \
             runtimes/linux-x64/native/libpiwebasync.so; do
        [ -f "$0/$f" ] || { echo "missing $f"; exit 1; }
    done
    grep -q "<id>PiWebAsync</id>" "$0/PiWebAsync.nuspec" && grep -q "Target=\"/PiWebAsync.nuspec\"" "$0/_rels/.rels"' "$pkg"
check "the packaged native library is stripped and exports pwa_version" bash -c '
    ! readelf -SW "$0" | grep -q "\.debug_info" && nm -D --defined-only "$0" | grep -q " T pwa_version$"' \
    "$pkg/runtimes/linux-x64/native/libpiwebasync.so"

app=$T/app
mkdir -p "$app"
check "Program.cs builds against lib/netstandard2.0/PiWebAsync.dll" \
    mcs -langversion:7 -warnaserror+ -nologo -out:"$app/Program.exe" \
        -r:"$pkg/lib/netstandard2.0/PiWebAsync.dll" tests/dotnet-package/Program.cs
cp "$pkg/lib/netstandard2.0/PiWebAsync.dll" "$app/"
bare=$T/app-without-native
cp -r "$app" "$bare"
cp "$pkg/runtimes/linux-x64/native/libpiwebasync.so" "$app/"

start_sim NUPKG --interval-ms 20 || exit 1
check "the program streams with the package's native library (no LD_LIBRARY_PATH)" \
    env -u LD_LIBRARY_PATH timeout 120 mono "$app/Program.exe" "$NUPKG_STREAM?includeInitialValues=true" 3
check "without it, the exception names what was tried and how to fix it" bash -c '
    env -u LD_LIBRARY_PATH timeout 120 mono "$0/Program.exe" "$1" 3 > "$0/out.txt" 2> "$0/err.txt"
    rc=$?
    cat "$0/err.txt"
    [ "$rc" -eq 3 ] || { echo "exit status $rc, expected 3 (DllNotFoundException)"; exit 1; }
    for want in "libpiwebasync.so" "$0" "runtimes/linux-x64/native" "LD_LIBRARY_PATH" "To fix"; do
        grep -qF -- "$want" "$0/err.txt" || { echo "the message does not mention: $want"; exit 1; }
    done' "$bare" "$NUPKG_STREAM"
echo "nupkg: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
