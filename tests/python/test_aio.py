"""Tests of piwebasync_c.aio (piwebasync's asyncio API on the native core), stdlib only.

Run through scripts/test-python.sh, which starts the simulators and exports (besides those of
test_binding.py):
  PWA_SIMFAULT_*   a simulator these tests reset and stall
  PWA_SIMDOG_*     a simulator the watchdog test takes down for a few seconds
Every wait is bounded (asyncio.wait_for); a hang fails the test.
"""

import asyncio
import os
import socket
import sys
import time
import unittest
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

try:
    import piwebasync_c as pwa
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import piwebasync_c as pwa
from piwebasync_c.aio import (APIRequest, ChannelClosedError, ChannelClosedOK, ChannelOpenError,
                              ChannelRollback, ChannelUpdateError, Controller, WatchdogTimeout,
                              WebsocketClient, WebsocketMessage)

T = 20  # seconds: the bound of every wait (data comes every 20 ms)


def sim(name):
    url = os.environ.get(name)
    if not url:
        if os.environ.get("PWA_REQUIRE_SIM"):
            raise AssertionError(f"{name} is not set (run scripts/test-python.sh)")
        raise unittest.SkipTest(f"{name} not set: run through scripts/test-python.sh")
    return url


def controller(prefix):
    """A Controller for the simulator whose variables start with `prefix`."""
    u = urlsplit(sim(prefix + "_BASE"))  # ws://127.0.0.1:PORT/piwebapi
    return Controller("http", u.hostname, port=u.port, root=u.path)


def webid_of(prefix, kind="STREAM"):
    path = urlsplit(sim(f"{prefix}_{kind}")).path  # /piwebapi/streams/{webId}/channel
    return path.rstrip("/").split("/")[-2]


def adhoc_ids(prefix):
    q = urlsplit(sim(prefix + "_ADHOC")).query
    return [p.split("=", 1)[1] for p in q.split("&") if p.startswith("webId=")]


def control_blocking(prefix, command):
    u = urlsplit(sim(prefix + "_BASE"))
    with urllib.request.urlopen(f"http://{u.netloc}/_sim/{command}", timeout=10) as r:
        assert r.status == 200, (command, r.status)


async def control(prefix, command):
    await asyncio.get_running_loop().run_in_executor(None, control_blocking, prefix, command)


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"ws://127.0.0.1:{port}/piwebapi/streams/F1DPdead/channel"


async def data_messages(ch, n):
    """n messages that carry items (heartbeats skipped), bounded by T."""
    out = []

    async def take():
        while len(out) < n:
            m = await ch.recv()
            if m.items:
                out.append(m)
    await asyncio.wait_for(take(), T)
    return out


async def until(cond, timeout=T):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.01)
    return cond()


# --- without a simulator -------------------------------------------------------------------

