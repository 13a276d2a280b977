"""Low-level ctypes mirror of include/piwebasync.h.

Everything here follows the header one to one: the constants, the structs field by field and
in order, and the prototype (argtypes / restype) of every exported function. The public,
Pythonic API is in the other modules of the package; use this one only for raw access (e.g.
to call a function with a handle you kept).

The library is looked for, in order:
  1. the path in the environment variable PIWEBASYNC_LIB (an explicit choice: nothing else is
     tried);
  2. the library bundled inside this package (the wheel puts it there);
  3. target/release, then target/debug, of the repository this package lives in;
  4. ctypes.util.find_library("piwebasync") (the system's library path).
"""

import ctypes
import ctypes.util
import os
import sys
from pathlib import Path

from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

# --- constants (same names and values as the header) -------------------------------------

PWA_LOG_OFF = 0
PWA_LOG_ERROR = 1
PWA_LOG_WARN = 2
PWA_LOG_INFO = 3
PWA_LOG_DEBUG = 4
PWA_LOG_TRACE = 5

PWA_URL_DEFAULT_MAX_LEN = 4096

PWA_VERSION_MAJOR = 0
PWA_VERSION_MINOR = 1
PWA_VERSION_PATCH = 0

PWA_EVENT_CONNECTED = 1
PWA_EVENT_DISCONNECTED = 2
PWA_EVENT_RECONNECTING = 3
PWA_EVENT_RECONNECTED = 4
PWA_EVENT_UPDATED = 5
PWA_EVENT_ROLLED_BACK = 6
PWA_EVENT_CLOSED = 7
PWA_EVENT_BACKFILL_STARTED = 8
PWA_EVENT_BACKFILL_DONE = 9
PWA_EVENT_BACKFILL_FAILED = 10

PWA_SET_EVENT_SHARD = 1
PWA_SET_EVENT_REJECTED = 2
PWA_SET_EVENT_CLOSED = 3

PWA_STATE_CONNECTING = 0
PWA_STATE_OPEN = 1
PWA_STATE_RECONNECTING = 2
PWA_STATE_CLOSING = 3
PWA_STATE_CLOSED = 4

PWA_OK = 0
PWA_TIMEOUT = 1
PWA_CLOSED = 2
PWA_CLOSED_ERROR = 3
PWA_WATCHDOG_TIMEOUT = 4
PWA_UPDATE_FAILED = 5
PWA_ROLLED_BACK = 6
PWA_ERR_INVALID_ARGUMENT = -1
PWA_ERR_INVALID_HANDLE = -2
PWA_ERR_BUFFER_TOO_SMALL = -3
PWA_ERR_CONNECT = -10
PWA_ERR_TLS = -11
PWA_ERR_AUTH = -12
PWA_ERR_HTTP_STATUS = -13
PWA_ERR_OPEN_TIMEOUT = -14
PWA_ERR_PROTOCOL = -15
PWA_ERR_RECURSIVE_CALL = -20
PWA_ERR_BUSY = -21
PWA_ERR_SHUTDOWN = -30
PWA_ERR_PANIC = -31
PWA_ERR_INTERNAL = -32
PWA_ERR_LIMIT = -40

PWA_WEBID_TYPE_DEFAULT = 0
PWA_WEBID_TYPE_FULL = 1
PWA_WEBID_TYPE_ID_ONLY = 2
PWA_WEBID_TYPE_PATH_ONLY = 3
PWA_WEBID_TYPE_LOCAL_ID_ONLY = 4
PWA_WEBID_TYPE_DEFAULT_ID_ONLY = 5

PWA_VALUE_NULL = 0
PWA_VALUE_DOUBLE = 1
PWA_VALUE_INT64 = 2
PWA_VALUE_STRING = 3
PWA_VALUE_BOOL = 4
PWA_VALUE_DIGITAL = 5
PWA_VALUE_OTHER = 6

