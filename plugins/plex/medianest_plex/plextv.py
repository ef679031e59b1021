"""The client of plex.tv's ``/api/v2`` as the PIN sign-in uses it.

plex.tv needs ``X-Plex-Client-Identifier`` on every call (sent by :class:`PlexClient`),
answers ``POST /pins`` with 201, and reports errors as ``{"errors": [{"code", "message",
"status"}]}``; the account's token goes in ``X-Plex-Token``.
"""

from __future__ import annotations

from typing import Any

from medianest_plex.client import Params, PlexClient
from medianest_plex.const import HEADER_TOKEN


class PlexTvClient(PlexClient):
    """plex.tv's ``/api/v2`` as used by the PIN sign-in."""

    async def _object(
        self, method: str, path: str, *, token: str | None = None, params: Params | None = None
    ) -> Any:
        headers = {HEADER_TOKEN: token} if token is not None else None
        body, _ = await self.request_json(method, path, params=params, headers=headers)
        return body

    async def _dict(
        self, method: str, path: str, *, token: str | None = None, params: Params | None = None
    ) -> dict[str, Any]:
        body = await self._object(method, path, token=token, params=params)
        if not isinstance(body, dict):
            raise self.data_error(f"answered {method} {path} with something other than an object")
        return body

    async def create_pin(self) -> dict[str, Any]:
        """A new strong PIN: ``id``, ``code``, ``expiresAt``/``expiresIn``, ``authToken=None``."""
        return await self._dict("POST", "/api/v2/pins", params=[("strong", "true")])

    async def get_pin(self, pin_id: int) -> dict[str, Any]:
        """The PIN ``pin_id`` as it stands now.

        :raises NotFoundError: plex.tv no longer knows it (it expired).
        """
        return await self._dict("GET", f"/api/v2/pins/{pin_id}")

    async def user(self, token: str) -> dict[str, Any]:
        """The account the token belongs to (``/api/v2/user``)."""
        return await self._dict("GET", "/api/v2/user", token=token)

    async def resources(self, token: str) -> list[dict[str, Any]]:
        """The devices (servers and players) the account can reach (``/api/v2/resources``)."""
        path = "/api/v2/resources"
        body = await self._object("GET", path, token=token, params=[("includeHttps", 1)])
        if not isinstance(body, list) or not all(isinstance(r, dict) for r in body):
            raise self.data_error(f"answered GET {path} with something other than a list")
        return body
