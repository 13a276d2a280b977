#!/usr/bin/env bash
# `make install`: the release library, the headers, pkg-config files and a CMake package under
# $DESTDIR$PREFIX (PREFIX defaults to /usr/local; LIBDIR to $PREFIX/lib).
#
#   lib/libpiwebasync.so.0.1.0        the shared library, stripped; SONAME libpiwebasync.so.0.1
#   lib/libpiwebasync.so.0.1          -> libpiwebasync.so.0.1.0 (what programs load)
#   lib/libpiwebasync.so              -> libpiwebasync.so.0.1   (what -lpiwebasync finds)
#   lib/.debug/libpiwebasync.so.0.1.0.debug
#                                     its debug info (the .so names it in .gnu_debuglink; gdb
#                                     looks in lib/.debug/ by itself)
#   lib/libpiwebasync.a               the static library: one object in which only the pwa_*
#                                     functions are global (no mi_*, no Rust symbols to collide)
#   lib/pkgconfig/piwebasync.pc       -lpiwebasync (shared)
#   lib/pkgconfig/piwebasync-static.pc  the static archive and what it needs from the system
#   lib/cmake/piwebasync/piwebasync-config.cmake          piwebasync::piwebasync (shared),
#   lib/cmake/piwebasync/piwebasync-config-version.cmake  piwebasync::piwebasync_static
#   include/piwebasync.h              the C header
#   include/piwebasync.hpp            the header-only C++ wrapper (C++14 or later)
#   share/doc/piwebasync/             README, CHANGELOG, licences
#
# Every path in the .pc and CMake files is relative to where they are found (${pcfiledir},
# CMAKE_CURRENT_LIST_DIR): the installed tree can be moved or unpacked anywhere.
#
# The SONAME follows cargo-c's rule: before 1.0 a minor release may change the ABI, so it
# carries major.minor (0.1); from 1.0 on, the major alone. The CMake version file says the same:
# before 1.0 only the same major.minor is compatible, from 1.0 the same major.
#
# PWA_SKIP_BUILD=1 installs what target/release already holds (make dist builds once).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
CARGO=${CARGO:-cargo}

die() { echo "install: $*" >&2; exit 1; }
for tool in objcopy strip ld nm; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install binutils)"
done

version=$(scripts/version.sh)
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi
soname="libpiwebasync.so.$abi"
realname="libpiwebasync.so.$version"

if [ -z "${PWA_SKIP_BUILD:-}" ]; then
    # The SONAME is given to the cdylib only (cargo rustc passes the flag to this one target).
    $CARGO rustc -p piwebasync-capi --release --lib --crate-type cdylib -- -C "link-arg=-Wl,-soname,$soname"
    $CARGO rustc -p piwebasync-capi --release --lib --crate-type staticlib
fi
[ -f target/release/libpiwebasync.so ] && [ -f target/release/libpiwebasync.a ] \
    || die "target/release/libpiwebasync.{so,a} missing (run without PWA_SKIP_BUILD)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- shared library: stripped, debug info beside it --------------------------------------------
cp target/release/libpiwebasync.so "$work/$realname"
objcopy --only-keep-debug "$work/$realname" "$work/$realname.debug"
strip --strip-unneeded --remove-section=.comment "$work/$realname"
# The link names the file (gdb finds it beside the library or in .debug/) and carries its CRC.
(cd "$work" && objcopy --add-gnu-debuglink="$realname.debug" "$realname")

# --- static library: one relocatable object, only pwa_* global ----------------------------------
# The Rust staticlib holds every crate's objects with their global symbols: mimalloc's mi_*,
# Rust's mangled names, compiler-builtins' helpers. A C or C++ host that defines any of them
# fails to link (or worse, silently gets ours). Link the members that the pwa_* functions need
# into one object (ld -r pulls them from the archive like a final link would), then make every
# defined symbol but pwa_* local. Undefined references (libc, libpthread, the unwinder) stay.
mkdir "$work/ar"
nm -g --defined-only target/release/libpiwebasync.a 2>/dev/null \
    | awk '$2 == "T" && $3 ~ /^pwa_/ { print $3 }' | sort -u > "$work/exports.txt"
