"""Controller and APIRequest: piwebasync's way of naming a channel, on the library's URL
builders (pwa_url_stream, pwa_url_streamset, pwa_url_adhoc).

    request = Controller("https", "pi.example", root="piwebapi").streams.get_channel(
        webid, include_initial_values=True, heartbeat_rate=2)
    request.absolute_url   # 'wss://pi.example/piwebapi/streams/<webid>/channel?...'
"""

from .. import _ffi
from ..urls import url_adhoc, url_stream, url_streamset

_WEBID_TYPES = {
    "full": _ffi.PWA_WEBID_TYPE_FULL,
    "idonly": _ffi.PWA_WEBID_TYPE_ID_ONLY,
    "pathonly": _ffi.PWA_WEBID_TYPE_PATH_ONLY,
    "localidonly": _ffi.PWA_WEBID_TYPE_LOCAL_ID_ONLY,
    "defaultidonly": _ffi.PWA_WEBID_TYPE_DEFAULT_ID_ONLY,
}


def _web_id_type(v):
    if v is None:
        return None
    if isinstance(v, int):
        return v
    key = str(v).replace("_", "").replace("-", "").lower()
    if key not in _WEBID_TYPES:
        raise ValueError(f"web_id_type must be one of Full, IDOnly, PathOnly, LocalIDOnly, "
                         f"DefaultIDOnly (or a PWA_WEBID_TYPE_* int), not {v!r}")
    return _WEBID_TYPES[key]


def _opts(**kw):
    """Keyword parameters -> pwa_url_options fields; None means 'not given'."""
    out = {}
    for k, v in kw.items():
        if v is None:
            continue
        if k == "web_id_type":
            v = _web_id_type(v)
        elif isinstance(v, bool):
            v = int(v)
        out[k] = v
    return out


class APIRequest:
    """A channel request: what WebsocketClient opens and update() switches to.

    Made by Controller(...).streams.get_channel(...) and friends, or from a URL:
    APIRequest(url="wss://host/piwebapi/streams/F1DP.../channel"). `absolute_url` (also
    `url`) is the channel URL; `controller`, `action`, `webid`, `params` describe it.
    """

    method = "GET"
    protocol = "Websocket"

    def __init__(self, url=None, *, controller=None, action="channel", webid=None,
                 scheme=None, host=None, port=None, root=None, params=None):
        if not url:
            raise ValueError("APIRequest needs a channel URL (use Controller(...) to build one)")
        self.absolute_url = url
        self.controller = controller
        self.action = action
        self.webid = webid
        self.scheme, self.host, self.port, self.root = scheme, host, port, root
        self.params = dict(params or {})

    @property
    def url(self):
        return self.absolute_url

    def __repr__(self):
        return f"APIRequest({self.absolute_url!r})"

    def __eq__(self, other):
        return isinstance(other, APIRequest) and other.absolute_url == self.absolute_url

    def __hash__(self):
        return hash(self.absolute_url)


class _Part:
    def __init__(self, ctl):
        self._ctl = ctl

    def _request(self, builder, webid, controller, params):
        opts = _opts(**params)
        url = builder(self._ctl.base_url, webid, **opts)
        c = self._ctl
        return APIRequest(url, controller=controller, webid=webid, scheme=c.scheme, host=c.host,
                          port=c.port, root=c.root,
                          params={k: v for k, v in params.items() if v is not None})


class Streams(_Part):
    """Controller.streams."""

    def get_channel(self, webid, include_initial_values=None, heartbeat_rate=None,
                    web_id_type=None):
        """streams/{webId}/channel (PI Web API Stream GetChannel)."""
        return self._request(url_stream, webid, "streams", dict(
            include_initial_values=include_initial_values, heartbeat_rate=heartbeat_rate,
            web_id_type=web_id_type))


class StreamSets(_Part):
    """Controller.streamsets."""

    def get_channel(self, webid, category_name=None, name_filter=None,
                    search_full_hierarchy=None, show_excluded=None, show_hidden=None,
                    template_name=None, include_initial_values=None, heartbeat_rate=None,
                    web_id_type=None):
        """streamsets/{webId}/channel (PI Web API StreamSet GetChannel): the attributes of an
        element, event frame or attribute."""
        return self._request(url_streamset, webid, "streamsets", dict(
            category_name=category_name, name_filter=name_filter,
            search_full_hierarchy=search_full_hierarchy, show_excluded=show_excluded,
            show_hidden=show_hidden, template_name=template_name,
            include_initial_values=include_initial_values, heartbeat_rate=heartbeat_rate,
            web_id_type=web_id_type))

    def get_channel_adhoc(self, webid, include_initial_values=None, heartbeat_rate=None,
                          web_id_type=None):
        """streamsets/channel?webId=A&webId=B... (StreamSet GetChannelAdHoc). webid: a list of
        WebIds (or one string, separated by commas)."""
        ids = [webid] if isinstance(webid, str) else list(webid)
        return self._request(url_adhoc, ids, "streamsets", dict(
            include_initial_values=include_initial_values, heartbeat_rate=heartbeat_rate,
            web_id_type=web_id_type))


class Controller:
    """Controller(scheme, host, port=None, root="piwebapi"): the PI Web API at
    scheme://host[:port]/root. scheme "https" gives wss:// channels, "http" ws://."""

    def __init__(self, scheme, host, port=None, root="piwebapi"):
        scheme = str(scheme).lower()
        if scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        if not host:
            raise ValueError("host is required")
        self.scheme, self.host, self.port = scheme, host, port
        self.root = (root or "").strip("/")
        netloc = f"{host}:{int(port)}" if port is not None else host
        self.base_url = f"{scheme}://{netloc}/{self.root}" if self.root else f"{scheme}://{netloc}"
        self.streams = Streams(self)
        self.streamsets = StreamSets(self)

    def __repr__(self):
        return f"Controller({self.base_url!r})"
