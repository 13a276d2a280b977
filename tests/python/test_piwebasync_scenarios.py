"""piwebasync's websocket test scenarios, written against this repo's simulator, runnable
against either library by the import lines alone:

    PIWEBASYNC_IMPL=piwebasync_c.aio   (default) this binding's asyncio module
    PIWEBASYNC_IMPL=piwebasync         the original piwebasync (scripts/compare-piwebasync.sh)

The scenarios are those of piwebasync's tests/websockets (test_client.py: operation,
iteration, update success with both WebIds seen, update failure -> ChannelUpdateError and the
receiver ends with ChannelClosedError, rollback -> ChannelRollback with the channel still open;
watchdog_sim.py and reconnect_sim.py, there manual: pull the network cable; here the
simulator drops or refuses connections), plus the endings the piwebasync guide describes
and its message model. Their bodies call only piwebasync's API. Where the two libraries
behave differently the test asserts this library's behaviour and is marked
@differs_in_original(why): against the original it is an expected failure (an unexpected
success would show the difference is gone). Each difference is listed in
bindings/python/README.md.

The simulators (scripts/test-python.sh, scripts/compare-piwebasync.sh start them):
  PWA_SCEN_*       data every 20 ms; dropped and taken down by these tests
  PWA_SCEN2_*      the same, the target of an update while it is down
  PWA_SCENCLOSE_*  sends Close(1000) after 5 data messages
  PWA_SCENTLS_*    wss:// with a test CA (PWA_SCENTLS_CA), HTTP Basic piuser / pi-secret-pw
Every wait is bounded; a hang fails the test.
"""

import asyncio
import base64
import json
import os
import socket
import ssl
import time
import unittest
import urllib.request
from urllib.parse import urlsplit

IMPL = os.environ.get("PIWEBASYNC_IMPL", "piwebasync_c.aio")
# --- the import lines: the only lines that differ between the two libraries ----------------
if IMPL == "piwebasync":
    from piwebasync import Controller, WebsocketClient, WebsocketMessage
    from piwebasync.exceptions import (ChannelClosedError, ChannelClosedOK, ChannelRollback,
                                       ChannelUpdateError, WatchdogTimeout)
elif IMPL == "piwebasync_c.aio":
    from piwebasync_c.aio import Controller, WebsocketClient, WebsocketMessage
    from piwebasync_c.aio.exceptions import (ChannelClosedError, ChannelClosedOK,
                                             ChannelRollback, ChannelUpdateError,
                                             WatchdogTimeout)
else:
    raise ImportError(f"PIWEBASYNC_IMPL={IMPL!r}: piwebasync or piwebasync_c.aio")
# -------------------------------------------------------------------------------------------

ORIGINAL = IMPL == "piwebasync"
T = 20  # seconds: the bound of every wait


def differs_in_original(why):
    """This test asserts a behaviour the original piwebasync does not have (`why`): an
    expected failure when run against it."""
    def mark(test):
        test.differs_in_original = why
        return unittest.expectedFailure(test) if ORIGINAL else test
    return mark


def env(name):
    v = os.environ.get(name)
    if not v:
        if os.environ.get("PWA_REQUIRE_SIM"):
            raise AssertionError(f"{name} is not set (run scripts/test-python.sh)")
        raise unittest.SkipTest(f"{name} not set: run through scripts/test-python.sh")
    return v


def server(prefix="PWA_SCEN"):
    """WS_SCHEME, PI_HOST, PORT, ROOT of a simulator (piwebasync's test variables)."""
    u = urlsplit(env(prefix + "_BASE"))  # ws://127.0.0.1:PORT/piwebapi
    return "ws", u.hostname, u.port, u.path


def point_webids(prefix="PWA_SCEN"):
    """PI_POINT and UPDATE_PI_POINT: two points of the simulator (its ad hoc URL lists all)."""
    q = urlsplit(env(prefix + "_ADHOC")).query
    ids = [p.split("=", 1)[1] for p in q.split("&") if p.startswith("webId=")]
    assert len(ids) >= 2, ids
    return ids[0], ids[1]


