"""Config and Channel."""

import atexit
import ctypes
import datetime as _dt
import enum
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Tuple

from . import _ffi
from .errors import MISUSE, ChannelClosed, PiError, as_status, check
from .message import Message, ns_to_datetime

log = logging.getLogger("piwebasync_c")

# Set while this thread runs a callback of the library: blocking calls are refused there
# (PWA_ERR_RECURSIVE_CALL), so Channel.close() only asks for the close and leaves the free.
_tls = threading.local()


def in_callback():
    """True on a library callback thread, inside a callback."""
    return getattr(_tls, "depth", 0) > 0


class State(enum.IntEnum):
    """The PWA_STATE_* values of Channel.state()."""
    CONNECTING = _ffi.PWA_STATE_CONNECTING
    OPEN = _ffi.PWA_STATE_OPEN
    RECONNECTING = _ffi.PWA_STATE_RECONNECTING
    CLOSING = _ffi.PWA_STATE_CLOSING
    CLOSED = _ffi.PWA_STATE_CLOSED


class EventKind(enum.IntEnum):
    """The PWA_EVENT_* kinds of StateEvent.kind."""
    CONNECTED = _ffi.PWA_EVENT_CONNECTED
    DISCONNECTED = _ffi.PWA_EVENT_DISCONNECTED
    RECONNECTING = _ffi.PWA_EVENT_RECONNECTING
    RECONNECTED = _ffi.PWA_EVENT_RECONNECTED
    UPDATED = _ffi.PWA_EVENT_UPDATED
    ROLLED_BACK = _ffi.PWA_EVENT_ROLLED_BACK
    CLOSED = _ffi.PWA_EVENT_CLOSED
    BACKFILL_STARTED = _ffi.PWA_EVENT_BACKFILL_STARTED
    BACKFILL_DONE = _ffi.PWA_EVENT_BACKFILL_DONE
    BACKFILL_FAILED = _ffi.PWA_EVENT_BACKFILL_FAILED


def _enum_or_int(enum_cls, v):
    try:
        return enum_cls(v)
    except ValueError:
        return int(v)


@dataclass(frozen=True)
class MissingRange:
    """A time range of one stream a backfill did not deliver (gap_fill): web_id ("" = every
    stream of the endpoint), from_unix_ns (exclusive when from_exclusive), to_unix_ns
    (inclusive)."""
    web_id: str
    from_unix_ns: int
    to_unix_ns: int
    from_exclusive: bool


@dataclass(frozen=True)
class StateEvent:
    """A copy of a pwa_state_event (see the header for which fields apply to which kind).
    count: BACKFILL_STARTED the streams, BACKFILL_DONE / BACKFILL_FAILED the values delivered;
    missing: the ranges a backfill did not recover."""
    kind: object  # EventKind (or int for a kind this binding does not know)
    status: object  # Status
    attempt: int
    delay_ms: int
    url: str
    message: str
    count: int = 0
    missing: Tuple[MissingRange, ...] = ()

    @property
    def kind_name(self):
        return self.kind.name if isinstance(self.kind, EventKind) else str(self.kind)

    @property
    def status_name(self):
        return _ffi.status_name(int(self.status))


@dataclass(frozen=True)
class Stats:
    """A copy of pwa_stats."""
    messages: int
    bytes: int
    reconnects: int
    updates: int
    queue_depth: int
    last_message_unix_ns: int
    queue_bytes: int
    messages_dropped: int

    @property
    def last_message(self):
        """Arrival time of the last message as an aware UTC datetime, None if none yet."""
        return ns_to_datetime(self.last_message_unix_ns) if self.last_message_unix_ns else None


# --- Config --------------------------------------------------------------------------------

def _config_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _dt.timedelta):
        return repr(value.total_seconds())
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (str, bytes)):
        return value
    raise TypeError(f"configuration values are str, bool, int, float or timedelta, "
                    f"not {type(value).__name__}")


@dataclass(frozen=True)
class KeyInfo:
    """A configuration key as the library describes it (pwa_config_key)."""
    name: str
    kind: str
    default: str
    doc: str
    is_secret: bool


