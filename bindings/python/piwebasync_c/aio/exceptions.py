"""Exceptions of piwebasync_c.aio, named as piwebasync names them.

    WebsocketClientError                  base of everything below
    ├── ChannelClosed                     the channel ended and its buffer is drained
    │   ├── ChannelClosedOK               a normal end (our close, or the server's Close 1000
    │   │                                 with reconnect off)
    │   └── ChannelClosedError            any other end; __cause__ tells more when it was the
    │                                     watchdog (WatchdogTimeout) or a failed update
    │                                     without rollback (ChannelUpdateError)
    ├── ChannelUpdateError                update() failed (rollback off: the channel closes)
    ├── ChannelRollback                   update() failed, rollback on: still on the old endpoint
    │                                     (not a ChannelUpdateError, as in piwebasync)
    ├── WatchdogTimeout                   only as the __cause__ of a ChannelClosedError
    └── ChannelOpenError                  the channel could not be opened (also a
                                          TimeoutError, as piwebasync raises)

Every one carries .status (the library's status, a piwebasync_c.Status or None),
.status_name and .message.
"""

from .. import _ffi
from ..errors import as_status, status_name


class WebsocketClientError(Exception):
    """Base class. .status: the library's status (piwebasync_c.Status) or None; .status_name;
    .message: why (the library's message)."""

    def __init__(self, message="", status=None):
        self.status = as_status(status) if status is not None else None
        self.status_name = status_name(status) if status is not None else ""
        self.message = message or ""
        text = self.message
        if self.status_name:
            text = f"{self.status_name}: {text}" if text else self.status_name
        super().__init__(text)


class ChannelClosed(WebsocketClientError):
    """The channel has ended and every buffered message was received."""


class ChannelClosedOK(ChannelClosed):
    """A normal end: closed by us, or by the server with Close 1000 while reconnect is off."""


class ChannelClosedError(ChannelClosed):
    """The channel ended abnormally: dropped connection or protocol error with reconnect off,
    the watchdog (then __cause__ is a WatchdogTimeout), a failed update without rollback
    (__cause__ a ChannelUpdateError), refused credentials while reconnecting, shutdown."""


class ChannelUpdateError(WebsocketClientError):
    """update() failed. With rollback off the channel closes: the receiver gets what was
    buffered, then ChannelClosedError."""


class ChannelRollback(WebsocketClientError):
    """update(rollback=True) failed and the channel goes on at its previous endpoint."""


class WatchdogTimeout(WebsocketClientError):
    """No connection within dead_channel_timeout while reconnecting. Raised only as the
    __cause__ of a ChannelClosedError."""


class ChannelOpenError(WebsocketClientError, TimeoutError):
    """The channel could not be opened (connect refused until open_timeout, 401, HTTP status,
    open timeout ...); __cause__ is the binding's PiError. Also a TimeoutError
    (asyncio.TimeoutError): what piwebasync raises for every failed open."""


def closed_exception(status, message):
    """The exception a receive raises for the terminal status `status`."""
    if status == _ffi.PWA_CLOSED:
        return ChannelClosedOK(message, status)
    err = ChannelClosedError(message, status)
    if status == _ffi.PWA_WATCHDOG_TIMEOUT:
        err.__cause__ = WatchdogTimeout(message, status)
    elif status == _ffi.PWA_UPDATE_FAILED:
        err.__cause__ = ChannelUpdateError(message, status)
    return err


__all__ = [
    "WebsocketClientError", "ChannelClosed", "ChannelClosedOK", "ChannelClosedError",
    "ChannelUpdateError", "ChannelRollback", "WatchdogTimeout", "ChannelOpenError",
]
