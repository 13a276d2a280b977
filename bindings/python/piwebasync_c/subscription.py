"""Subscription sets (pwa_subscription_t): any number of PI points through one handle.

    import piwebasync_c as pwa

    with pwa.Subscription.open("https://pi/piwebapi", pwa.Config(reconnect=True)) as s:
        report = s.add(web_ids)            # AddReport(added, duplicates, rejected)
        for shard, msg in s:               # until the set is closed and drained
            ...
        s.remove(some_web_ids)             # nothing of them comes after this returns

The sharding, exactly-once and isolation rules are the library's (see pwa_subscription_open in
piwebasync.h).
"""

import ctypes
import threading
from dataclasses import dataclass

from . import _ffi
from .channel import Config, State, StateEvent, EventKind, _enum_or_int, _tls, log
from .errors import MISUSE, ChannelClosed, PiError, as_status, check
from .message import Message
from .urls import _options


@dataclass(frozen=True)
class AddReport:
    added: int
    duplicates: int
    rejected: int


@dataclass(frozen=True)
class Rejected:
    web_id: str
    reason: str


@dataclass(frozen=True)
class SetStats:
    streams: int
    shards: int
    shards_open: int
    shards_reconnecting: int
    values: int
    values_per_second: float
    queue_depth: int
    rejected: int


@dataclass(frozen=True)
class ShardStats:
    shard: int
    state: object
    streams: int
    messages: int
    values: int
    reconnects: int
    updates: int
    messages_dropped: int


@dataclass(frozen=True)
class SetEvent:
    """kind: "shard" (shard, event: StateEvent), "rejected" (web_id, message), or "closed"
    (status, message; always the last)."""
    kind: str
    shard: int = 0
    event: object = None
    web_id: str = ""
    message: str = ""
    status: int = 0


def _id_array(web_ids):
    if isinstance(web_ids, (str, bytes)):
        web_ids = [web_ids]
    encoded = [_ffi.encode(w, "web_id") for w in web_ids]
    arr = (ctypes.c_char_p * max(len(encoded), 1))(*encoded)
    return arr, len(encoded)


