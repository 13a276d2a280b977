"""piwebasync_c.aio — piwebasync's asyncio API on the native core.

    import asyncio
    from piwebasync_c.aio import Controller, WebsocketClient
    from piwebasync_c.aio.exceptions import ChannelClosedError, WatchdogTimeout

    async def main():
        request = Controller("https", "pi.example", root="piwebapi").streams.get_channel(webid)
        async with WebsocketClient(request, reconnect=True) as channel:
            async for response in channel:
                print(response.items)

    asyncio.run(main())

Programs written for piwebasync change only their import lines (`piwebasync` ->
`piwebasync_c.aio`, `piwebasync.exceptions` -> `piwebasync_c.aio.exceptions`). The remaining
differences are listed in bindings/python/README.md ("asyncio").
"""

from .client import WebsocketClient
from .controller import APIRequest, Controller
from .exceptions import (ChannelClosed, ChannelClosedError, ChannelClosedOK, ChannelOpenError,
                         ChannelRollback, ChannelUpdateError, WatchdogTimeout,
                         WebsocketClientError)
from .message import WebsocketMessage

__all__ = [
    "APIRequest", "Controller", "WebsocketClient", "WebsocketMessage",
    "ChannelClosed", "ChannelClosedError", "ChannelClosedOK", "ChannelOpenError",
    "ChannelRollback", "ChannelUpdateError", "WatchdogTimeout", "WebsocketClientError",
]
