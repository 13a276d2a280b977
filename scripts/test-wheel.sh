#!/usr/bin/env bash
# scripts/test-wheel.sh WHEEL: install the wheel as a user would and stream from the simulator
# with it (tests/python/wheel_check.py): no PIWEBASYNC_LIB, no PYTHONPATH, run from outside the
# checkout. The library it loads must be the one inside the installed package.
#   - a manylinux wheel: into a fresh venv, run by this machine's Python;
#   - a win_amd64 wheel: pip installs it (--platform win_amd64 --target) into a folder that a
#     copy of Windows CPython (WHEEL_WINDOWS_PYTHON, the embeddable distribution) lists in its
#     ._pth file, and that Python runs it under Wine (WINEPREFIX of the environment), as
#     scripts/test-windows.sh does it.
set -uo pipefail
cd "$(dirname "$0")/.."
whl=$(realpath "$1")
SIM_DIR=${SIM_DIR:-build/sim-wheel}
source scripts/sim-lib.sh
version=$(scripts/version.sh)
check_script=$PWD/tests/python/wheel_check.py
case $whl in
    *-win_amd64.whl) platform=win_amd64 ;;
    *) platform=linux ;;
esac
# build-wheel.sh's tools venv has a pip; without it, a fresh venv's own.
tools_pip=(build/py-tools/bin/pip)
[ -x build/py-tools/bin/pip ] || tools_pip=(python3 -m pip)

if [ "$platform" = linux ]; then
    root=$PWD/build/wheel-venv
    rm -rf "$root"
    # The venv gets no pip of its own (ensurepip takes ~10 s): the tools' pip installs into it.
    if [ -x build/py-tools/bin/pip ]; then
        python3 -m venv --without-pip "$root" || { echo "test-wheel: FAIL (python3 -m venv)" >&2; exit 1; }
        pip=(build/py-tools/bin/pip --python "$root/bin/python")
    else
        python3 -m venv "$root" || { echo "test-wheel: FAIL (python3 -m venv)" >&2; exit 1; }
        pip=("$root/bin/pip")
    fi
    "${pip[@]}" install -q --no-index "$whl" || { echo "test-wheel: FAIL (pip install $whl)" >&2; exit 1; }
    python=("$root/bin/python")
    root_arg=$root
else
    [ -n "${WHEEL_WINDOWS_PYTHON:-}" ] && [ -f "$WHEEL_WINDOWS_PYTHON/python.exe" ] ||
        { echo "test-wheel: WHEEL_WINDOWS_PYTHON (Windows CPython's folder) is not set or has no python.exe" >&2; exit 1; }
    root=$PWD/build/wheel-win
    rm -rf "$root"; mkdir -p "$root"
    cp -r "$WHEEL_WINDOWS_PYTHON" "$root/python"
    "${tools_pip[@]}" install -q --no-index --no-deps --only-binary=:all: --platform win_amd64 \
        --python-version 3.13 --implementation cp --target "$root/site-packages" "$whl" ||
        { echo "test-wheel: FAIL (pip install --platform win_amd64 --target $root/site-packages $whl)" >&2; exit 1; }
    root_arg=$(winepath -w "$root/site-packages") || { echo "test-wheel: FAIL (winepath)" >&2; exit 1; }
    # The embeddable distribution's sys.path is its ._pth file: add the install folder.
    pth=$(ls "$root"/python/python*._pth)
    printf '%s\r\n' "$root_arg" >> "$pth"
    python=("$PWD/scripts/wine-run.sh" "$root/python/python.exe")
    check_script=$(winepath -w "$check_script")
fi

start_sim WHEEL --interval-ms 20 || { echo "test-wheel: FAIL (simulator)" >&2; exit 1; }
cd "$(mktemp -d)" || exit 1
trap 'stop_sims; rm -rf "$PWD"' EXIT
env -u PIWEBASYNC_LIB -u PYTHONPATH -u LD_LIBRARY_PATH timeout 120 "${python[@]}" \
    "$check_script" "$WHEEL_STREAM?includeInitialValues=true" "$root_arg" "$version"
rc=$?
[ "$rc" -eq 0 ] && echo "test-wheel ($platform): PASS" || echo "test-wheel ($platform): FAIL (exit $rc)" >&2
exit "$rc"