[ -s "$work/exports.txt" ] || die "no pwa_* function in target/release/libpiwebasync.a"
undef=()
while read -r sym; do undef+=("--undefined=$sym"); done < "$work/exports.txt"
ld -r -o "$work/piwebasync.o" "${undef[@]}" target/release/libpiwebasync.a
# Also drop rustc's embedded LLVM bitcode (.llvmbc/.llvmcmd, for cross-language LTO): after ld -r
# it is one meaningless blob, and binutils' LLVMgold plugin (Debian's llvm) aborts on it.
objcopy --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd \
    --keep-global-symbols="$work/exports.txt" "$work/piwebasync.o"
rm -f "$work/libpiwebasync.a"
ar rcsD "$work/libpiwebasync.a" "$work/piwebasync.o"

# --- install -------------------------------------------------------------------------------------
lib="$DESTDIR$LIBDIR"
inc="$DESTDIR$INCLUDEDIR"
cmakedir="$lib/cmake/piwebasync"
docdir="$DESTDIR$PREFIX/share/doc/piwebasync"
install -d "$lib" "$lib/.debug" "$lib/pkgconfig" "$cmakedir" "$inc" "$docdir"
install -m 0755 "$work/$realname" "$lib/$realname"
install -m 0644 "$work/$realname.debug" "$lib/.debug/$realname.debug"
ln -sf "$realname" "$lib/$soname"
ln -sf "$soname" "$lib/libpiwebasync.so"
install -m 0644 "$work/libpiwebasync.a" "$lib/libpiwebasync.a"
install -m 0644 include/piwebasync.h "$inc/piwebasync.h"
install -m 0644 bindings/cpp/piwebasync.hpp "$inc/piwebasync.hpp"
for f in README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE; do
    [ -f "$f" ] && install -m 0644 "$f" "$docdir/$f"
done

# Paths relative to the file that names them (so the tree is relocatable).
rel() { realpath -m --relative-to="$1" "$2"; }
pc_prefix=$(rel "$LIBDIR/pkgconfig" "$PREFIX")
pc_libdir=$(rel "$PREFIX" "$LIBDIR")
pc_includedir=$(rel "$PREFIX" "$INCLUDEDIR")
# What the static library needs from the system. Not -lgcc_s (rustc lists it): the gcc driver
# adds the unwinder itself (libgcc_s as-needed when linking dynamically, libgcc_eh with -static),
# and an explicit -lgcc_s makes `gcc -static` fail.
static_libs="-lpthread -ldl -lm -lrt -lutil"
description="PI Web API channel client with a C ABI: reconnecting, updatable, poll or callback"
cat > "$lib/pkgconfig/piwebasync.pc" <<PC
prefix=\${pcfiledir}/$pc_prefix
libdir=\${prefix}/$pc_libdir
includedir=\${prefix}/$pc_includedir

Name: piwebasync
Description: $description
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpiwebasync
Libs.private: $static_libs
PC
cat > "$lib/pkgconfig/piwebasync-static.pc" <<PC
prefix=\${pcfiledir}/$pc_prefix
libdir=\${prefix}/$pc_libdir
includedir=\${prefix}/$pc_includedir

Name: piwebasync-static
Description: $description (static library)
Version: $version
Cflags: -I\${includedir}
Libs: \${libdir}/libpiwebasync.a $static_libs
PC

cm_prefix=$(rel "$LIBDIR/cmake/piwebasync" "$PREFIX")
cat > "$cmakedir/piwebasync-config.cmake" <<CM
# piwebasync $version: find_package(piwebasync CONFIG) gives
#   piwebasync::piwebasync         the shared library ($soname)
#   piwebasync::piwebasync_static  the static library (links pthread, dl, m, rt, util)
# Both carry the include directory (piwebasync.h, and piwebasync.hpp for C++14 and later).
# Paths are relative to this file: the installed tree may be moved.
# (No cmake_minimum_required here: it would reset the policies of the project that includes us.)
if(CMAKE_VERSION VERSION_LESS 3.5)
  set(piwebasync_FOUND FALSE)
  set(piwebasync_NOT_FOUND_MESSAGE "piwebasync's CMake package needs CMake 3.5 or later")
  return()