PWA_FIELD_PARSE_ERROR = 0
PWA_FIELD_MESSAGE_WEB_EXCEPTION = 1
PWA_FIELD_STREAM_WEB_ID = 10
PWA_FIELD_STREAM_NAME = 11
PWA_FIELD_STREAM_PATH = 12
PWA_FIELD_STREAM_UNITS = 13
PWA_FIELD_STREAM_WEB_EXCEPTION = 14
PWA_FIELD_VALUE_TEXT = 20
PWA_FIELD_VALUE_UNITS = 21
PWA_FIELD_VALUE_TIMESTAMP = 22
PWA_FIELD_VALUE_ERRORS = 23
PWA_FIELD_VALUE_WEB_EXCEPTION = 24

SIZE_MAX = ctypes.c_size_t(-1).value

# --- typedefs ------------------------------------------------------------------------------

pwa_status = c_int32
pwa_channel_t = c_uint64
pwa_event_kind = c_int32
pwa_state = c_int32
pwa_webid_type = c_int32
pwa_value_kind = c_int32
pwa_field = c_int32
# pwa_config and pwa_message are opaque: handled as void pointers.
pwa_config_p = c_void_p
pwa_message_p = c_void_p


class pwa_missing_range(Structure):
    _fields_ = [
        ("web_id", c_char_p),
        ("from_unix_ns", c_int64),
        ("to_unix_ns", c_int64),
        ("from_exclusive", c_int32),
    ]


class pwa_state_event(Structure):
    _fields_ = [
        ("kind", pwa_event_kind),
        ("status", pwa_status),
        ("attempt", c_uint32),
        ("delay_ms", c_uint64),
        ("url", c_char_p),
        ("message", c_char_p),
        ("count", c_uint64),
        ("missing", POINTER(pwa_missing_range)),
        ("missing_count", c_size_t),
    ]


# void (*pwa_message_cb)(void *user_data, pwa_channel_t channel, const pwa_message *message)
pwa_message_cb = CFUNCTYPE(None, c_void_p, pwa_channel_t, pwa_message_p)
# void (*pwa_state_cb)(void *user_data, pwa_channel_t channel, const pwa_state_event *event)
pwa_state_cb = CFUNCTYPE(None, c_void_p, pwa_channel_t, POINTER(pwa_state_event))
# void (*pwa_log_cb)(void *user_data, int32_t level, const char *line)
pwa_log_cb = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)


class pwa_callbacks(Structure):
    _fields_ = [
        ("on_message", pwa_message_cb),
        ("on_state", pwa_state_cb),
        ("user_data", c_void_p),
    ]


class pwa_stats(Structure):
    _fields_ = [
        ("messages", c_uint64),
        ("bytes", c_uint64),
        ("reconnects", c_uint64),
        ("updates", c_uint64),
        ("queue_depth", c_uint64),
        ("last_message_unix_ns", c_int64),
        ("queue_bytes", c_uint64),
        ("messages_dropped", c_uint64),
    ]


class pwa_config_key_info(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("kind", c_char_p),
        ("default_value", c_char_p),
        ("doc", c_char_p),
        ("is_secret", c_int32),
    ]


class pwa_url_options(Structure):
    _fields_ = [
        ("name_filter", c_char_p),
        ("category_name", c_char_p),
        ("template_name", c_char_p),
        ("include_initial_values", c_int32),
        ("heartbeat_rate", c_int32),
        ("web_id_type", pwa_webid_type),
        ("search_full_hierarchy", c_int32),
        ("show_excluded", c_int32),
        ("show_hidden", c_int32),
    ]


class pwa_message_info(Structure):
    _fields_ = [
        ("parse_error", c_char_p),
        ("web_exception_errors", c_char_p),
        ("stream_count", c_size_t),
        ("value_count", c_size_t),
        ("is_heartbeat", c_int32),
        ("is_unparsable", c_int32),
        ("has_web_exception", c_int32),
        ("web_exception_status", c_int32),
        ("is_backfilled", c_int32),
        ("is_rewritten", c_int32),
    ]