class TestRequestsAndMessages(unittest.TestCase):
    def test_controller_builds_channel_urls(self):
        c = Controller("https", "pi.example", root="piwebapi")
        r = c.streams.get_channel("F1DPa", include_initial_values=True, heartbeat_rate=2,
                                  web_id_type="IDOnly")
        self.assertIsInstance(r, APIRequest)
        self.assertTrue(r.absolute_url.startswith("wss://pi.example/piwebapi/streams/F1DPa/channel?"),
                        r.absolute_url)
        for part in ("includeInitialValues=true", "heartbeatRate=2", "webIdType=IDOnly"):
            self.assertIn(part, r.absolute_url)
        self.assertEqual(r.webid, "F1DPa")
        self.assertEqual(r.controller, "streams")
        r = Controller("http", "h", port=8080).streamsets.get_channel(
            "F1EMe", name_filter="Temp*", category_name="Process", template_name="Pump",
            search_full_hierarchy=True, show_excluded=True, show_hidden=False)
        self.assertTrue(r.absolute_url.startswith("ws://h:8080/piwebapi/streamsets/F1EMe/channel"))
        for part in ("nameFilter=Temp", "categoryName=Process", "templateName=Pump",
                     "searchFullHierarchy=true", "showExcluded=true"):
            self.assertIn(part, r.absolute_url)
        self.assertNotIn("showHidden", r.absolute_url)  # False is the server's default
        r = Controller("https", "h", root="/pi/webapi/").streamsets.get_channel_adhoc(
            ["A1", "B2"], include_initial_values=True)
        self.assertTrue(r.absolute_url.startswith("wss://h/pi/webapi/streamsets/channel?"))
        self.assertIn("webId=A1&webId=B2", r.absolute_url)
        with self.assertRaises(ValueError):
            Controller("ftp", "h")
        with self.assertRaises(ValueError):
            c.streams.get_channel("x", web_id_type="Bogus")
        with self.assertRaises(pwa.PiError):
            c.streams.get_channel("")  # the library's own check

    def test_message_items_and_select(self):
        text = ('{"Links":{},"Items":[{"WebId":"W1","Name":"Temp","Path":"\\\\\\\\s\\\\Temp",'
                '"Items":[{"Timestamp":"2026-01-01T00:00:00Z","Value":1.5,'
                '"UnitsAbbreviation":"C","Good":true},{"Timestamp":"2026-01-01T00:00:01Z",'
                '"Value":2.5,"UnitsAbbreviation":"C","Good":true}]},'
                '{"WebId":"W2","Name":"Flow","Items":[{"Timestamp":"2026-01-01T00:00:00Z",'
                '"Value":7,"Good":false}]}]}')
        m = WebsocketMessage(text, "ws://x/streamsets/channel")
        # as piwebasync: the content as sent (PI Web API's keys), grouped select
        self.assertEqual([i["WebId"] for i in m.items], ["W1", "W2"])
        self.assertEqual(m.items[0]["Items"][1]["UnitsAbbreviation"], "C")
        self.assertEqual(m.links, {})
        self.assertFalse(m.is_heartbeat)
        sel = m.select("Items.Name", "Items.Items.Value", "items.web_id")
        self.assertEqual(sel, {"Items.Name": ["Temp", "Flow"],
                               "Items.Items.Value": [[1.5, 2.5], [7]],
                               "items.web_id": ["W1", "W2"]})  # either spelling matches
        self.assertEqual(m.select("Items.nosuch"), {"Items.nosuch": [None, None]})
        self.assertEqual(m.select("nosuch"), {"nosuch": []})
        with self.assertRaises(AttributeError):
            m.nosuch
        built = WebsocketMessage(url="u", Items=[{"WebId": "W3"}], Links={})  # piwebasync's form
        self.assertEqual(built.select("Items.WebId"), {"Items.WebId": ["W3"]})
        self.assertEqual(WebsocketMessage(built.text).items, built.items)
        with self.assertRaises(TypeError):
            WebsocketMessage(text, Items=[])
        with self.assertRaises(ValueError):
            m.select()
        typed = m.message  # the binding's typed Message, parsed by the library
        self.assertEqual([v.value for v in typed.values], [1.5, 2.5, 7])
        self.assertEqual(typed.url, "ws://x/streamsets/channel")
        hb = WebsocketMessage('{"Links":{},"Items":[]}')
        self.assertTrue(hb.is_heartbeat)
        self.assertEqual(hb.items, [])

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            WebsocketClient(42)
        with self.assertRaises(ValueError):
            WebsocketClient("ws://h/x", max_queue=0)
        with self.assertRaises(ValueError):
            WebsocketClient("ws://h/x", reconnect=True, dead_channel_timeout=0)
        with self.assertRaises(TypeError):
            WebsocketClient("ws://h/x", loop="not a loop")
        c = WebsocketClient("ws://h/x", extra_headers={"X-Site": "north"}, origin="http://o")
        self.assertEqual(c._config_keys["header.X-Site"], "north")
        self.assertEqual(c._config_keys["origin"], "http://o")
        self.assertEqual(c._config_keys["dead_channel_timeout"], 3600)  # piwebasync's default
        self.assertTrue(c.is_closed)  # not opened: closed, as piwebasync
        with self.assertRaises(pwa.PiError) as cm:
            WebsocketClient("ws://h/x", config={"no_such_key": 1})
        self.assertIn("no_such_key", cm.exception.message)