class Subscription:
    """A subscription set. Poll mode (no on_message): poll() / iteration yield
    (shard, Message). Callback mode: on_message(shard, Message) on a library thread.
    on_state(SetEvent) gets shard events, rejections and the final "closed"."""

    def __init__(self, base_url, config=None, *, on_message=None, on_state=None, **url_options):
        self._handle = 0
        self._terminal = None
        self._closed_event = threading.Event()
        self._keep = None
        cb_p = None
        if on_message is not None or on_state is not None:
            cb = _ffi.pwa_subscription_callbacks()
            self._keep = []
            if on_message is not None:
                def message_tramp(_u, _h, shard, msg):
                    _tls.depth = getattr(_tls, "depth", 0) + 1
                    try:
                        on_message(int(shard), Message._copy(msg))
                    except BaseException:
                        log.exception("exception in the on_message callback (ignored)")
                    finally:
                        _tls.depth -= 1
                cb.on_message = _ffi.pwa_subscription_message_cb(message_tramp)
                self._keep.append(cb.on_message)
            done = self._closed_event

            def state_tramp(_u, _h, ev_p):
                _tls.depth = getattr(_tls, "depth", 0) + 1
                try:
                    e = ev_p.contents
                    if e.kind == _ffi.PWA_SET_EVENT_SHARD:
                        se = e.shard_event.contents
                        ev = SetEvent("shard", shard=int(e.shard), event=StateEvent(
                            kind=_enum_or_int(EventKind, se.kind), status=as_status(se.status),
                            attempt=int(se.attempt), delay_ms=int(se.delay_ms),
                            url=_ffi.decode(se.url), message=_ffi.decode(se.message)))
                    elif e.kind == _ffi.PWA_SET_EVENT_REJECTED:
                        ev = SetEvent("rejected", web_id=_ffi.decode(e.web_id),
                                      message=_ffi.decode(e.message))
                    else:
                        ev = SetEvent("closed", status=as_status(e.status),
                                      message=_ffi.decode(e.message))
                    try:
                        if on_state is not None:
                            on_state(ev)
                    finally:
                        if ev.kind == "closed":
                            done.set()
                except BaseException:
                    log.exception("exception in the on_state callback (ignored)")
                finally:
                    _tls.depth -= 1
            cb.on_state = _ffi.pwa_subscription_state_cb(state_tramp)
            self._keep.append(cb.on_state)
            cb_p = ctypes.byref(cb)
            self._keep.append(cb)
        cfg = config if config is not None else None
        opts = _options(url_options)
        h = _ffi.pwa_subscription_t(0)
        check(_ffi.pwa_subscription_open(_ffi.encode(base_url, "base_url"),
                                         cfg._ptr if cfg is not None else None, opts, cb_p,
                                         ctypes.byref(h)))
        self._handle = h.value

    @classmethod
    def open(cls, base_url, config=None, **kwargs):
        if isinstance(config, dict):
            config = Config(config)
        return cls(base_url, config, **kwargs)

    @property
    def handle(self):
        return self._handle

    @property
    def terminal(self):
        return self._terminal

    def add(self, web_ids):
        """Subscribe web_ids (an iterable, or one WebId). Returns an AddReport. Raises PiError
        (PWA_ERR_LIMIT: more than max_channels shards would be needed, nothing added;
        PWA_ERR_INVALID_ARGUMENT: a malformed WebId, nothing added; ...)."""
        arr, n = _id_array(web_ids)
        r = _ffi.pwa_subscription_add_report()
        check(_ffi.pwa_subscription_add(self._handle, arr, n, ctypes.byref(r)))
        return AddReport(int(r.added), int(r.duplicates), int(r.rejected))

    def remove(self, web_ids):
        """Unsubscribe web_ids; returns how many were members. Nothing of them is handed out
        after this returns."""
        arr, n = _id_array(web_ids)
        removed = ctypes.c_size_t(0)
        check(_ffi.pwa_subscription_remove(self._handle, arr, n, ctypes.byref(removed)))
        return int(removed.value)

    def poll(self, timeout_ms=0):
        """(shard, Message), or None on timeout (None or negative timeout: wait without limit).
        Raises ChannelClosed once the set was closed and drained; PiError for misuse."""
        out = _ffi.pwa_message_p()
        shard = ctypes.c_uint32(0)
        t = -1 if timeout_ms is None else int(timeout_ms)
        status = _ffi.pwa_subscription_poll_next(self._handle, t, ctypes.byref(out),
                                                 ctypes.byref(shard))
        if status == _ffi.PWA_OK:
            try:
                return int(shard.value), Message._copy(out)
            finally:
                _ffi.pwa_message_free(out)
        if status == _ffi.PWA_TIMEOUT:
            return None
        if status in MISUSE:
            raise PiError.from_last_error(status)
        self._terminal = ChannelClosed(status, "subscription set closed")
        raise self._terminal

    def __iter__(self):
        while True:
            try:
                item = self.poll(None)
            except ChannelClosed:
                return
            yield item

    def stats(self):
        s = _ffi.pwa_set_stats()
        check(_ffi.pwa_subscription_stats(self._handle, ctypes.byref(s)))
        return SetStats(int(s.streams), int(s.shards), int(s.shards_open),
                        int(s.shards_reconnecting), int(s.values), float(s.values_per_second),
                        int(s.queue_depth), int(s.rejected))

    def shard_stats(self):
        """ShardStats of every shard, in shard order."""
        out = []
        for i in range(self.stats().shards):
            s = _ffi.pwa_shard_stats()
            status = _ffi.pwa_subscription_shard_stats(self._handle, i, ctypes.byref(s))
            if status == _ffi.PWA_ERR_INVALID_ARGUMENT:
                break  # the set changed meanwhile
            check(status)
            out.append(ShardStats(int(s.shard), _enum_or_int(State, s.state), int(s.streams),
                                  int(s.messages), int(s.values), int(s.reconnects),
                                  int(s.updates), int(s.messages_dropped)))
        return out

    def rejected(self):
        """Every rejected WebId with the server's reason, in the order rejected."""
        out = []
        for i in range(self.stats().rejected):
            w_need, r_need = ctypes.c_size_t(0), ctypes.c_size_t(0)
            _ffi.pwa_subscription_rejected(self._handle, i, None, 0, ctypes.byref(w_need),
                                           None, 0, ctypes.byref(r_need))
            w = ctypes.create_string_buffer(w_need.value)
            r = ctypes.create_string_buffer(r_need.value)
            check(_ffi.pwa_subscription_rejected(self._handle, i, w, len(w), None, r, len(r),
                                                 None))
            out.append(Rejected(_ffi.decode(w.value), _ffi.decode(r.value)))
        return out

    def close(self):
        """Close every shard; poll drains, then raises ChannelClosed."""
        if self._handle:
            check(_ffi.pwa_subscription_close(self._handle))

    def wait_closed(self, timeout=None):
        """Callback mode: wait for the "closed" event. True when it came."""
        return self._closed_event.wait(timeout)

    def free(self):
        """Release the set (discarding what is buffered); no callback runs afterwards."""
        if self._handle:
            h, self._handle = self._handle, 0
            check(_ffi.pwa_subscription_free(h))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __del__(self):
        try:
            if self._handle:
                _ffi.pwa_subscription_free(self._handle)
        except Exception:  # interpreter shutdown
            pass
