"""Keep-alive connections survive answers given before the request body was read.

The HTTP server recycles a keep-alive connection only once it has received the whole request
body; an answer finished while the client is still uploading (a 405, a 401, the 429 of the
sign-in limit) made it drop the connection, and the client's next request on it failed with
"Server disconnected". Before an answer leaves, :func:`install_keep_alive` waits for the rest
of the body (as any view reading it would: within the request's body timeout, at most
``server.max_body_bytes``, which the app buffers anyway) and discards it. A body that cannot be
read to its end (over the limit, or too slow) ends the connection, and the answer says so
with ``Connection: close``, so the client opens a new one instead of failing on this one.
"""

from __future__ import annotations

import asyncio

from quart import Quart, Response, request
from werkzeug.exceptions import RequestEntityTooLarge


def install_keep_alive(app: Quart) -> None:
    """Make every HTTP answer of ``app`` wait for the request body before it is sent."""

    @app.after_request
    async def finish_reading_the_body(response: Response) -> Response:
        try:
            await asyncio.wait_for(_rest_of_body(), request.body_timeout)
        except (RequestEntityTooLarge, TimeoutError):
            response.headers["Connection"] = "close"
        return response


async def _rest_of_body() -> None:
    await request.body
