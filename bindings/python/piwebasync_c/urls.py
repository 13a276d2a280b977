"""Channel URL builders (pwa_url_stream, pwa_url_streamset, pwa_url_adhoc, pwa_url_adhoc_split).

Keyword options are the fields of pwa_url_options: name_filter, category_name, template_name
(str), include_initial_values, search_full_hierarchy, show_excluded, show_hidden (bool),
heartbeat_rate (int), web_id_type (a PWA_WEBID_TYPE_* int). Errors raise PiError
(PWA_ERR_INVALID_ARGUMENT with the library's reason).
"""

import ctypes

from . import _ffi
from .errors import check

_STR_OPTS = ("name_filter", "category_name", "template_name")
_INT_OPTS = ("include_initial_values", "heartbeat_rate", "web_id_type",
             "search_full_hierarchy", "show_excluded", "show_hidden")


def _options(opts):
    if not opts:
        return None
    o = _ffi.pwa_url_options()
    for k, v in opts.items():
        if k in _STR_OPTS:
            setattr(o, k, None if v is None else _ffi.encode(v, k))
        elif k in _INT_OPTS:
            setattr(o, k, int(v))
        else:
            raise TypeError(f"unknown URL option: {k}")
    return ctypes.byref(o)


def _web_ids(web_ids):
    if isinstance(web_ids, (str, bytes)):
        return _ffi.encode(web_ids, "web_ids")
    return ",".join(web_ids).encode("utf-8")


def _build(fn, base, web_id, opts):
    o = _options(opts)  # the struct lives as long as `o` (byref keeps it)
    args = (_ffi.encode(base, "base"), web_id, o)
    status, text = _ffi.read_sized_string(lambda buf, cap, needed: fn(*args, buf, cap, needed))
    check(status)
    return text


def url_stream(base, web_id, **opts):
    """{base}/streams/{webId}/channel?... ("https://host/piwebapi" gives wss://)."""
    return _build(_ffi.pwa_url_stream, base, _ffi.encode(web_id, "web_id"), opts)


def url_streamset(base, web_id, **opts):
    """{base}/streamsets/{webId}/channel?... (the attributes of an element, event frame ...)."""
    return _build(_ffi.pwa_url_streamset, base, _ffi.encode(web_id, "web_id"), opts)


def url_adhoc(base, web_ids, **opts):
    """{base}/streamsets/channel?webId=A&webId=B... web_ids: an iterable of WebIds, or one
    string separated by commas, semicolons, spaces or newlines."""
    return _build(_ffi.pwa_url_adhoc, base, _web_ids(web_ids), opts)


def url_adhoc_split(base, web_ids, max_url_len=0, **opts):
    """As few ad hoc URLs as needed so that each is at most max_url_len bytes (0: 4096).
    Returns a list of URLs; every WebId appears exactly once, in order."""
    o = _options(opts)
    b, w = _ffi.encode(base, "base"), _web_ids(web_ids)
    count = ctypes.c_size_t(0)
    status, text = _ffi.read_sized_string(
        lambda buf, cap, needed: _ffi.pwa_url_adhoc_split(b, w, o, int(max_url_len), buf, cap,
                                                          needed, ctypes.byref(count)))
    check(status)
    urls = text.split("\n") if text else []
    assert len(urls) == count.value, (len(urls), count.value)
    return urls
