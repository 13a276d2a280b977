"""Messages as plain Python objects.

A Message is built by copying everything out of a C pwa_message (text, URL, info, every
stream and every value) into frozen dataclasses; the C message is then freed (or, in a
callback, left to the library, which owns it). Nothing in a Message points into C memory,
so it can be kept, pickled, compared and passed between threads freely.
"""

import ctypes
import datetime as _dt
import enum
import json as _json
from dataclasses import dataclass, field
from typing import NamedTuple, Optional, Tuple

from . import _ffi
from .errors import PiError, check

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class ValueKind(enum.IntEnum):
    """The PWA_VALUE_* kinds."""
    NULL = _ffi.PWA_VALUE_NULL
    DOUBLE = _ffi.PWA_VALUE_DOUBLE
    INT64 = _ffi.PWA_VALUE_INT64
    STRING = _ffi.PWA_VALUE_STRING
    BOOL = _ffi.PWA_VALUE_BOOL
    DIGITAL = _ffi.PWA_VALUE_DIGITAL
    OTHER = _ffi.PWA_VALUE_OTHER


def kind_name(kind):
    """pwa_value_kind_name, e.g. "DOUBLE" ("UNKNOWN" for other codes)."""
    return _ffi.decode(_ffi.pwa_value_kind_name(int(kind)))


class DigitalState(NamedTuple):
    """A digital or system state; a tuple (name, code, is_system)."""
    name: str
    code: int
    is_system: bool


@dataclass(frozen=True)
class WebException:
    """A WebException: its StatusCode and its Errors, one string each."""
    status_code: int
    errors: Tuple[str, ...]


def _lines(text):
    return tuple(text.split("\n")) if text else ()


def _web_exception(has, status, errors_text):
    if not has:
        return None
    return WebException(int(status), _lines(_ffi.decode(errors_text)))


def ns_to_datetime(ns):
    """Nanoseconds since the Unix epoch -> an aware UTC datetime (truncated to microseconds)."""
    return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


@dataclass(frozen=True)
class Value:
    """One value of a stream.

    value: the typed Python value by kind — NULL: None, DOUBLE: float, INT64: int, STRING:
    str, BOOL: bool, DIGITAL: DigitalState(name, code, is_system), OTHER: the JSON parsed with
    the json module (the raw JSON text is in .text).
    text: the library's text form (see pwa_value.text: the number in shortest round-trip form,
    "true"/"false", the state name, the JSON of OTHER, "" for NULL).
    timestamp_ns: nanoseconds since 1970-01-01Z (0 when timestamp_valid is False);
    .datetime gives an aware UTC datetime (microseconds) or None.
    errors: the value's error lines ("FieldName: message; message"), error_count of them.
    """
    stream_index: int
    kind: ValueKind
    value: object
    text: str
    timestamp_ns: int
    timestamp_valid: bool
    timestamp_text: str
    units: str
    good: bool
    questionable: bool
    substituted: bool
    annotated: bool
    errors: Tuple[str, ...]
    error_count: int
    web_exception: Optional[WebException]

    @property
    def kind_name(self):
        return self.kind.name if isinstance(self.kind, ValueKind) else kind_name(self.kind)

    @property
    def datetime(self):
        return ns_to_datetime(self.timestamp_ns) if self.timestamp_valid else None

    @classmethod
    def _from_c(cls, v):
        kind = v.kind
        text = _ffi.decode(v.text)
        if kind == _ffi.PWA_VALUE_DOUBLE:
            py = float(v.number)
        elif kind == _ffi.PWA_VALUE_INT64:
            py = int(v.integer)
        elif kind == _ffi.PWA_VALUE_STRING:
            py = text
        elif kind == _ffi.PWA_VALUE_BOOL:
            py = bool(v.integer)
        elif kind == _ffi.PWA_VALUE_DIGITAL:
            py = DigitalState(text, int(v.integer), bool(v.is_system))
        elif kind == _ffi.PWA_VALUE_OTHER:
            try:
                py = _json.loads(text)
            except ValueError:
                py = text
        else:
            py = None
        try:
            kind = ValueKind(kind)
        except ValueError:
            pass
        return cls(
            stream_index=int(v.stream_index),
            kind=kind,
            value=py,
            text=text,
            timestamp_ns=int(v.timestamp_ns),
            timestamp_valid=bool(v.timestamp_valid),
            timestamp_text=_ffi.decode(v.timestamp_text),
            units=_ffi.decode(v.units),
            good=bool(v.good),
            questionable=bool(v.questionable),
            substituted=bool(v.substituted),
            annotated=bool(v.annotated),
            errors=_lines(_ffi.decode(v.errors)),
            error_count=int(v.error_count),
            web_exception=_web_exception(v.has_web_exception, v.web_exception_status,
                                         v.web_exception_errors),
        )


