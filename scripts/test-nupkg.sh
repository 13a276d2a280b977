#!/usr/bin/env bash
# scripts/test-nupkg.sh NUPKG: use the .nupkg as a NuGet user does.
# 1. "Restore": unpack it into a packages folder laid out as NuGet's global packages folder
#    (piwebasync/<version>/, lower case) and check the parts a client needs.
# 2. Build tests/dotnet-package/Program.cs against lib/netstandard2.0/PiWebAsync.Net.dll and lay the
#    output out as the .NET SDK does for the RID (the assembly and runtimes/<rid>/native/*
#    beside the program); run it against the simulator with no library path set.
# 3. The same program without the native library: the exception must name the file names and
#    folders tried and how to fix it.
# The RID is linux-x64 (run by Mono) unless NUPKG_RID=win-x64: then the program runs under Wine
# (WINEPREFIX of the environment) in the Windows .NET Core runtime PWA_WINDOWS_DOTNET (dotnet.exe),
# as scripts/test-windows.sh does it.
# Prints "nupkg (RID): N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
nupkg=$(realpath "$1")
rid=${NUPKG_RID:-linux-x64}
SIM_DIR=${SIM_DIR:-build/sim-nupkg-$rid}
source scripts/sim-lib.sh
version=$(scripts/version.sh) || exit 1
T=$PWD/build/nupkg-test-$rid
rm -rf "$T"; mkdir -p "$T"
passed=0; failed=0
check() {
    local name=$1; shift
    echo "=== $name"
    if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}
case $rid in
    linux-x64)
        native=libpiwebasync.so; path_var=LD_LIBRARY_PATH
        run() { env -u LD_LIBRARY_PATH timeout 120 mono "$@"; }
        native_path() { echo "$1"; }
        stripped_with_pwa_version() { # (read whole: grep -q would end readelf early, pipefail)
            local sections exports
            sections=$(readelf -SW "$1") && exports=$(nm -D --defined-only "$1") &&
                ! grep -q '\.debug_info' <<<"$sections" && grep -q ' T pwa_version$' <<<"$exports"
        }
        ;;
    win-x64)
        native=piwebasync.dll; path_var=PATH
        [ -n "${PWA_WINDOWS_DOTNET:-}" ] && [ -f "$PWA_WINDOWS_DOTNET" ] || { echo "test-nupkg: PWA_WINDOWS_DOTNET (the Windows dotnet.exe) is not set or missing" >&2; exit 1; }
        run() { timeout 120 scripts/wine-run.sh "$PWA_WINDOWS_DOTNET" "$@"; }
        native_path() { winepath -w "$1" 2>/dev/null; }
        stripped_with_pwa_version() { # (read whole: grep -q would end objdump early, pipefail)
            local sections exports
            sections=$(x86_64-w64-mingw32-objdump -h "$1") && exports=$(x86_64-w64-mingw32-objdump -p "$1") &&
                ! grep -q '\.debug_info' <<<"$sections" && grep -qE '\] pwa_version$' <<<"$exports"
        }
        ;;
    *) echo "test-nupkg: unknown NUPKG_RID $rid" >&2; exit 2 ;;
esac

pkg=$T/packages/piwebasync/$version
check "restore: unpack into packages/piwebasync/$version" \
    bash -c 'mkdir -p "$1" && python3 -m zipfile -e "$0" "$1"' "$nupkg" "$pkg"
check "the package has its manifest, assembly and $rid library" bash -c '
    for f in PiWebAsync.nuspec "[Content_Types].xml" _rels/.rels lib/netstandard2.0/PiWebAsync.Net.dll \
             "runtimes/$1/native/$2"; do
        [ -f "$0/$f" ] || { echo "missing $f"; exit 1; }
    done
    grep -q "<id>PiWebAsync</id>" "$0/PiWebAsync.nuspec" && grep -q "Target=\"/PiWebAsync.nuspec\"" "$0/_rels/.rels"' \
    "$pkg" "$rid" "$native"
check "the packaged native library is stripped and exports pwa_version" \
    stripped_with_pwa_version "$pkg/runtimes/$rid/native/$native"

app=$T/app
mkdir -p "$app"
check "Program.cs builds against lib/netstandard2.0/PiWebAsync.Net.dll" \
    mcs -langversion:7 -warnaserror+ -nologo -out:"$app/Program.exe" \
        -r:"$pkg/lib/netstandard2.0/PiWebAsync.Net.dll" tests/dotnet-package/Program.cs
cp "$pkg/lib/netstandard2.0/PiWebAsync.Net.dll" "$app/"
# Flattened into one folder, no two files may differ only in case (one file on Windows).
check "the assembly and the native library have names that differ ignoring case" bash -c '
    dup=$(ls "$0" "$1" | tr "[:upper:]" "[:lower:]" | sort | uniq -d)
    [ -z "$dup" ] || { echo "same name ignoring case: $dup"; exit 1; }' "$pkg/lib/netstandard2.0" "$pkg/runtimes/$rid/native"
# .NET Core runs a program built against mscorlib through its facade, given a runtimeconfig.
[ "$rid" = linux-x64 ] || cat > "$app/Program.runtimeconfig.json" <<'JSON'
{ "runtimeOptions": { "tfm": "netcoreapp3.1", "framework": { "name": "Microsoft.NETCore.App", "version": "3.1.0" } } }
JSON
bare=$T/app-without-native
cp -r "$app" "$bare"
cp "$pkg/runtimes/$rid/native/$native" "$app/"

start_sim NUPKG --interval-ms 20 || exit 1
check "the program streams with the package's native library (no $path_var set)" \
    run "$app/Program.exe" "$NUPKG_STREAM?includeInitialValues=true" 3
without_native() {
    run "$bare/Program.exe" "$NUPKG_STREAM" 3 >"$bare/out.txt" 2>"$bare/err.txt"
    local rc=$? want
    cat "$bare/err.txt"
    [ "$rc" -eq 3 ] || { echo "exit status $rc, expected 3 (DllNotFoundException)"; return 1; }
    # The folder as the program sees it (a Windows path under Wine); runtimes/<rid>/native
    # with the platform's separator.
    local folder; folder=$(native_path "$bare")
    local sub="runtimes/$rid/native"; [ "$rid" = linux-x64 ] || sub='runtimes\'"$rid"'\native'
    for want in "$native" "$folder" "$sub" "$path_var" "To fix"; do
        grep -qF -- "$want" "$bare/err.txt" || { echo "the message does not mention: $want"; return 1; }
    done
}
check "without it, the exception names what was tried and how to fix it" without_native
echo "nupkg ($rid): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
