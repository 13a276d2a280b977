#!/usr/bin/env bash
# Install what `make demo` / `make test` need beyond the Rust toolchain, on Debian. Idempotent:
# does nothing when everything is there.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
# The wheel test installs into a fresh venv (Debian splits venv/ensurepip off python3).
command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null && need+=(python3-venv)
# tests/nginx.rs runs channels through nginx as a TLS-terminating WebSocket proxy. Debian
# installs it in /usr/sbin (not on every user's PATH); the test starts its own instance.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v valgrind >/dev/null || need+=(valgrind)
# make test-kerberos (tests/kerberos.rs): a private MIT realm (kdb5_util, kadmin.local, krb5kdc,
# kinit, klist) and Apache with mod_auth_gssapi and mod_proxy_wstunnel; the library itself loads
# libgssapi_krb5.so.2 at run time (pulled in by krb5-user).
[ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || need+=(krb5-admin-server)
command -v kinit >/dev/null || need+=(krb5-user)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -e /usr/lib/apache2/modules/mod_auth_gssapi.so ] || need+=(libapache2-mod-auth-gssapi)
# bindings/dotnet is compiled and tested with Mono's C# compiler (no .NET SDK on Debian).
command -v mcs >/dev/null || need+=(mono-mcs)
command -v mono >/dev/null || need+=(mono-runtime)
# make install / make test (scripts/install.sh, test-install.sh): the static library is made
# with ld -r + objcopy and the shared one stripped (binutils); the installed tree is used out of
# tree with pkg-config and with CMake (find_package), statically too (gcc -static: libc6-dev).
command -v cmake >/dev/null || need+=(cmake)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v objcopy >/dev/null || need+=(binutils)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ "$(uname -m)" != x86_64 ] || need+=(libc6-dev)
# The LabVIEW recipe's cluster layouts are compiled for x64 and x86 Windows
# (scripts/test-labview-layout.sh).
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
command -v i686-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-i686)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log=$(mktemp)
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            $SUDO apt-get install -y -qq "${need[@]}"; } >"$log" 2>&1; then
        echo "install-deps: FAILED to install ${need[*]} with apt-get (log: $log; last line: $(tail -1 "$log"))" >&2
        exit 1
    fi
    rm -f "$log"
fi
# `make lint` runs rustfmt and clippy; `make test` builds the library with AddressSanitizer
# and `make sanitize` with ThreadSanitizer, both on the nightly toolchain (-Zsanitizer is
# nightly-only); ThreadSanitizer also needs the nightly's rust-src (scripts/sanitize.sh adds it
# when missing). rustup's components and toolchains download from its own server.
if command -v rustup >/dev/null; then
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
    cargo +nightly --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
fi
# The Windows part (make dist-windows / test-windows): rustup targets, mingw-w64, Wine.
"$(dirname "$0")/install-windows-deps.sh"
# make test-fuzz / make fuzz: cargo-fuzz from crates.io, run on the nightly toolchain the image
# has (scripts/fuzz.sh says so clearly if there is none).
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing: cargo-fuzz (cargo install)"
    log=$(mktemp)
    if ! cargo install cargo-fuzz --locked >"$log" 2>&1; then
        echo "install-deps: FAILED to install cargo-fuzz with cargo install (log: $log; last line: $(tail -1 "$log"))" >&2
        exit 1
    fi
    rm -f "$log"
fi