class pwa_stream_info(Structure):
    _fields_ = [
        ("web_id", c_char_p),
        ("name", c_char_p),
        ("path", c_char_p),
        ("units", c_char_p),
        ("web_exception_errors", c_char_p),
        ("first_value", c_size_t),
        ("value_count", c_size_t),
        ("has_web_exception", c_int32),
        ("web_exception_status", c_int32),
    ]


class pwa_value(Structure):
    _fields_ = [
        ("timestamp_ns", c_int64),
        ("number", c_double),
        ("integer", c_int64),
        ("text", c_char_p),
        ("units", c_char_p),
        ("timestamp_text", c_char_p),
        ("errors", c_char_p),
        ("web_exception_errors", c_char_p),
        ("stream_index", c_size_t),
        ("kind", pwa_value_kind),
        ("timestamp_valid", c_int32),
        ("good", c_int32),
        ("questionable", c_int32),
        ("substituted", c_int32),
        ("annotated", c_int32),
        ("is_system", c_int32),
        ("error_count", c_int32),
        ("has_web_exception", c_int32),
        ("web_exception_status", c_int32),
    ]


def expected_sizes():
    """The struct sizes the library's own layout test (src/ffi/values.rs) asserts — no padding
    in the message structs on 32- and 64-bit targets — plus those of the other structs on this
    platform. Returns {struct: size}."""
    p = ctypes.sizeof(c_void_p)
    z = ctypes.sizeof(c_size_t)
    u64_align = ctypes.alignment(c_uint64)
    # pwa_state_event: three 4-byte fields, then a uint64 aligned to its alignment, two
    # pointers, a uint64 (count), a pointer and a size_t (missing ranges).
    ev = 12
    ev = (ev + u64_align - 1) // u64_align * u64_align + 8 + 2 * p
    ev = (ev + u64_align - 1) // u64_align * u64_align + 8 + p + z
    ev_align = max(u64_align, p)
    ev = (ev + ev_align - 1) // ev_align * ev_align
    # pwa_subscription_event: two 4-byte fields, three pointers, a 4-byte status, padded to
    # the pointer's alignment.
    se_align = max(4, p)
    se = (8 + 3 * p + 4 + se_align - 1) // se_align * se_align
    return {
        pwa_value: 3 * 8 + 5 * p + z + 10 * 4,
        pwa_stream_info: 5 * p + 2 * z + 2 * 4,
        pwa_message_info: 2 * p + 2 * z + 6 * 4,
        pwa_url_options: 3 * p + 6 * 4,
        pwa_stats: 8 * 8,
        pwa_callbacks: 3 * p,
        pwa_state_event: ev,
        pwa_subscription_event: se,
        pwa_subscription_callbacks: 3 * p,
        pwa_subscription_add_report: 3 * 8,
        pwa_set_stats: 8 * 8,
        pwa_shard_stats: 2 * 4 + 6 * 8,
    }


def check_layout():
    """Raise ImportError if a struct's ctypes size differs from the header's layout."""
    for struct, size in expected_sizes().items():
        got = ctypes.sizeof(struct)
        if got != size:
            raise ImportError(f"piwebasync_c: sizeof({struct.__name__}) is {got}, "
                              f"the header's layout gives {size}")


# --- loading -------------------------------------------------------------------------------

if sys.platform == "win32":
    _LIB_NAMES = ("piwebasync.dll",)
elif sys.platform == "darwin":
    _LIB_NAMES = ("libpiwebasync.dylib",)
else:
    _LIB_NAMES = ("libpiwebasync.so",)


def _candidates():
    env = os.environ.get("PIWEBASYNC_LIB")
    if env:
        # An explicit choice: use it or fail, never fall back silently to another build.
        return [env], True
    here = Path(__file__).resolve().parent
    # The wheel's own copy first: never a different build from the system or a checkout.
    paths = [str(here / name) for name in _LIB_NAMES]
    repo = here.parents[2]  # bindings/python/piwebasync_c/_ffi.py -> the repository
    paths += [str(repo / "target" / profile / name)
              for profile in ("release", "debug") for name in _LIB_NAMES]
    paths = [p for p in paths if os.path.exists(p)]
    found = ctypes.util.find_library("piwebasync")
    if found:
        paths.append(found)
    return paths, False


