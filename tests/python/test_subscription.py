"""Subscription sets through the Python binding (run by scripts/test-python.sh, which exports
PWA_SIM_BASE and PWA_SIM_ADHOC of a simulator sending data every 20 ms)."""

import os
import threading
import time
import unittest
from urllib.parse import parse_qs, urlparse

import piwebasync_c as pwa

BOGUS = "F1DPnoSuchPointAtAll"


def env(name):
    v = os.environ.get(name)
    if not v:
        if os.environ.get("PWA_REQUIRE_SIM"):
            raise AssertionError(f"{name} is not set (run scripts/test-python.sh)")
        raise unittest.SkipTest(f"{name} not set: run through scripts/test-python.sh")
    return v


def web_ids():
    return parse_qs(urlparse(env("PWA_SIM_ADHOC")).query)["webId"]


class TestSubscription(unittest.TestCase):
    def test_poll_reject_remove_close(self):
        ids = web_ids()
        self.assertGreaterEqual(len(ids), 4)
        with pwa.Subscription.open(env("PWA_SIM_BASE"),
                                   pwa.Config(max_streams_per_channel=2)) as s:
            r = s.add(ids + [BOGUS, ids[0]])
            self.assertEqual(r, pwa.AddReport(added=len(ids), duplicates=1, rejected=1))
            rej = s.rejected()
            self.assertEqual([x.web_id for x in rej], [BOGUS])
            self.assertIn("404", rej[0].reason)
            st = s.stats()
            self.assertEqual(st.streams, len(ids))
            self.assertEqual(st.shards, (len(ids) + 1) // 2)
            self.assertEqual(len(s.shard_stats()), st.shards)
            shards = set()
            for _ in range(40):
                shard, msg = s.poll(5000)
                shards.add(shard)
                self.assertTrue(all(v.web_id != BOGUS for v in msg.streams))
            self.assertGreater(len(shards), 1)
            self.assertEqual(s.remove([ids[0], "not-a-member"]), 1)
            for _ in range(20):
                _, msg = s.poll(5000)
                self.assertNotIn(ids[0], [st.web_id for st in msg.streams])
            s.close()
            drained = sum(1 for _ in s)
            self.assertGreaterEqual(drained, 0)
            self.assertEqual(s.terminal.status, pwa.Status.CLOSED)
            with self.assertRaises(pwa.ChannelClosed):
                s.poll(0)

    def test_errors(self):
        with self.assertRaises(pwa.PiError) as e:
            pwa.Subscription.open("not a url")
        self.assertEqual(e.exception.status, pwa.Status.ERR_INVALID_ARGUMENT)
        with pwa.Subscription.open(env("PWA_SIM_BASE"),
                                   pwa.Config(max_channels=1, max_streams_per_channel=1)) as s:
            with self.assertRaises(pwa.PiError) as e:
                s.add(web_ids()[:2])
            self.assertEqual(e.exception.status, pwa.Status.ERR_LIMIT)
            self.assertIn("max_channels", e.exception.message)
            self.assertEqual(s.stats().streams, 0)
            with self.assertRaises(pwa.PiError) as e:
                s.add(["has space"])
            self.assertEqual(e.exception.status, pwa.Status.ERR_INVALID_ARGUMENT)

    def test_callbacks(self):
        got, events = [], []
        lock = threading.Lock()

        def on_message(shard, msg):
            with lock:
                got.append((shard, msg))

        s = pwa.Subscription.open(env("PWA_SIM_BASE"), on_message=on_message,
                                  on_state=events.append)
        s.add(web_ids() + [BOGUS])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(got) < 5:
            time.sleep(0.02)
        self.assertGreaterEqual(len(got), 5)
        s.close()
        self.assertTrue(s.wait_closed(10))
        s.free()
        kinds = [e.kind for e in events]
        self.assertEqual(kinds[-1], "closed")
        self.assertEqual(kinds.count("closed"), 1)
        self.assertIn("rejected", kinds)
        self.assertTrue(any(e.kind == "shard" and e.event.kind == pwa.EventKind.CONNECTED
                            for e in events))


if __name__ == "__main__":
    unittest.main()
