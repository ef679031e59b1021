"""What the Plex Media Server and plex.tv clients share: how this hub identifies itself.

Both clients are :class:`medianest.sdk.http.UpstreamClient`\\ s: they send Plex's
identification headers (:class:`ClientIdentity`) and ask for JSON, and every kind of upstream
trouble reaches their callers as the SDK's error for it (``UpstreamAuthError`` for a refused
token, ``NotFoundError`` for a 404, ``UpstreamRateLimitedError`` for a 429 ...). Tokens travel
only in the ``X-Plex-Token`` header, which the SDK client never shows in a message or a log.
The clients themselves are :class:`medianest_plex.pms.PlexServerClient` and
:class:`medianest_plex.plextv.PlexTvClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from medianest.sdk.http import UpstreamClient
from medianest_plex.const import (
    DEVICE,
    HEADER_CLIENT_IDENTIFIER,
    HEADER_DEVICE,
    HEADER_DEVICE_NAME,
    HEADER_PLATFORM,
    HEADER_PRODUCT,
    HEADER_TOKEN,
    HEADER_VERSION,
    PLATFORM,
    PLUGIN_KEY,
    PLUGIN_VERSION,
)

Params = Sequence[tuple[str, str | int]]


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """How this hub identifies itself to Plex (the same on every request and replica)."""

    client_identifier: str
    product: str
    version: str = PLUGIN_VERSION

    def headers(self) -> dict[str, str]:
        """The ``X-Plex-*`` identification headers plus ``Accept: application/json``."""
        return {
            "Accept": "application/json",
            HEADER_CLIENT_IDENTIFIER: self.client_identifier,
            HEADER_PRODUCT: self.product,
            HEADER_VERSION: self.version,
            HEADER_PLATFORM: PLATFORM,
            HEADER_DEVICE: DEVICE,
            HEADER_DEVICE_NAME: self.product,
        }


class PlexClient(UpstreamClient):
    """An upstream client that identifies itself to Plex and, given one, sends a token.

    :param label: how messages name the service (``Plex server 'home'``, ``plex.tv``).
    :param source: the ``source`` carried by raised ``UpstreamError``\\ s.
    """

    def __init__(
        self,
        *,
        base_url: str,
        label: str,
        source: str,
        identity: ClientIdentity,
        timeout: float,
        verify: bool = True,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = identity.headers()
        if token is not None:
            headers[HEADER_TOKEN] = token
        super().__init__(
            base_url=base_url,
            label=label,
            source=source,
            plugin=PLUGIN_KEY,
            timeout=timeout,
            headers=headers,
            verify=verify,
            transport=transport,
        )
