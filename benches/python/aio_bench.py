"""Benchmark of an asyncio channel client with piwebasync's API against the simulator's
benchmark mode (run by benches/python/aio-bench.sh, which starts the simulators):

  PIWEBASYNC_IMPL=piwebasync_c.aio  (default) this binding's asyncio module
  PIWEBASYNC_IMPL=piwebasync        the original piwebasync (same code: only the imports differ)

For small (1 value) and large (1000 values) messages: messages/s and CPU per message (the
whole process, the library's threads included) over BENCH_SECONDS of receiving, with recv()
only and with recv() + select("Items.Items.Timestamp") (every value's entry touched; not
"Items.Items.Value": the original's select raises IndexError on the simulator's digital
states); or N channels opened concurrently in one event loop, in a fresh process: open time,
RSS per channel, the loop's largest lag while all are open, close time. For
piwebasync_c.aio `rates` also measures the synchronous binding (`Channel.poll`, typed
values) on the same simulators.

Usage: aio_bench.py rates SMALL_URL LARGE_URL
       aio_bench.py many QUIET_URL CHANNELS
       aio_bench.py modes QUIET_URL CHANNELS poll|callback|shared   (piwebasync_c only: RSS per
           channel of the synchronous binding's channels in poll mode, in callback mode with a
           thread per channel, and in callback mode on the shared thread (callback_thread=shared),
           which the asyncio client uses: where its memory per channel goes)
Prints one JSON object per measurement, one per line.
"""

import asyncio
import json
import os
import resource
import sys
import time
from urllib.parse import parse_qs, urlsplit

IMPL = os.environ.get("PIWEBASYNC_IMPL", "piwebasync_c.aio")
if IMPL == "piwebasync":
    from piwebasync import Controller, WebsocketClient
elif IMPL == "piwebasync_c.aio":
    from piwebasync_c.aio import Controller, WebsocketClient
else:
    raise ImportError(f"PIWEBASYNC_IMPL={IMPL!r}: piwebasync or piwebasync_c.aio")

SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def request_for(url):
    """The simulator's channel URL as piwebasync's request (the original takes no URL)."""
    u = urlsplit(url)
    parts = u.path.strip("/").split("/")  # piwebapi/streams/{id}/channel | .../streamsets/channel
    ctl = Controller(scheme="ws", host=u.hostname, port=u.port, root="/" + parts[0])
    if parts[1] == "streams":
        return ctl.streams.get_channel(parts[2])
    return ctl.streamsets.get_channel_adhoc(parse_qs(u.query)["webId"])


def count(values):
    return sum(count(v) for v in values) if isinstance(values, list) else 1


async def rate(url, touch):
    async with WebsocketClient(request_for(url)) as ch:
        await asyncio.wait_for(ch.recv(), 30)  # connected and flowing
        n = values = 0
        t0, c0 = time.perf_counter(), cpu()
        deadline = t0 + SECONDS
        while True:
            m = await asyncio.wait_for(ch.recv(), 30)
            n += 1
            if touch:
                values += count(m.select("Items.Items.Timestamp")["Items.Items.Timestamp"])
            if n % 16 == 0 and time.perf_counter() >= deadline:
                break
        dt, dc = time.perf_counter() - t0, cpu() - c0
    return {"msgs": n, "msg_per_s": n / dt, "cpu_us_per_msg": dc / n * 1e6, "values": values}


def sync_rate(url):
    import piwebasync_c as pwa
    with pwa.Channel.open(url) as ch:
        ch.poll(30000)
        n = values = 0
        t0, c0 = time.perf_counter(), cpu()
        deadline = t0 + SECONDS
        while True:
            values += len(ch.poll(30000).values)
            n += 1
            if n % 16 == 0 and time.perf_counter() >= deadline:
                break
        dt, dc = time.perf_counter() - t0, cpu() - c0
    return {"msgs": n, "msg_per_s": n / dt, "cpu_us_per_msg": dc / n * 1e6, "values": values}


async def many(url, count_):
    request = request_for(url)
    r0 = rss_kib()
    t0 = time.perf_counter()
    clients = [WebsocketClient(request) for _ in range(count_)]

    async def open_one(c):
        return await c  # piwebasync's `channel = await WebsocketClient(...)`
    await asyncio.wait_for(asyncio.gather(*(open_one(c) for c in clients)), 300)
    opened = time.perf_counter() - t0
    await asyncio.sleep(2)
    r1 = rss_kib()
    lags = []
    for _ in range(50):
        s = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - s - 0.01)
    open_now = sum(1 for c in clients if c.is_open)
    t1 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients)), 300)
    closed = time.perf_counter() - t1
    return {"channels": count_, "open_s": opened, "open_after": open_now,
            "rss_kib_per_channel": (r1 - r0) / count_, "rss_mib_before": r0 / 1024,
            "rss_mib_total": r1 / 1024,
            "max_loop_lag_ms": max(lags) * 1000, "close_s": closed}


def threads():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def modes(url, count_, mode):
    import piwebasync_c as pwa
    cfg = {"parse_on_receive": "false"}
    if mode == "shared":
        cfg["callback_thread"] = "shared"
    r0, th0 = rss_kib(), threads()
    if mode != "poll":
        chs = [pwa.Channel(url, cfg, on_message=lambda m, h: None, _raw_messages=True)
               for _ in range(count_)]
    else:
        chs = [pwa.Channel(url, cfg) for _ in range(count_)]
    time.sleep(3)
    r1, th1 = rss_kib(), threads()
    for ch in chs:
        ch.close()
    return {"channels": count_, "rss_kib_per_channel": (r1 - r0) / count_,
            "threads_added": th1 - th0}


def emit(name, result):
    print(json.dumps(dict(impl=IMPL, name=name, **result)), flush=True)


def main():
    if sys.argv[1] == "rates":
        for size, url in (("small", sys.argv[2]), ("large", sys.argv[3])):
            emit(f"{size}.recv", asyncio.run(rate(url, False)))
            emit(f"{size}.select", asyncio.run(rate(url, True)))
            if IMPL == "piwebasync_c.aio":
                emit(f"{size}.sync", sync_rate(url))
    elif sys.argv[1] == "many":
        if IMPL == "piwebasync_c.aio":
            import piwebasync_c  # the library loaded before the baseline, as websockets is
            piwebasync_c.version()
        emit("many", asyncio.run(many(sys.argv[2], int(sys.argv[3]))))
    elif sys.argv[1] == "modes":
        import piwebasync_c
        piwebasync_c.version()
        emit(f"mode.{sys.argv[4]}", modes(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
