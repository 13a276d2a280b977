"""Tests of the ctypes binding bindings/python/piwebasync_c (stdlib unittest only).

Run through scripts/test-python.sh, which starts the simulators and exports:
  PWA_SIM_STREAM, PWA_SIM_ADHOC     a simulator sending data every 20 ms
  PWA_SIM2_STREAM                   a second simulator (the target of updates)
  PWA_SIMCLOSE_STREAM               one that closes each connection (1000) after 5 data messages
  PWA_SIMAUTH_STREAM                one that requires Basic auth (piuser / pi-secret-pw)
Tests that need a simulator are skipped when its variable is not set, unless PWA_REQUIRE_SIM
is set (the script sets it), in which case they fail.
"""

import ctypes
import faulthandler
import gc
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

try:
    import piwebasync_c as pwa
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import piwebasync_c as pwa
from piwebasync_c import _ffi

POLL_MS = 5000  # generous: a data message comes every 20 ms


def sim(name):
    """The URL in environment variable `name`, or skip (fail under PWA_REQUIRE_SIM)."""
    url = os.environ.get(name)
    if not url:
        if os.environ.get("PWA_REQUIRE_SIM"):
            raise AssertionError(f"{name} is not set (run scripts/test-python.sh)")
        raise unittest.SkipTest(f"{name} not set: run through scripts/test-python.sh")
    return url


def dead_url():
    """A channel URL on a local port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"ws://127.0.0.1:{port}/piwebapi/streams/F1DPdead/channel"


def with_initial_values(url):
    return url + ("&" if "?" in url else "?") + "includeInitialValues=true"


def poll_data(ch, n):
    """Poll n messages that carry values (heartbeats skipped)."""
    out = []
    deadline = time.monotonic() + 30
    while len(out) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(out)} of {n} data messages within 30 s")
        m = ch.poll(POLL_MS)
        if m is not None and m.values:
            out.append(m)
    return out


def drain_until_closed(ch, timeout=30.0):
    """Poll until ChannelClosed, which is returned; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        try:
            if ch.poll(200) is not None:
                n += 1
        except pwa.ChannelClosed as e:
            return e
    raise AssertionError(f"no terminal status within {timeout} s ({n} messages polled)")


def setUpModule():
    # A hang prints every thread's traceback and exits well before the script's timeout.
    faulthandler.dump_traceback_later(240, exit=True)


def tearDownModule():
    faulthandler.cancel_dump_traceback_later()


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# --- without a simulator -------------------------------------------------------------------

class TestLayoutAndStatus(unittest.TestCase):
    def test_struct_sizes_match_header_layout(self):
        for struct, size in _ffi.expected_sizes().items():
            with self.subTest(struct=struct.__name__):
                self.assertEqual(ctypes.sizeof(struct), size)
        if ctypes.sizeof(ctypes.c_void_p) == 8:  # the usual 64-bit numbers, spelled out
            self.assertEqual(ctypes.sizeof(_ffi.pwa_value), 112)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_stream_info), 64)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_message_info), 56)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_url_options), 48)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_stats), 64)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_callbacks), 24)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_state_event), 64)
            self.assertEqual(_ffi.pwa_state_event.count.offset, 40)
            self.assertEqual(ctypes.sizeof(_ffi.pwa_missing_range), 32)
            self.assertEqual(_ffi.pwa_state_event.delay_ms.offset, 16)

    def test_struct_layouts_match_the_c_compiler(self):
        # tests/dotnet/layout.c prints every shared struct's size and field offsets as the C
        # compiler lays them out from the header; each must match the ctypes struct.
        cc = shutil.which("cc")
        if cc is None:
            self.skipTest("no C compiler")
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with tempfile.TemporaryDirectory() as tmp:
            exe = os.path.join(tmp, "layout")
            subprocess.run([cc, "-std=c11", "-I", os.path.join(root, "include"),
                            os.path.join(root, "tests", "dotnet", "layout.c"), "-o", exe],
                           check=True)
            lines = subprocess.run([exe], check=True, capture_output=True,
                                   text=True).stdout.splitlines()
        seen = set()
        for line in lines:
            name, size, *fields = line.split()
            struct = getattr(_ffi, name)
            seen.add(name)
            with self.subTest(struct=name):
                self.assertEqual(ctypes.sizeof(struct), int(size))
                offsets = dict(f.split("=") for f in fields)
                self.assertEqual(set(offsets), {f[0] for f in struct._fields_})
                for field, offset in offsets.items():
                    self.assertEqual(getattr(struct, field).offset, int(offset), field)
        for name in ("pwa_subscription_event", "pwa_subscription_callbacks",
                     "pwa_subscription_add_report", "pwa_set_stats", "pwa_shard_stats"):
            self.assertIn(name, seen)

    def test_status_enum_matches_library_names(self):
        for s in pwa.Status:
            self.assertEqual(pwa.status_name(s), "PWA_" + s.name)
        self.assertEqual(pwa.status_name(12345), "PWA_UNKNOWN")
        # Every status the library knows is mirrored here, and no other (the binding's copy
        # of src/ffi/status_table.rs cannot drift).
        known = {code: pwa.status_name(code) for code in range(-200, 200)
                 if pwa.status_name(code) != "PWA_UNKNOWN"}
        self.assertEqual(known, {s.value: "PWA_" + s.name for s in pwa.Status})
        for code, name in known.items():
            self.assertEqual(getattr(_ffi, name), code)
        for k in pwa.ValueKind:
            self.assertEqual(pwa.kind_name(k), k.name)

    def test_pi_error_fields(self):
        e = pwa.PiError(_ffi.PWA_ERR_CONNECT, "nope")
        self.assertEqual(e.status, -10)
        self.assertIs(e.status, pwa.Status.ERR_CONNECT)
        self.assertEqual(e.status_name, "PWA_ERR_CONNECT")
        self.assertEqual(e.message, "nope")
        self.assertIn("PWA_ERR_CONNECT", str(e))

    def test_version(self):
        self.assertEqual(pwa.version().split(".")[:2], ["0", "1"])