# --- against the simulators ----------------------------------------------------------------

class TestStreaming(unittest.IsolatedAsyncioTestCase):
    async def test_stream_iterate_close(self):
        request = controller("PWA_SIM").streams.get_channel(webid_of("PWA_SIM"),
                                                            include_initial_values=True)
        async with WebsocketClient(request) as channel:
            self.assertTrue(channel.is_open)
            self.assertFalse(channel.is_closed)
            self.assertFalse(channel.is_reconnecting)
            n = 0

            async def iterate():
                nonlocal n
                async for response in channel:
                    self.assertIsInstance(response, WebsocketMessage)
                    if response.items:
                        self.assertEqual(response.items[0]["WebId"], webid_of("PWA_SIM"))
                        self.assertIsInstance(response.select("Items.Items.Value")
                                              ["Items.Items.Value"][0][0],
                                              (int, float, str, bool))
                        n += 1
                        if n == 5:
                            return
            await asyncio.wait_for(iterate(), T)
        self.assertTrue(channel.is_closed)
        self.assertFalse(channel.is_open)
        for _ in range(2):  # on every later call
            with self.assertRaises(ChannelClosedOK):
                await asyncio.wait_for(channel.recv(), T)
        await channel.close()  # idempotent

    async def test_streamset_and_adhoc(self):
        c = controller("PWA_SIM")
        for request in (c.streamsets.get_channel(webid_of("PWA_SIM", "STREAMSET"),
                                                 include_initial_values=True),
                        c.streamsets.get_channel_adhoc(adhoc_ids("PWA_SIM"),
                                                       include_initial_values=True)):
            with self.subTest(url=request.absolute_url):
                async with WebsocketClient(request) as channel:
                    (m,) = await data_messages(channel, 1)
                    self.assertGreaterEqual(len(m.items), 2)
                    self.assertEqual(m.url.split("?")[0], request.absolute_url.split("?")[0])

    async def test_await_form_and_server_close_ends_iteration(self):
        # The simulator closes (1000) after 5 data messages; reconnect is off: a normal end.
        channel = await asyncio.wait_for(WebsocketClient(sim("PWA_SIMCLOSE_STREAM")), T)
        try:
            got = []

            async def iterate():
                async for m in channel:
                    got.append(m)
            with self.assertRaises(ChannelClosedOK):  # as piwebasync: the iteration raises it
                await asyncio.wait_for(iterate(), T)
            self.assertGreaterEqual(len([m for m in got if m.items]), 5)
            self.assertTrue(channel.is_closed)
            with self.assertRaises(ChannelClosedOK) as cm:
                await channel.recv()
            self.assertEqual(cm.exception.status, pwa.Status.CLOSED)
        finally:
            await asyncio.wait_for(channel.close(), T)

    async def test_open_failure(self):
        t0 = time.monotonic()
        with self.assertRaises(ChannelOpenError) as cm:
            await asyncio.wait_for(WebsocketClient(dead_url(), open_timeout=2).connect(), T)
        elapsed = time.monotonic() - t0
        self.assertEqual(cm.exception.status, pwa.Status.ERR_CONNECT)
        self.assertIsInstance(cm.exception.__cause__, pwa.PiError)
        self.assertIsInstance(cm.exception, asyncio.TimeoutError)  # what piwebasync raises
        self.assertGreater(elapsed, 1.0)  # refused connects were tried again until open_timeout
        self.assertLess(elapsed, 4.0)

    async def test_refused_credentials_are_not_tried_again(self):
        t0 = time.monotonic()
        with self.assertRaises(ChannelOpenError) as cm:
            await asyncio.wait_for(WebsocketClient(
                sim("PWA_SIMAUTH_STREAM"), open_timeout=5, auth=("piuser", "wrong"),
                config={"allow_insecure_auth": True}).connect(), T)
        self.assertEqual(cm.exception.status, pwa.Status.ERR_AUTH)
        self.assertLess(time.monotonic() - t0, 2.0)  # at once, not until open_timeout
        client = WebsocketClient(dead_url())
        with self.assertRaises(RuntimeError):
            await client.recv()  # never opened

    async def test_many_channels_in_one_loop(self):
        request = sim("PWA_SIM_ADHOC")
        n = 100
        t0 = time.monotonic()
        clients = [WebsocketClient(request, max_queue=4) for _ in range(n)]
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), 60)
        opened = time.monotonic() - t0
        firsts = await asyncio.wait_for(
            asyncio.gather(*(data_messages(c, 2) for c in clients)), 60)
        self.assertEqual(len(firsts), n)
        self.assertTrue(all(len(f) == 2 for f in firsts))
        await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients)), 60)
        self.assertTrue(all(c.is_closed for c in clients))
        print(f"\n  {n} channels in one loop: opened in {opened:.2f} s, "
              f"all closed after {time.monotonic() - t0:.2f} s", file=sys.stderr)


