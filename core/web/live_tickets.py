"""Tickets for the live socket: how a program that cannot send headers with its WebSocket
handshake (or a browser-less client) opens ``/api/v1/live``.

``POST /api/v1/live/ticket`` (signed in, API keys too) answers a random ticket that opens one
socket, once, within :data:`TICKET_SECONDS`: ``/api/v1/live?ticket=...``. Tickets are kept
in the shared state (Redis in scaled mode, so any replica accepts one another issued; the
process in embedded mode), only as a digest, and taken atomically so two sockets can never
spend the same ticket. A ticket remembers who asked, the permissions they held then and how
they were signed in (session or API key), so the socket keeps checking that session or key.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from medianest.core.state.redis import DEFAULT_PREFIX, unavailable_as_state_error

TICKET_SECONDS = 30
"""How long a ticket may wait before it opens a socket."""
TICKET_BYTES = 32
_SWEEP_EVERY = 256


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a ticket stands for."""

    user_id: int
    permissions: list[str]
    """What the person held when the ticket was issued; the socket never gets more."""
    session_id: str | None = None
    api_key_id: int | None = None

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> Ticket | None:
        try:
            raw: dict[str, Any] = json.loads(text)
            return cls(
                user_id=int(raw["user_id"]),
                permissions=[str(p) for p in raw["permissions"]],
                session_id=raw.get("session_id"),
                api_key_id=raw.get("api_key_id"),
            )
        except (KeyError, TypeError, ValueError):
            return None


class TicketStore(Protocol):
    """Where issued tickets wait to be spent."""

    async def put(self, digest: str, ticket: Ticket, seconds: float) -> None: ...

    async def take(self, digest: str) -> Ticket | None:
        """The ticket and forget it (``None``: unknown, spent or expired)."""
        ...


class MemoryTicketStore:
    """Tickets of one process (embedded mode); expired ones are swept as new ones come."""

    def __init__(self) -> None:
        self._tickets: dict[str, tuple[float, Ticket]] = {}
        self._puts = 0

    def __len__(self) -> int:
        return len(self._tickets)

    async def put(self, digest: str, ticket: Ticket, seconds: float) -> None:
        now = time.monotonic()
        self._puts += 1
        if self._puts % _SWEEP_EVERY == 0:
            for key in [k for k, (ends, _) in self._tickets.items() if ends <= now]:
                del self._tickets[key]
        self._tickets[digest] = (now + seconds, ticket)

    async def take(self, digest: str) -> Ticket | None:
        held = self._tickets.pop(digest, None)
        if held is None or held[0] <= time.monotonic():
            return None
        return held[1]


class RedisTicketStore:
    """Tickets every replica shares (``<prefix>live-ticket:<digest>``, ``GETDEL`` to spend)."""

    def __init__(self, client: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = f"{prefix}live-ticket:"

    async def put(self, digest: str, ticket: Ticket, seconds: float) -> None:
        with unavailable_as_state_error("live ticket store"):
            await self._client.set(self._prefix + digest, ticket.dump(), px=int(seconds * 1000))

    async def take(self, digest: str) -> Ticket | None:
        with unavailable_as_state_error("live ticket spend"):
            text = await self._client.getdel(self._prefix + digest)
        return None if text is None else Ticket.load(text)


def digest_of(ticket: str) -> str:
    """What the store keys a ticket by (the ticket itself is never stored)."""
    return hashlib.sha256(ticket.encode("utf-8", "replace")).hexdigest()


async def issue(store: TicketStore, ticket: Ticket, *, seconds: float = TICKET_SECONDS) -> str:
    """A new ticket for ``ticket``, valid once for ``seconds``."""
    value = secrets.token_urlsafe(TICKET_BYTES)
    await store.put(digest_of(value), ticket, seconds)
    return value


async def spend(store: TicketStore, value: str) -> Ticket | None:
    """The ticket ``value`` stands for, now spent; ``None`` when unknown, spent or expired."""
    if not value or len(value) > 200:
        return None
    return await store.take(digest_of(value))