class TestMessageFromJson(unittest.TestCase):
    TEXT = r'''{"Links": {},
 "WebException": {"StatusCode": 502, "Errors": ["Bad gateway.", "Try later."]},
 "Items": [
  {"WebId": "F1DPa", "Name": "PUMP.STAT", "Path": "\\\\SRV\\PUMP.STAT", "UnitsAbbreviation": "",
   "Items": [
     {"Timestamp": "2024-01-02T03:04:05.5Z",
      "Value": {"Name": "Shutdown", "Value": 254, "IsSystem": true},
      "Good": false, "Questionable": false, "Substituted": false, "Annotated": false},
     {"Timestamp": "2024-01-02T03:04:06.25Z",
      "Value": {"Name": "Active", "Value": 1, "IsSystem": false},
      "Good": true, "Questionable": false, "Substituted": true, "Annotated": true}]},
  {"WebId": "F1DPb", "Name": "BAD", "Path": "\\\\SRV\\BAD", "UnitsAbbreviation": "degC",
   "WebException": {"StatusCode": 404, "Errors": ["Point not found."]},
   "Items": [
     {"Timestamp": "2024-01-02T03:04:06Z", "Value": null, "Good": false,
      "Errors": [{"FieldName": "Value", "Message": ["No data.", "Check the tag."]}]},
     {"Timestamp": "2024-01-02T03:04:07Z", "Value": 2.5, "UnitsAbbreviation": "K",
      "Questionable": true},
     {"Timestamp": "1969-12-31T23:59:59.9999999Z", "Value": -42},
     {"Timestamp": "2024-01-02T03:04:08Z", "Value": "Heating \"B\" \u00fc"},
     {"Timestamp": "2024-01-02T03:04:09Z", "Value": true,
      "WebException": {"StatusCode": 500, "Errors": ["Partial failure."]}},
     {"Timestamp": "not-a-time", "Value": [1, {"a": 2}]}]}
 ]}'''

    def test_exact_fields(self):
        V, S, W = pwa.Value, pwa.Stream, pwa.WebException
        K = pwa.ValueKind

        def val(stream, kind, value, text, ts_ns, ts_text, units="", good=True, q=False,
                subst=False, ann=False, errors=(), web=None, ts_valid=True):
            return V(stream_index=stream, kind=kind, value=value, text=text, timestamp_ns=ts_ns,
                     timestamp_valid=ts_valid, timestamp_text=ts_text, units=units, good=good,
                     questionable=q, substituted=subst, annotated=ann, errors=tuple(errors),
                     error_count=len(errors), web_exception=web)

        values = (
            val(0, K.DIGITAL, pwa.DigitalState("Shutdown", 254, True), "Shutdown",
                1704164645500000000, "2024-01-02T03:04:05.5Z", good=False),
            val(0, K.DIGITAL, ("Active", 1, False), "Active",
                1704164646250000000, "2024-01-02T03:04:06.25Z", subst=True, ann=True),
            val(1, K.NULL, None, "", 1704164646000000000, "2024-01-02T03:04:06Z", units="degC",
                good=False, errors=["Value: No data.; Check the tag."]),
            val(1, K.DOUBLE, 2.5, "2.5", 1704164647000000000, "2024-01-02T03:04:07Z",
                units="K", q=True),
            val(1, K.INT64, -42, "-42", -100, "1969-12-31T23:59:59.9999999Z", units="degC"),
            val(1, K.STRING, 'Heating "B" \u00fc', 'Heating "B" \u00fc', 1704164648000000000,
                "2024-01-02T03:04:08Z", units="degC"),
            val(1, K.BOOL, True, "true", 1704164649000000000, "2024-01-02T03:04:09Z",
                units="degC", good=False, web=W(500, ("Partial failure.",))),
        )
        m = pwa.Message.from_json(self.TEXT)
        # The last value: its timestamp is invalid, which adds an error line.
        last = m.values[-1]
        self.assertEqual(last.kind, K.OTHER)
        self.assertEqual(last.value, [1, {"a": 2}])
        self.assertFalse(last.timestamp_valid)
        self.assertEqual(last.timestamp_ns, 0)
        self.assertIsNone(last.datetime)
        self.assertEqual(last.error_count, 1)
        self.assertTrue(last.errors[0].startswith("Timestamp: invalid timestamp 'not-a-time'"),
                        last.errors)
        expected = pwa.Message(
            json=self.TEXT, url="", is_heartbeat=False, is_unparsable=False, parse_error="",
            web_exception=W(502, ("Bad gateway.", "Try later.")),
            streams=(
                S("F1DPa", "PUMP.STAT", "\\\\SRV\\PUMP.STAT", "", 0, 2, None, values[0:2]),
                S("F1DPb", "BAD", "\\\\SRV\\BAD", "degC", 2, 6, W(404, ("Point not found.",)),
                  values[2:] + (last,)),
            ),
            values=values + (last,),
        )
        self.assertEqual(m, expected)
        # The helpers.
        self.assertEqual(m.values[0].kind_name, "DIGITAL")
        self.assertEqual(m.values[0].value.name, "Shutdown")
        self.assertEqual(m.values[0].datetime.isoformat(), "2024-01-02T03:04:05.500000+00:00")
        self.assertEqual(m.values[4].datetime.isoformat(), "1969-12-31T23:59:59.999999+00:00")
        self.assertIsInstance(m.values[4].value, int)
        self.assertIsInstance(m.values[6].value, bool)

    def test_bytes_heartbeat_unparsable(self):
        for text in ("", "{}", '{"Items": []}', b'{"Links": {}}'):
            with self.subTest(text=text):
                m = pwa.Message.from_json(text)
                self.assertTrue(m.is_heartbeat)
                self.assertEqual((m.streams, m.values), ((), ()))
        m = pwa.Message.from_json("not json")
        self.assertTrue(m.is_unparsable)
        self.assertFalse(m.is_heartbeat)
        self.assertNotEqual(m.parse_error, "")
        self.assertEqual(m.json, "not json")
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Message.from_json(b"\xff\xfe")
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")


