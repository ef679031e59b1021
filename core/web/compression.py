"""Answers compressed with brotli or gzip, as the client's ``Accept-Encoding`` asks
(``asgi-compression``), when they are at least :data:`COMPRESS_AT_LEAST` bytes.

Quart sends every body as a chunk followed by an empty last one, which a compressing
middleware cannot tell from a stream; :class:`WholeBodies` joins such a pair into one message,
so a short answer (a 204, a 304, a small JSON body) goes as it is and a whole body is compressed
in one go, with its ``Content-Length``. A real stream (more chunks) passes through as one.
"""

from __future__ import annotations

from typing import Any

from asgi_compression import BrotliAlgorithm, CompressionMiddleware, GzipAlgorithm
from asgi_compression.types import Receive, Scope, Send
from quart import Quart

COMPRESS_AT_LEAST = 512
"""Answers shorter than this many bytes are sent as they are."""

Message = dict[str, Any]


class WholeBodies:
    """ASGI middleware: a body chunk followed by an empty last chunk becomes one message."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def joined(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            if held:
                first = held.pop()
                if not message.get("more_body", False) and not message.get("body"):
                    await send({**first, "more_body": False})
                    return
                await send(first)
            if message.get("more_body", False):
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, joined)
        if held:  # the app ended without a last chunk
            await send(held.pop())


def install_compression(app: Quart) -> None:
    """Compress ``app``'s answers (brotli first, then gzip)."""
    # Quart types ASGI scopes and messages as hypercorn's TypedDicts, the middleware as plain
    # mappings: the same dictionaries at run time, two vocabularies for the type checker.
    app.asgi_app = CompressionMiddleware(  # type: ignore[method-assign, assignment]
        WholeBodies(app.asgi_app),
        algorithms=[BrotliAlgorithm(), GzipAlgorithm()],
        minimum_size=COMPRESS_AT_LEAST,
    )
