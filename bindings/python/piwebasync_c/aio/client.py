"""WebsocketClient: piwebasync's asyncio channel client on the native core.

Delivery is push-based. The channel runs in callback mode: a callback thread of the library
copies each message's text and URL out of the borrowed C message and appends it to a bounded
buffer shared with the event loop; when a recv() is waiting, one loop.call_soon_threadsafe
wakes it (one wake per batch, not per message, when the consumer is behind). No thread of ours
is blocked per channel. By default the channels use the library's one shared callback thread
(configuration key callback_thread=shared: a thread per channel cost about 200 KiB each);
config={"callback_thread": "own"} gives each channel a thread of its own.

Back-pressure: when the buffer holds `max_queue` messages, the callback pauses the channel's
deliveries (pwa_channel_pause_delivery) and returns — it never waits, so a consumer that is
behind does not hold up the other channels on the shared thread — and recv() resumes them once
the buffer is down to half. While paused, the library's own queue (max_queue /
max_queue_bytes of the configuration, default 1024 messages / 32 MiB) fills, and then the
library stops reading the socket, so the server is held back. Nothing is dropped and memory is
bounded by max_queue here plus the library's bound.

Blocking library calls (open, update, free) run in the loop's default executor, so the loop
never blocks; everything else (state, outcome, close request) does not block.
"""

import asyncio
import atexit
import collections
import ctypes
import logging
import threading
import weakref

from .. import _ffi
from ..channel import Channel, Config, EventKind, State
from ..errors import PiError, Status
from .controller import APIRequest
from .exceptions import (ChannelClosedError, ChannelClosedOK, ChannelOpenError, ChannelRollback,
                         ChannelUpdateError, closed_exception)
from .message import WebsocketMessage

log = logging.getLogger("piwebasync_c.aio")

_shareds = weakref.WeakSet()
_RETRY_FIRST = 0.2  # seconds before the second open attempt; doubles up to _RETRY_MAX
_RETRY_MAX = 2.0
_CONNECT_FAILED = "could not connect to "  # the library's message when the TCP connect fails


class _End:
    """The end of the stream in the buffer: stays at its head, raised by every recv()."""
    __slots__ = ("status", "message")

    def __init__(self, status, message):
        self.status = status
        self.message = message


def _url_of(request):
    if isinstance(request, APIRequest):
        return request.absolute_url
    if isinstance(request, str):
        return request
    url = getattr(request, "absolute_url", None) or getattr(request, "url", None)
    if isinstance(url, str):
        return url
    raise TypeError(f"a request is an APIRequest (Controller(...).streams.get_channel(...)) "
                    f"or a channel URL, not {type(request).__name__}")


class _Shared:
    """What the library's callback thread and the event loop share. Holds no reference to the
    WebsocketClient or the Channel, so dropping the client frees the channel (no cycle)."""

    def __init__(self, loop, max_queue):
        self.loop = loop
        self.max_queue = max_queue
        self.cond = threading.Condition(threading.Lock())
        self.buf = collections.deque()
        self.waiter = None          # a loop future a recv() awaits, or None
        self.discard = False        # closing: the callback drops what still comes
        self.handle = 0             # the channel's handle, known from its first callback
        self.paused = False         # the channel's deliveries are held back (buffer full)
        self.discarded = 0
        self.ended = False
        self.end_event = asyncio.Event()
        self.reconnecting = False
        self.last_event = None
        _shareds.add(self)

    # -- callback thread ----------------------------------------------------------------------

    def _wake(self, w):
        try:
            self.loop.call_soon_threadsafe(_resolve, w)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    def on_message(self, msg, handle):
        n = ctypes.c_size_t(0)
        p = _ffi.pwa_message_json(msg, ctypes.byref(n))
        text = ctypes.string_at(p, n.value).decode("utf-8", errors="replace") if p else ""
        u = _ffi.pwa_message_url(msg)
        url = ctypes.string_at(u).decode("utf-8", errors="replace") if u else ""
        flag = ctypes.c_int32(0)
        _ffi.pwa_message_is_backfilled(msg, ctypes.byref(flag))
        item = WebsocketMessage(text, url)
        item.is_backfilled = bool(flag.value)
        with self.cond:
            if self.discard:
                self.discarded += 1
                return
            self.buf.append(item)
            if len(self.buf) >= self.max_queue and not self.paused:
                # Full: hold the channel back rather than wait here (the thread may be
                # shared by every channel). Under the lock, so that a resume cannot come first.
                self.handle = handle
                self.paused = True
                _ffi.pwa_channel_pause_delivery(handle, 1)
            w, self.waiter = self.waiter, None
        if w is not None:
            self._wake(w)

    def on_state(self, event):
        self.last_event = event
        if event.kind in (EventKind.DISCONNECTED, EventKind.RECONNECTING):
            self.reconnecting = True
        elif event.kind in (EventKind.RECONNECTED, EventKind.CONNECTED, EventKind.UPDATED):
            self.reconnecting = False
        elif event.kind == EventKind.CLOSED:
            self.push_end(int(event.status), event.message)

    def push_end(self, status, message):
        with self.cond:
            if self.ended:
                return
            self.ended = True
            self.reconnecting = False
            self.buf.append(_End(status, message))
            w, self.waiter = self.waiter, None
        if w is not None:
            self._wake(w)
        try:
            self.loop.call_soon_threadsafe(self.end_event.set)
        except RuntimeError:
            pass

    def taken(self):
        """recv() took a message (under self.cond): resume the deliveries once the buffer is
        down to half."""
        if self.paused and len(self.buf) <= self.max_queue // 2:
            self._resume()

    def _resume(self):
        self.paused = False
        # Non-blocking; a handle freed meanwhile just gives PWA_ERR_INVALID_HANDLE.
        _ffi.pwa_channel_pause_delivery(self.handle, 0)

    def release(self):
        """Closing: drop what still comes, and resume a paused channel so that its end is
        delivered."""
        with self.cond:
            self.discard = True
            if self.paused:
                self._resume()