class TestConfigAndUrls(unittest.TestCase):
    def test_good_config(self):
        cfg = pwa.Config({"header.X-Site": "north"}, reconnect=True, max_queue=100,
                         open_timeout="2.5", close_timeout=3)
        self.assertEqual(cfg.keys(), ["header.X-Site", "reconnect", "max_queue", "open_timeout",
                                      "close_timeout"])
        cfg["ping_interval"] = 0
        cfg.free()
        cfg.free()  # idempotent

    def test_bad_key_names_the_key(self):
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Config(reconect_typo="true")
        e = cm.exception
        self.assertEqual(e.status, pwa.Status.ERR_INVALID_ARGUMENT)
        self.assertEqual(e.status_name, "PWA_ERR_INVALID_ARGUMENT")
        self.assertIn("reconect_typo", e.message)

    def test_bad_value_names_the_key(self):
        cfg = pwa.Config()
        with self.assertRaises(pwa.PiError) as cm:
            cfg.set("max_queue", "lots")
        self.assertEqual(cfg.get("max_queue"), "1024", "a rejected value changes nothing")
        cfg.set("open_timeout", 2.5)
        self.assertEqual(cfg["open_timeout"], "2.5")
        cfg.set("password", "hunter2")
        self.assertEqual(cfg.get("password"), "***")
        with self.assertRaises(pwa.PiError):
            cfg.get("no_such_key")
        keys = {k.name: k for k in pwa.config_keys()}
        self.assertEqual(keys["max_queue_bytes"].default, "33554432")
        self.assertTrue(keys["bearer_token"].is_secret)
        for name in ("negotiate_service", "negotiate_require_mutual", "negotiate_delegate",
                     "negotiate_keytab", "negotiate_principal"):
            self.assertIn(name, keys)
        cfg.set("auth", "kerberos")
        self.assertEqual(cfg["auth"], "negotiate")
        cfg.set("negotiate_service", "HTTP/pi.example.com")
        self.assertEqual(cfg["negotiate_service"], "HTTP/pi.example.com")
        cfg.set("negotiate_service", "")
        cfg.set("auth", "none")
        fresh = pwa.Config()
        for k in keys.values():
            if not k.name.startswith("header."):
                self.assertEqual(fresh.get(k.name), k.default, k.name)
        fresh.free()
        self.assertIn("max_queue", cm.exception.message)
        cfg.set("max_queue", 10)  # still usable
        cfg.free()

    def test_url_helpers(self):
        self.assertEqual(
            pwa.url_stream("https://srv/piwebapi", "F1DPa", include_initial_values=True,
                           heartbeat_rate=5),
            "wss://srv/piwebapi/streams/F1DPa/channel?includeInitialValues=true&heartbeatRate=5")
        self.assertEqual(pwa.url_streamset("http://srv/piwebapi", "F1Em", name_filter="Flow*"),
                         "ws://srv/piwebapi/streamsets/F1Em/channel?nameFilter=Flow*")
        self.assertEqual(pwa.url_adhoc("https://srv/piwebapi", ["F1a", "F1b"]),
                         "wss://srv/piwebapi/streamsets/channel?webId=F1a&webId=F1b")
        ids = [f"F1DP{i:04d}" + "x" * 40 for i in range(50)]
        urls = pwa.url_adhoc_split("https://srv/piwebapi", ids, max_url_len=300)
        self.assertGreater(len(urls), 1)
        self.assertTrue(all(len(u) <= 300 for u in urls))
        got = [w.rstrip("&") for u in urls for w in u.split("webId=")[1:]]
        self.assertEqual(got, ids)
        with self.assertRaises(pwa.PiError) as cm:
            pwa.url_stream("ftp://srv/piwebapi", "F1DPa")
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")
        with self.assertRaises(pwa.PiError):
            pwa.url_streamset("https://srv/piwebapi", "bad id!")


