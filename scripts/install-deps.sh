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
# The Windows part (make dist-windows / test-windows): rustup targets, mingw-w64, Wine.
"$(dirname "$0")/install-windows-deps.sh"