@dataclass(frozen=True)
class Stream:
    """One stream of a message; .values are its values (a slice of Message.values)."""
    web_id: str
    name: str
    path: str
    units: str
    first_value: int
    value_count: int
    web_exception: Optional[WebException]
    values: Tuple[Value, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Message:
    """A channel message, copied out of the library.

    json: the text exactly as the server sent it; url: the channel URL it arrived on ("" for
    Message.from_json; a password in it shows as ***); is_heartbeat; is_unparsable and
    parse_error; web_exception (message level) or None; streams; values (the flat list of
    every stream's values, in order); is_backfilled: recorded values a backfill fetched after a
    reconnect or an update (gap_fill); is_rewritten: json is the library's rendering, not the
    frame as sent (backfilled, or values already delivered taken out at a seam).
    """
    json: str
    url: str
    is_heartbeat: bool
    is_unparsable: bool
    parse_error: str
    web_exception: Optional[WebException]
    streams: Tuple[Stream, ...]
    values: Tuple[Value, ...] = field(repr=False)
    is_backfilled: bool = False
    is_rewritten: bool = False

    @classmethod
    def from_json(cls, text):
        """Parse JSON text (str or bytes) as if it had been received (pwa_message_from_json).
        Anything is accepted: text of another shape gives a message with is_unparsable."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        out = _ffi.pwa_message_p()
        check(_ffi.pwa_message_from_json(data, len(data), ctypes.byref(out)))
        try:
            return cls._copy(out)
        finally:
            _ffi.pwa_message_free(out)

    @classmethod
    def _copy(cls, msg):
        """Copy a live C message (a c_void_p or int address) into a Message. Does not free."""
        if not msg:
            raise PiError(_ffi.PWA_ERR_INVALID_ARGUMENT, "NULL message")
        n = ctypes.c_size_t(0)
        p = _ffi.pwa_message_json(msg, ctypes.byref(n))
        if not p:
            raise PiError.from_last_error(_ffi.PWA_ERR_INVALID_ARGUMENT)
        text = ctypes.string_at(p, n.value).decode("utf-8", errors="replace")
        u = _ffi.pwa_message_url(msg)
        url = ctypes.string_at(u).decode("utf-8", errors="replace") if u else ""

        info = _ffi.pwa_message_info()
        check(_ffi.pwa_message_get_info(msg, ctypes.byref(info)))
        cv = _ffi.pwa_value()
        values = []
        for k in range(info.value_count):
            check(_ffi.pwa_message_value(msg, k, ctypes.byref(cv)))
            values.append(Value._from_c(cv))
        cs = _ffi.pwa_stream_info()
        streams = []
        for i in range(info.stream_count):
            check(_ffi.pwa_message_stream(msg, i, ctypes.byref(cs)))
            first, count = int(cs.first_value), int(cs.value_count)
            streams.append(Stream(
                web_id=_ffi.decode(cs.web_id),
                name=_ffi.decode(cs.name),
                path=_ffi.decode(cs.path),
                units=_ffi.decode(cs.units),
                first_value=first,
                value_count=count,
                web_exception=_web_exception(cs.has_web_exception, cs.web_exception_status,
                                             cs.web_exception_errors),
                values=tuple(values[first:first + count]),
            ))
        return cls(
            json=text,
            url=url,
            is_heartbeat=bool(info.is_heartbeat),
            is_unparsable=bool(info.is_unparsable),
            parse_error=_ffi.decode(info.parse_error),
            web_exception=_web_exception(info.has_web_exception, info.web_exception_status,
                                         info.web_exception_errors),
            streams=tuple(streams),
            values=tuple(values),
            is_backfilled=bool(info.is_backfilled),
            is_rewritten=bool(info.is_rewritten),
        )
