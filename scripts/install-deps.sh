#!/usr/bin/env bash
# Install what `make demo` / `make test` need beyond the Rust toolchain, on Debian. Idempotent:
# does nothing when everything is there.
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v python3 >/dev/null || need+=(python3)
# tests/nginx.rs runs channels through nginx as a TLS-terminating WebSocket proxy. Debian
# installs it in /usr/sbin (not on every user's PATH); the test starts its own instance.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v valgrind >/dev/null || need+=(valgrind)
# bindings/dotnet is compiled and tested with Mono's C# compiler (no .NET SDK on Debian).
command -v mcs >/dev/null || need+=(mono-mcs)
command -v mono >/dev/null || need+=(mono-runtime)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
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
