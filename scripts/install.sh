#!/usr/bin/env bash
# `make install`: the release library, the header and a pkg-config file under
# $DESTDIR$PREFIX (PREFIX defaults to /usr/local; LIBDIR to $PREFIX/lib).
#
#   lib/libpiwebasync.so.0.1.0      the shared library, SONAME libpiwebasync.so.0.1
#   lib/libpiwebasync.so.0.1        -> libpiwebasync.so.0.1.0 (what programs load)
#   lib/libpiwebasync.so            -> libpiwebasync.so.0.1   (what -lpiwebasync finds)
#   lib/libpiwebasync.a             the static library (pkg-config --static --libs says what else)
#   lib/pkgconfig/piwebasync.pc
#   include/piwebasync.h
#
# The SONAME follows cargo-c's rule: before 1.0 a minor release may change the ABI, so it
# carries major.minor (0.1); from 1.0 on, the major alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
CARGO=${CARGO:-cargo}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi
soname="libpiwebasync.so.$abi"

# The SONAME is given to the cdylib only (cargo rustc passes the flag to this one target).
$CARGO rustc --release --lib --crate-type cdylib -- -C "link-arg=-Wl,-soname,$soname"
$CARGO rustc --release --lib --crate-type staticlib

lib="$DESTDIR$LIBDIR"
inc="$DESTDIR$INCLUDEDIR"
install -d "$lib" "$lib/pkgconfig" "$inc"
install -m 0755 target/release/libpiwebasync.so "$lib/libpiwebasync.so.$version"
ln -sf "libpiwebasync.so.$version" "$lib/$soname"
ln -sf "$soname" "$lib/libpiwebasync.so"
install -m 0644 target/release/libpiwebasync.a "$lib/libpiwebasync.a"
install -m 0644 include/piwebasync.h "$inc/piwebasync.h"
cat > "$lib/pkgconfig/piwebasync.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: piwebasync
Description: PI Web API channel client with a C ABI: reconnecting, updatable, poll or callback
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpiwebasync
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PC
echo "installed piwebasync $version into $DESTDIR$PREFIX ($soname)"