class TestEndings(unittest.IsolatedAsyncioTestCase):
    async def test_dropped_connection_raises_closed_error(self):
        async with WebsocketClient(sim("PWA_SIMFAULT_STREAM")) as channel:  # reconnect off
            await data_messages(channel, 2)
            await control("PWA_SIMFAULT", "reset")
            with self.assertRaises(ChannelClosedError) as cm:
                async def iterate():
                    async for _ in channel:
                        pass
                await asyncio.wait_for(iterate(), T)
            self.assertEqual(cm.exception.status, pwa.Status.CLOSED_ERROR)
            self.assertIsNone(cm.exception.__cause__)
            self.assertTrue(channel.is_closed)
            with self.assertRaises(ChannelClosedError):  # again on every later call
                await channel.recv()

    async def test_reconnect_after_reset(self):
        async with WebsocketClient(sim("PWA_SIMFAULT_STREAM"), reconnect=True,
                                   dead_channel_timeout=30) as channel:
            await data_messages(channel, 2)
            await control("PWA_SIMFAULT", "reset")
            # Messages go on after the reset, without an exception.
            await data_messages(channel, 5)
            self.assertTrue(await until(lambda: channel.stats().reconnects >= 1))
            self.assertTrue(channel.is_open)
            self.assertFalse(channel.is_closed)

    async def test_gap_fill_marks_backfilled_messages(self):
        # config passes the library's keys: gap_fill fills the outage from recorded values.
        async with WebsocketClient(sim("PWA_SIMARCHIVE_ADHOC"), reconnect=True,
                                   config={"gap_fill": "true",
                                           "reconnect_initial_delay": "0.2"}) as channel:
            await data_messages(channel, 2)
            await control("PWA_SIMARCHIVE", "restart?ms=1500")
            backfilled = []

            async def until_live_after_backfill():
                while True:
                    m = await channel.recv()
                    if m.is_backfilled:
                        backfilled.append(m)
                    elif backfilled and m.items:
                        return
            await asyncio.wait_for(until_live_after_backfill(), T)
            self.assertTrue(all(m.items for m in backfilled))

    async def test_is_reconnecting_while_the_server_is_down(self):
        async with WebsocketClient(sim("PWA_SIMDOG_STREAM"), reconnect=True) as channel:
            await data_messages(channel, 1)
            await control("PWA_SIMDOG", "restart?ms=1500")
            self.assertTrue(await until(lambda: channel.is_reconnecting, 5))
            self.assertFalse(channel.is_open)
            self.assertFalse(channel.is_closed)
            await data_messages(channel, 2)  # back (dead_channel_timeout=None: never gives up)
            self.assertTrue(await until(lambda: channel.is_open, 5))

    async def test_watchdog_ends_with_closed_error_caused_by_watchdog_timeout(self):
        t0 = None
        try:
            async with WebsocketClient(sim("PWA_SIMDOG_STREAM"), reconnect=True,
                                       dead_channel_timeout=1,
                                       config={"reconnect_initial_delay": 0.1,
                                               "reconnect_max_delay": 0.2}) as channel:
                await data_messages(channel, 1)
                await control("PWA_SIMDOG", "restart?ms=4000")
                t0 = time.monotonic()

                async def iterate():
                    async for _ in channel:
                        pass
                await asyncio.wait_for(iterate(), T)
            self.fail("the iteration ended without ChannelClosedError")
        except ChannelClosedError as err:
            self.assertIsInstance(err.__cause__, WatchdogTimeout)
            self.assertEqual(err.status, pwa.Status.WATCHDOG_TIMEOUT)
            self.assertLess(time.monotonic() - t0, 3.5)  # 1 s, not the 4 s outage
        # (No later test uses PWA_SIMDOG: it may still be down for a while.)


