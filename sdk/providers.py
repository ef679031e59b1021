"""Capability protocols: what a plugin's provider objects must offer.

A plugin returns provider instances from its ``register_*`` hooks; core calls their async
methods with its own ordering, timeouts and error isolation. Every provider has an ``id``:
the plugin key, optionally followed by ``:<instance>`` (``plex:home``, ``plex:cabin``), unique
across the hub. Several instances of one plugin are simply several providers.

A media source is small by default (an ``id``, a ``name``, its ``capabilities`` and
``get_item``); each :class:`SourceCapability` it declares adds the methods of one small
protocol (:data:`CAPABILITY_PROTOCOLS`), and core checks at boot that they are there. A source
implements only what it declares: no stubs.

Methods raise :mod:`medianest.sdk.errors` exceptions; anything else is treated as a bug in
the plugin and reported as such. A provider that holds resources (HTTP clients, connection
pools) may define ``async def aclose()``: core calls it once when the hub stops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from medianest.sdk.models import (
    AuthChallenge,
    ChangesPage,
    DomainEvent,
    ExternalIds,
    HealthStatus,
    Identity,
    MediaItem,
    MediaRequest,
    MediaRequestCreate,
    Notification,
    Page,
    Principal,
    Recipient,
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
    to show when it refuses someone. The ``provider`` and ``external_id`` of the identities it
    returns become one of the person's linked identities (:attr:`Principal.identities`).
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
    """What a media source can do; each adds the methods of one protocol (see
    :data:`CAPABILITY_PROTOCOLS`). Core plans sync, search and health checks around these."""

    SEARCH = "search"
    """Can search its own items (``search``): :class:`SearchableSource`."""
    LIBRARY = "library"
    """Has a library core copies page by page (``list_library``): :class:`LibrarySource`."""
    CHANGES = "changes"
    """Can list what changed since a checkpoint (``list_changes``): :class:`ChangesSource`."""
    COUNT = "count"
    """Can count its library cheaply (``count``): :class:`CountingSource`."""
    RECENTLY_ADDED = "recently_added"
    """Can list its newest items (``recently_added``): :class:`RecentlyAddedSource`."""
    HEALTH = "health"
    """Can say whether it answers right now (``health``): :class:`HealthCheckedSource`."""
    LIVE_SEARCH = "live_search"
    """Must be searched live (YouTube, a discovery service) instead of from the catalogue
    (``search``): :class:`LiveSearchSource`."""
    IMAGES = "images"
    """Hands over an item's pictures itself (``fetch_image``), for images the browser cannot
    load from the service directly (they need the source's credentials):
    :class:`ImageSource`."""


@runtime_checkable
class MediaSource(Provider, Protocol):
    """A place media lives: a Plex server, a YouTube account, a discovery service.

    Every source can fetch one of its items by id; everything else comes with a declared
    capability. Core calls a capability's methods only when the source declares it, and
    refuses at boot a source that declares a capability without its methods.
    """

    capabilities: frozenset[SourceCapability]

    async def get_item(self, item_id: str) -> MediaItem:
        """One item by its id in this source.

        :raises NotFoundError: no such item.
        """
        ...


@runtime_checkable
class SearchableSource(MediaSource, Protocol):
    """``search``: find the source's own items."""

    async def search(self, query: SearchQuery) -> list[MediaItem]:
        """Items matching ``query``, best first, at most ``query.limit``."""
        ...


@runtime_checkable
class LiveSearchSource(SearchableSource, Protocol):
    """``live_search``: searched by every unified search, live, instead of from the catalogue.

    The same ``search`` method as :class:`SearchableSource`, with the promises listed in the
    plugin guide (answer within the timeout, return your own items, fill in external ids).
    """


@runtime_checkable
class LibrarySource(MediaSource, Protocol):
    """``library``: a library core copies into its catalogue page by page."""

    async def list_library(self, cursor: str | None, limit: int) -> Page[MediaItem]:
        """A page of the whole library, in a stable order; ``cursor=None`` starts.

        Core's library sync stores each cursor and may resume from it in another process
        later: a cursor must hold the whole position, nothing may live in memory.

        :raises InvalidInputError: ``cursor`` was not made by this source.
        """
        ...


@runtime_checkable
class ChangesSource(MediaSource, Protocol):
    """``changes``: what was added or updated since a checkpoint (incremental syncs)."""

    async def list_changes(self, since: str | None, cursor: str | None, limit: int) -> ChangesPage:
        """Items added or updated since the checkpoint ``since`` (``None``: from the start).

        Sources may return items at or slightly before ``since`` (an overlap window); core
        de-duplicates.
        """
        ...


@runtime_checkable
class CountingSource(MediaSource, Protocol):
    """``count``: how big the library is, cheaply."""

    async def count(self) -> int:
        """How many items the library holds (the items ``list_library`` walks)."""
        ...


@runtime_checkable
class RecentlyAddedSource(MediaSource, Protocol):
    """``recently_added``: the newest items."""

    async def recently_added(self, limit: int) -> list[MediaItem]:
        """The newest items, newest first, at most ``limit``."""
        ...


@runtime_checkable
class HealthCheckedSource(MediaSource, Protocol):
    """``health``: whether the source answers right now (readiness, ``plugins list``)."""

    async def health(self) -> HealthStatus:
        """How the source is doing right now.

        The one rule: **return**, never raise, for the service's trouble.
        ``HealthStatus(ok=True, ...)`` when it answers and is usable;
        ``HealthStatus(ok=False, detail=why)`` when it is unreachable, refuses the credentials
        or answers nonsense (``detail`` is shown to admins: no secrets). An exception is
        reported as a fault of the plugin. Must finish within a few seconds; core cancels it
        after ``health.check_timeout_seconds`` and reports that as not ok.
        """
        ...


IMAGE_KINDS: tuple[str, ...] = ("poster", "backdrop", "thumbnail")
"""The pictures core asks an :class:`ImageSource` for (kinds of :class:`~medianest.sdk.Image`)."""


@dataclass(frozen=True, slots=True)
class ImageData:
    """One picture as a source hands it over: its bytes and their media type.

    ``content_type`` is what the service said (``image/jpeg``); core checks it and the bytes'
    size itself before anything reaches a browser, and refuses anything but JPEG, PNG, WebP
    and GIF.
    """

    data: bytes
    content_type: str


@runtime_checkable
class ImageSource(MediaSource, Protocol):
    """``images``: hands over an item's pictures, fetched with the source's own credentials.

    The hub serves them to its pages from its own origin (``/media/<source>/<id>/image/...``)
    and caches them, so a browser never sees the service's address or token.
    """

    async def fetch_image(self, item_id: str, kind: str, width: int) -> ImageData:
        """The picture ``kind`` (one of :data:`IMAGE_KINDS`) of item ``item_id``, about
        ``width`` pixels wide (scaled by the service when it can; core asks only a few sizes).

        :raises NotFoundError: no such item, or it has no picture of that kind.
        :raises UpstreamError: the service failed or could not be reached.
        """
        ...


CAPABILITY_PROTOCOLS: dict[SourceCapability, type] = {
    SourceCapability.SEARCH: SearchableSource,
    SourceCapability.LIVE_SEARCH: LiveSearchSource,
    SourceCapability.LIBRARY: LibrarySource,
    SourceCapability.CHANGES: ChangesSource,
    SourceCapability.COUNT: CountingSource,
    SourceCapability.RECENTLY_ADDED: RecentlyAddedSource,
    SourceCapability.HEALTH: HealthCheckedSource,
    SourceCapability.IMAGES: ImageSource,
}
"""Capability → the protocol whose methods a source declaring it must have."""

CAPABILITY_METHODS: dict[SourceCapability, tuple[str, ...]] = {
    SourceCapability.SEARCH: ("search",),
    SourceCapability.LIVE_SEARCH: ("search",),
    SourceCapability.LIBRARY: ("list_library",),
    SourceCapability.CHANGES: ("list_changes",),
    SourceCapability.COUNT: ("count",),
    SourceCapability.RECENTLY_ADDED: ("recently_added",),
    SourceCapability.HEALTH: ("health",),
    SourceCapability.IMAGES: ("fetch_image",),
}
"""Capability → the async methods core calls for it (checked at boot)."""


def supports(source: MediaSource, capability: SourceCapability) -> bool:
    """True when ``source`` declares ``capability`` (core checked its methods at boot)."""
    return capability in source.capabilities


RequestAction = Literal["approve", "decline", "retry", "delete"]
"""What can be done to a request once filed."""


@runtime_checkable
class RequestBackend(Provider, Protocol):
    """Somewhere missing media can be requested (Overseerr, Radarr/Sonarr).

    Every call carries the acting :class:`Principal`: who asks, with their linked identities
    (``principal.identities["plex"]``, ``principal.email``), so the backend acts as that person
    on its side (Overseerr's ``X-Api-User``), never as its admin. Core checks the hub's own
    permissions (``request``, ``manage_requests``) before calling; a backend refuses what its
    service refuses.
    """

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        """File a request on the principal's behalf.

        :raises ConflictError: it was requested already.
        :raises PermissionDeniedError: the backend refused (a quota, a missing right).
        """
        ...

    async def get_request(self, principal: Principal, request_id: str) -> MediaRequest:
        """One request by its id in this backend.

        :raises NotFoundError: no such request (or not visible to the principal).
        """
        ...

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        """Requests, newest first: the principal's own, or everyone's when ``everyone`` (meant
        for principals holding ``manage_requests``; the caller checks that).

        :raises InvalidInputError: ``cursor`` was not made by this backend.
        """
        ...

    async def request_status(
        self, principal: Principal, ids: Sequence[ExternalIds]
    ) -> dict[ExternalIds, MediaRequest]:
        """The current request for each of ``ids`` that has one, in one call (search and
        media details use it to mark hits *requested*). Keys are the given ``ids`` objects;
        ids with no request are left out. Callers send at most 100 ids per call."""
        ...

    async def act(
        self, principal: Principal, request_id: str, action: RequestAction
    ) -> MediaRequest | None:
        """Approve, decline, retry or delete a request as ``principal``; ``None`` once deleted.

        :raises NotFoundError: no such request.
        :raises PermissionDeniedError: the backend refused the action for this person.
        """
        ...


@runtime_checkable
class AnalyticsSink(Provider, Protocol):
    """Receives domain events in batches (a time-series store, an export, a log).

    Core buffers events off the request path and hands them over in batches (at most
    ``events.batch_size``, at least every ``events.flush_seconds``), in the order they
    happened. A batch that fails (an exception or a timeout) is retried a few times with
    back-off, then dropped, counted and logged: a sink must accept a batch twice without harm.
    """

    async def record(self, events: list[DomainEvent]) -> None:
        """Store ``events``; called with batches in the order they happened."""
        ...


@runtime_checkable
class Notifier(Provider, Protocol):
    """Delivers notifications (a webhook, Discord, email).

    ``address_kind`` says which of a person's addresses it delivers to: ``"email"``, or the
    key of a linked identity (``"discord"``); ``None`` for a notifier that needs none (a
    webhook, a shared channel). Core calls :meth:`send` once per recipient: for a user, with
    their address of that kind (users without one are skipped by that notifier); for a
    role, and for every recipient of a notifier whose ``address_kind`` is ``None``, with
    ``address=None``.

    Each ``notification`` a notifier receives carries a ``delivery_id``, the same for every
    try of that delivery: pass it on (an ``Idempotency-Key`` header) so a receiver drops a
    repeat. Errors say what to do: ``UpstreamError`` (``UpstreamRateLimitedError`` with its
    ``retry_after``) or a timeout is tried again later; ``InvalidInputError`` and
    ``PermissionDeniedError`` are final (the delivery goes to the dead letters at once).

    Optional (SDK 1.1): ``async def check_address(self, address: str) -> str`` checks a
    person's address of ``address_kind`` before core stores it, and returns it normalised, or
    raises ``InvalidInputError(message, field=...)`` naming what is wrong. Core calls it when
    the notifier has it.
    """

    address_kind: str | None

    async def send(
        self, notification: Notification, recipient: Recipient, address: str | None
    ) -> None:
        """Deliver ``notification`` to ``recipient`` at ``address``, or raise an
        ``UpstreamError`` saying why it failed (core tries again later, with back-off)."""
        ...


PROVIDER_KINDS: dict[str, type] = {
    "auth_providers": AuthProvider,
    "media_sources": MediaSource,
    "request_backends": RequestBackend,
    "analytics_sinks": AnalyticsSink,
    "notifiers": Notifier,
}
"""Registry name → protocol every object in it must satisfy."""
