#!/usr/bin/env python3
"""Record seeds from the bundled simulator: channel messages (for the message and c_abi
targets) and raw HTTP upgrade responses, 101 and 401 (for http_response).

    fuzz/seed-from-sim.py SIM_BINARY OUT_DIR

Writes OUT_DIR/message/sim-*.json and OUT_DIR/http_response/sim-*.bin (each of these after
the two control bytes the http_response target reads first: read size, body limit). Loopback only; the
simulator is started here and stopped at the end. Python standard library only."""
import base64, os, socket, subprocess, sys, urllib.parse

sim_bin, out = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/message", exist_ok=True)
os.makedirs(f"{out}/http_response", exist_ok=True)


def upgrade(url, auth=None):
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    target = u.path + ("?" + u.query if u.query else "")
    head = (f"GET {target} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if auth:
        head += f"Authorization: {auth}\r\n"
    s.sendall((head + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4 if b"\r\n\r\n" in buf else len(buf)
    return s, buf[:end], buf[end:]


def frames(s, rest, count):
    """Text frames from the server (unmasked), up to count."""
    buf = rest
    out = []

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk

    while len(out) < count:
        need(2)
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        pos = 2
        if n == 126:
            need(4); n = int.from_bytes(buf[2:4], "big"); pos = 4
        elif n == 127:
            need(10); n = int.from_bytes(buf[2:10], "big"); pos = 10
        need(pos + n)
        payload, buf = buf[pos:pos + n], buf[pos + n:]
        if op == 1:
            out.append(payload)
        elif op == 8:
            break
    return out


def run(args, name, count):
    p = subprocess.Popen([sim_bin, "--interval-ms", "5", *args], stdout=subprocess.PIPE, text=True)
    try:
        urls = {}
        for line in p.stdout:
            kind, _, url = line.strip().partition(" ")
            urls.setdefault(kind, url)
            if kind == "adhoc":
                break
        n = 0
        for kind in ("stream", "streamset", "adhoc"):
            if kind not in urls:
                continue
            s, head, rest = upgrade(urls[kind])
            with open(f"{out}/http_response/sim-{name}-{kind}-101.bin", "wb") as f:
                f.write(b"\x00\x40" + head)
            for m in frames(s, rest, count):
                with open(f"{out}/message/sim-{name}-{kind}-{n:02}.json", "wb") as f:
                    f.write(m)
                n += 1
            s.close()
        return urls
    finally:
        p.terminate()
        p.wait()


run([], "default", 4)
run(["--values-per-stream", "3", "--points", "3"], "multi", 3)
# A 401 with its challenge and body, as a server that wants a token answers.
p = subprocess.Popen([sim_bin, "--bearer", "t0ken"], stdout=subprocess.PIPE, text=True)
try:
    url = next(l.split(" ", 1)[1].strip() for l in p.stdout if l.startswith("stream "))
    s, head, rest = upgrade(url)
    s.settimeout(1)
    try:
        rest += s.recv(4096)
    except OSError:
        pass
    with open(f"{out}/http_response/sim-401.bin", "wb") as f:
        f.write(b"\x03\x40" + head + rest)
finally:
    p.terminate()
    p.wait()
