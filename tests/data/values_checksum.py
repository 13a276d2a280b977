#!/usr/bin/env python3
"""Checksum of every value of a recorded channel message, computed with Python's json module,
independently of the library: tests/c/test_values.c computes the same through the pwa_* typed
accessors and compares. Prints the checksum as 16 hex digits.

Per value, in order (streams in order, each stream's Items, or its single Value), 64-bit words
are mixed FNV-1a style: stream index, kind, timestamp valid, timestamp ns (two's complement),
good, questionable, substituted, annotated, then by kind: DOUBLE the IEEE-754 bits; INT64 and
BOOL the integer; STRING fnv(text); DIGITAL code, fnv(name), is_system; then fnv(units),
error count, WebException status. Kinds: NULL 0, DOUBLE 1, INT64 2, STRING 3, BOOL 4,
DIGITAL 5, OTHER 6 (the PWA_VALUE_* constants)."""
import calendar
import json
import re
import struct
import sys

M = (1 << 64) - 1


def fnv(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M
    return h


class Sum:
    def __init__(self):
        self.h = 0xCBF29CE484222325

    def mix(self, x: int):
        self.h = ((self.h ^ (x & M)) * 0x100000001B3) & M


TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def timestamp_ns(text):
    """(valid, ns) — a small ISO-8601 reader of the forms in the recorded file."""
    m = TS.match(text or "")
    if not m:
        return 0, 0
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    frac = int((m.group(7) or "").ljust(9, "0"))
    off = m.group(8)
    if off != "Z":
        sign = -1 if off[0] == "-" else 1
        secs -= sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    return 1, secs * 1_000_000_000 + frac


def flag(v):
    return 1 if v is True or (isinstance(v, str) and v.strip().lower() == "true") else 0


def main(path):
    with open(path, encoding="utf-8") as f:
        msg = json.load(f)
    s = Sum()
    count = 0
    for si, stream in enumerate(msg.get("Items") or []):
        values = list(stream.get("Items") or [])
        if isinstance(stream.get("Value"), dict):
            values.append(stream["Value"])
        for v in values:
            count += 1
            raw = v.get("Value")
            if raw is None:
                kind = 0
            elif isinstance(raw, bool):
                kind = 4
            elif isinstance(raw, int) and -(1 << 63) <= raw < (1 << 63):
                kind = 2
            elif isinstance(raw, (int, float)):
                kind = 1
            elif isinstance(raw, str):
                kind = 3
            elif isinstance(raw, dict) and isinstance(raw.get("Name"), str) and isinstance(raw.get("Value", 0), int):
                kind = 5
            else:
                kind = 6
            valid, ns = timestamp_ns(v.get("Timestamp"))
            errors = len(v.get("Errors") or []) + (0 if valid or not v.get("Timestamp") else 1)
            good = flag(v["Good"]) if "Good" in v else int(kind != 0 and errors == 0)
            s.mix(si)
            s.mix(kind)
            s.mix(valid)
            s.mix(ns)
            s.mix(good)
            for name in ("Questionable", "Substituted", "Annotated"):
                s.mix(flag(v.get(name, False)))
            if kind == 1:
                s.mix(struct.unpack("<Q", struct.pack("<d", float(raw)))[0])
            elif kind == 2:
                s.mix(raw)
            elif kind == 4:
                s.mix(int(raw))
            elif kind == 3:
                s.mix(fnv(raw.encode("utf-8")))
            elif kind == 5:
                s.mix(raw.get("Value", 0))
                s.mix(fnv(raw["Name"].encode("utf-8")))
                s.mix(flag(raw.get("IsSystem", False)))
            units = v["UnitsAbbreviation"] if "UnitsAbbreviation" in v else stream.get("UnitsAbbreviation", "")
            s.mix(fnv(units.encode("utf-8")))
            s.mix(errors)
            s.mix((v.get("WebException") or {}).get("StatusCode", 0))
    print(f"{s.h:016x} {count}")


if __name__ == "__main__":
    main(sys.argv[1])
