"""Python baseline for `make bench`: the `websockets` client (asyncio) parsing every message
with the standard `json` module, as a Python channel client would.

    python ws_bench.py read URL N            read N messages, json.loads each
    python ws_bench.py parse FILE SECONDS    json.loads of one captured message, in a loop

Throughput is timed from the first message to the N-th: rate = (N - 1) / elapsed.
Prints one JSON object.
"""
import asyncio
import json
import sys
import time

import websockets

try:  # websockets >= 13
    from websockets.asyncio.client import connect
except ImportError:  # older releases
    from websockets import connect


async def read(url, n):
    count = 0
    nbytes = 0
    first = last = None
    loads = json.loads
    ws = await connect(url, max_size=None, compression=None, ping_interval=None)
    try:
        async for msg in ws:
            t = time.perf_counter()
            if first is None:
                first = t
            loads(msg)
            last = time.perf_counter()
            count += 1
            nbytes += len(msg)
            if count >= n:
                break
    finally:
        # No closing handshake: the server may still be sending (and websockets stops reading
        # when its queue is full, so a graceful close would wait for close_timeout).
        ws.transport.abort()
    secs = (last - first) if first is not None else 0.0
    rate = (count - 1) / secs if secs > 0 else 0.0
    print(json.dumps({"kind": "python", "websockets": websockets.__version__, "messages": count,
                      "bytes": nbytes, "secs": round(secs, 6), "msg_per_s": round(rate, 1)}))


def parse(path, seconds):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    doc = json.loads(text)
    values = sum(len(item.get("Items", [])) for item in doc.get("Items", []))
    n = 0
    t0 = time.perf_counter()
    t1 = t0
    loads = json.loads
    while t1 - t0 < seconds:
        for _ in range(16):
            loads(text)
        n += 16
        t1 = time.perf_counter()
    el = t1 - t0
    print(json.dumps({"kind": "python_parse", "bytes": len(text), "values_per_msg": values,
                      "msg_per_s": round(n / el, 1), "values_per_s": round(n * values / el, 1)}))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    if sys.argv[1] == "read":
        asyncio.run(read(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "parse":
        parse(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