class TestUpdate(unittest.IsolatedAsyncioTestCase):
    async def test_update_success_both_endpoints_seen(self):
        url1, url2 = sim("PWA_SIM_STREAM"), sim("PWA_SIM2_STREAM")
        async with WebsocketClient(url1) as channel:
            await data_messages(channel, 2)
            await asyncio.wait_for(channel.update(APIRequest(url2)), T)
            self.assertEqual(channel.url, url2)
            seen = [m.url for m in await data_messages(channel, 10)]
            # old endpoint's messages (still buffered) first, then only the new one's
            self.assertEqual(seen[-1].split("?")[0], url2.split("?")[0])
            firsts = [u.split("?")[0] for u in seen]
            self.assertEqual(firsts, sorted(firsts, key=lambda u: u == url2.split("?")[0]))
            self.assertTrue(channel.is_open)

    async def test_update_to_another_webid_both_webids_seen(self):
        # piwebasync's scenario: streams of point A, then update() to point B on the same
        # server; the messages show A's WebId first, then B's.
        ids = adhoc_ids("PWA_SIM")
        self.assertGreaterEqual(len(ids), 2)
        c = controller("PWA_SIM")
        async with WebsocketClient(c.streams.get_channel(ids[0])) as channel:
            before = await data_messages(channel, 2)
            await asyncio.wait_for(channel.update(c.streams.get_channel(ids[1])), T)
            after = await data_messages(channel, 10)
            seen = [m.items[0]["WebId"] for m in before + after]
            self.assertEqual(seen[0], ids[0])
            self.assertEqual(seen[-1], ids[1])
            switch = seen.index(ids[1])
            self.assertEqual(set(seen[:switch]), {ids[0]})  # A's first, then only B's
            self.assertEqual(set(seen[switch:]), {ids[1]})
            self.assertEqual(channel.request.webid, ids[1])

    async def test_update_failure_without_rollback_closes(self):
        async with WebsocketClient(sim("PWA_SIM_STREAM"), open_timeout=2) as channel:
            await data_messages(channel, 1)
            with self.assertRaises(ChannelUpdateError) as cm:
                await asyncio.wait_for(channel.update(dead_url()), T)  # rollback=False
            self.assertNotIsInstance(cm.exception, ChannelRollback)
            self.assertEqual(cm.exception.status, pwa.Status.UPDATE_FAILED)
            with self.assertRaises(ChannelClosedError) as cm2:
                async def drain():
                    while True:
                        await channel.recv()
                await asyncio.wait_for(drain(), T)
            self.assertIsInstance(cm2.exception.__cause__, ChannelUpdateError)
            self.assertTrue(channel.is_closed)

    async def test_update_failure_with_rollback_stays_open(self):
        url1 = sim("PWA_SIM_STREAM")
        async with WebsocketClient(url1, open_timeout=2) as channel:
            await data_messages(channel, 1)
            with self.assertRaises(ChannelRollback) as cm:
                await asyncio.wait_for(channel.update(dead_url(), rollback=True), T)
            self.assertEqual(cm.exception.status, pwa.Status.ROLLED_BACK)
            self.assertTrue(channel.is_open)
            self.assertFalse(channel.is_closed)
            self.assertEqual(channel.url, url1)
            (m,) = await data_messages(channel, 1)
            self.assertEqual(m.url.split("?")[0], url1.split("?")[0])


