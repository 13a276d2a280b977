"""The examples of piwebasync's own guide (shared/seed/piwebasync-advanced-usage.md, section
Websockets), run against the simulator with only their import lines changed
(`piwebasync` -> `piwebasync_c.aio`; PIWEBASYNC_IMPL=piwebasync keeps the guide's own import
lines and runs them against the original, see scripts/compare-piwebasync.sh). The bodies below
are the guide's, verbatim. The guide's placeholders (scheme, host, root, webid) are given the
simulator's values (scheme "ws": the original needs a ws scheme for channels); `print` is
replaced by one that counts and, after a few messages, stops the example (they stream
forever otherwise). The fourth example of the guide (update listener) is pseudo code (an
undefined messaging_service, names used before assignment) and is not run.
"""

import os
import textwrap
import unittest
from urllib.parse import urlsplit

EXAMPLE_1 = '''
import asyncio
from {pkg} import Controller, WebsocketClient

async def main():
	request = Controller(scheme, host, root=root).streams.get_channel(webid)
	async with WebsocketClient(request) as channel:
		async for response in channel:
			print(response.items)

if __name__ == "__main__":
	asyncio.run(main())
'''

EXAMPLE_2 = '''
import asyncio
from {pkg} import Controller, WebsocketClient

async def main():
	request = Controller(scheme, host, root=root).streams.get_channel(webid)
	async with WebsocketClient(request, reconnect=True) as channel:
		async for response in channel:
			print(response.items)

if __name__ == "__main__":
	asyncio.run(main())
'''

EXAMPLE_3 = '''
import asyncio
from {pkg} import Controller, WebsocketClient
from {exc} import ChannelClosedError, WatchdogTimeout

async def main():
	request = Controller(scheme, host, root=root).streams.get_channel(webid)
	try:
		async with WebsocketClient(request, reconnect=True) as channel:
			async for response in channel:
				print(response.items)
	except ChannelClosedError as err:
		if isinstance(err.__cause__, WatchdogTimeout):
			# notify admin
			raise

if __name__ == "__main__":
	asyncio.run(main())
'''


IMPL = os.environ.get("PIWEBASYNC_IMPL", "piwebasync_c.aio")
IMPORTS = {"pkg": IMPL, "exc": IMPL + ".exceptions"}  # the only lines that change


class Enough(Exception):
    """Raised by the example's print after a few messages."""


def sim_placeholders():
    base = os.environ.get("PWA_SIM_BASE")
    stream = os.environ.get("PWA_SIM_STREAM")
    if not base or not stream:
        if os.environ.get("PWA_REQUIRE_SIM"):
            raise AssertionError("PWA_SIM_BASE / PWA_SIM_STREAM not set (scripts/test-python.sh)")
        raise unittest.SkipTest("run through scripts/test-python.sh")
    u = urlsplit(base)
    webid = urlsplit(stream).path.rstrip("/").split("/")[-2]
    return {"scheme": "ws", "host": f"{u.hostname}:{u.port}", "root": u.path.strip("/"),
            "webid": webid}


class TestSeedGuideExamples(unittest.TestCase):
    def run_example(self, source, n=3):
        printed = []

        def counting_print(*args, **kwargs):
            printed.append(args)
            if len(printed) >= n:
                raise Enough()
        ns = dict(sim_placeholders(), __name__="__main__", print=counting_print)
        with self.assertRaises(Enough):
            exec(compile(textwrap.dedent(source.format(**IMPORTS)), "<seed example>", "exec"),
                 ns)
        self.assertEqual(len(printed), n)
        for (items,) in printed:
            self.assertIsInstance(items, list)  # response.items
        self.assertTrue(any(items for (items,) in printed), "no message carried items")
        self.assertEqual(printed[-1][0][0]["WebId"] if printed[-1][0] else ns["webid"],
                         ns["webid"])

    def test_example_1_context_manager(self):
        self.run_example(EXAMPLE_1)

    def test_example_2_reconnect(self):
        self.run_example(EXAMPLE_2)

    def test_example_3_watchdog_handler(self):
        self.run_example(EXAMPLE_3)


if __name__ == "__main__":
    unittest.main()
