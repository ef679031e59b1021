"""Capability protocols: what a plugin's provider objects must offer.

A plugin returns provider instances from its ``register_*`` hooks; core calls their async
methods with its own ordering, timeouts and error isolation. Every provider has an ``id``:
the plugin key, optionally followed by ``:<instance>`` (``plex:home``, ``plex:cabin``), unique
across the hub. Several instances of one plugin are simply several providers.

Methods raise :mod:`medianest.sdk.errors` exceptions; anything else is treated as a bug in
the plugin and reported as such. A provider that holds resources (HTTP clients, connection
pools) may define ``async def aclose()``: core calls it once when the hub stops.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from medianest.sdk.models import (
    AuthChallenge,
    ChangesPage,
    DomainEvent,
    HealthStatus,
    Identity,
    MediaItem,
    MediaRequest,
    MediaRequestCreate,
    Notification,
    Page,
    Principal,
    SearchQuery,
)


@runtime_checkable
class Provider(Protocol):
    """What every provider has: a hub-unique ``id`` and a human ``name``."""

    id: str
    name: str


@runtime_checkable
class AuthProvider(Provider, Protocol):
    """A way to sign in.

    ``flow`` says which methods core uses:

    - ``"interactive"``: :meth:`start` returns a URL the person opens elsewhere (plex.tv, an
      OIDC provider); core then calls :meth:`poll` until it returns an :class:`Identity`.
    - ``"credentials"``: core calls :meth:`authenticate` with what the person typed.

    A provider raises :class:`~medianest.sdk.errors.AuthenticationError` with a message safe
    to show when it refuses someone.
    """

    flow: Literal["interactive", "credentials"]

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        """Begin an interactive sign-in; ``forward_url`` is where to send the browser after."""
        ...

    async def poll(self, handle: str) -> Identity | None:
        """Return the identity once the person has approved, ``None`` while still pending.

        :raises AuthenticationError: the flow expired or the person is not let in.
        """
        ...

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        """Check typed credentials and return who they belong to.

        :raises AuthenticationError: the credentials are wrong.
        """
        ...


class SourceCapability(StrEnum):
    """What a media source can do; core plans sync and search around these."""

    LIBRARY = "library"
    """Has a library core can copy page by page (``list_library``, ``count``)."""
    CHANGES = "changes"
    """Can list what changed since a checkpoint (``list_changes``)."""
    LIVE_SEARCH = "live_search"
    """Must be searched live (YouTube, a discovery service) instead of from the catalogue."""
    RECENTLY_ADDED = "recently_added"
    """Can list recently added items."""


@runtime_checkable
class MediaSource(Provider, Protocol):
    """A place media lives: a Plex server, a YouTube account, a discovery service.

    Only the methods matching :attr:`capabilities` are called; the others may raise
    :class:`NotImplementedError`.
    """

    capabilities: frozenset[SourceCapability]

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        """Items matching ``query``, best first, at most ``query.limit``."""
        ...

    async def get_item(self, item_id: str) -> MediaItem:
        """One item by its id in this source.

        :raises NotFoundError: no such item.
        """
        ...

    async def list_library(self, cursor: str | None, limit: int) -> Page[MediaItem]:
        """A page of the whole library, in a stable order; ``cursor=None`` starts.

        Core's library sync stores each cursor and may resume from it in another process
        later: a cursor must hold the whole position, nothing may live in memory.
        """
        ...

    async def list_changes(self, since: str | None, cursor: str | None, limit: int) -> ChangesPage:
        """Items added or updated since the checkpoint ``since`` (``None``: from the start).

        Sources may return items at or slightly before ``since`` (an overlap window); core
        de-duplicates.
        """
        ...

    async def count(self) -> int:
        """How many items the library holds, cheaply."""
        ...

    async def recently_added(self, limit: int) -> list[MediaItem]:
        """The newest items, newest first."""
        ...

    async def health(self) -> HealthStatus:
        """Whether the source answers right now; must return within a few seconds."""
        ...


@runtime_checkable
class RequestBackend(Provider, Protocol):
    """Somewhere missing media can be requested (Overseerr, Radarr/Sonarr)."""

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        """File a request on the principal's behalf.

        :raises ConflictError: it was requested already.
        :raises PermissionDeniedError: the backend refused (a quota, a missing right).
        """
        ...

    async def list_requests(
        self, principal: Principal | None, cursor: str | None, limit: int
    ) -> Page[MediaRequest]:
        """Requests, newest first; only the principal's own unless ``principal`` is ``None``."""
        ...

    async def act(
        self, request_id: str, action: Literal["approve", "decline", "retry", "delete"]
    ) -> MediaRequest | None:
        """Approve, decline, retry or delete a request; ``None`` once deleted."""
        ...


@runtime_checkable
class AnalyticsSink(Provider, Protocol):
    """Receives domain events in batches (a time-series store, an export, a log)."""

    async def record(self, events: list[DomainEvent]) -> None:
        """Store ``events``; called with batches in the order they happened."""
        ...


@runtime_checkable
class Notifier(Provider, Protocol):
    """Delivers notifications (a webhook, Discord, email)."""

    async def send(self, notification: Notification) -> None:
        """Deliver one notification or raise an ``UpstreamError`` saying why it failed."""
        ...


PROVIDER_KINDS: dict[str, type] = {
    "auth_providers": AuthProvider,
    "media_sources": MediaSource,
    "request_backends": RequestBackend,
    "analytics_sinks": AnalyticsSink,
    "notifiers": Notifier,
}
"""Registry name → protocol every object in it must satisfy."""