def config_keys():
    """Every configuration key with its kind, default and meaning, as a list of KeyInfo."""
    out = []
    for i in range(_ffi.pwa_config_key_count()):
        k = _ffi.pwa_config_key_info()
        check(_ffi.pwa_config_key(i, ctypes.byref(k)))
        out.append(KeyInfo(_ffi.decode(k.name), _ffi.decode(k.kind), _ffi.decode(k.default_value),
                           _ffi.decode(k.doc), bool(k.is_secret)))
    return out


class Config:
    """A channel configuration (pwa_config), built like a dict:

        Config(reconnect=True, max_queue=100, open_timeout="2.5")
        Config({"header.X-Site": "north"}, reconnect="true")

    Values may be str (passed as is), bool ("true"/"false"), int/float or timedelta
    (seconds). set() raises PiError (PWA_ERR_INVALID_ARGUMENT, the message names the key) for
    an unknown key or a bad value; the configuration is then unchanged. get(key) reads a value back
    (secrets as "***"); config_keys() lists every key with its default. Values are not kept on the Python side (secrets stay
    in the library, which wipes them on free).
    """

    def __init__(self, mapping=None, **kwargs):
        self._ptr = _ffi.pwa_config_new()
        if not self._ptr:
            raise PiError.from_last_error(_ffi.PWA_ERR_PANIC)
        self._keys = []
        self.close_timeout = 10.0  # the library's default; used to bound Channel.close()
        items = list(dict(mapping or {}).items()) + list(kwargs.items())
        try:
            for k, v in items:
                self.set(k, v)
        except BaseException:
            self.free()
            raise

    def set(self, key, value):
        """pwa_config_set(key, value); returns self."""
        if not self._ptr:
            raise PiError(_ffi.PWA_ERR_INVALID_ARGUMENT, "the configuration was freed")
        text = _config_text(value)
        check(_ffi.pwa_config_set(self._ptr, _ffi.encode(key, "key"), _ffi.encode(text, "value")))
        if key not in self._keys:
            self._keys.append(key)
        if key == "close_timeout":
            try:
                self.close_timeout = float(text)
            except ValueError:
                pass
        return self

    __setitem__ = set

    def get(self, key):
        """pwa_config_get: the value of key as set() takes it ("" = none); secrets come back
        as "***". Raises PiError for an unknown key."""
        if not self._ptr:
            raise PiError(_ffi.PWA_ERR_INVALID_ARGUMENT, "the configuration was freed")
        k = _ffi.encode(key, "key")
        status, text = _ffi.read_sized_string(
            lambda buf, cap, needed: _ffi.pwa_config_get(self._ptr, k, buf, cap, needed))
        check(status)
        return text

    __getitem__ = get

    def keys(self):
        """The keys set so far (values are not kept on the Python side)."""
        return list(self._keys)

    def free(self):
        """pwa_config_free (idempotent; also done by the garbage collector)."""
        p, self._ptr = self._ptr, None
        if p and _ffi is not None:
            _ffi.pwa_config_free(p)

    close = free

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __del__(self):
        try:
            self.free()
        except Exception:
            pass

    def __repr__(self):
        return f"Config(keys={self._keys!r})"


# --- Channel -------------------------------------------------------------------------------

# Channels alive (for the atexit clean-up), and channels that could not be freed because
# their last reference went away on one of their own callback threads: (handle, keepalive).
_live = weakref.WeakSet()
_orphans = []
_orphans_lock = threading.Lock()

# Polls longer than this are made in slices so that Ctrl-C (KeyboardInterrupt) gets through.
_SLICE_MS = 200


class _CallbackState:
    """What the callback trampolines share with the Channel (not the Channel itself, so that
    the Channel can be collected while callbacks run)."""

    def __init__(self, on_message, on_state, raw_messages=False):
        self.on_message = on_message
        self.on_state = on_state
        self.raw_messages = raw_messages
        self.closed_event = None
        self.terminal = None
        self.done = threading.Event()


