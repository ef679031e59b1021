"""Plex webhooks: registered target URLs and delivery of events to them.

Like PMS, a delivery is an unsigned ``multipart/form-data`` POST whose ``payload`` field holds
the event as JSON; with ``thumb`` a small JPEG rides along in a ``thumb`` file part, as PMS
sends for events that have artwork.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from medianest_plex.simulator.metadata import metadata_element
from medianest_plex.simulator.servers import local_account_id

if TYPE_CHECKING:
    from medianest_plex.simulator.accounts import Account
    from medianest_plex.simulator.activity import Player
    from medianest_plex.simulator.items import Item
    from medianest_plex.simulator.servers import SimServer

EVENTS: frozenset[str] = frozenset(
    {
        "library.new",
        "library.on.deck",
        "media.play",
        "media.pause",
        "media.resume",
        "media.stop",
        "media.scrobble",
        "media.rate",
        "admin.database.backup",
        "admin.database.corrupted",
        "device.new",
        "playback.started",
    }
)
"""Event names PMS sends (the spec's enum plus the admin/device events)."""

THUMB_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////"
    "////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQAB"
    "PxA="
)


@dataclass(frozen=True)
class WebhookDelivery:
    """The outcome of POSTing one event to one URL (``status`` ``None`` when unreachable)."""

    url: str
    status: int | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form for the control API."""
        return {"url": self.url, "status": self.status, "error": self.error}


def build_payload(
    event: str, *, server: SimServer, account: Account, item: Item | None, player: Player
) -> dict[str, Any]:
    """The JSON ``payload`` PMS sends for ``event``."""
    payload: dict[str, Any] = {
        "event": event,
        "user": True,
        "owner": account.key == "owner",
        "Account": {
            "id": local_account_id(account),
            "thumb": account.thumb,
            "title": account.title,
        },
        "Server": {"title": server.name, "uuid": server.machine_identifier},
    }
    if event.startswith(("media.", "playback.")):
        payload["Player"] = {
            "local": player.local,
            "publicAddress": player.address,
            "title": player.title,
            "uuid": player.machine_identifier,
        }
    if item is not None:
        section = server.library.sections.get(item.section_key)
        metadata = metadata_element(
            item, section=section, include_guids=True, with_section=True
        ).to_dict()
        metadata["librarySectionType"] = section.type_label if section else None
        payload["Metadata"] = metadata
    return payload


class WebhookHub:
    """Registered webhook URLs of a world and the code that delivers to them."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def add(self, url: str) -> None:
        """Register ``url`` (http or https); registering twice is a no-op."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("a webhook URL must be an absolute http(s) URL")
        if url not in self.urls:
            self.urls.append(url)

    def remove(self, url: str) -> bool:
        """Unregister ``url``; ``False`` if it was not registered."""
        if url in self.urls:
            self.urls.remove(url)
            return True
        return False

    def clear(self) -> None:
        """Unregister every URL."""
        self.urls.clear()

    async def fire(
        self,
        event: str,
        *,
        server: SimServer,
        account: Account,
        item: Item | None,
        player: Player,
        thumb: bool = False,
        request_timeout: float = 5.0,
    ) -> list[WebhookDelivery]:
        """Deliver ``event`` to every URL, one after the other; never raises for a target
        that fails (its delivery records the error instead)."""
        if event not in EVENTS:
            raise ValueError(f"unknown webhook event {event!r}")
        payload = build_payload(event, server=server, account=account, item=item, player=player)
        body = json.dumps(payload, ensure_ascii=False).encode()
        deliveries = []
        async with httpx.AsyncClient(timeout=request_timeout) as client:
            for url in list(self.urls):
                files: dict[str, tuple[str | None, bytes] | tuple[str, bytes, str]] = {
                    "payload": (None, body)
                }
                if thumb:
                    files["thumb"] = ("thumb.jpg", THUMB_JPEG, "image/jpeg")
                try:
                    response = await client.post(
                        url, files=files, headers={"User-Agent": "PlexMediaServer/1.41.3"}
                    )
                except httpx.HTTPError as exc:
                    deliveries.append(WebhookDelivery(url, None, f"{type(exc).__name__}: {exc}"))
                else:
                    deliveries.append(WebhookDelivery(url, response.status_code))
        return deliveries