def _load():
    paths, explicit = _candidates()
    errors = []
    for path in paths:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
            if explicit:
                break
    where = "; ".join(errors) if errors else "not found in PIWEBASYNC_LIB, the package " \
        "folder, target/release, target/debug or the system's library path"
    raise ImportError(f"piwebasync_c: cannot load the piwebasync library ({where}). "
                      "Build it with `cargo build` or set PIWEBASYNC_LIB to its path.")


lib, lib_path = _load()

# --- prototypes ----------------------------------------------------------------------------


def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = POINTER
pwa_channel_open = _proto(
    "pwa_channel_open", pwa_status, c_char_p, pwa_config_p, P(pwa_callbacks), P(pwa_channel_t))
pwa_channel_poll_next = _proto(
    "pwa_channel_poll_next", pwa_status, pwa_channel_t, c_int32, P(pwa_message_p))
pwa_channel_update = _proto("pwa_channel_update", pwa_status, pwa_channel_t, c_char_p, c_int32)
pwa_channel_close = _proto("pwa_channel_close", pwa_status, pwa_channel_t)
pwa_channel_pause_delivery = _proto(
    "pwa_channel_pause_delivery", pwa_status, pwa_channel_t, c_int32)
pwa_channel_free = _proto("pwa_channel_free", pwa_status, pwa_channel_t)
pwa_channel_last_error = _proto(
    "pwa_channel_last_error", pwa_status, pwa_channel_t, c_char_p, c_size_t, P(c_size_t))
pwa_channel_state = _proto("pwa_channel_state", pwa_status, pwa_channel_t, P(pwa_state))
pwa_channel_outcome = _proto("pwa_channel_outcome", pwa_status, pwa_channel_t, P(pwa_status))
pwa_channel_stats = _proto("pwa_channel_stats", pwa_status, pwa_channel_t, P(pwa_stats))
pwa_config_new = _proto("pwa_config_new", pwa_config_p)
pwa_config_set = _proto("pwa_config_set", pwa_status, pwa_config_p, c_char_p, c_char_p)
pwa_config_free = _proto("pwa_config_free", None, pwa_config_p)
pwa_config_get = _proto(
    "pwa_config_get", pwa_status, pwa_config_p, c_char_p, c_char_p, c_size_t, P(c_size_t))
pwa_config_key_count = _proto("pwa_config_key_count", c_size_t)
pwa_config_key = _proto("pwa_config_key", pwa_status, c_size_t, P(pwa_config_key_info))
pwa_channel_set_bearer_token = _proto(
    "pwa_channel_set_bearer_token", pwa_status, pwa_channel_t, c_char_p)
pwa_channel_set_password = _proto("pwa_channel_set_password", pwa_status, pwa_channel_t, c_char_p)
pwa_last_error = _proto("pwa_last_error", pwa_status, c_char_p, c_size_t, P(c_size_t))
pwa_set_log_callback = _proto("pwa_set_log_callback", pwa_status, c_int32, pwa_log_cb, c_void_p)
pwa_message_from_json = _proto(
    "pwa_message_from_json", pwa_status, c_char_p, c_size_t, P(pwa_message_p))
# Pointer results are taken as c_void_p (an int) and read with ctypes.string_at, so the JSON
# text is read by its length rather than up to the first NUL.
pwa_message_json = _proto("pwa_message_json", c_void_p, pwa_message_p, P(c_size_t))
pwa_message_url = _proto("pwa_message_url", c_void_p, pwa_message_p)
pwa_message_free = _proto("pwa_message_free", None, pwa_message_p)
pwa_channel_poll_json = _proto(
    "pwa_channel_poll_json", pwa_status, pwa_channel_t, c_int32, c_char_p, c_size_t, P(c_size_t))