# --- against the simulators ----------------------------------------------------------------

class TestPolling(unittest.TestCase):
    def test_poll_typed_values(self):
        url = with_initial_values(sim("PWA_SIM_ADHOC"))
        with pwa.Channel.open(url) as ch:
            self.assertEqual(ch.state(), pwa.State.OPEN)
            msgs = poll_data(ch, 20)
            stats = ch.stats()
        kinds = set()
        last_ts = {}
        for m in msgs:
            self.assertEqual(m.url, url)
            self.assertFalse(m.is_heartbeat)
            self.assertFalse(m.is_unparsable)
            self.assertGreater(len(m.streams), 0)
            self.assertEqual(sum(s.value_count for s in m.streams), len(m.values))
            for v in m.values:
                self.assertIsInstance(v.kind, pwa.ValueKind)
                self.assertEqual(v.kind_name, v.kind.name)
                kinds.add(v.kind)
                self.assertTrue(v.timestamp_valid, v)
                stream = m.streams[v.stream_index]
                self.assertIn(v, stream.values)
                # Timestamps of a stream increase from message to message.
                if stream.web_id in last_ts:
                    self.assertGreater(v.timestamp_ns, last_ts[stream.web_id], stream.name)
                last_ts[stream.web_id] = v.timestamp_ns
                expected_type = {
                    pwa.ValueKind.DOUBLE: float, pwa.ValueKind.INT64: int,
                    pwa.ValueKind.STRING: str, pwa.ValueKind.BOOL: bool,
                    pwa.ValueKind.DIGITAL: pwa.DigitalState, pwa.ValueKind.NULL: type(None),
                }.get(v.kind)
                if expected_type is not None:
                    self.assertIsInstance(v.value, expected_type)
                if v.datetime is not None:
                    self.assertLess(abs(v.datetime.timestamp() * 1e9 - v.timestamp_ns), 2000)
        self.assertTrue({pwa.ValueKind.DOUBLE, pwa.ValueKind.INT64, pwa.ValueKind.STRING,
                         pwa.ValueKind.DIGITAL} <= kinds, kinds)
        self.assertGreaterEqual(stats.messages, 20)
        self.assertGreater(stats.bytes, 0)
        self.assertIsNotNone(stats.last_message)
        self.assertEqual(stats.messages_dropped, 0)

    def test_poll_timeout_returns_none(self):
        with pwa.Channel.open(sim("PWA_SIM_STREAM")) as ch:
            # Take what is there, then a 0 ms poll either gives a message or None, never raises.
            for _ in range(100):
                if ch.poll(0) is None:
                    break
            else:
                self.fail("a 0 ms poll never returned None")

    def test_context_manager_closes_and_poll_reports_terminal(self):
        with pwa.Channel.open(sim("PWA_SIM_STREAM")) as ch:
            self.assertIsNotNone(ch.poll(POLL_MS))
            handle = ch.handle
        for _ in range(2):  # on every later call
            with self.assertRaises(pwa.ChannelClosed) as cm:
                ch.poll(0)
            self.assertEqual(cm.exception.status, pwa.Status.CLOSED)
            self.assertEqual(cm.exception.status_name, "PWA_CLOSED")
            self.assertTrue(cm.exception.clean)
            self.assertNotIsInstance(cm.exception, pwa.PiError)
        self.assertEqual(list(ch), [])
        self.assertIs(ch.terminal, cm.exception)
        ch.close()  # idempotent
        # The handle is now stale: the library refuses it, through the binding and raw.
        with self.assertRaises(pwa.PiError) as cm2:
            ch.stats()
        self.assertEqual(cm2.exception.status_name, "PWA_ERR_INVALID_HANDLE")
        self.assertIn("not open", cm2.exception.message)
        with self.assertRaises(pwa.PiError) as cm3:
            ch.update(sim("PWA_SIM2_STREAM"))
        self.assertEqual(cm3.exception.status, pwa.Status.ERR_INVALID_HANDLE)
        out = _ffi.pwa_message_p()
        self.assertEqual(_ffi.pwa_channel_poll_next(handle, 0, ctypes.byref(out)),
                         _ffi.PWA_ERR_INVALID_HANDLE)
        self.assertFalse(out)
        self.assertEqual(_ffi.pwa_channel_free(handle), _ffi.PWA_ERR_INVALID_HANDLE)

    def test_request_close_then_drain(self):
        ch = pwa.Channel.open(sim("PWA_SIM_STREAM"))
        try:
            poll_data(ch, 3)
            self.assertIsNone(ch.outcome())  # still running
            ch.request_close()
            deadline = time.monotonic() + 10
            while ch.outcome() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(ch.outcome(), pwa.Status.CLOSED)  # known before the drain
            closed = drain_until_closed(ch)
            self.assertEqual(closed.status, pwa.Status.CLOSED)
            self.assertEqual(ch.state(), pwa.State.CLOSED)  # the handle is still valid
        finally:
            ch.close()
        self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)

    def test_iteration_ends_when_server_closes(self):
        # The simulator sends Close(1000) after 5 data messages; reconnect is off.
        n = 0
        with pwa.Channel.open(sim("PWA_SIMCLOSE_STREAM")) as ch:
            # Should the iteration not end by itself, close() from another thread ends it.
            fired = threading.Event()

            def rescue():
                fired.set()
                ch.close()

            watchdog = threading.Timer(30, rescue)
            watchdog.start()
            try:
                for msg in ch:
                    self.assertIsInstance(msg, pwa.Message)
                    n += 1
            finally:
                watchdog.cancel()
            self.assertFalse(fired.is_set(), "the iteration did not end by itself")
            self.assertEqual(ch.state(), pwa.State.CLOSED)
            self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)
            self.assertEqual(ch.state(), pwa.State.CLOSED)
        self.assertGreaterEqual(n, 5)

    def test_connect_to_dead_port(self):
        url = dead_url()
        t0 = time.monotonic()
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Channel.open(url, {"open_timeout": "2"})
        self.assertLess(time.monotonic() - t0, 10)
        e = cm.exception
        self.assertEqual(e.status_name, "PWA_ERR_CONNECT")
        self.assertEqual(e.status, -10)
        self.assertIn("127.0.0.1", e.message)

    def test_bad_url(self):
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Channel.open("not a url")
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")

    def test_auth_failure_hides_password(self):
        url = sim("PWA_SIMAUTH_STREAM")
        cfg = pwa.Config(auth="basic", username="piuser", password="Wrong-pw-2718",
                         allow_insecure_auth=True)
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Channel.open(url, cfg)
        cfg.free()
        self.assertEqual(cm.exception.status_name, "PWA_ERR_AUTH")
        self.assertNotIn("Wrong-pw-2718", str(cm.exception))
        good = {"auth": "basic", "username": "piuser", "password": "pi-secret-pw",
                "allow_insecure_auth": "true"}
        with pwa.Channel.open(with_initial_values(url), good) as ch:
            self.assertIsNotNone(ch.poll(POLL_MS))

    def test_second_poller_gets_busy(self):
        with pwa.Channel.open(sim("PWA_SIM_STREAM")) as ch:
            while ch.poll(0) is not None:  # empty the queue so the other poll waits
                pass
            errors = []
            started = threading.Event()

            def other():
                started.set()
                while True:
                    try:
                        ch.poll(200)
                    except pwa.PiError as e:
                        if e.status != pwa.Status.ERR_BUSY:
                            errors.append(e)
                            return
                    except pwa.ChannelClosed:
                        return

            # Busy is a race by nature: retry a few times until the two polls overlap.
            t = threading.Thread(target=other)
            t.start()
            started.wait()
            busy = None
            for _ in range(200):
                try:
                    ch._poll_once(50)
                except pwa.PiError as e:
                    busy = e
                    break
            ch.close()  # the other poller ends with ChannelClosed
            t.join(20)
            self.assertFalse(t.is_alive())
        self.assertIsNotNone(busy, "never saw PWA_ERR_BUSY")
        self.assertEqual(busy.status_name, "PWA_ERR_BUSY")
        self.assertEqual(errors, [])