def controller(prefix="PWA_SCEN"):
    scheme, host, port, root = server(prefix)
    return Controller(scheme=scheme, host=host, port=port, root=root)


def dead_controller():
    """A Controller for a port nobody listens on (piwebasync's tests use "mybadhost.com")."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return Controller(scheme="ws", host="127.0.0.1", port=port, root="/piwebapi")


def sim_control(command, prefix="PWA_SCEN"):
    u = urlsplit(env(prefix + "_BASE"))
    with urllib.request.urlopen(f"http://{u.netloc}/_sim/{command}", timeout=10) as r:
        assert r.status == 200, (command, r.status)


async def control(command, prefix="PWA_SCEN"):
    await asyncio.get_running_loop().run_in_executor(None, sim_control, command, prefix)


async def connections(prefix):
    """How many channel connections the simulator has accepted so far."""
    def get():
        u = urlsplit(env(prefix + "_BASE"))
        with urllib.request.urlopen(f"http://{u.netloc}/_sim/summary", timeout=10) as r:
            return json.loads(r.read())["connections"]
    return await asyncio.get_running_loop().run_in_executor(None, get)


async def until_listening(prefix="PWA_SCEN", timeout=T):
    """After a restart: wait until the simulator accepts connections again."""
    u = urlsplit(env(prefix + "_BASE"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((u.hostname, u.port), timeout=1).close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("the simulator did not come back")


async def until(cond, timeout=T):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.01)
    return cond()


async def receiver(channel):
    """piwebasync's receiver task: every response until the channel ends; ChannelClosedOK
    returns them, ChannelClosedError propagates."""
    responses = []
    try:
        async for response in channel:
            responses.append(response)
    except ChannelClosedError:
        raise
    except ChannelClosedOK:
        return responses


async def data_responses(channel, n):
    """n responses that carry values (heartbeats skipped), bounded by T."""
    out = []

    async def take():
        while len(out) < n:
            response = await channel.recv()
            if response.items:
                out.append(response)
    await asyncio.wait_for(take(), T)
    return out


# --- piwebasync's tests/websockets/test_client.py -------------------------------------------

class TestClientScenarios(unittest.IsolatedAsyncioTestCase):
    async def test_channel_operation(self):
        """Core function: open, one recv, closed after the context."""
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid, include_initial_values=True)
        async with WebsocketClient(request) as channel:
            response = await asyncio.wait_for(channel.recv(), T)
            self.assertTrue(channel.is_open)
            self.assertFalse(channel.is_closed)
        self.assertIsInstance(response, WebsocketMessage)
        self.assertEqual(response.items[0]["WebId"], webid)
        self.assertTrue(channel.is_closed)
        self.assertFalse(channel.is_open)

    async def test_channel_iteration(self):
        """The channel is an async iterator."""
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid, include_initial_values=True,
                                                   heartbeat_rate=2)
        responses = []

        async def iterate():
            async with WebsocketClient(request) as channel:
                async for response in channel:
                    responses.append(response)
                    if len(responses) >= 2:
                        break
            return channel
        channel = await asyncio.wait_for(iterate(), T)
        self.assertTrue(channel.is_closed)
        self.assertGreaterEqual(len(responses), 2)
        for response in responses:
            self.assertIsInstance(response, WebsocketMessage)

    async def test_channel_update_success(self):
        """update() to another point: the receiver goes on, both WebIds are seen, and it
        returns its responses at the end (ChannelClosedOK ends its iteration)."""
        loop = asyncio.get_event_loop()
        webid_1, webid_2 = point_webids()
        ctl = controller()
        request_1 = ctl.streams.get_channel(webid_1, include_initial_values=True,
                                            heartbeat_rate=2)
        request_2 = ctl.streams.get_channel(webid_2, include_initial_values=True,
                                            heartbeat_rate=2)
        async with WebsocketClient(request_1, loop=loop) as channel:
            receive_task = loop.create_task(receiver(channel))
            await asyncio.sleep(1)
            await asyncio.wait_for(channel.update(request_2), T)
            self.assertFalse(receive_task.done())
            await asyncio.sleep(1)
        self.assertTrue(channel.is_closed)
        responses = await asyncio.wait_for(receive_task, T)
        self.assertIsInstance(responses, list)
        merged = responses.pop(0)
        for response in responses:
            merged.items.extend(response.items)
        selection = merged.select("Items.WebId")
        self.assertIn(webid_1, selection["Items.WebId"])
        self.assertIn(webid_2, selection["Items.WebId"])
        # and in that order: the first endpoint's, then only the second's
        ids = selection["Items.WebId"]
        switch = ids.index(webid_2)
        self.assertEqual(set(ids[:switch]), {webid_1})
        self.assertEqual(set(ids[switch:]), {webid_2})

    async def test_channel_update_failure(self):
        """A failed update raises ChannelUpdateError; the receiver ends with
        ChannelClosedError; the channel is closed."""
        loop = asyncio.get_event_loop()
        webid, _ = point_webids()
        request_1 = controller().streams.get_channel(webid, include_initial_values=True,
                                                     heartbeat_rate=2)
        request_2 = dead_controller().streams.get_channel(webid, include_initial_values=True,
                                                          heartbeat_rate=2)
        async with WebsocketClient(request_1, open_timeout=2, loop=loop) as channel:
            receive_task = loop.create_task(receiver(channel))
            await asyncio.sleep(1)
            with self.assertRaises(ChannelUpdateError) as cm:
                await asyncio.wait_for(channel.update(request_2), T)
            self.assertNotIsInstance(cm.exception, ChannelRollback)
            with self.assertRaises(ChannelClosedError) as cm2:
                await asyncio.wait_for(receive_task, T)
            self.assertIsInstance(cm2.exception.__cause__, ChannelUpdateError)
        self.assertTrue(channel.is_closed)

    async def test_channel_update_to_a_server_that_is_back_soon(self):
        """update() rides out a short outage of the new endpoint (tried again until
        open_timeout)."""
        webid, _ = point_webids()
        webid_2, _ = point_webids("PWA_SCEN2")
        request_2 = controller("PWA_SCEN2").streams.get_channel(webid_2)
        async with WebsocketClient(controller().streams.get_channel(webid)) as channel:
            await data_responses(channel, 1)
            await control("restart?ms=1500", "PWA_SCEN2")
            t0 = time.monotonic()
            await asyncio.wait_for(channel.update(request_2), T)
            self.assertGreater(time.monotonic() - t0, 1.0)  # it did wait for the server

            async def until_new_endpoint():  # (what was buffered from the old one first)
                while True:
                    (response,) = await data_responses(channel, 1)
                    if response.url.split("?")[0] == request_2.absolute_url.split("?")[0]:
                        return response
            response = await asyncio.wait_for(until_new_endpoint(), T)
            self.assertEqual(response.items[0]["WebId"], webid_2)
            self.assertTrue(channel.is_open)

    async def test_channel_rollback(self):
        """A failed update with rollback raises ChannelRollback; the channel stays open on
        its previous endpoint and the receiver goes on."""
        loop = asyncio.get_event_loop()
        webid, _ = point_webids()
        request_1 = controller().streams.get_channel(webid, include_initial_values=True,
                                                     heartbeat_rate=2)
        request_2 = dead_controller().streams.get_channel(webid, include_initial_values=True,
                                                          heartbeat_rate=2)
        async with WebsocketClient(request_1, open_timeout=2, loop=loop) as channel:
            receive_task = loop.create_task(receiver(channel))
            await asyncio.sleep(1)
            with self.assertRaises(ChannelRollback) as cm:
                await asyncio.wait_for(channel.update(request_2, rollback=True), T)
            self.assertNotIsInstance(cm.exception, ChannelUpdateError)  # as piwebasync
            await asyncio.sleep(1)
            self.assertFalse(receive_task.done())
            self.assertFalse(channel.is_closed)
            self.assertTrue(channel.is_open)
        # The receiver ends with the close (its outcome: test_channel_update_success; here
        # the original's end of a receiver after a rollback is racy, see the README).
        done, _ = await asyncio.wait([receive_task], timeout=T)
        self.assertTrue(done)
        receive_task.exception()

    async def test_channel_rollback_keeps_the_old_endpoint(self):
        """After ChannelRollback the responses come from the previous endpoint."""
        webid, _ = point_webids()
        request_1 = controller().streams.get_channel(webid, include_initial_values=True)
        request_2 = dead_controller().streams.get_channel(webid, include_initial_values=True)
        async with WebsocketClient(request_1, open_timeout=2) as channel:
            await data_responses(channel, 1)
            with self.assertRaises(ChannelRollback):
                await asyncio.wait_for(channel.update(request_2, rollback=True), T)
            for response in await data_responses(channel, 5):
                self.assertEqual(response.items[0]["WebId"], webid)
                self.assertEqual(response.url.split("?")[0], request_1.absolute_url.split("?")[0])


# --- piwebasync's watchdog_sim.py and reconnect_sim.py (manual there) -------------------------

class TestReconnectScenarios(unittest.IsolatedAsyncioTestCase):
    async def asyncTearDown(self):
        await until_listening()  # a restart below may leave the simulator down a while

    async def test_reconnect(self):
        """reconnect=True: a dropped connection (TCP reset) is reopened in the background;
        the iteration goes on without an exception."""
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid, include_initial_values=True)
        async with WebsocketClient(request, reconnect=True,
                                   dead_channel_timeout=None) as channel:
            await data_responses(channel, 2)
            await control("reset")
            after = await data_responses(channel, 5)
            self.assertEqual(after[-1].items[0]["WebId"], webid)
            self.assertTrue(await until(lambda: channel.is_open))
            self.assertFalse(channel.is_closed)

    async def test_is_reconnecting_while_the_server_is_down(self):
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid, include_initial_values=True)
        async with WebsocketClient(request, reconnect=True,
                                   dead_channel_timeout=None) as channel:
            await data_responses(channel, 1)
            await control("restart?ms=1500")
            self.assertTrue(await until(lambda: channel.is_reconnecting, 5))
            self.assertFalse(channel.is_open)
            self.assertFalse(channel.is_closed)
            await data_responses(channel, 2)  # back
            self.assertTrue(await until(lambda: channel.is_open, 5))

    async def test_watchdog(self):
        """No connection within dead_channel_timeout: the iteration raises
        ChannelClosedError whose __cause__ is a WatchdogTimeout."""
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid, include_initial_values=True)
        t0 = None
        with self.assertRaises(ChannelClosedError) as cm:
            async with WebsocketClient(request, reconnect=True,
                                       dead_channel_timeout=1) as channel:
                await data_responses(channel, 1)
                await control("restart?ms=6000")
                t0 = time.monotonic()

                async def iterate():
                    async for response in channel:
                        pass
                await asyncio.wait_for(iterate(), T)
        self.assertIsInstance(cm.exception.__cause__, WatchdogTimeout)
        self.assertLess(time.monotonic() - t0, 5)  # the 1 s watchdog, not the 6 s outage
        self.assertTrue(channel.is_closed)


# --- the endings of piwebasync's guide ("Advanced Usage": Websockets) ----------------------

class TestEndings(unittest.IsolatedAsyncioTestCase):
    @differs_in_original("the original's recv() raises AttributeError ('NoneType' object has "
                         "no attribute 'add_done_callback') instead of the ChannelClosedError "
                         "its guide describes, once the ended channel's buffer is exhausted")
    async def test_dropped_connection_raises_closed_error(self):
        """Without reconnect, a crashed connection ends the iteration with
        ChannelClosedError once the buffer is exhausted."""
        webid, _ = point_webids()
        request = controller().streams.get_channel(webid)
        async with WebsocketClient(request) as channel:
            await data_responses(channel, 2)
            await control("reset")
            with self.assertRaises(ChannelClosedError):
                async def iterate():
                    async for response in channel:
                        pass
                await asyncio.wait_for(iterate(), T)
            self.assertTrue(channel.is_closed)
            self.assertFalse(channel.is_open)

    async def test_not_open_yet_is_closed(self):
        webid, _ = point_webids()
        channel = WebsocketClient(controller().streams.get_channel(webid))
        self.assertTrue(channel.is_closed)
        self.assertFalse(channel.is_open)
        self.assertFalse(channel.is_reconnecting)

    async def test_open_while_the_server_is_down_briefly(self):
        """Opening rides out a short outage (tried again until open_timeout)."""
        webid, _ = point_webids()
        await control("restart?ms=1500")
        t0 = time.monotonic()
        async with WebsocketClient(controller().streams.get_channel(webid)) as channel:
            self.assertGreater(time.monotonic() - t0, 1.0)  # it did wait for the server
            (response,) = await data_responses(channel, 1)
            self.assertEqual(response.items[0]["WebId"], webid)

    async def test_open_failure_is_a_timeout_after_open_timeout(self):
        webid, _ = point_webids()
        t0 = time.monotonic()
        with self.assertRaises(asyncio.TimeoutError):
            await asyncio.wait_for(
                WebsocketClient(dead_controller().streams.get_channel(webid), open_timeout=1),
                T)
        self.assertGreater(time.monotonic() - t0, 0.5)  # tried for about open_timeout
        self.assertLess(time.monotonic() - t0, 5)

    async def test_await_form(self):
        webid, _ = point_webids()
        channel = await asyncio.wait_for(
            WebsocketClient(controller().streams.get_channel(webid)), T)
        try:
            self.assertTrue(channel.is_open)
            (response,) = await data_responses(channel, 1)
            self.assertEqual(response.items[0]["WebId"], webid)
        finally:
            await asyncio.wait_for(channel.close(), T)
        self.assertTrue(channel.is_closed)

    @differs_in_original("the original's recv() after close() raises AttributeError "
                         "('NoneType' object has no attribute 'add_done_callback')")
    async def test_recv_after_close_raises_closed_ok(self):
        webid, _ = point_webids()
        async with WebsocketClient(controller().streams.get_channel(webid)) as channel:
            await data_responses(channel, 1)
        for _ in range(2):
            with self.assertRaises(ChannelClosedOK):
                while True:  # what was buffered first, then the end
                    await asyncio.wait_for(channel.recv(), T)

    @differs_in_original("the original reconnects after the server's Close(1000) even with "
                         "reconnect=False (websockets' connect iterator), so the channel "
                         "never ends")
    async def test_server_close_1000_ends_with_closed_ok(self):
        webid, _ = point_webids("PWA_SCENCLOSE")
        request = controller("PWA_SCENCLOSE").streams.get_channel(webid)
        before = await connections("PWA_SCENCLOSE")
        async with WebsocketClient(request) as channel:
            # (not wait_for: cancelling the original's receiver can hang its close())
            receive_task = asyncio.ensure_future(receiver(channel))
            done, _ = await asyncio.wait([receive_task], timeout=4)
            connected = await connections("PWA_SCENCLOSE") - before
            self.assertEqual(connected, 1, "connections made in 4 s")
            self.assertTrue(done, "the channel did not end after the server's Close(1000)")
            responses = receive_task.result()
            self.assertEqual(len([r for r in responses if r.items]), 5)
            self.assertTrue(channel.is_closed)


# --- authentication: HTTP Basic in extra_headers (piwebasync's own tests use Negotiate) ------

def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def upgrade_requests(prefix):
    """How many upgrade requests the (TLS) simulator has answered."""
    u = urlsplit(env(prefix + "_BASE"))
    ctx = ssl.create_default_context(cafile=env(prefix + "_CA"))
    with urllib.request.urlopen(f"https://{u.netloc}/_sim/summary", timeout=10,
                                context=ctx) as r:
        return json.loads(r.read())["upgrade_requests"]


class TestAuthentication(unittest.IsolatedAsyncioTestCase):
    """Against PWA_SCENTLS: wss:// with a test CA, Basic piuser / pi-secret-pw. Both clients
    trust the CA through SSL_CERT_FILE (Python's ssl and the library both read it)."""

    def setUp(self):
        self.saved = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = env("PWA_SCENTLS_CA")

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self.saved

    def request(self, prefix="PWA_SCENTLS"):
        u = urlsplit(env(prefix + "_BASE"))
        webid, _ = point_webids(prefix)
        return Controller(scheme=u.scheme, host=u.hostname, port=u.port,
                          root=u.path).streams.get_channel(webid, include_initial_values=True)

    async def test_basic_auth_over_wss(self):
        async with WebsocketClient(self.request(),
                                   extra_headers=basic("piuser", "pi-secret-pw")) as channel:
            (response,) = await data_responses(channel, 1)
            self.assertTrue(response.items)

    @differs_in_original("the original tries refused credentials again until open_timeout "
                         "(websockets' reconnecting connect): repeated failed logins can lock "
                         "the account")
    async def test_refused_credentials_fail_at_once(self):
        before = await asyncio.get_running_loop().run_in_executor(
            None, upgrade_requests, "PWA_SCENTLS")
        t0 = time.monotonic()
        with self.assertRaises(asyncio.TimeoutError):  # what the original raises, too
            await asyncio.wait_for(WebsocketClient(
                self.request(), extra_headers=basic("piuser", "wrong"), open_timeout=6), T)
        after = await asyncio.get_running_loop().run_in_executor(
            None, upgrade_requests, "PWA_SCENTLS")
        self.assertEqual(after - before, 1)
        self.assertLess(time.monotonic() - t0, 3)


# --- piwebasync's message model ------------------------------------------------------------

CONTENT = {"Links": {"Self": "s"}, "Items": [
    {"WebId": "W1", "Name": "A", "Items": [{"Timestamp": "t1", "Value": 1.5, "Good": True},
                                           {"Timestamp": "t2", "Value": 2.5}]},
    {"WebId": "W2", "Name": "B", "Items": [{"Timestamp": "t3", "Value": 7, "Good": False}]}]}


class TestMessages(unittest.TestCase):
    def test_items_links_and_select(self):
        m = WebsocketMessage(url="ws://h/x", **CONTENT)
        self.assertEqual(m.url, "ws://h/x")
        self.assertEqual([i["WebId"] for i in m.items], ["W1", "W2"])  # keys as sent
        self.assertEqual(m.links, {"Self": "s"})
        self.assertEqual(set(m.dict()), {"Items", "Links"})
        self.assertEqual(m.select("Items.WebId", "Items.Items.Timestamp", "Items.Items.Good",
                                  "Items.Nope", "Nope", "Links.Self", "Links"),
                         {"Items.WebId": ["W1", "W2"],
                          "Items.Items.Timestamp": [["t1", "t2"], ["t3"]],
                          "Items.Items.Good": [[True, None], [False]],
                          "Items.Nope": [None, None],
                          "Nope": [],
                          "Links.Self": "s",
                          "Links": [{"Self": "s"}]})
        m.items.extend([{"WebId": "W9"}])  # piwebasync's tests merge messages like this
        self.assertEqual(m.select("Items.WebId")["Items.WebId"], ["W1", "W2", "W9"])

    def test_heartbeat(self):
        m = WebsocketMessage(url="u", **{"Links": {}, "Items": []})
        self.assertEqual(m.items, [])
        self.assertEqual(m.select("Items.WebId"), {"Items.WebId": []})

    @differs_in_original("the original's select raises IndexError when a Value is an object "
                         "(a digital state) on the path")
    def test_select_through_a_digital_state(self):
        m = WebsocketMessage(url="u", **{"Links": {}, "Items": [{"WebId": "W", "Items": [
            {"Value": {"Name": "Active", "Value": 1}}, {"Value": 2}]}]})
        self.assertEqual(m.select("Items.Items.Value"),
                         {"Items.Items.Value": [[{"Name": "Active", "Value": 1}, 2]]})


def setUpModule():
    import faulthandler
    faulthandler.dump_traceback_later(280, exit=True)


def tearDownModule():
    import faulthandler
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    unittest.main()
