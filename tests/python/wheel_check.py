"""Run by scripts/test-wheel.sh with the Python a wheel was installed into (a fresh venv, or
Windows CPython under Wine): the package and its library come from the install, not the
checkout, and stream from the simulator.  Arguments: URL INSTALL-ROOT VERSION."""
import os, sys
import piwebasync_c as pwa

url, root, version = sys.argv[1:4]
here = os.path.dirname(pwa.__file__)
assert os.path.realpath(pwa.__file__).startswith(os.path.realpath(root)), pwa.__file__
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