def sim_control(base_var, command):
    """GET /_sim/<command> on the simulator whose base URL is in `base_var`."""
    import urllib.request
    base = sim(base_var)
    http = "http://" + base.split("://", 1)[1].split("/", 1)[0]
    with urllib.request.urlopen(f"{http}/_sim/{command}", timeout=10) as r:
        if r.status != 200:
            raise AssertionError(f"{command}: HTTP {r.status}")


class TestGapFill(unittest.TestCase):
    """gap_fill through the binding: after an outage the backfilled messages are flagged, and
    the BACKFILL_* events carry their counts."""

    def test_backfill_after_an_outage_is_flagged_and_counted(self):
        url = sim("PWA_SIMARCHIVE_ADHOC")
        events = []
        done = threading.Event()

        def on_state(ev):
            events.append(ev)
            if ev.kind in (pwa.EventKind.BACKFILL_DONE, pwa.EventKind.BACKFILL_FAILED):
                done.set()

        cfg = {"gap_fill": "true", "reconnect": "true", "reconnect_initial_delay": "0.2"}
        with pwa.Channel.open(url, cfg, on_state=on_state) as ch:
            got = poll_data(ch, 3)
            sim_control("PWA_SIMARCHIVE_BASE", "restart?ms=1500")
            # Polled messages and events are not synchronised: after BACKFILL_DONE the
            # backfilled messages still queued come first, then live ones.
            deadline = time.monotonic() + 30
            live_after_done = False
            while not live_after_done:
                self.assertLess(time.monotonic(), deadline, f"no backfill: {events}")
                was_done = done.is_set()
                m = ch.poll(100)
                if m is not None:
                    got.append(m)
                    live_after_done = was_done and not m.is_backfilled and bool(m.values)
            got.extend(poll_data(ch, 3))
        kinds = [e.kind for e in events]
        self.assertIn(pwa.EventKind.BACKFILL_STARTED, kinds)
        last = [e for e in events if e.kind == pwa.EventKind.BACKFILL_DONE]
        self.assertEqual(len(last), 1, events)
        self.assertEqual(last[0].missing, ())
        backfilled = [m for m in got if m.is_backfilled]
        self.assertTrue(backfilled, "no backfilled message")
        self.assertTrue(all(m.is_rewritten for m in backfilled))
        self.assertEqual(sum(len(m.values) for m in backfilled), last[0].count)
        self.assertGreater(last[0].count, 0)
        live = [m for m in got if not m.is_backfilled and m.values]
        self.assertTrue(live)
        # One value per stream and timestamp: per stream, timestamps strictly increase across
        # the seam (nothing repeated, nothing out of order).
        last_ts = {}
        for m in got:
            for v in m.values:
                w = m.streams[v.stream_index].web_id
                if w in last_ts:
                    self.assertGreater(v.timestamp_ns, last_ts[w], w)
                last_ts[w] = v.timestamp_ns


