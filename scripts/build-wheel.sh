#!/usr/bin/env bash
# scripts/build-wheel.sh LIBRARY OUTDIR: the piwebasync_c wheel with LIBRARY inside the package.
#   - libpiwebasync.so (the stripped library `make install` installs): tagged with the
#     manylinux platform that auditwheel (PyPI) finds the library compatible with, and checked
#     by it;
#   - piwebasync.dll for x64 (dist/windows-x64/): tagged win_amd64 (its imports, Windows system
#     DLLs only, are checked by scripts/test-windows.sh).
# Prints the wheel's path on its last line.
#
# The build tools (setuptools, wheel, auditwheel) live in a venv under build/py-tools, made once
# (about 20 s, from PyPI) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$1
out=$2
[ -f "$lib" ] || { echo "build-wheel: $lib not found (run make install first)" >&2; exit 1; }
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "build-wheel: Linux x86_64 only" >&2; exit 1; }
case $lib in
    *.dll)
        x86_64-w64-mingw32-objdump -f "$lib" 2>/dev/null | grep -q 'file format pei-x86-64' ||
            { echo "build-wheel: $lib is not an x64 Windows DLL (x86_64-w64-mingw32-objdump -f)" >&2; exit 1; }
        native=piwebasync.dll ;;
    *) native=libpiwebasync.so ;;
esac
version=$(scripts/version.sh)
TOOLS=build/py-tools
if [ ! -x "$TOOLS/bin/auditwheel" ] || [ ! -x "$TOOLS/bin/wheel" ]; then
    rm -rf "$TOOLS"
    if ! { python3 -m venv "$TOOLS" &&
           "$TOOLS/bin/pip" install -q "setuptools>=61" wheel auditwheel; } >&2; then
        echo "build-wheel: FAILED to make $TOOLS with setuptools, wheel and auditwheel from PyPI" >&2
        exit 1
    fi
fi

# A build copy of bindings/python with the library and the version in the package.
src=build/wheel-src
raw=build/wheel-raw
rm -rf "$src" "$raw"
mkdir -p "$src" "$raw" "$out"
cp -r bindings/python/pyproject.toml bindings/python/setup.py bindings/python/README.md \
    bindings/python/piwebasync_c "$src/"
find "$src/piwebasync_c" -name __pycache__ -prune -exec rm -rf {} +   # also aio/
install -m 0755 "$lib" "$src/piwebasync_c/$native"
cp LICENSE-MIT LICENSE-APACHE "$src/piwebasync_c/"
printf '__version__ = "%s"\n' "$version" > "$src/piwebasync_c/_version.py"

"$TOOLS/bin/pip" wheel -q --no-deps --no-build-isolation -w "$raw" "$src" >&2
whl=$(ls "$raw"/piwebasync_c-"$version"-py3-none-linux_x86_64.whl)

if [ "$native" = piwebasync.dll ]; then
    plat=win_amd64
else
    # The most widely compatible manylinux tag the library's glibc symbol versions allow.
    "$TOOLS/bin/auditwheel" show "$whl" > "$raw/show.txt" 2>&1 || { cat "$raw/show.txt" >&2; exit 1; }
    plat=$(grep -o 'manylinux_[0-9]*_[0-9]*_x86_64' "$raw/show.txt" | head -1)
    [ -n "$plat" ] || { echo "build-wheel: auditwheel found no manylinux tag for $whl:" >&2; cat "$raw/show.txt" >&2; exit 1; }
fi
"$TOOLS/bin/wheel" tags --remove --platform-tag "$plat" "$whl" >/dev/null
final="$raw/piwebasync_c-$version-py3-none-$plat.whl"
[ -f "$final" ] || { echo "build-wheel: wheel tags did not write $final" >&2; exit 1; }
if [ "$plat" != win_amd64 ]; then
    # auditwheel again, on the wheel as shipped: its tag must be one it is consistent with.
    "$TOOLS/bin/auditwheel" show "$final" > "$raw/show-final.txt" 2>&1
    if ! tr '\n' ' ' < "$raw/show-final.txt" | grep -q "is consistent with the following platform tag: \"$plat\""; then
        echo "build-wheel: auditwheel does not confirm $plat for $final:" >&2; cat "$raw/show-final.txt" >&2; exit 1
    fi
    echo "build-wheel: auditwheel: $(basename "$final") is consistent with $plat" >&2
fi
rm -f "$out"/piwebasync_c-*-"$plat".whl
cp "$final" "$out/"
echo "$out/$(basename "$final")"
