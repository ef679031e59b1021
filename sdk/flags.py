"""Runtime feature flags plugins declare."""

from __future__ import annotations

from dataclasses import dataclass

FLAG_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"


@dataclass(frozen=True, slots=True)
class Flag:
    """A runtime flag: toggled by admins, stored by the hub, seen by every replica.

    :param key: ``<plugin key>.<feature>``, e.g. ``plex.webhooks``.
    :param description: one line shown to admins.
    :param default: the value until an admin sets one.
    """

    key: str
    description: str
    default: bool = True