class TestCloseFromAnotherThread(unittest.TestCase):
    """One thread iterates, another calls close(), against a server that does not answer the
    close frame (the simulator is stalled: it neither reads nor sends). The iterating thread
    must see the channel's end, never PiError(PWA_ERR_BUSY): close() must not poll."""

    def test_iterator_sees_the_end_not_busy(self):
        url = sim("PWA_SIMSTALL_STREAM")
        ch = pwa.Channel.open(url, {"close_timeout": "2"})
        closer = None
        closer_errors = []
        try:
            got = []
            t0 = None

            def close_it():
                try:
                    ch.close()
                except BaseException as e:  # pragma: no cover (reported below)
                    closer_errors.append(e)

            try:
                for msg in ch:
                    got.append(msg)
                    if closer is None:
                        sim_control("PWA_SIMSTALL_BASE", "stall?on=1")
                        closer = threading.Thread(target=close_it)
                        t0 = time.monotonic()
                        closer.start()
                        # close() asks for the close; the server will not answer it, so
                        # close() waits close_timeout (2 s) for the end. Meanwhile this
                        # thread polls again (the old close() polled too: PWA_ERR_BUSY here).
                        time.sleep(0.5)
                    if time.monotonic() - (t0 or time.monotonic()) > 15:
                        self.fail("iteration did not end within 15 s of close()")
            except pwa.PiError as e:
                self.fail(f"the iterating thread got {e.status_name} instead of the end: {e}")
            closer.join(15)
            self.assertFalse(closer.is_alive(), "close() did not return")
            self.assertEqual(closer_errors, [])
            self.assertLess(time.monotonic() - t0, 2 + 2.5)  # close_timeout + the free's bound
            self.assertIsNotNone(ch.terminal)
            self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)
            with self.assertRaises(pwa.ChannelClosed) as cm:
                ch.poll(0)
            self.assertEqual(cm.exception.status, pwa.Status.CLOSED)
            self.assertGreaterEqual(len(got), 1)
        finally:
            sim_control("PWA_SIMSTALL_BASE", "stall?on=0")
            ch.close()
            if closer is not None:
                closer.join(15)

    def test_close_from_another_thread_without_an_iterator(self):
        # close() alone (nobody polling) against the stalled server: returns within
        # close_timeout + about 1 s, remembers CLOSED.
        ch = pwa.Channel.open(sim("PWA_SIMSTALL_STREAM"), {"close_timeout": "1"})
        try:
            self.assertIsNotNone(ch.poll(POLL_MS))
            sim_control("PWA_SIMSTALL_BASE", "stall?on=1")
            t0 = time.monotonic()
            ch.close()
            self.assertLess(time.monotonic() - t0, 1 + 2.5)
            self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)
        finally:
            sim_control("PWA_SIMSTALL_BASE", "stall?on=0")