def _make_trampolines(cs):
    def message_tramp(_user, handle, msg):
        _tls.depth = getattr(_tls, "depth", 0) + 1
        try:
            if cs.raw_messages:
                cs.on_message(msg, handle)  # the borrowed pointer, valid until this returns
            else:
                m = Message._copy(msg)  # borrowed: copy it now, the library frees it after
                cs.on_message(m)
        except BaseException:  # never let an exception reach C
            log.exception("exception in the on_message callback (ignored)")
        finally:
            _tls.depth -= 1

    def state_tramp(_user, _handle, ev_p):
        _tls.depth = getattr(_tls, "depth", 0) + 1
        try:
            ev = ev_p.contents
            event = StateEvent(
                kind=_enum_or_int(EventKind, ev.kind),
                status=as_status(ev.status),
                attempt=int(ev.attempt),
                delay_ms=int(ev.delay_ms),
                url=_ffi.decode(ev.url),
                message=_ffi.decode(ev.message),
                count=int(ev.count),
                missing=tuple(
                    MissingRange(
                        web_id=_ffi.decode(ev.missing[i].web_id),
                        from_unix_ns=int(ev.missing[i].from_unix_ns),
                        to_unix_ns=int(ev.missing[i].to_unix_ns),
                        from_exclusive=bool(ev.missing[i].from_exclusive),
                    )
                    for i in range(ev.missing_count)
                ),
            )
            if event.kind == EventKind.CLOSED:
                cs.terminal = ChannelClosed(event.status, event.message)
                cs.closed_event = event
            try:
                if cs.on_state is not None:
                    cs.on_state(event)
            finally:
                if event.kind == EventKind.CLOSED:
                    cs.done.set()
        except BaseException:
            log.exception("exception in the on_state callback (ignored)")
        finally:
            _tls.depth -= 1

    on_message = _ffi.pwa_message_cb(message_tramp) if cs.on_message is not None else None
    on_state = _ffi.pwa_state_cb(state_tramp)
    return on_message, on_state


