"""Benchmark of piwebasync_c.aio against the simulator's benchmark mode (run by
benches/python/aio-bench.sh, which starts the simulators): messages/s and CPU per message for
small (1 value) and large (1000 values) messages, beside the synchronous binding's iteration
in the same run; and N channels in one event loop (open time, memory).

Usage: aio_bench.py SMALL_URL LARGE_URL QUIET_URL [CHANNELS]
"""

import asyncio
import os
import resource
import sys
import time

import piwebasync_c as pwa
from piwebasync_c.aio import WebsocketClient


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def aio_rate(url, n, touch):
    async with WebsocketClient(url, max_queue=256) as ch:
        await asyncio.wait_for(ch.recv(), 30)  # connected and flowing
        t0, c0 = time.perf_counter(), cpu()
        values = 0
        for _ in range(n):
            m = await asyncio.wait_for(ch.recv(), 30)
            if touch:
                values += len(m.select("items.items.value")["items.items.value"])
        dt, dc = time.perf_counter() - t0, cpu() - c0
    return n / dt, dc / n * 1e6, values


def sync_rate(url, n):
    with pwa.Channel.open(url) as ch:
        ch.poll(30000)
        t0, c0 = time.perf_counter(), cpu()
        values = 0
        for _ in range(n):
            m = ch.poll(30000)
            values += len(m.values)
        dt, dc = time.perf_counter() - t0, cpu() - c0
    return n / dt, dc / n * 1e6, values


async def many(url, count):
    r0 = rss_kib()
    t0 = time.perf_counter()
    clients = [WebsocketClient(url, max_queue=4) for _ in range(count)]
    await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), 300)
    opened = time.perf_counter() - t0
    await asyncio.sleep(2)
    r1 = rss_kib()
    # loop responsiveness with every channel open
    lags = []
    for _ in range(50):
        s = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - s - 0.01)
    t1 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.close() for c in clients)), 300)
    closed = time.perf_counter() - t1
    return opened, (r1 - r0) / count, max(lags) * 1000, closed


def main():
    small, large, quiet = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    rows = []
    for name, url, n in (("small (1 value)", small, 50000), ("large (1000 values)", large, 2000)):
        a = asyncio.run(aio_rate(url, n, False))
        at = asyncio.run(aio_rate(url, n, True))
        s = sync_rate(url, n)
        rows.append(f"| {name} | {a[0]:,.0f} msg/s, {a[1]:.0f} µs CPU/msg | "
                    f"{at[0]:,.0f} msg/s, {at[1]:.0f} µs CPU/msg | "
                    f"{s[0]:,.0f} msg/s, {s[1]:.0f} µs CPU/msg |")
    print("| messages | aio, recv() only | aio, recv() + select('items.items.value') "
          "| sync binding, for msg in channel (typed values) |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    opened, per, lag, closed = asyncio.run(many(quiet, count))
    print(f"\n{count} channels in one event loop: opened in {opened:.2f} s, "
          f"{per:.1f} KiB RSS each, max loop lag {lag:.1f} ms while open, closed in {closed:.2f} s")


if __name__ == "__main__":
    main()
