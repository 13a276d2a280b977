#!/usr/bin/env bash
# make dist-windows: release piwebasync.dll for x64 and x86 (Rust's *-pc-windows-gnu targets,
# cross-built with mingw-w64), packaged per architecture into dist/windows-x64/ and
# dist/windows-x86/ (see scripts/windows-lib.sh, win_package, for the files). Needs
# scripts/install-deps.sh (rustup targets, mingw-w64, llvm-dlltool).
# PWA_DIST_ARCHES="x64" builds only some architectures.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/windows-lib.sh
for arch in ${PWA_DIST_ARCHES:-x64 x86}; do
    echo "== windows-$arch: cargo build --release --target $(win_triple "$arch")"
    win_build "$arch" release
    win_package "$arch" release "dist/windows-$arch"
    echo "dist/windows-$arch:"
    ls -l "dist/windows-$arch" | tail -n +2 | awk '{printf "  %-22s %10d bytes\n", $NF, $5}'
done