class Channel:
    """A channel (pwa_channel_t). Open with Channel.open(url, config, ...); use as a context
    manager or call close().

    Poll mode (no on_message): poll() / iteration. Callback mode (on_message given): messages
    go to on_message(msg) on the channel's own callback thread; poll() raises PiError
    (PWA_ERR_INVALID_ARGUMENT, from the library); wait_closed() waits for the end.

    Terminal status: poll() raises ChannelClosed (not a PiError) once the channel ended and
    its buffer is drained, again on every later call — also after close(), which remembers it.
    ``for msg in channel`` stops there; channel.terminal then holds the ChannelClosed.
    """

    def __init__(self, url, config=None, *, on_message=None, on_state=None,
                 _raw_messages=False):
        self._handle = 0
        self._freed = False
        self._freeing = False
        self._terminal = None
        self._keepalive = None
        self._lock = threading.Lock()
        self.url = url
        _free_orphans()

        own_config = None
        if config is None or isinstance(config, Config):
            cfg = config
        else:
            cfg = own_config = Config(config)
        self._close_timeout = cfg.close_timeout if cfg is not None else 10.0

        cbs_p = None
        cs = None
        if on_message is not None or on_state is not None:
            for name, f in (("on_message", on_message), ("on_state", on_state)):
                if f is not None and not callable(f):
                    raise TypeError(f"{name} must be callable")
            cs = _CallbackState(on_message, on_state, _raw_messages)
            cb_msg, cb_state = _make_trampolines(cs)
            cbs = _ffi.pwa_callbacks()
            if cb_msg is not None:
                cbs.on_message = cb_msg
            cbs.on_state = cb_state
            cbs.user_data = None
            # The CFUNCTYPE objects must outlive pwa_channel_free: kept until it returned.
            self._keepalive = (cb_msg, cb_state, cs)
            cbs_p = ctypes.byref(cbs)
        self._cs = cs

        out = _ffi.pwa_channel_t(0)
        try:
            status = _ffi.pwa_channel_open(_ffi.encode(url, "url"),
                                           cfg._ptr if cfg is not None else None,
                                           cbs_p, ctypes.byref(out))
            if status != _ffi.PWA_OK:
                # No callback runs after a failed open: the trampolines may go.
                self._keepalive = None
                self._freed = True
                raise PiError.from_last_error(status)
        finally:
            if own_config is not None:
                own_config.free()
        self._handle = out.value
        _live.add(self)

    @classmethod
    def open(cls, url, config=None, *, on_message=None, on_state=None):
        """Open a channel and wait for its first connection (pwa_channel_open).

        url: a channel URL (ws://, wss://, http(s)://). config: None, a Config, or a mapping
        of configuration keys to values. on_message(msg: Message) / on_state(event:
        StateEvent): optional callbacks, called on the channel's callback thread; exceptions
        they raise are logged (logger "piwebasync_c") and ignored. Raises PiError on failure
        (e.g. status_name "PWA_ERR_CONNECT").
        """
        return cls(url, config, on_message=on_message, on_state=on_state)

    @property
    def handle(self):
        """The raw pwa_channel_t (an int). Stays set after close(): the library refuses a freed
        handle with PWA_ERR_INVALID_HANDLE, it never dereferences it."""
        return self._handle

    @property
    def terminal(self):
        """The ChannelClosed once the end was seen (poll, CLOSED event or close()), else None."""
        if self._terminal is None and self._cs is not None:
            return self._cs.terminal
        return self._terminal

    @property
    def closed_event(self):
        """Callback mode: the CLOSED StateEvent once delivered, else None."""
        return self._cs.closed_event if self._cs is not None else None

    # --- polling ---------------------------------------------------------------------------

    def _poll_once(self, timeout_ms):
        """One pwa_channel_poll_next. Returns a Message, None (timeout); raises ChannelClosed
        or PiError."""
        if self._freed or self._freeing:
            raise self._terminal_or_closed()
        out = _ffi.pwa_message_p()
        status = _ffi.pwa_channel_poll_next(self._handle, int(timeout_ms), ctypes.byref(out))
        if status == _ffi.PWA_OK:
            try:
                return Message._copy(out)
            finally:
                _ffi.pwa_message_free(out)
        if status == _ffi.PWA_TIMEOUT:
            return None
        if status in MISUSE:
            if status == _ffi.PWA_ERR_INVALID_HANDLE and (self._freed or self._freeing):
                # Freed by close() in another thread while we waited.
                raise self._terminal_or_closed()
            raise PiError.from_last_error(status, self._handle)
        # A terminal status: the channel ended and its buffer is drained.
        if self._terminal is None:
            self._terminal = ChannelClosed(status, _ffi.channel_last_error(self._handle))
        raise self._terminal

    def _terminal_or_closed(self):
        t = self.terminal
        if t is None:
            t = self._terminal = ChannelClosed(_ffi.PWA_CLOSED, "closed by Channel.close()")
        return t

    def poll(self, timeout_ms=0):
        """Take the next message: a Message, or None when nothing came within timeout_ms
        (0: return at once; None or negative: wait without limit). Raises ChannelClosed
        (.status = the terminal status) once the channel ended and its buffer is drained,
        on this and every later call; PiError for misuse (PWA_ERR_BUSY, PWA_ERR_INVALID_HANDLE,
        PWA_ERR_RECURSIVE_CALL, PWA_ERR_INVALID_ARGUMENT in callback mode)."""
        if timeout_ms is None or timeout_ms < 0:
            deadline = None
        else:
            if timeout_ms <= _SLICE_MS:
                return self._poll_once(timeout_ms)
            deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            if deadline is None:
                slice_ms = _SLICE_MS
            else:
                left = int((deadline - time.monotonic()) * 1000)
                if left <= 0:
                    return self._poll_once(0)
                slice_ms = min(left, _SLICE_MS)
            msg = self._poll_once(slice_ms)
            if msg is not None:
                return msg

    def __iter__(self):
        """Yield messages until the channel ends, then stop — at every end, clean or not,
        once the buffer is drained (also when close() is called from another thread). Then
        channel.terminal holds the ChannelClosed (status CLOSED, CLOSED_ERROR, ...), and
        channel.raise_if_failed() raises it unless the end was clean. Misuse (PWA_ERR_BUSY
        from a second poller, ...) raises PiError."""
        while True:
            try:
                msg = self.poll(None)
            except ChannelClosed:
                return
            yield msg

    # --- control ---------------------------------------------------------------------------

    def update(self, url, rollback=True):
        """Switch to url, make-before-break (pwa_channel_update). Returns a Status: OK,
        ROLLED_BACK (failed, still on the previous endpoint), UPDATE_FAILED (failed with
        rollback off: the channel closes), or the channel's terminal status if it had ended.
        Raises PiError for negative statuses (bad URL, PWA_ERR_BUSY, invalid handle ...)."""
        status = _ffi.pwa_channel_update(self._handle, _ffi.encode(url, "url"),
                                         1 if rollback else 0)
        return check(status, self._handle)

    def state(self):
        """The channel's State (pwa_channel_state)."""
        st = _ffi.pwa_state(0)
        check(_ffi.pwa_channel_state(self._handle, ctypes.byref(st)), self._handle)
        return _enum_or_int(State, st.value)

    def outcome(self):
        """How the channel ended (a Status such as Status.CLOSED), as soon as it has — also
        while buffered messages are still to be polled — or None while it runs
        (pwa_channel_outcome). Takes nothing from the queue."""
        st = _ffi.pwa_status(0)
        check(_ffi.pwa_channel_outcome(self._handle, ctypes.byref(st)), self._handle)
        return None if st.value == _ffi.PWA_OK else as_status(st.value)

    def stats(self):
        """The channel's counters as a Stats (pwa_channel_stats)."""
        s = _ffi.pwa_stats()
        check(_ffi.pwa_channel_stats(self._handle, ctypes.byref(s)), self._handle)
        return Stats(s.messages, s.bytes, s.reconnects, s.updates, s.queue_depth,
                     s.last_message_unix_ns, s.queue_bytes, s.messages_dropped)

    def last_error(self):
        """pwa_channel_last_error: why the channel ended, or the last connection error."""
        status, text = _ffi.read_sized_string(
            lambda buf, cap, needed: _ffi.pwa_channel_last_error(self._handle, buf, cap, needed))
        check(status, self._handle)
        return text or ""

    def set_bearer_token(self, token):
        check(_ffi.pwa_channel_set_bearer_token(self._handle, _ffi.encode(token, "token")),
              self._handle)

    def set_password(self, password):
        check(_ffi.pwa_channel_set_password(self._handle, _ffi.encode(password, "password")),
              self._handle)

    def pause_delivery(self, paused=True):
        """Callback mode: hold back (True) or resume (False) this channel's callbacks
        (pwa_channel_pause_delivery), e.g. while the consumer they feed is full, instead of
        blocking in a callback. While paused its queue fills, then the library stops reading
        the socket: nothing is dropped. Non-blocking; callable from a callback; close()
        resumes it for good."""
        check(_ffi.pwa_channel_pause_delivery(self._handle, 1 if paused else 0), self._handle)

    def request_close(self):
        """Ask for a graceful close and return at once (pwa_channel_close); the handle stays:
        keep polling to drain what is buffered, then poll raises ChannelClosed(PWA_CLOSED)."""
        if not (self._freed or self._freeing):
            check(_ffi.pwa_channel_close(self._handle), self._handle)

    def wait_closed(self, timeout=None):
        """Callback mode: wait until the CLOSED event was delivered; returns the ChannelClosed,
        or None on timeout. Poll mode: raises PiError (use poll / iteration)."""
        if self._cs is None:
            raise PiError(_ffi.PWA_ERR_INVALID_ARGUMENT,
                          "wait_closed needs callbacks; a polled channel ends with ChannelClosed")
        return self._cs.terminal if self._cs.done.wait(timeout) else None

    def close(self):
        """Close and release the channel: pwa_channel_close, then (poll mode) wait until the
        channel has ended — the server answered the close, or close_timeout passed — then
        pwa_channel_free. Blocks at most about close_timeout + 1.5 s. What is buffered is
        discarded. Afterwards poll() raises ChannelClosed with the terminal status, and other
        calls raise PiError(PWA_ERR_INVALID_HANDLE). Idempotent.

        close() never polls: it watches pwa_channel_outcome. So a thread iterating the
        channel meanwhile keeps its poll (never PWA_ERR_BUSY because of close()) and sees the
        end: the terminal status, or ChannelClosed once the handle is freed.

        Inside a callback of this library, only the close is asked for (blocking calls are
        refused there); the handle is freed later by close() from another thread, the
        garbage collector or at exit."""
        if self._freed or not self._handle:
            return
        _ffi.pwa_channel_close(self._handle)
        if in_callback():
            return
        with self._lock:
            if self._freed:
                return
            if self._cs is None:
                self._wait_ended()
            self._freeing = True
            status = _ffi.pwa_channel_free(self._handle)
            if status == _ffi.PWA_ERR_RECURSIVE_CALL:  # pragma: no cover (checked above)
                self._freeing = False
                return
            self._freed = True
            self._keepalive = None  # no callback can run any more
            _live.discard(self)
            if self.terminal is None:
                self._terminal = ChannelClosed(_ffi.PWA_CLOSED, "closed by Channel.close()")

    def _wait_ended(self):
        """Poll mode, after pwa_channel_close: wait (without polling, so as not to take the
        poll from another thread) until pwa_channel_outcome reports the end, bounded by
        close_timeout + 1 s; remember the terminal status unless a poll already did."""
        deadline = time.monotonic() + self._close_timeout + 1.0
        st = _ffi.pwa_status(0)
        delay = 0.002
        while True:
            if _ffi.pwa_channel_outcome(self._handle, ctypes.byref(st)) != _ffi.PWA_OK:
                return  # invalid handle: nothing to wait for
            if st.value != _ffi.PWA_OK:
                if self._terminal is None:
                    self._terminal = ChannelClosed(st.value,
                                                   _ffi.channel_last_error(self._handle))
                return
            left = deadline - time.monotonic()
            if left <= 0:
                return  # the free bounds the rest
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)

    def raise_if_failed(self):
        """Raise the terminal ChannelClosed if the channel ended other than cleanly (status
        not PWA_CLOSED); return None while it runs or after a clean end. For use after
        ``for msg in channel``, which stops at every end."""
        t = self.terminal
        if t is not None and not t.clean:
            raise t

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if self._freed or not self._handle or _ffi is None:
                return
            if in_callback():
                # Our own callback thread: cannot free here. Keep the trampolines alive and
                # free later (next Channel.open, or at exit).
                _ffi.pwa_channel_close(self._handle)
                with _orphans_lock:
                    _orphans.append((self._handle, self._keepalive))
                return
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "freed" if self._freed else f"handle={self._handle:#x}"
        return f"<Channel {self.url!r} {state}>"


