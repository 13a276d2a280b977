"""Statuses and the two exceptions of the binding.

- PiError: a call failed or was misused (a negative pwa_status). Carries .status, .status_name
  and the library's message.
- ChannelClosed: raised by Channel.poll() (and ends ``for msg in channel``) once the channel
  has ended and its buffer is drained. It is *not* a PiError: a channel ending is an outcome,
  not a failure of the call. Its .status is the terminal status — PWA_CLOSED for a normal end,
  otherwise PWA_CLOSED_ERROR, PWA_WATCHDOG_TIMEOUT, PWA_UPDATE_FAILED or the failure that ended
  the channel (e.g. PWA_ERR_AUTH) — and .message the channel's last error.
"""

import enum

from . import _ffi


class Status(enum.IntEnum):
    """The pwa_status codes (an int subclass: compares equal to the plain codes)."""
    OK = _ffi.PWA_OK
    TIMEOUT = _ffi.PWA_TIMEOUT
    CLOSED = _ffi.PWA_CLOSED
    CLOSED_ERROR = _ffi.PWA_CLOSED_ERROR
    WATCHDOG_TIMEOUT = _ffi.PWA_WATCHDOG_TIMEOUT
    UPDATE_FAILED = _ffi.PWA_UPDATE_FAILED
    ROLLED_BACK = _ffi.PWA_ROLLED_BACK
    ERR_INVALID_ARGUMENT = _ffi.PWA_ERR_INVALID_ARGUMENT
    ERR_INVALID_HANDLE = _ffi.PWA_ERR_INVALID_HANDLE
    ERR_BUFFER_TOO_SMALL = _ffi.PWA_ERR_BUFFER_TOO_SMALL
    ERR_CONNECT = _ffi.PWA_ERR_CONNECT
    ERR_TLS = _ffi.PWA_ERR_TLS
    ERR_AUTH = _ffi.PWA_ERR_AUTH
    ERR_HTTP_STATUS = _ffi.PWA_ERR_HTTP_STATUS
    ERR_OPEN_TIMEOUT = _ffi.PWA_ERR_OPEN_TIMEOUT
    ERR_PROTOCOL = _ffi.PWA_ERR_PROTOCOL
    ERR_RECURSIVE_CALL = _ffi.PWA_ERR_RECURSIVE_CALL
    ERR_BUSY = _ffi.PWA_ERR_BUSY
    ERR_SHUTDOWN = _ffi.PWA_ERR_SHUTDOWN
    ERR_PANIC = _ffi.PWA_ERR_PANIC
    ERR_INTERNAL = _ffi.PWA_ERR_INTERNAL
    ERR_LIMIT = _ffi.PWA_ERR_LIMIT

    @property
    def c_name(self):
        """The library's name of the code, e.g. "PWA_CLOSED"."""
        return status_name(self)


def as_status(code):
    """A Status member for a known code, the plain int for one this binding does not know."""
    try:
        return Status(code)
    except ValueError:
        return int(code)


def status_name(code):
    """pwa_status_name: e.g. "PWA_ERR_CONNECT" ("PWA_UNKNOWN" for unknown codes)."""
    return _ffi.status_name(int(code))


def status_str(code):
    """pwa_status_str: a one-line description of the code."""
    return _ffi.status_str(int(code))


# Statuses a poll returns for misuse of the call rather than as the channel's terminal status.
MISUSE = frozenset({
    _ffi.PWA_ERR_INVALID_ARGUMENT,
    _ffi.PWA_ERR_INVALID_HANDLE,
    _ffi.PWA_ERR_BUFFER_TOO_SMALL,
    _ffi.PWA_ERR_RECURSIVE_CALL,
    _ffi.PWA_ERR_BUSY,
    _ffi.PWA_ERR_PANIC,
    _ffi.PWA_ERR_INTERNAL,
})


class PiError(Exception):
    """A failed call: .status (int, negative), .status_name ("PWA_ERR_..."), .message (the
    library's message: pwa_last_error of the calling thread, or the channel's last error)."""

    def __init__(self, status, message=None):
        self.status = as_status(status)
        self.status_name = status_name(status)
        if not message:
            message = status_str(status)
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    @classmethod
    def from_last_error(cls, status, channel_handle=None):
        """Build from pwa_last_error (this thread), falling back to pwa_channel_last_error."""
        message = _ffi.last_error()
        if not message and channel_handle:
            message = _ffi.channel_last_error(channel_handle)
        return cls(status, message)


def check(status, channel_handle=None):
    """Raise PiError for a negative status; return non-negative ones as a Status."""
    if status < 0:
        raise PiError.from_last_error(status, channel_handle)
    return as_status(status)


class ChannelClosed(Exception):
    """The channel ended and every buffered message was taken. .status is the terminal status
    (a Status: CLOSED, CLOSED_ERROR, WATCHDOG_TIMEOUT, UPDATE_FAILED, or the ERR_* failure that
    ended the channel), .status_name its name, .message why (pwa_channel_last_error; may be
    empty for a normal close). .clean is True for PWA_CLOSED."""

    def __init__(self, status, message=""):
        self.status = as_status(status)
        self.status_name = status_name(status)
        self.message = message or ""
        text = self.status_name if not self.message else f"{self.status_name}: {self.message}"
        super().__init__(text)

    @property
    def clean(self):
        return self.status == Status.CLOSED
