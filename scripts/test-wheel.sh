#!/usr/bin/env bash
# scripts/test-wheel.sh WHEEL: install the wheel into a fresh venv, as a user would, and stream
# from the simulator with it: no PIWEBASYNC_LIB, no PYTHONPATH, run from outside the checkout.
# The library it loads must be the one inside the installed package.
set -uo pipefail
cd "$(dirname "$0")/.."
whl=$(realpath "$1")
SIM_DIR=${SIM_DIR:-build/sim-wheel}
source scripts/sim-lib.sh
venv=$PWD/build/wheel-venv
rm -rf "$venv"
# The venv gets no pip of its own (ensurepip takes ~10 s): build-wheel.sh's pip installs into it
# (pip --python). Without that tools venv, the fresh venv's own pip does.
pip=(build/py-tools/bin/pip --python "$venv/bin/python")
if [ -x build/py-tools/bin/pip ]; then
    python3 -m venv --without-pip "$venv" || { echo "test-wheel: FAIL (python3 -m venv)" >&2; exit 1; }
else
    python3 -m venv "$venv" || { echo "test-wheel: FAIL (python3 -m venv)" >&2; exit 1; }
    pip=("$venv/bin/pip")
fi
"${pip[@]}" install -q --no-index "$whl" || { echo "test-wheel: FAIL (pip install $whl)" >&2; exit 1; }
start_sim WHEEL --interval-ms 20 || { echo "test-wheel: FAIL (simulator)" >&2; exit 1; }
version=$(scripts/version.sh)
cd "$(mktemp -d)" || exit 1
trap 'stop_sims; rm -rf "$PWD"' EXIT
env -u PIWEBASYNC_LIB -u PYTHONPATH -u LD_LIBRARY_PATH timeout 120 "$venv/bin/python" - \
    "$WHEEL_STREAM?includeInitialValues=true" "$venv" "$version" <<'PY'
import os, sys
import piwebasync_c as pwa

url, venv, version = sys.argv[1:4]
here = os.path.dirname(pwa.__file__)
assert os.path.realpath(pwa.__file__).startswith(os.path.realpath(venv)), pwa.__file__
assert os.path.dirname(os.path.realpath(pwa.lib_path)) == os.path.realpath(here), \
    f"loaded {pwa.lib_path}, not the library inside the package ({here})"
assert pwa.version() == version == pwa.__version__, (pwa.version(), version, pwa.__version__)
values = 0
with pwa.Channel.open(url, pwa.Config(open_timeout=10)) as ch:
    for i in range(3):
        msg = ch.poll(10000)
        assert msg is not None, "no message within 10 s"
        values += len(msg.values)
import asyncio
from piwebasync_c.aio import WebsocketClient  # the asyncio module is in the wheel too


async def three():
    async with WebsocketClient(url, open_timeout=10) as channel:
        return [await asyncio.wait_for(channel.recv(), 10) for _ in range(3)]
assert len(asyncio.run(three())) == 3
pwa.shutdown()
assert values > 0, "three messages without a value"
print(f"test-wheel: piwebasync_c {pwa.__version__} from {pwa.lib_path}: 3 messages, {values} values")
PY
rc=$?
[ "$rc" -eq 0 ] && echo "test-wheel: PASS" || echo "test-wheel: FAIL (exit $rc)" >&2
exit "$rc"