class TestIterationEndingRule(unittest.TestCase):
    """The documented rule: `for msg in channel` stops at every end, clean or not, after the
    buffer is drained; channel.terminal then holds the ChannelClosed with the terminal status,
    and channel.raise_if_failed() raises it when the end was not clean."""

    def test_error_ending_stops_iteration_and_terminal_tells(self):
        ch = pwa.Channel.open(sim("PWA_SIMSTALL_STREAM"))  # reconnect off
        try:
            n = 0
            deadline = time.monotonic() + 30
            for msg in ch:
                n += 1
                if n == 3:
                    sim_control("PWA_SIMSTALL_BASE", "reset")
                if time.monotonic() > deadline:
                    self.fail("iteration did not end within 30 s of a reset")
            self.assertGreaterEqual(n, 3)
            self.assertEqual(ch.terminal.status, pwa.Status.CLOSED_ERROR)
            self.assertFalse(ch.terminal.clean)
            with self.assertRaises(pwa.ChannelClosed) as cm:
                ch.raise_if_failed()
            self.assertIs(cm.exception, ch.terminal)
        finally:
            ch.close()
        # A clean end does not raise.
        with pwa.Channel.open(sim("PWA_SIMCLOSE_STREAM")) as ch2:
            self.assertGreaterEqual(len(list(ch2)), 5)
            self.assertTrue(ch2.terminal.clean)
            ch2.raise_if_failed()


class TestUpdate(unittest.TestCase):
    def test_update_to_second_simulator(self):
        url1, url2 = sim("PWA_SIM_STREAM"), sim("PWA_SIM2_STREAM")
        self.assertNotEqual(url1, url2)
        with pwa.Channel.open(url1) as ch:
            self.assertEqual(poll_data(ch, 2)[-1].url, url1)
            status = ch.update(url2)
            self.assertEqual(status, pwa.Status.OK)
            self.assertIs(status, pwa.Status.OK)
            # Messages of the old endpoint buffered before the switch may come first; then
            # only the new one.
            urls = [m.url for m in poll_data(ch, 30)]
            self.assertIn(url2, urls)
            first_new = urls.index(url2)
            self.assertEqual(urls[first_new:], [url2] * (len(urls) - first_new))
            self.assertEqual(set(urls[:first_new]) - {url1}, set())
            self.assertEqual(ch.stats().updates, 1)

    def test_update_rollback_and_failure(self):
        url1 = sim("PWA_SIM_STREAM")
        with pwa.Channel.open(url1, {"open_timeout": 2}) as ch:
            poll_data(ch, 1)
            self.assertEqual(ch.update(dead_url(), rollback=True), pwa.Status.ROLLED_BACK)
            self.assertIn("could not connect", ch.last_error())
            self.assertEqual(poll_data(ch, 3)[-1].url, url1)  # goes on where it was
            with self.assertRaises(pwa.PiError) as cm:
                ch.update("not a url")
            self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")
            self.assertEqual(ch.update(dead_url(), rollback=False), pwa.Status.UPDATE_FAILED)
            closed = drain_until_closed(ch)
            self.assertEqual(closed.status, pwa.Status.UPDATE_FAILED)
            self.assertFalse(closed.clean)
        self.assertEqual(ch.terminal.status, pwa.Status.UPDATE_FAILED)