def _resolve(fut):
    if not fut.done():
        fut.set_result(None)


@atexit.register
def _release_all():
    # Runs before the binding's own exit hook (registered earlier), which frees every
    # channel: no callback thread may still wait for an event loop that is gone.
    for s in list(_shareds):
        s.release()


class WebsocketClient:
    """An asyncio channel client with piwebasync's interface.

        async with WebsocketClient(request, reconnect=True) as channel:
            async for message in channel:          # WebsocketMessage
                print(message.items)

    request: an APIRequest (Controller(...).streams.get_channel(...)) or a channel URL.
    reconnect: reconnect in the background after a dropped connection (with backoff).
    dead_channel_timeout: with reconnect, end the channel (ChannelClosedError whose __cause__
    is a WatchdogTimeout) when no connection is back within this many seconds (default 3600,
    as piwebasync); None: never.
    open_timeout, close_timeout, ping_interval, ping_timeout (seconds), max_size (bytes of
    one message): None keeps the library's default (10, 10, 20, 20, 64 MiB).
    max_queue: messages buffered on the Python side before the channel's deliveries are
    paused (then the library's own queue fills and it stops reading the socket).
    auth: None, or a (username, password) tuple for HTTP Basic.
    extra_headers (a mapping or (name, value) pairs), origin: headers of the opening
    handshake, as in piwebasync. loop: accepted for piwebasync's signature; the client uses
    the running loop.
    config: more configuration keys of the library (a mapping, e.g. {"max_queue": 256,
    "tls_ca_file": "ca.pem", "header.X-Site": "north"}). callback_thread is "shared" unless
    set here: the channels' callbacks run on one library thread (they only hand messages to
    the loop); "own" gives each channel a thread of its own.

    Open with `async with`, or `channel = await WebsocketClient(request)` (then close()).
    """

    def __init__(self, request, reconnect=False, dead_channel_timeout=3600, *,
                 open_timeout=None, close_timeout=None, ping_interval=None, ping_timeout=None,
                 max_size=None, max_queue=32, auth=None, extra_headers=None, origin=None,
                 config=None, loop=None):
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(f"loop: an asyncio event loop or None, not {type(loop).__name__}")
        self.request = request
        self._url = _url_of(request)
        if max_queue is None or int(max_queue) < 1:
            raise ValueError("max_queue must be >= 1 (the buffer is always bounded)")
        self._max_queue = int(max_queue)
        keys = dict(config or {})
        # Only the JSON text is taken from the library's message (typed values are parsed on
        # demand from it): the library need not parse on its network thread.
        keys.setdefault("parse_on_receive", "false")
        # The callbacks only hand messages to the loop and never wait (a full buffer pauses
        # the channel): one library thread serves every channel, instead of a thread each.
        keys.setdefault("callback_thread", "shared")
        keys["reconnect"] = bool(reconnect)
        if dead_channel_timeout is None:
            keys["dead_channel_timeout"] = 0  # 0 = never (the library's spelling of None)
        else:
            if float(dead_channel_timeout) <= 0:
                raise ValueError("dead_channel_timeout must be > 0 seconds, or None for never")
            keys["dead_channel_timeout"] = float(dead_channel_timeout)
        for k, v in (("open_timeout", open_timeout), ("close_timeout", close_timeout),
                     ("ping_interval", ping_interval), ("ping_timeout", ping_timeout),
                     ("max_message_size", max_size)):
            if v is not None:
                keys[k] = v
        if auth is not None:
            if not (isinstance(auth, tuple) and len(auth) == 2):
                raise TypeError("auth: a (username, password) tuple for HTTP Basic; other "
                                "methods through config (auth=bearer, bearer_token=...)")
            keys.update(auth="basic", username=auth[0], password=auth[1])
        headers = dict(extra_headers.items() if hasattr(extra_headers, "items")
                       else (extra_headers or ()))
        if origin is not None:
            keys["origin"] = str(origin)
        for name, value in headers.items():
            if name.lower() == "origin":
                keys["origin"] = str(value)  # the library's own key for it
            else:
                keys[f"header.{name}"] = str(value)
        self._config_keys = keys
        self._close_timeout = float(keys.get("close_timeout", 10))
        self._open_timeout = float(keys.get("open_timeout", 10))
        Config(keys).free()  # every key and value checked now: PiError names a bad one
        self._ch = None
        self._shared = None
        self._freed = False
        self._closing = None  # the task of a close() in progress

    # -- opening --------------------------------------------------------------------------------

    def _open_blocking(self, shared, keys):
        try:
            return Channel(self._url, keys, on_message=shared.on_message,
                           on_state=shared.on_state, _raw_messages=True)
        except PiError as e:
            err = ChannelOpenError(e.message, e.status)
            raise err from e

    async def connect(self):
        """Open the channel (waits for the first connection in an executor thread). As in
        piwebasync, a server that cannot be reached (refused, unreachable, reset) is tried
        again, with backoff, until open_timeout has passed; anything else (refused
        credentials, TLS, an HTTP error status) fails at once. Raises ChannelOpenError (its
        __cause__ the PiError; also a TimeoutError, which piwebasync raises) if it cannot."""
        if self._ch is not None or self._shared is not None:
            raise RuntimeError("this WebsocketClient was already opened")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._open_timeout
        delay = _RETRY_FIRST
        while True:
            shared = self._shared = _Shared(loop, self._max_queue)
            keys = dict(self._config_keys,
                        open_timeout=max(_RETRY_FIRST, deadline - loop.time()))
            fut = loop.run_in_executor(None, self._open_blocking, shared, keys)
            try:
                self._ch = await asyncio.shield(fut)
                return self
            except asyncio.CancelledError:
                # The open goes on in its thread: release what it opens as soon as it is done.
                def discard(f, shared=shared):
                    if not f.cancelled() and f.exception() is None:
                        shared.release()
                        loop.run_in_executor(None, f.result().close)
                fut.add_done_callback(discard)
                self._freed = True
                shared.push_end(_ffi.PWA_CLOSED, "the open was cancelled")
                raise
            except ChannelOpenError as e:
                if e.status != Status.ERR_CONNECT or loop.time() + delay >= deadline:
                    self._freed = True
                    raise
                log.debug("channel %s: %s; trying again in %.1f s", self._url, e, delay)
            except BaseException:
                self._freed = True
                raise
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self._freed = True
                shared.push_end(_ffi.PWA_CLOSED, "the open was cancelled")
                raise
            delay = min(delay * 2, _RETRY_MAX)

    def __await__(self):
        return self.connect().__await__()

    async def __aenter__(self):
        return await self.connect()

    async def __aexit__(self, *exc):
        await self.close()

    # -- receiving ------------------------------------------------------------------------------

    async def recv(self):
        """The next message. Buffered messages come first, also after the channel ended; then
        ChannelClosedOK (a normal end) or ChannelClosedError (any other; __cause__ a
        WatchdogTimeout when the watchdog ended it), on this and every later call.
        Cancelling a recv() loses nothing. One recv() at a time (RuntimeError otherwise)."""
        s = self._shared
        if s is None:
            raise RuntimeError("the channel is not open: use `async with WebsocketClient(...)` "
                               "or `await client.connect()` first")
        if s.waiter is not None:
            raise RuntimeError("recv() is already being awaited by another task")
        while True:
            with s.cond:
                if s.buf:
                    item = s.buf[0]
                    if not isinstance(item, _End):
                        s.buf.popleft()
                        s.taken()
                        return item
                else:
                    fut = s.loop.create_future()
                    s.waiter = fut
                    item = None
            if item is not None:
                raise closed_exception(item.status, item.message)
            try:
                await fut
            finally:
                with s.cond:
                    if s.waiter is fut:
                        s.waiter = None

    def __aiter__(self):
        return self

    async def __anext__(self):
        """As piwebasync: the iteration ends with recv()'s exception, ChannelClosedOK at a
        normal end (our close, the server's Close 1000), ChannelClosedError at any other."""
        return await self.recv()

    # -- control --------------------------------------------------------------------------------

    async def update(self, request, rollback=False):
        """Switch to another endpoint, make-before-break: the new one is opened while the old
        one streams; messages of the old endpoint come first, nothing sent meanwhile is lost.
        Then self.request is `request`.

        As in piwebasync, a new endpoint that cannot be reached (the TCP connect fails) is
        tried again until open_timeout has passed, while the old one goes on streaming;
        anything else (refused credentials, TLS, HTTP status) is not waited for.
        Failure with rollback=False (piwebasync's default): raises ChannelUpdateError and the
        channel closes (recv() gives what was buffered, then ChannelClosedError). With
        rollback=True: raises ChannelRollback, the channel goes on at its previous endpoint
        and stays open. Cancelling an update() does not stop a switch already under way in
        the library (it completes or fails in its executor thread)."""
        url = _url_of(request)
        ch = self._require_open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._open_timeout
        delay = _RETRY_FIRST
        while True:
            # Every attempt but the last keeps the old endpoint on failure (rollback), so
            # that it can be tried again; the last one does what the caller asked.
            last = loop.time() + delay >= deadline
            try:
                status = await loop.run_in_executor(None, ch.update, url,
                                                    bool(rollback) or not last)
            except PiError as e:
                raise ChannelUpdateError(e.message, e.status) from e
            if status == Status.OK:
                self.request = request
                return
            why = self._last_error()
            if status != Status.ROLLED_BACK or last:
                break
            if why.startswith(_CONNECT_FAILED):
                log.debug("channel %s: update: %s; trying again in %.1f s", self._url, why, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)
                ch = self._require_open()
                continue
            if rollback:
                break
            # Not to be tried again, and the caller asked for no rollback: one attempt
            # without it, which ends the channel as a failed update does.
            deadline = loop.time()
        if status == Status.ROLLED_BACK:
            raise ChannelRollback(why, status)
        if status == Status.UPDATE_FAILED:
            raise ChannelUpdateError(why, status)
        raise ChannelUpdateError(f"the channel had already ended: {why}", status)

    async def close(self):
        """Close the channel: ask for a graceful close, wait (at most close_timeout + 1 s) for
        the end, release the library's channel. Messages already received stay readable,
        then recv() raises ChannelClosedOK; what the library still held is discarded (counted
        in messages_discarded). Idempotent; concurrent calls wait for the same close."""
        if self._ch is None or self._freed:
            return
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self):
        ch, s = self._ch, self._shared
        try:
            ch.request_close()
        except PiError:
            pass
        s.release()
        try:
            await asyncio.wait_for(s.end_event.wait(), self._close_timeout + 1.0)
        except asyncio.TimeoutError:
            log.warning("channel %s: no end within close_timeout + 1 s; freeing it", self._url)
        await asyncio.get_running_loop().run_in_executor(None, ch.close)
        self._freed = True
        s.push_end(_ffi.PWA_CLOSED, "closed by close()")  # no-op when the end came

    def _require_open(self):
        if self._ch is None:
            raise RuntimeError("the channel is not open")
        if self._freed or self._closing is not None:
            raise ChannelClosedError("the channel was closed", _ffi.PWA_CLOSED)
        return self._ch

    def _last_error(self):
        try:
            return self._ch.last_error()
        except PiError:
            return ""

    def _state(self):
        if self._ch is None or self._freed:
            return None
        try:
            return self._ch.state()
        except PiError:
            return None

    # -- status ---------------------------------------------------------------------------------

    @property
    def is_open(self):
        """A connection is up and messages flow (not while reconnecting, closing or ended)."""
        return (self._closing is None and not self._shared_ended()
                and self._state() == State.OPEN)

    @property
    def is_reconnecting(self):
        """The connection dropped and the library is reconnecting (reconnect=True)."""
        return not self._shared_ended() and self._state() == State.RECONNECTING

    @property
    def is_closed(self):
        """The channel has ended (messages may still be buffered for recv()), or was closed,
        or its open failed, or it is not open yet (as piwebasync)."""
        if self._freed or self._shared_ended():
            return True
        if self._ch is None:
            return True  # not opened (yet), as piwebasync
        try:
            return self._ch.outcome() is not None
        except PiError:
            return True

    def _shared_ended(self):
        return self._shared is not None and self._shared.ended

    @property
    def url(self):
        """The URL of the endpoint the channel streams from (changes with update())."""
        return _url_of(self.request)

    @property
    def messages_discarded(self):
        """Messages the library still held when close() was called, dropped unread."""
        return self._shared.discarded if self._shared is not None else 0

    def stats(self):
        """The library's counters (piwebasync_c.Stats) while the channel is not freed."""
        return self._require_open().stats()

    def __del__(self):
        s = getattr(self, "_shared", None)
        if s is not None and not self._freed:
            s.release()  # the Channel's own finalizer frees it next, never blocked by us

    def __repr__(self):
        state = "closed" if self.is_closed else ("open" if self._ch is not None else "new")
        return f"<WebsocketClient {self._url!r} {state}>"
