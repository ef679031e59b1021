"""plex.tv PINs: the device-link codes of the ``/api/v2/pins`` sign-in flow."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from medianest_plex.simulator import data

SHORT_PIN_LIFETIME = 300
"""Seconds a 4-character PIN lives."""
STRONG_PIN_LIFETIME = 1800
"""Seconds a ``strong=true`` PIN lives."""
_SHORT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_STRONG_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
FIRST_PIN_ID = 564_964_751


def iso(epoch: int) -> str:
    """plex.tv's timestamp format: ``2024-06-24T11:38:02Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pin:
    """A PIN and its state. ``auth_token`` stays ``None`` until an account approves it."""

    id: int
    code: str
    client_identifier: str
    product: str
    strong: bool
    created_at: int
    expires_at: int
    auth_token: str | None = None
    account_key: str | None = None

    def expired(self, now: int) -> bool:
        """Whether the PIN is past its lifetime at ``now``."""
        return now >= self.expires_at

    def to_json(self, now: int) -> dict[str, object]:
        """The plex.tv JSON body for this PIN as seen at ``now``."""
        body: dict[str, object] = {
            "id": self.id,
            "code": self.code,
            "product": self.product,
            "trusted": False,
            "qr": f"https://plex.tv/api/v2/pins/qr/{self.code}",
            "clientIdentifier": self.client_identifier,
            "location": {
                "code": "US",
                "european_union_member": False,
                "continent_code": "NA",
                "country": "United States",
                "city": "Springfield",
                "time_zone": "America/Chicago",
                "postal_code": "62701",
                "in_privacy_restricted_country": False,
                "subdivisions": "Illinois",
                "coordinates": "39.8, -89.6",
            },
            "expiresIn": max(0, self.expires_at - now),
            "createdAt": iso(self.created_at),
            "expiresAt": iso(self.expires_at),
            "authToken": self.auth_token,
        }
        if self.auth_token is not None:
            body["newRegistration"] = False
        return body


def new_pin(
    seed: int,
    pin_id: int,
    *,
    client_identifier: str,
    product: str,
    strong: bool,
    now: int,
    lifetime: int | None = None,
) -> Pin:
    """Create PIN ``pin_id`` with a deterministic code (25 chars if ``strong``, else 4)."""
    rng = random.Random(data.mix(seed, 61, pin_id))  # noqa: S311 - deterministic codes
    if strong:
        code = "".join(rng.choice(_STRONG_ALPHABET) for _ in range(25))
        life = STRONG_PIN_LIFETIME
    else:
        code = "".join(rng.choice(_SHORT_ALPHABET) for _ in range(4))
        life = SHORT_PIN_LIFETIME
    if lifetime is not None:
        life = lifetime
    return Pin(
        id=pin_id,
        code=code,
        client_identifier=client_identifier,
        product=product,
        strong=strong,
        created_at=now,
        expires_at=now + life,
    )