endif()
get_filename_component(_piwebasync_prefix "\${CMAKE_CURRENT_LIST_DIR}/$cm_prefix" ABSOLUTE)
set(_piwebasync_libdir "\${_piwebasync_prefix}/$pc_libdir")
set(_piwebasync_includedir "\${_piwebasync_prefix}/$pc_includedir")
foreach(_piwebasync_file "\${_piwebasync_libdir}/$realname" "\${_piwebasync_libdir}/libpiwebasync.a"
        "\${_piwebasync_includedir}/piwebasync.h")
  if(NOT EXISTS "\${_piwebasync_file}")
    set(piwebasync_FOUND FALSE)
    set(piwebasync_NOT_FOUND_MESSAGE "\${_piwebasync_file} is missing: reinstall piwebasync")
    return()
  endif()
endforeach()
include(CMakeFindDependencyMacro)
find_dependency(Threads)
if(NOT TARGET piwebasync::piwebasync)
  add_library(piwebasync::piwebasync SHARED IMPORTED)
  set_target_properties(piwebasync::piwebasync PROPERTIES
    IMPORTED_LOCATION "\${_piwebasync_libdir}/$realname"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_piwebasync_includedir}")
endif()
if(NOT TARGET piwebasync::piwebasync_static)
  add_library(piwebasync::piwebasync_static STATIC IMPORTED)
  set_target_properties(piwebasync::piwebasync_static PROPERTIES
    IMPORTED_LOCATION "\${_piwebasync_libdir}/libpiwebasync.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_piwebasync_includedir}"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;\${CMAKE_DL_LIBS};m;rt;util")
endif()
set(piwebasync_VERSION "$version")
unset(_piwebasync_file)
unset(_piwebasync_prefix)
unset(_piwebasync_libdir)
unset(_piwebasync_includedir)
CM
cat > "$cmakedir/piwebasync-config-version.cmake" <<CM
# piwebasync's compatibility policy: before 1.0 a minor release may break the ABI, so only the
# same major.minor is compatible (0.1.x satisfies 0.1, not 0.2 nor 0.0); from 1.0 on, the same
# major. Within that, the installed version must be at least the one asked for. 64-bit only.
set(PACKAGE_VERSION "$version")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
set(PACKAGE_VERSION_EXACT FALSE)
if(PACKAGE_FIND_VERSION_RANGE)
  # A range (find_package(piwebasync 0.1...<0.3)): its lower end by the policy, and inside it.
  set(_pwa_min "\${PACKAGE_FIND_VERSION_MIN}")
  set(_pwa_min_major "\${PACKAGE_FIND_VERSION_MIN_MAJOR}")
  set(_pwa_min_minor "\${PACKAGE_FIND_VERSION_MIN_MINOR}")
else()
  set(_pwa_min "\${PACKAGE_FIND_VERSION}")
  set(_pwa_min_major "\${PACKAGE_FIND_VERSION_MAJOR}")
  set(_pwa_min_minor "\${PACKAGE_FIND_VERSION_MINOR}")
endif()
if("\${_pwa_min}" STREQUAL "")
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(NOT PACKAGE_VERSION VERSION_LESS _pwa_min AND "\${_pwa_min_major}" EQUAL $major)
  if($major GREATER 0 OR "\${_pwa_min_minor}" EQUAL $minor)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(PACKAGE_FIND_VERSION_RANGE)
  if(PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE" AND PACKAGE_VERSION VERSION_GREATER PACKAGE_FIND_VERSION_MAX)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  elseif(PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE" AND NOT PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MAX)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  endif()
endif()
if("\${PACKAGE_FIND_VERSION}" STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P EQUAL 8)
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
endif()
unset(_pwa_min)
unset(_pwa_min_major)
unset(_pwa_min_minor)
CM
echo "installed piwebasync $version into $DESTDIR$PREFIX ($soname)"
if [ -z "$DESTDIR" ] && command -v ldconfig >/dev/null && [ "$(id -u)" -eq 0 ]; then
    ldconfig "$LIBDIR" 2>/dev/null || true   # refresh the loader's cache for the new SONAME link
elif [ -z "$DESTDIR" ]; then
    echo "install: run ldconfig (as root) or add $LIBDIR to LD_LIBRARY_PATH so programs find $soname"
fi
