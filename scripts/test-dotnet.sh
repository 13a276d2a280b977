#!/usr/bin/env bash
# Build and run the .NET binding's test (tests/dotnet/TestBinding.cs over bindings/dotnet/*.cs)
# with Mono against simulators started here and stopped at exit. Needs Debian's mono-mcs (the
# C# compiler, which brings the mono runtime; scripts/install-deps.sh installs it). Assumes
# `cargo build --workspace` was run (target/debug/libpiwebasync.so and target/debug/piwebasync-sim).
# With PWA_WINDOWS_DOTNET (the Windows dotnet.exe) and PWA_WINDOWS_DLL (an x64 piwebasync.dll):
# the same test in the Windows .NET Core runtime under Wine (WINEPREFIX of the environment), the
# DLL beside the program, the struct layout from the mingw-w64 compiler (scripts/test-windows.sh).
# Prints "dotnet-binding: PASS", or fails with a non-zero exit.
set -uo pipefail
cd "$(dirname "$0")/.."
# Our own directory for the simulators' output (the other binding tests use build/sim*).
SIM_DIR=${SIM_DIR:-build/sim-dotnet}
source scripts/sim-lib.sh

windows=${PWA_WINDOWS_DOTNET:+1}
native=target/debug/libpiwebasync.so
[ -z "$windows" ] || native=${PWA_WINDOWS_DLL:?PWA_WINDOWS_DLL: the piwebasync.dll to test}
for f in "$native" "$SIM_BIN" ${PWA_WINDOWS_DOTNET:+"$PWA_WINDOWS_DOTNET"}; do
    [ -e "$f" ] || { echo "dotnet-binding: $f is missing: run cargo build --workspace first" >&2; exit 1; }
done

if ! command -v mcs >/dev/null || ! command -v mono >/dev/null; then
    echo "dotnet-binding: mcs/mono not found: scripts/install-deps.sh installs them (Debian: mono-mcs)" >&2
    exit 1
fi

out=build/dotnet${windows:+-windows}
rm -rf "$out"; mkdir -p "$out"
# C# 7 only (what Debian's mcs supports); no unsafe code. Warnings are errors.
if ! mcs -langversion:7 -unsafe- -warnaserror+ -nologo -out:"$out/TestBinding.exe" \
        bindings/dotnet/*.cs tests/dotnet/TestBinding.cs; then
    echo "dotnet-binding: FAIL (compile)" >&2
    exit 1
fi

# Struct sizes and offsets as the C compiler lays them out, for the test to compare.
layout=
if [ -n "$windows" ]; then
    x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/dotnet/layout.c -o "$out/layout.exe" &&
        scripts/wine-run.sh "$out/layout.exe" > "$out/layout.txt" &&
        layout=$(winepath -w "$PWD/$out/layout.txt") ||
        { echo "dotnet-binding: FAIL (the x64 layout program under Wine)" >&2; exit 1; }
    cp "$native" "$out/piwebasync.dll"
    # .NET Core runs the mscorlib-built program through its facade, given a runtimeconfig.
    printf '%s\n' '{ "runtimeOptions": { "tfm": "netcoreapp3.1", "framework": { "name": "Microsoft.NETCore.App", "version": "3.1.0" } } }' \
        > "$out/TestBinding.runtimeconfig.json"
elif command -v cc >/dev/null && cc -std=c11 -Wall -Wextra -Werror -Iinclude tests/dotnet/layout.c \
        -o "$out/dotnet-layout" && "$out/dotnet-layout" > "$out/dotnet-layout.txt"; then
    layout=$PWD/$out/dotnet-layout.txt
else
    echo "dotnet-binding: no C compiler: the struct layout check is skipped" >&2
fi

start_sim SIM --interval-ms 20 || { echo "dotnet-binding: FAIL (simulator A)" >&2; exit 1; }
start_sim SIM2 --interval-ms 20 || { echo "dotnet-binding: FAIL (simulator B)" >&2; exit 1; }
# A third one only for fault injection (reset, 401 refusals), so A and B stay undisturbed.
start_sim SIM3 --interval-ms 20 || { echo "dotnet-binding: FAIL (simulator C)" >&2; exit 1; }
# One with a recorded history, restarted by the gap fill test.
start_sim SIMA --interval-ms 20 --archive || { echo "dotnet-binding: FAIL (archive simulator)" >&2; exit 1; }

if [ -n "$windows" ]; then
    # Windows loads piwebasync.dll from the program's folder.
    PWA_LAYOUT=$layout timeout 300 scripts/wine-run.sh "$PWA_WINDOWS_DOTNET" "$out/TestBinding.exe" \
        "$SIM_ADHOC" "$SIM2_ADHOC" "$SIM_BASE" "$SIM3_BASE" "$SIMA_BASE"
else
    # Mono resolves [DllImport("piwebasync")] to libpiwebasync.so through LD_LIBRARY_PATH.
    PWA_LAYOUT=$layout LD_LIBRARY_PATH="$PWD/target/debug${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        timeout 300 mono --debug "$out/TestBinding.exe" "$SIM_ADHOC" "$SIM2_ADHOC" "$SIM_BASE" "$SIM3_BASE" "$SIMA_BASE"
fi
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "dotnet-binding: FAIL (exit $rc)" >&2
    exit "$rc"
fi
echo "dotnet-binding: PASS"