pwa_runtime_configure = _proto("pwa_runtime_configure", pwa_status, c_uint32)
pwa_shutdown = _proto("pwa_shutdown", pwa_status, c_int32)
pwa_status_str = _proto("pwa_status_str", c_char_p, pwa_status)
pwa_status_name = _proto("pwa_status_name", c_char_p, pwa_status)
_URL_ARGS = (c_char_p, c_char_p, P(pwa_url_options), c_char_p, c_size_t, P(c_size_t))
pwa_url_stream = _proto("pwa_url_stream", pwa_status, *_URL_ARGS)
pwa_url_streamset = _proto("pwa_url_streamset", pwa_status, *_URL_ARGS)
pwa_url_adhoc = _proto("pwa_url_adhoc", pwa_status, *_URL_ARGS)
pwa_url_adhoc_split = _proto(
    "pwa_url_adhoc_split", pwa_status, c_char_p, c_char_p, P(pwa_url_options), c_size_t, c_char_p,
    c_size_t, P(c_size_t), P(c_size_t))
pwa_message_get_info = _proto(
    "pwa_message_get_info", pwa_status, pwa_message_p, P(pwa_message_info))
pwa_message_is_heartbeat = _proto(
    "pwa_message_is_heartbeat", pwa_status, pwa_message_p, P(c_int32))
pwa_message_is_backfilled = _proto(
    "pwa_message_is_backfilled", pwa_status, pwa_message_p, P(c_int32))
pwa_message_is_unparsable = _proto(
    "pwa_message_is_unparsable", pwa_status, pwa_message_p, P(c_int32))
pwa_message_stream_count = _proto(
    "pwa_message_stream_count", pwa_status, pwa_message_p, P(c_size_t))
pwa_message_value_count = _proto("pwa_message_value_count", pwa_status, pwa_message_p, P(c_size_t))
pwa_message_stream = _proto(
    "pwa_message_stream", pwa_status, pwa_message_p, c_size_t, P(pwa_stream_info))
pwa_message_value = _proto("pwa_message_value", pwa_status, pwa_message_p, c_size_t, P(pwa_value))
pwa_message_copy_string = _proto(
    "pwa_message_copy_string", pwa_status, pwa_message_p, pwa_field, c_size_t, c_char_p, c_size_t,
    P(c_size_t))
pwa_value_kind_name = _proto("pwa_value_kind_name", c_char_p, pwa_value_kind)
pwa_version = _proto("pwa_version", c_char_p)


# --- subscription sets ---------------------------------------------------------------------

pwa_subscription_t = c_uint64
pwa_subscription_event_kind = c_int32


class pwa_subscription_event(Structure):
    _fields_ = [
        ("kind", pwa_subscription_event_kind),
        ("shard", c_uint32),
        ("shard_event", POINTER(pwa_state_event)),
        ("web_id", c_char_p),
        ("message", c_char_p),
        ("status", pwa_status),
    ]


pwa_subscription_message_cb = CFUNCTYPE(None, c_void_p, pwa_subscription_t, c_uint32,
                                        pwa_message_p)
pwa_subscription_state_cb = CFUNCTYPE(None, c_void_p, pwa_subscription_t,
                                      POINTER(pwa_subscription_event))


class pwa_subscription_callbacks(Structure):
    _fields_ = [
        ("on_message", pwa_subscription_message_cb),
        ("on_state", pwa_subscription_state_cb),
        ("user_data", c_void_p),
    ]


class pwa_subscription_add_report(Structure):
    _fields_ = [
        ("added", c_uint64),
        ("duplicates", c_uint64),
        ("rejected", c_uint64),
    ]


class pwa_set_stats(Structure):
    _fields_ = [
        ("streams", c_uint64),
        ("shards", c_uint64),
        ("shards_open", c_uint64),
        ("shards_reconnecting", c_uint64),
        ("values", c_uint64),
        ("values_per_second", c_double),
        ("queue_depth", c_uint64),
        ("rejected", c_uint64),
    ]


