"""WebsocketMessage: what the asyncio client yields.

Cheap to make: the library's callback thread copies only the JSON text and the endpoint URL
out of the borrowed C message. Everything else is computed on first use, on the consumer's
side: `raw` (the parsed JSON), `items`, `select(...)`, and `message`, the binding's typed
piwebasync_c.Message (the library parses the text again, once, for that).

Shaped as piwebasync's message: the top-level keys are attributes in snake_case (`items`,
`links`, `web_exception`, ...), their content is the JSON as sent (PI Web API's own keys:
"WebId", "Items", "Value", ...), and `select("Items.Items.Value")` groups the values by the
lists they sit in ([[v1, v2], [v3]]: one list per stream).
"""

import dataclasses
import json as _json
import re

from ..message import Message

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_MISSING = object()


def snake(name):
    """"WebId" -> "web_id", "UnitsAbbreviation" -> "units_abbreviation", "Items" -> "items"."""
    return _CAMEL.sub("_", name).lower()


def _norm(name):
    return name.replace("_", "").lower()


def _get(node, part):
    """node[part], the key matched exactly or else in either spelling (WebId, web_id, webid)."""
    if part in node:
        return node[part]
    key = _norm(part)
    for k, v in node.items():
        if _norm(k) == key:
            return v
    return _MISSING


def _follow(node, parts):
    """The value along `parts` below `node`; a list gives one result per element (so nested
    lists mirror the JSON's lists), a missing key None, a scalar with path left itself."""
    if not parts:
        return node
    if isinstance(node, list):
        return [_follow(e, parts) for e in node]
    if isinstance(node, dict):
        v = _get(node, parts[0])
        return None if v is _MISSING else _follow(v, parts[1:])
    return node


class WebsocketMessage:
    """A channel message, as piwebasync gives it.

    items: the message's "Items" as sent ([] for a heartbeat): a list of
    {"WebId", "Name", "Path", "Links", "Items": [{"Timestamp", "Value", "Good", ...}]}.
    Every other top-level key is an attribute too, in snake_case (links, web_exception, ...).
    select("Items.WebId", "Items.Items.Value", ...): {field: values along that dotted path};
    each list on the way gives a list ({"Items.Items.Value": [[1.5, 2.5], [7]]}), a missing
    key None, a missing first key []; a path whose first part is an object gives the value
    itself. Keys match exactly or in either spelling (WebId, web_id, webid). dict(): the
    top-level keys and values. Changes to `items` show in select() and dict().

    Beyond piwebasync: raw (the parsed JSON), text (as sent), url (the endpoint it came
    from: after update(), tells old from new), message (the binding's typed
    piwebasync_c.Message: values with kinds, timestamps in ns, WebExceptions), is_heartbeat;
    is_backfilled: recorded values the library fetched to fill a gap after a reconnect or an
    update (config gap_fill=true), delivered before the live values that arrived meanwhile.

    WebsocketMessage(text, url) wraps JSON text; WebsocketMessage(url=..., **content) (as
    piwebasync builds them) wraps parsed content.
    """

    __slots__ = ("_text", "url", "is_backfilled", "_raw", "_message")

    def __init__(self, text=None, url="", **content):
        if text is not None and content:
            raise TypeError("WebsocketMessage takes JSON text or content keywords, not both")
        self._text = text
        self.url = url
        self.is_backfilled = False
        self._raw = dict(content) if text is None else None
        self._message = None

    @property
    def text(self):
        """The JSON text (as sent; for a message built from content, that content dumped)."""
        if self._text is None:
            self._text = _json.dumps(self._raw)
        return self._text

    @property
    def raw(self):
        if self._raw is None:
            try:
                raw = _json.loads(self._text)
            except ValueError as err:
                raw = {"Errors": "Unable to parse response content",
                       "ResponseContent": self._text, "ErrorMessage": repr(err)}
            self._raw = raw if isinstance(raw, dict) else {"Items": raw}
        return self._raw

    @property
    def items(self):
        v = _get(self.raw, "Items")
        if v is _MISSING:
            v = self._raw["Items"] = []
        return v

    def __getattr__(self, name):
        # Only reached for names that are not slots/properties: the message's top-level keys.
        if name.startswith("_"):
            raise AttributeError(name)
        for k, v in self.raw.items():
            if snake(k) == name:
                return v
        raise AttributeError(f"this message has no {name!r} (its keys: {list(self.raw)})")

    @property
    def is_heartbeat(self):
        return not self.items

    @property
    def message(self):
        if self._message is None:
            self._message = dataclasses.replace(Message.from_json(self.text), url=self.url)
        return self._message

    def dict(self):
        """The top-level keys (as sent) and their values: {"Items": [...], "Links": {...}}."""
        return dict(self.raw)

    @property
    def raw_response(self):
        """The content as JSON bytes."""
        return _json.dumps(self.raw, separators=(",", ":")).encode()

    def select(self, *fields):
        """{field: values} for each dotted path, e.g. select("Items.WebId",
        "Items.Items.Value") -> {"Items.WebId": ["W1", "W2"], "Items.Items.Value": [[1.5,
        2.5], [7]]}: one list per list along the path."""
        if not fields:
            raise ValueError("select() needs at least one field, e.g. 'Items.WebId'")
        out = {}
        for f in fields:
            parts = f.split(".")
            top = _get(self.raw, parts[0])
            if top is _MISSING:
                out[f] = []
            elif len(parts) > 1 and isinstance(top, (dict, list)):
                out[f] = _follow(top, parts[1:])
            else:
                out[f] = [top]
        return out

    def __repr__(self):
        return f"<WebsocketMessage {len(self.items)} items from {self.url!r}>"