class TestCallbacks(unittest.TestCase):
    def test_messages_and_closed_last(self):
        msgs, events = [], []
        lock = threading.Lock()

        def on_message(m):
            with lock:
                msgs.append(m)

        def on_state(ev):
            with lock:
                events.append((ev, len(msgs)))

        url = sim("PWA_SIM_ADHOC")
        ch = pwa.Channel.open(url, on_message=on_message, on_state=on_state)
        self.assertTrue(wait_until(lambda: len(msgs) >= 10), len(msgs))
        with self.assertRaises(pwa.PiError) as cm:  # callback mode: no polling
            ch.poll(0)
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")
        ch.close()  # frees: the CLOSED callback ran before this returned
        with lock:
            n_after_close = len(msgs)
            kinds = [ev.kind for ev, _ in events]
        self.assertEqual(kinds[0], pwa.EventKind.CONNECTED)
        self.assertEqual(events[0][0].url, url)
        self.assertEqual(kinds[-1], pwa.EventKind.CLOSED)
        self.assertEqual(kinds.count(pwa.EventKind.CLOSED), 1)
        closed, msgs_before_closed = events[-1]
        self.assertEqual(closed.status, pwa.Status.CLOSED)
        self.assertEqual(closed.status_name, "PWA_CLOSED")
        self.assertEqual(msgs_before_closed, n_after_close)  # no message after CLOSED
        self.assertIs(ch.closed_event, closed)
        self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)
        time.sleep(0.2)
        self.assertEqual(len(msgs), n_after_close)  # nothing after free
        for m in msgs:
            self.assertIsInstance(m, pwa.Message)
            self.assertEqual(m.url, url)
            self.assertTrue(m.is_heartbeat or m.values)
        with self.assertRaises(pwa.ChannelClosed):
            ch.poll(0)

    def test_exception_in_callback_is_logged_not_fatal(self):
        calls = {"msg": 0, "state": 0}

        def on_message(m):
            calls["msg"] += 1
            raise RuntimeError("user bug in on_message")

        def on_state(ev):
            calls["state"] += 1
            raise ValueError("user bug in on_state")

        with self.assertLogs("piwebasync_c", level="ERROR") as logs:
            with pwa.Channel.open(sim("PWA_SIM_STREAM"), on_message=on_message,
                                  on_state=on_state) as ch:
                self.assertTrue(wait_until(lambda: calls["msg"] >= 10), calls)
                self.assertEqual(ch.state(), pwa.State.OPEN)  # the channel goes on
            self.assertEqual(ch.terminal.status, pwa.Status.CLOSED)
        text = "\n".join(logs.output)
        self.assertIn("user bug in on_message", text)
        self.assertIn("user bug in on_state", text)
        self.assertGreaterEqual(calls["state"], 2)  # CONNECTED and CLOSED despite raising

    def test_close_and_blocking_calls_inside_callback(self):
        seen = {}
        holder = {}
        done = threading.Event()

        def on_message(m):
            ch = holder.get("ch")
            if ch is None or "update" in seen:
                return
            try:
                ch.update(sim("PWA_SIM2_STREAM"))
            except pwa.PiError as e:
                seen["update"] = e.status_name
            ch.close()  # only asks for the close here
            seen["closed_in_cb"] = True

        def on_state(ev):
            if ev.kind == pwa.EventKind.CLOSED:
                done.set()

        ch = pwa.Channel.open(sim("PWA_SIM_STREAM"), on_message=on_message, on_state=on_state)
        holder["ch"] = ch
        self.assertTrue(done.wait(20))
        self.assertEqual(seen.get("update"), "PWA_ERR_RECURSIVE_CALL")
        self.assertTrue(seen.get("closed_in_cb"))
        self.assertEqual(ch.wait_closed(0).status, pwa.Status.CLOSED)
        self.assertEqual(ch.stats().messages >= 1, True)  # not freed yet: still valid
        ch.close()  # now from this thread: frees
        with self.assertRaises(pwa.PiError) as cm:
            ch.state()
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_HANDLE")

    def test_channel_collected_while_callbacks_run(self):
        count = [0]
        ch = pwa.Channel.open(sim("PWA_SIM_STREAM"),
                              on_message=lambda m: count.__setitem__(0, count[0] + 1))
        handle = ch.handle
        self.assertTrue(wait_until(lambda: count[0] >= 3))
        del ch
        gc.collect()
        n = count[0]
        time.sleep(0.2)
        self.assertEqual(count[0], n)  # freed by __del__: no callback any more
        self.assertEqual(_ffi.pwa_channel_free(handle), _ffi.PWA_ERR_INVALID_HANDLE)

    def test_library_log_lines_reach_python_logging(self):
        url = dead_url()
        try:
            with self.assertLogs("piwebasync_c.lib", level="DEBUG") as logs:
                pwa.set_library_log_level(pwa.PWA_LOG_DEBUG)
                with self.assertRaises(pwa.PiError):
                    pwa.Channel.open(url, {"open_timeout": 2})
                # Lines come on the library's log thread, shortly after.
                self.assertTrue(wait_until(lambda: any(url in line for line in logs.output)),
                                logs.output)
        finally:
            pwa.set_library_log_level(pwa.PWA_LOG_OFF)
        with self.assertRaises(pwa.PiError) as cm:
            pwa.set_library_log_level(99)
        self.assertEqual(cm.exception.status_name, "PWA_ERR_INVALID_ARGUMENT")

    def test_failed_open_with_callbacks_runs_none(self):
        calls = []
        with self.assertRaises(pwa.PiError) as cm:
            pwa.Channel.open(dead_url(), {"open_timeout": 2}, on_message=calls.append,
                             on_state=calls.append)
        self.assertEqual(cm.exception.status_name, "PWA_ERR_CONNECT")
        time.sleep(0.1)
        self.assertEqual(calls, [])


if __name__ == "__main__":
    logging.basicConfig()
    unittest.main()
