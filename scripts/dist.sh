#!/usr/bin/env bash
# `make dist`: every user-facing artifact into dist/, from one release build.
#   dist/piwebasync-<v>-linux-x86_64.tar.gz   the `make install` tree (relocatable): stripped
#                                             library, static library, headers, pkg-config and
#                                             CMake files, docs
#   dist/piwebasync-<v>-linux-x86_64-debug.tar.gz  its lib/.debug/ (unpack over the same folder:
#                                             gdb finds it through .gnu_debuglink)
#   dist/piwebasync_c-<v>-py3-none-manylinux_*_x86_64.whl   the Python binding with the library
#   dist/piwebasync_c-<v>-py3-none-win_amd64.whl             the same with the x64 DLL
#   dist/PiWebAsync.<v>.nupkg                 the .NET binding with runtimes/linux-x64, win-x64
#                                             and win-x86/native
#   dist/windows-x64/, dist/windows-x86/      `make dist-windows` (the DLLs for C and C++)
#   dist/SHA256SUMS
# Then checks that every artifact carries the project version (scripts/test-version.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(scripts/version.sh)
name=piwebasync-$version
stage=$PWD/build/dist-stage
rm -rf dist "$stage"
mkdir -p dist
make -s install DESTDIR="$stage" PREFIX="/$name"
tar -C "$stage" --owner=0 --group=0 --numeric-owner --exclude="$name/lib/.debug" \
    -czf "dist/$name-linux-x86_64.tar.gz" "$name"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "dist/$name-linux-x86_64-debug.tar.gz" \
    "$name/lib/.debug"
lib="$stage/$name/lib/libpiwebasync.so.$version"
scripts/dist-windows.sh
scripts/build-wheel.sh "$lib" dist > /dev/null
scripts/build-wheel.sh dist/windows-x64/piwebasync.dll dist > /dev/null
scripts/build-nupkg.sh dist "linux-x64=$lib" win-x64=dist/windows-x64/piwebasync.dll \
    win-x86=dist/windows-x86/piwebasync.dll > /dev/null
(cd dist && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum -- > SHA256SUMS)
scripts/test-version.sh "$stage/$name" dist
echo "dist:"
ls -l dist
