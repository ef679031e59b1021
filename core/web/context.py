"""What core's views share: the running hub, fully typed, and the no-store answer hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from quart import Response

from medianest.sdk.web import current_hub

if TYPE_CHECKING:
    from medianest.core.hub import Hub


def hub() -> Hub:
    """The hub serving the current request or app context, with core's full interface."""
    return cast("Hub", current_hub())


async def never_cached(response: Response) -> Response:
    """``after_request`` hook for answers about one person (tokens, sessions): no-store."""
    response.headers["Cache-Control"] = "no-store"
    return response
