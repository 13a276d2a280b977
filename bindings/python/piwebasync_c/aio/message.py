"""WebsocketMessage: what the asyncio client yields.

Cheap to make: the library's callback thread copies only the JSON text and the endpoint URL
out of the borrowed C message. Everything else is computed on first use, on the consumer's
side: `raw` (the parsed JSON), `items`, `select(...)`, and `message`, the binding's typed
piwebasync_c.Message (the library parses the text again, once, for that).
"""

import dataclasses
import json as _json
import re

from ..message import Message

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name):
    """"WebId" -> "web_id", "UnitsAbbreviation" -> "units_abbreviation", "Items" -> "items"."""
    return _CAMEL.sub("_", name).lower()


def _snake_keys(obj):
    if isinstance(obj, dict):
        return {snake(k): _snake_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_snake_keys(v) for v in obj]
    return obj


def _norm(name):
    return name.replace("_", "").lower()


def _walk(nodes, parts):
    for part in parts:
        key = _norm(part)
        nxt = []
        for node in nodes:
            if isinstance(node, list):
                node_list = node
            else:
                node_list = [node]
            for n in node_list:
                if isinstance(n, dict):
                    for k, v in n.items():
                        if _norm(k) == key:
                            if isinstance(v, list):
                                nxt.extend(v)
                            else:
                                nxt.append(v)
                            break
        nodes = nxt
    return nodes


class WebsocketMessage:
    """A channel message.

    items: the message's "Items" with keys in snake_case (web_id, name, path, links, items,
    timestamp, value, units_abbreviation, good, questionable, substituted, annotated ...), as
    piwebasync gives them; [] for a heartbeat. select("items.name", "items.items.value", ...):
    {field: [every value found along that dotted path, lists flattened]}; a path's parts match
    keys in either spelling (WebId, web_id, webid). raw: the parsed JSON (dict, original keys);
    text: the JSON text as sent; url: the endpoint it came from (after update(), tells old from
    new); message: the binding's typed piwebasync_c.Message (values with kinds, timestamps in
    ns, WebExceptions); is_heartbeat; is_backfilled: recorded values the library fetched to
    fill a gap after a reconnect or an update (config gap_fill=true), delivered before the live
    values that arrived meanwhile.
    """

    __slots__ = ("text", "url", "is_backfilled", "_raw", "_items", "_message")

    def __init__(self, text, url="", is_backfilled=False):
        self.text = text
        self.url = url
        self.is_backfilled = is_backfilled
        self._raw = None
        self._items = None
        self._message = None

    @property
    def raw(self):
        if self._raw is None:
            try:
                self._raw = _json.loads(self.text)
            except ValueError:
                self._raw = {}
        return self._raw

    @property
    def items(self):
        if self._items is None:
            raw = self.raw
            items = raw.get("Items", []) if isinstance(raw, dict) else []
            self._items = _snake_keys(items if isinstance(items, list) else [items])
        return self._items

    @property
    def is_heartbeat(self):
        return not self.items

    @property
    def message(self):
        if self._message is None:
            self._message = dataclasses.replace(Message.from_json(self.text), url=self.url)
        return self._message

    def select(self, *fields):
        """{field: [values]} for each dotted path, e.g. select("items.web_id",
        "items.items.value"): every value found along the path, lists flattened in order."""
        if not fields:
            raise ValueError("select() needs at least one field, e.g. 'items.name'")
        return {f: _walk([self.raw], f.split(".")) for f in fields}

    def __repr__(self):
        return f"<WebsocketMessage {len(self.items)} items from {self.url!r}>"
