"""piwebasync_c — a ctypes binding of the piwebasync C library (PI Web API channels).

    import piwebasync_c as pwa

    with pwa.Channel.open(url, pwa.Config(reconnect=True)) as ch:
        for msg in ch:                      # until the channel ends
            for v in msg.values:
                print(v.datetime, v.kind_name, v.value, v.units)
    print(ch.terminal)                      # ChannelClosed: the terminal status

Errors: PiError (.status, .status_name, .message) for failed calls; ChannelClosed (not a
PiError) from poll() once the channel ended; a poll timeout returns None. See README.md.

The library is loaded from $PIWEBASYNC_LIB, else the copy bundled in this package (the
wheel's), else this repository's target/release or target/debug, else the system's library
path (ctypes.util.find_library).
"""

from . import _ffi
from ._ffi import lib_path  # the loaded library's path
from ._ffi import (  # re-exported constants
    PWA_LOG_OFF, PWA_LOG_ERROR, PWA_LOG_WARN, PWA_LOG_INFO, PWA_LOG_DEBUG, PWA_LOG_TRACE,
    PWA_URL_DEFAULT_MAX_LEN,
    PWA_WEBID_TYPE_DEFAULT, PWA_WEBID_TYPE_FULL, PWA_WEBID_TYPE_ID_ONLY,
    PWA_WEBID_TYPE_PATH_ONLY, PWA_WEBID_TYPE_LOCAL_ID_ONLY, PWA_WEBID_TYPE_DEFAULT_ID_ONLY,
)
from .channel import (Channel, Config, EventKind, KeyInfo, MissingRange, State, StateEvent,
                      Stats, config_keys, configure_runtime, set_library_log_level, shutdown)
from .errors import ChannelClosed, PiError, Status, status_name, status_str
from .message import DigitalState, Message, Stream, Value, ValueKind, WebException, kind_name
from .urls import url_adhoc, url_adhoc_split, url_stream, url_streamset
from .subscription import (AddReport, Rejected, SetEvent, SetStats, ShardStats,
                           Subscription)


def version():
    """The loaded library's version, e.g. "0.1.0" (pwa_version)."""
    return _ffi.decode(_ffi.pwa_version())


HEADER_VERSION = (_ffi.PWA_VERSION_MAJOR, _ffi.PWA_VERSION_MINOR, _ffi.PWA_VERSION_PATCH)

try:  # a wheel or build copy carries the project version; a checkout reports the header's
    from ._version import __version__
except ImportError:
    __version__ = ".".join(map(str, HEADER_VERSION))


def _check_version():
    try:
        major, minor = (int(x) for x in version().split(".")[:2])
    except ValueError:
        return
    # 0.x: a minor release may change the ABI, as a major one does later.
    if major != HEADER_VERSION[0] or (major == 0 and minor != HEADER_VERSION[1]):
        raise ImportError(f"piwebasync_c mirrors the header of version "
                          f"{'.'.join(map(str, HEADER_VERSION))}, but {lib_path} is {version()}")


_check_version()

__all__ = [
    "Channel", "ChannelClosed", "Config", "DigitalState", "EventKind", "Message", "MissingRange",
    "PiError",
    "State", "StateEvent", "Stats", "Status", "Stream", "Value", "ValueKind", "WebException",
    "KeyInfo", "config_keys", "configure_runtime", "kind_name", "lib_path", "set_library_log_level", "shutdown",
    "status_name", "status_str", "url_adhoc", "url_adhoc_split", "url_stream", "url_streamset",
    "version", "HEADER_VERSION", "__version__",
    "Subscription", "AddReport", "Rejected", "SetEvent", "SetStats", "ShardStats",
    "PWA_LOG_OFF", "PWA_LOG_ERROR", "PWA_LOG_WARN", "PWA_LOG_INFO", "PWA_LOG_DEBUG",
    "PWA_LOG_TRACE", "PWA_URL_DEFAULT_MAX_LEN", "PWA_WEBID_TYPE_DEFAULT", "PWA_WEBID_TYPE_FULL",
    "PWA_WEBID_TYPE_ID_ONLY", "PWA_WEBID_TYPE_PATH_ONLY", "PWA_WEBID_TYPE_LOCAL_ID_ONLY",
    "PWA_WEBID_TYPE_DEFAULT_ID_ONLY",
]