def _free_orphans():
    if in_callback():
        return
    with _orphans_lock:
        pending = list(_orphans)
        _orphans.clear()
    for handle, _keepalive in pending:
        _ffi.pwa_channel_free(handle)  # _keepalive is released only after this returned


# --- library-wide calls --------------------------------------------------------------------

_log_cb = None  # the CFUNCTYPE object handed to pwa_set_log_callback, kept alive
_LEVELS = {
    _ffi.PWA_LOG_ERROR: logging.ERROR,
    _ffi.PWA_LOG_WARN: logging.WARNING,
    _ffi.PWA_LOG_INFO: logging.INFO,
    _ffi.PWA_LOG_DEBUG: logging.DEBUG,
    _ffi.PWA_LOG_TRACE: logging.DEBUG - 5,
}


def set_library_log_level(level=_ffi.PWA_LOG_INFO, logger="piwebasync_c.lib"):
    """Forward the library's log lines at `level` (PWA_LOG_ERROR .. PWA_LOG_TRACE) and above
    to the Python logger `logger`; PWA_LOG_OFF stops it (pwa_set_log_callback)."""
    global _log_cb
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    if level == _ffi.PWA_LOG_OFF:
        check(_ffi.pwa_set_log_callback(_ffi.PWA_LOG_OFF, _ffi.pwa_log_cb(), None))
        _log_cb = None
        return

    def forward(_user, lvl, line):
        try:
            target.log(_LEVELS.get(lvl, logging.INFO), "%s", _ffi.decode(line))
        except BaseException:
            pass

    cb = _ffi.pwa_log_cb(forward)
    check(_ffi.pwa_set_log_callback(int(level), cb, None))
    _log_cb = cb  # the previous one is not called any more once the call returned


def shutdown(timeout_ms=-1):
    """pwa_shutdown: close every channel and stop the library's runtime (for good)."""
    return check(_ffi.pwa_shutdown(int(timeout_ms)))


def configure_runtime(worker_threads):
    """pwa_runtime_configure: worker threads; only before the first open."""
    check(_ffi.pwa_runtime_configure(int(worker_threads)))


@atexit.register
def _at_exit():
    # No library thread may call into Python once the interpreter is finalizing: stop the log
    # callback, then free every channel (after which none of its callbacks runs).
    try:
        if _log_cb is not None:
            _ffi.pwa_set_log_callback(_ffi.PWA_LOG_OFF, _ffi.pwa_log_cb(), None)
        for ch in list(_live):
            try:
                ch.close()
            except Exception:
                pass
        _free_orphans()
    except Exception:
        pass