class pwa_shard_stats(Structure):
    _fields_ = [
        ("shard", c_uint32),
        ("state", pwa_state),
        ("streams", c_uint64),
        ("messages", c_uint64),
        ("values", c_uint64),
        ("reconnects", c_uint64),
        ("updates", c_uint64),
        ("messages_dropped", c_uint64),
    ]


pwa_subscription_open = _proto(
    "pwa_subscription_open", pwa_status, c_char_p, pwa_config_p, P(pwa_url_options),
    P(pwa_subscription_callbacks), P(pwa_subscription_t))
pwa_subscription_add = _proto(
    "pwa_subscription_add", pwa_status, pwa_subscription_t, P(c_char_p), c_size_t,
    P(pwa_subscription_add_report))
pwa_subscription_remove = _proto(
    "pwa_subscription_remove", pwa_status, pwa_subscription_t, P(c_char_p), c_size_t,
    P(c_size_t))
pwa_subscription_poll_next = _proto(
    "pwa_subscription_poll_next", pwa_status, pwa_subscription_t, c_int32, P(pwa_message_p),
    P(c_uint32))
pwa_subscription_close = _proto("pwa_subscription_close", pwa_status, pwa_subscription_t)
pwa_subscription_free = _proto("pwa_subscription_free", pwa_status, pwa_subscription_t)
pwa_subscription_stats = _proto(
    "pwa_subscription_stats", pwa_status, pwa_subscription_t, P(pwa_set_stats))
pwa_subscription_shard_stats = _proto(
    "pwa_subscription_shard_stats", pwa_status, pwa_subscription_t, c_size_t,
    P(pwa_shard_stats))
pwa_subscription_rejected = _proto(
    "pwa_subscription_rejected", pwa_status, pwa_subscription_t, c_size_t, c_void_p, c_size_t,
    P(c_size_t), c_void_p, c_size_t, P(c_size_t))
del P

# --- helpers used by the other modules -----------------------------------------------------

def decode(b):
    """A C string (bytes or None) as str ("" for NULL)."""
    if not b:
        return ""
    return b.decode("utf-8", errors="replace")


def encode(s, what="string"):
    """str -> NUL-terminated UTF-8 bytes for a `const char *` argument."""
    if isinstance(s, bytes):
        return s
    if not isinstance(s, str):
        raise TypeError(f"{what} must be str, not {type(s).__name__}")
    return s.encode("utf-8")


def read_sized_string(fill):
    """Call a `(buf, cap, needed)` filler (pwa_last_error, pwa_channel_last_error, the URL
    builders ...) twice: once to ask for the size, once with a buffer of that size (again if
    the text grew in between). Returns (status, text); status is that of the final call."""
    needed = c_size_t(0)
    status = fill(None, 0, ctypes.byref(needed))
    for _ in range(8):
        if status != PWA_ERR_BUFFER_TOO_SMALL:
            break
        cap = max(needed.value, 1)
        buf = ctypes.create_string_buffer(cap)
        status = fill(buf, cap, ctypes.byref(needed))
        if status == PWA_OK:
            return status, decode(buf.value)
    if status == PWA_OK:
        return status, ""
    return status, None


def last_error():
    """pwa_last_error() of this thread as str."""
    _, text = read_sized_string(pwa_last_error)
    return text or ""


def channel_last_error(handle):
    """pwa_channel_last_error(handle) as str ("" if none or the handle is invalid)."""
    status, text = read_sized_string(
        lambda buf, cap, needed: pwa_channel_last_error(handle, buf, cap, needed))
    return (text or "") if status == PWA_OK else ""


def status_name(code):
    return decode(pwa_status_name(code))


def status_str(code):
    return decode(pwa_status_str(code))


# Every struct is defined: check their sizes before anything uses them.
check_layout()