class TestCloseCancelBackpressure(unittest.IsolatedAsyncioTestCase):
    async def test_close_while_another_task_iterates(self):
        channel = await asyncio.wait_for(WebsocketClient(sim("PWA_SIM_STREAM")).connect(), T)
        got = []

        async def consume():
            try:
                async for m in channel:
                    got.append(m)
            except ChannelClosedOK:
                return "closed ok"
        task = asyncio.ensure_future(consume())
        self.assertTrue(await until(lambda: len(got) >= 3))
        t0 = time.monotonic()
        await asyncio.wait_for(channel.close(), T)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(await asyncio.wait_for(task, T), "closed ok")  # the iteration's end
        self.assertTrue(channel.is_closed)

    async def test_close_against_a_server_that_does_not_answer(self):
        channel = await asyncio.wait_for(
            WebsocketClient(sim("PWA_SIMFAULT_STREAM"), close_timeout=1).connect(), T)
        try:
            await data_messages(channel, 1)
            await control("PWA_SIMFAULT", "stall?on=1")
            waiter = asyncio.ensure_future(channel.recv())
            t0 = time.monotonic()
            ticks = 0

            async def ticker():  # the loop stays responsive during the close
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.05)
                    ticks += 1
            tick_task = asyncio.ensure_future(ticker())
            await asyncio.wait_for(channel.close(), T)
            elapsed = time.monotonic() - t0
            tick_task.cancel()
            self.assertLess(elapsed, 1 + 1.5)
            self.assertGreater(ticks, elapsed / 0.05 / 3)
            # the waiting recv got either a message buffered before, or the end
            try:
                await asyncio.wait_for(waiter, T)
                with self.assertRaises(ChannelClosedOK):
                    while True:
                        await asyncio.wait_for(channel.recv(), T)
            except ChannelClosedOK:
                pass
        finally:
            await control("PWA_SIMFAULT", "stall?on=0")
            await channel.close()

    async def test_cancelled_recv_loses_nothing(self):
        # Closes after 5 data messages; recv() is cancelled again and again by a tiny timeout.
        async with WebsocketClient(sim("PWA_SIMCLOSE_STREAM")) as channel:
            got, cancelled = 0, 0
            deadline = time.monotonic() + T
            while time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(channel.recv(), 0.003)
                    got += 1
                except asyncio.TimeoutError:
                    cancelled += 1
                except ChannelClosedOK:
                    break
            else:
                self.fail("no end within the bound")
            self.assertGreater(cancelled, 0)
            self.assertEqual(got, channel.stats().messages)  # every message the library read
            self.assertGreaterEqual(got, 5)

    async def test_cancel_a_waiting_recv_then_receive(self):
        async with WebsocketClient(sim("PWA_SIMFAULT_STREAM")) as channel:
            await data_messages(channel, 1)
            await control("PWA_SIMFAULT", "stall?on=1")
            try:
                while True:  # empty what is buffered
                    try:
                        await asyncio.wait_for(channel.recv(), 0.3)
                    except asyncio.TimeoutError:
                        break
                task = asyncio.ensure_future(channel.recv())
                await asyncio.sleep(0.1)
                self.assertFalse(task.done())
                with self.assertRaises(RuntimeError):  # one recv at a time
                    await channel.recv()
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
            finally:
                await control("PWA_SIMFAULT", "stall?on=0")
            await data_messages(channel, 2)  # a new recv works after the cancellation

    async def test_backpressure_reaches_the_library_queue(self):
        async with WebsocketClient(sim("PWA_SIM_STREAM"), max_queue=4,
                                   config={"max_queue": 8}) as channel:
            shared = channel._shared
            # Nobody receives: the Python buffer fills to 4, then the library's queue to 8,
            # and then the library stops reading (data comes every 20 ms).
            self.assertTrue(await until(lambda: channel.stats().queue_depth >= 8))
            await asyncio.sleep(0.5)
            self.assertEqual(len(shared.buf), 4)
            self.assertLessEqual(channel.stats().queue_depth, 8)
            before = channel.stats().messages
            await asyncio.sleep(0.5)
            self.assertEqual(channel.stats().messages, before)  # not read from the socket
            ms = await data_messages(channel, 20)  # then it flows again, in order
            stamps = [m.items[0]["Items"][0]["Timestamp"] for m in ms]
            self.assertEqual(stamps, sorted(stamps))
            self.assertGreater(channel.stats().messages, before)

    async def test_a_consumer_that_is_behind_does_not_stall_the_other_channels(self):
        # Both on the library's shared callback thread (the default): the full one is paused,
        # never waited for, so the other goes on.
        async with WebsocketClient(sim("PWA_SIM_STREAM"), max_queue=2,
                                   config={"max_queue": 4}) as idle, \
                WebsocketClient(sim("PWA_SIM2_STREAM"), max_queue=2) as busy:
            shared = idle._shared
            self.assertTrue(await until(lambda: shared.paused and len(shared.buf) >= 2))
            # 0.6 s of data (busy buffers at most 2) while idle stays full
            ms = await data_messages(busy, 30)
            self.assertEqual(len(ms), 30)
            self.assertTrue(shared.paused)
            self.assertLessEqual(len(shared.buf), 2)
            ms = await data_messages(idle, 20)  # resumed by recv(), in order
            stamps = [m.items[0]["Items"][0]["Timestamp"] for m in ms]
            self.assertEqual(stamps, sorted(stamps))


