#!/usr/bin/env bash
# Prints the project's one version: [workspace.package] version in Cargo.toml. Everything else (the header
# macros, pwa_version(), pkg-config, CMake, the wheel, the .nupkg) is derived from it or checked
# against it (scripts/test-version.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(awk '/^\[/ { sect = $0; next } sect == "[workspace.package]" && $1 == "version" {
           gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version.sh: no x.y.z version in Cargo.toml's [workspace.package] (got '$v')" >&2; exit 1; }
echo "$v"
