"""Turn build/bench/results.jsonl (written by scripts/bench.sh) into one markdown table.

Each throughput figure is the median of its runs; every figure sits beside the baselines
measured in the same run, with the ratio piwebasync / baseline, and the targets of the
benchmarks issue are marked met / NOT met.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def load(path):
    runs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            runs.setdefault(r["name"], []).append(r)
    return runs


RUNS = load(sys.argv[1] if len(sys.argv) > 1 else "build/bench/results.jsonl")


def get(name, field):
    """Median of `field` over the successful runs of `name`, or None."""
    vals = [r[field] for r in RUNS.get(name, []) if not r.get("failed") and field in r]
    return statistics.median(vals) if vals else None


def count(name):
    return len([r for r in RUNS.get(name, []) if not r.get("failed")])


def fmt_rate(v, unit=""):
    if v is None:
        return "failed"
    for div, suf in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if v >= div:
            return f"{v / div:.3g}{suf}{unit}"
    return f"{v:.3g} {unit}".rstrip()


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}x"


def verdict(ok):
    if ok is None:
        return "n/a (failed)"
    return "**met**" if ok else "**NOT met**"


rows = []

# Which results each section is made of: a section none of whose runs exist was not run
# (BENCH_ONLY) and is left out of the table, where a failed run shows as "failed".
SECTION_RUNS = {
    "Throughput, small": ("small.",),
    "Throughput, large": ("large.",),
    "Latency": ("lat",),
    "Scale": ("scale.",),
    "Subscription": ("subset.",),
    "Recovery": ("restart.", "watchdog"),
    "Message parsing": ("parse.",),
}


def section_ran(title):
    for start, prefixes in SECTION_RUNS.items():
        if title.startswith(start):
            return any(name.startswith(prefixes) for name in RUNS)
    return True


def row(section, measure, ours, baseline="", ratios="", target="", result=""):
    rows.append((section, measure, ours, baseline, ratios, target, result))


# ---------------------------------------------------------------- throughput
for shape, label, vpm in (("small", "small: 1 stream x 1 value", 1), ("large", "large: 100 streams x 10 values", 1000)):
    size = get(f"{shape}.discard", "avg_bytes")
    sec = f"Throughput, {label}" + (f" ({size / 1000:.3g} kB/msg)" if size else "")
    reps = count(f"{shape}.poll-typed")
    frames = get(f"{shape}.frames", "msg_per_s")
    discard = get(f"{shape}.discard", "msg_per_s")
    value = get(f"{shape}.value", "msg_per_s")
    python = get(f"{shape}.python", "msg_per_s")

    def both(m):
        if m is None:
            return "failed"
        return fmt_rate(m, " msg/s") + (f" = {fmt_rate(m * vpm, ' values/s')}" if vpm > 1 else "")

    row(sec, "simulator send ceiling (raw TCP, frame headers skipped)", both(frames),
        result="sim is not the bottleneck" if frames and discard and frames > 1.5 * (get(f"{shape}.poll-json", "msg_per_s") or 0) else "")
    row(sec, "baseline: bare tokio-tungstenite, discard each frame", both(discard))
    row(sec, "baseline: bare tokio-tungstenite + serde_json::Value", both(value))
    row(sec, "baseline: Python websockets + json (asyncio)", both(python))
    base_txt = "discard / Value / Python"
    for mode, what in (("poll-json", "C poll, raw JSON only"), ("poll-typed", "C poll, typed: every value read"),
                       ("cb-json", "C callback, raw JSON only"), ("cb-typed", "C callback, typed: every value read")):
        ours = get(f"{shape}.{mode}", "msg_per_s")
        rs = " / ".join(ratio(ours, b) for b in (discard, value, python))
        target = result = ""
        if mode == "poll-typed" and shape == "small":
            target = ">= 1.2x the serde_json::Value reader"
            result = verdict(None if ours is None or value is None else ours >= 1.2 * value)
        if mode == "poll-typed" and shape == "large":
            target = ">= 2x the Value reader (values/s); fraction of discard"
            result = verdict(None if ours is None or value is None else ours >= 2 * value)
            if ours and discard:
                result += f"; {100 * ours / discard:.0f}% of discard"
        if mode == "poll-json" and shape == "small":
            target = "(also vs 1.2x Value)"
            result = "met" if ours and value and ours >= 1.2 * value else "not met"
        row(sec, f"piwebasync {what}", both(ours), base_txt, rs, target, result)
    if reps:
        row(sec, f"(median of {reps} runs each; rate = (N-1) / time from first to N-th message)", "")

# ---------------------------------------------------------------- latency
sec = "Latency, send -> poll return (1 stream x 1 value, stamped right before the send)"
for rate, key in (("1,000", "lat1k"), ("10,000", "lat10k")):
    o = {f: get(f"{key}.ours", f) for f in ("p50_us", "p99_us", "p999_us", "max_us", "samples")}
    b = {f: get(f"{key}.bare", f) for f in ("p50_us", "p99_us", "p999_us", "max_us")}
    if o["p50_us"] is None:
        row(sec, f"{rate} msg/s", "failed")
        continue
    ours = f"p50 {o['p50_us']:.0f} / p99 {o['p99_us']:.0f} / p99.9 {o['p999_us']:.0f} µs (max {o['max_us']:.0f}; {o['samples']:.0f} samples)"
    base = (f"bare tokio-tungstenite: p50 {b['p50_us']:.0f} / p99 {b['p99_us']:.0f} / p99.9 {b['p999_us']:.0f} µs"
            if b["p50_us"] is not None else "failed")
    rs = ratio(o["p99_us"], b["p99_us"]) + " (p99)"
    target = result = ""
    if key == "lat10k":
        target = "p99 < 1 ms at 10,000 msg/s"
        result = verdict(o["p99_us"] < 1000)
    row(sec, f"{rate} msg/s", ours, base, rs, target, result)

# ---------------------------------------------------------------- scale
sec = "Scale: idle channels (poll mode, a heartbeat every 3 s per channel)"
ns = sorted({int(k.rsplit(".", 1)[1]) for k in RUNS if k.startswith("scale.ours.")})
for n in ns:
    o = {f: get(f"scale.ours.{n}", f) for f in ("open_secs", "kib_per_channel", "idle_cpu_pct")}
    b = {f: get(f"scale.bare.{n}", f) for f in ("open_secs", "kib_per_channel", "idle_cpu_pct")}
    if o["open_secs"] is None:
        row(sec, f"{n:,} channels", "failed")
        continue
    ours = f"open all: {o['open_secs']:.3f} s; {o['kib_per_channel']:.1f} KiB RSS/channel; idle CPU {o['idle_cpu_pct']:.2f}%"
    base = ("bare tokio-tungstenite: " + f"{b['open_secs']:.3f} s; {b['kib_per_channel']:.1f} KiB; {b['idle_cpu_pct']:.2f}%"
            if b["open_secs"] is not None else "failed")
    rs = f"{ratio(o['open_secs'], b['open_secs'])} time, {ratio(o['kib_per_channel'], b['kib_per_channel'])} memory"
    target = result = ""
    if n == max(ns):
        target = "<= 64 KiB/channel" + ("; 5,000 open in < 10 s" if n >= 5000 else "")
        mem_ok = o["kib_per_channel"] <= 64
        result = "memory " + verdict(mem_ok)
        if n >= 5000:
            result += "; open time " + verdict(o["open_secs"] < 10)
    row(sec, f"{n:,} channels", ours, base, rs, target, result)
for k in RUNS:
    if k.startswith("scale.bare4k."):
        n = int(k.rsplit(".", 1)[1])
        kib = get(k, "kib_per_channel")
        if kib is not None:
            row(sec, f"{n:,} channels, bare client with a 4 KiB WebSocket read buffer (tungstenite default: 128 KiB)",
                "", f"{kib:.1f} KiB/channel", "", "", "the read buffer is most of a channel's memory")

# ---------------------------------------------------------------- subscription sets
sec = "Subscription set: 20,000 points, a value per point per second"
fields = ("subscribe_secs", "rss_kib", "cpu_pct", "values_per_sec", "channels")
o = {f: get("subset.set", f) for f in fields}
b = {f: get("subset.channels", f) for f in fields}
if o["subscribe_secs"] is None:
    row(sec, "one set", "failed")
else:
    hand = b["subscribe_secs"] is not None
    def by_hand(text):
        return ("separate channels by hand: " + text) if hand else "failed"
    row(sec, f"time to subscribe 20,000 ({o['channels']:.0f} shards)", f"{o['subscribe_secs']:.3f} s",
        by_hand(f"{b['subscribe_secs']:.3f} s" if hand else ""), ratio(o["subscribe_secs"], b["subscribe_secs"]),
        "< 10 s", verdict(o["subscribe_secs"] < 10))
    row(sec, "RSS of the process (set subscribed, values flowing)", f"{o['rss_kib'] / 1024:.1f} MiB",
        by_hand(f"{b['rss_kib'] / 1024:.1f} MiB" if hand else ""), ratio(o["rss_kib"], b["rss_kib"]),
        "< 64 MiB", verdict(o["rss_kib"] / 1024 < 64))
    row(sec, f"CPU at {o['values_per_sec']:.0f} values/s (% of one core)", f"{o['cpu_pct']:.2f}%",
        by_hand(f"{b['cpu_pct']:.2f}%" if hand else ""), ratio(o["cpu_pct"], b["cpu_pct"]),
        "< 5%", verdict(o["cpu_pct"] < 5))

# ---------------------------------------------------------------- recovery
sec = "Recovery"
for key, what in (("restart.fast", "simulator restart (down 500 ms), backoff 0.1 s"),
                  ("restart.default", "simulator restart (down 1 s), backoff 0.5 s (the default)")):
    r = RUNS.get(key, [{}])[0]
    if r.get("failed") or "median_ms" not in r:
        row(sec, what, "failed")
        continue
    ours = f"server back -> first message: median {r['median_ms']:.0f} ms, max {r['max_ms']:.0f} ms ({r['rounds']} rounds)"
    base = f"backoff delay in force: up to {r['max_delay_in_force_ms']:.0f} ms"
    over = r["max_over_delay_ms"]
    row(sec, what, ours, base, f"worst: {abs(over):.0f} ms {'after' if over > 0 else 'before'} the delay ran out",
        "within backoff delay + 50 ms", verdict(r["max_over_delay_ms"] <= 50))
r = RUNS.get("watchdog", [{}])[0]
if r.get("observed_ms") is not None:
    row(sec, "watchdog (dead_channel_timeout), server gone", f"observed {r['observed_ms']:.0f} ms -> {r['status']}",
        f"configured {r['configured_ms']:.0f} ms", ratio(r["observed_ms"], r["configured_ms"]), "", "")
else:
    row(sec, "watchdog", "failed")

# ---------------------------------------------------------------- parsing
sec = "Message parsing, no network (values/s)"
for size in ("small", "large"):
    c = get(f"parse.{size}.c", "values_per_s")
    rust = get(f"parse.{size}.rust", "rust_typed_values_per_s")
    serde = get(f"parse.{size}.rust", "serde_value_values_per_s")
    py = get(f"parse.{size}.python", "values_per_s")
    nbytes = get(f"parse.{size}.c", "bytes")
    vpm = get(f"parse.{size}.c", "values_per_msg")
    label = f"{size} ({nbytes / 1000:.3g} kB, {vpm:.0f} values)" if nbytes else size
    base = f"serde_json::Value {fmt_rate(serde)} / Python json.loads {fmt_rate(py)}"
    row(sec, f"{label}: C pwa_message_from_json + every pwa_message_value", fmt_rate(c),
        base, f"{ratio(c, serde)} / {ratio(c, py)}")
    row(sec, f"{label}: Rust Message::from_json + content() + every value", fmt_rate(rust),
        base, f"{ratio(rust, serde)} / {ratio(rust, py)}")


# ---------------------------------------------------------------- output
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


cpu = ""
try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
except OSError:
    pass
commit = sh("git rev-parse --short HEAD") + ("+dirty" if sh("git status --porcelain --untracked-files=no") else "")
print(f"## piwebasync benchmarks — {time.strftime('%Y-%m-%d %H:%M %Z')}")
print()
print(f"Machine: {cpu or platform.processor()}, {os.cpu_count()} CPUs, Linux {platform.release()}; "
      f"{sh('rustc --version')}; commit {commit}. Loopback; simulator in its own process; release build.")
print()
print("| Section | Measure | piwebasync | Baseline (same run) | piwebasync / baseline | Target | Result |")
print("|---|---|---|---|---|---|---|")
last = None
for section, measure, ours, base, rs, target, result in rows:
    if not section_ran(section):
        continue
    s = section if section != last else ""
    last = section
    print(f"| {s} | {measure} | {ours} | {base} | {rs} | {target} | {result} |")