class TestCallbackThread(unittest.IsolatedAsyncioTestCase):
    @staticmethod
    def threads():
        return len(os.listdir("/proc/self/task"))

    async def opened(self, n, config):
        request = sim("PWA_SIM_ADHOC")
        clients = [WebsocketClient(request, config=config) for _ in range(n)]
        before = self.threads()
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), 60)
        await asyncio.wait_for(asyncio.gather(*(data_messages(c, 1) for c in clients)), 60)
        added = self.threads() - before
        await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients)), 60)
        return clients, added

    @unittest.skipUnless(os.path.isdir("/proc/self/task"), "threads counted in /proc")
    async def test_channels_share_one_callback_thread_unless_config_says_own(self):
        n = 30
        clients, shared = await self.opened(n, None)
        self.assertEqual(clients[0]._config_keys["callback_thread"], "shared")
        # At most the library's shared thread and runtime and the loop's executor threads.
        self.assertLess(shared, n // 2, f"{shared} threads added by {n} shared channels")
        clients, own = await self.opened(n, {"callback_thread": "own"})
        self.assertEqual(clients[0]._config_keys["callback_thread"], "own")
        self.assertGreaterEqual(own, n, f"{own} threads added by {n} channels with own")

    async def test_a_bad_callback_thread_is_refused_naming_the_key(self):
        with self.assertRaises(pwa.PiError) as cm:
            WebsocketClient(sim("PWA_SIM_STREAM"), config={"callback_thread": "pool"})
        self.assertIn("callback_thread", str(cm.exception))


def setUpModule():
    import faulthandler
    faulthandler.dump_traceback_later(280, exit=True)


def tearDownModule():
    import faulthandler
    faulthandler.cancel_dump_traceback_later()


if __name__ == "__main__":
    unittest.main()
