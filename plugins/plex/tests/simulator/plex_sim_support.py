"""Constants and small types shared by the simulator tests (imported by name, not via
``conftest``, so they never clash with other test directories' conftest modules)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

JSON = {"Accept": "application/json"}
CLIENT_ID = "medianest-tests-0001"


@dataclass
class Receiver:
    """Webhook deliveries received by :func:`webhook_receiver`."""

    url: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
