"""The data MediaNest and its plugins exchange.

All models are pydantic v2, immutable where they describe upstream data, and serialise to the
JSON the HTTP API returns. Times are timezone-aware UTC.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from medianest.sdk.errors import InvalidInputError

T = TypeVar("T")

PROVIDER_ID_PATTERN = r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.-]+)?$"
"""A provider id is ``<plugin key>`` or ``<plugin key>:<instance>`` (``plex:home``)."""
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
"""Event types are dotted, ``<area>.<what>`` (``request.available``)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MediaKind(StrEnum):
    """What an item is. Sources map their own types onto these."""

    MOVIE = "movie"
    SHOW = "show"
    SEASON = "season"
    EPISODE = "episode"
    ARTIST = "artist"
    ALBUM = "album"
    TRACK = "track"
    VIDEO = "video"
    CHANNEL = "channel"
    PLAYLIST = "playlist"
    COLLECTION = "collection"


class ExternalIds(_Frozen):
    """Ids of the same work in public databases; the key to matching across sources."""

    imdb: str | None = Field(default=None, pattern=r"^tt\d+$", description="IMDb id, tt…")
    tmdb: int | None = Field(default=None, gt=0, description="TMDB id")
    tvdb: int | None = Field(default=None, gt=0, description="TheTVDB id")
    youtube: str | None = Field(default=None, min_length=1, description="YouTube video/channel id")

    def is_empty(self) -> bool:
        """True when the item carries no external id at all."""
        return not (self.imdb or self.tmdb or self.tvdb or self.youtube)


class Image(_Frozen):
    """A picture of an item: poster, backdrop, thumbnail or avatar."""

    kind: Literal["poster", "backdrop", "thumbnail", "avatar", "banner"] = "poster"
    url: str
    width: int | None = None
    height: int | None = None


class SourceRef(_Frozen):
    """Where an item lives: the provider instance and its id there."""

    source: str = Field(pattern=PROVIDER_ID_PATTERN, description="provider id, e.g. plex:home")
    item_id: str = Field(
        min_length=1, description="the item's id in that source (a Plex ratingKey)"
    )
    url: str | None = Field(default=None, description="a link to open the item in its own app")


class MediaItem(_Frozen):
    """One item of one source: a film, a show, a season, an episode, a video..."""

    kind: MediaKind
    title: str = Field(min_length=1)
    ref: SourceRef
    year: int | None = Field(default=None, ge=1870, le=2200)
    summary: str | None = None
    ids: ExternalIds = ExternalIds()
    images: tuple[Image, ...] = ()
    parent: SourceRef | None = Field(default=None, description="season → show, episode → season")
    index: int | None = Field(default=None, description="season or episode number")
    added_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] = Field(default_factory=dict, description="source-specific details")


class SearchQuery(_Frozen):
    """What a person searched for."""

    text: str = Field(min_length=1, max_length=200)
    kinds: frozenset[MediaKind] = frozenset()
    year: int | None = Field(default=None, ge=1870, le=2200)
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("text")
    @classmethod
    def _strip(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("search text is empty")
        return stripped


class Page(BaseModel, Generic[T]):
    """One page of a longer list.

    ``next_cursor`` is opaque to the caller and ``None`` on the last page; ``total`` is the
    size of the whole list when the source knows it cheaply. A library walk of a source that
    can list changes may set ``checkpoint`` (on any page, usually the last): the changes
    checkpoint of the library as the walk began, so the next incremental sync reads only
    what changed after it.
    """

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None
    total: int | None = Field(default=None, ge=0)
    checkpoint: str | None = None


class ChangesPage(_Frozen):
    """Items added or updated since a checkpoint.

    ``next_cursor`` pages within this batch of changes; ``checkpoint`` is what to pass as
    ``since`` next time, once every page has been read.
    """

    items: list[MediaItem]
    next_cursor: str | None = None
    checkpoint: str


def encode_cursor(state: dict[str, Any]) -> str:
    """Pack a small JSON-able dict into an opaque, URL-safe cursor string."""
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, field: str = "cursor") -> dict[str, Any]:
    """Unpack a cursor made by :func:`encode_cursor`.

    :raises InvalidInputError: naming ``field`` when the cursor was not made by us.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
        # Text only: a lone surrogate escape would fail wherever the value is encoded.
        json.dumps(state, ensure_ascii=False).encode("utf-8")
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidInputError("the cursor is not valid", field=field) from exc
    if not isinstance(state, dict):
        raise InvalidInputError("the cursor is not valid", field=field)
    return state


class HealthStatus(_Frozen):
    """How a provider or component is doing right now."""

    ok: bool
    detail: str = ""
    latency_ms: float | None = None


class Identity(_Frozen):
    """Who an auth provider says signed in.

    ``credentials`` holds what the provider needs later on the person's behalf (a Plex
    token); core stores it encrypted and never logs it.
    """

    provider: str = Field(pattern=PROVIDER_ID_PATTERN)
    external_id: str = Field(min_length=1)
    username: str = Field(min_length=1)
    email: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None
    is_admin: bool = Field(default=False, description="the provider vouches this is an owner")
    credentials: dict[str, str] = Field(default_factory=dict, repr=False)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Principal(_Frozen):
    """A signed-in person (or API key) as core knows them, handed to providers.

    ``identities`` are the person's linked identities, provider key → their account id
    there (``{"plex": "1234567"}``), from every sign-in method they used; ``email`` is the
    address core has for them. Core fills both in the principal of every request
    (``current_principal()``), so a request backend acts as that person on its side.
    """

    user_id: int
    username: str
    role: Literal["admin", "user"] = "user"
    permissions: frozenset[str] = frozenset()
    email: str | None = None
    identities: dict[str, str] = Field(
        default_factory=dict, description="provider key → the person's account id there"
    )
    provider: str | None = None
    external_id: str | None = None
    credentials: dict[str, str] = Field(default_factory=dict, repr=False)

    def has(self, permission: str) -> bool:
        """True when the principal holds ``permission`` (admins hold all)."""
        return self.role == "admin" or permission in self.permissions

    def identity(self, provider: str) -> str | None:
        """The person's account id on ``provider`` (a plugin key), or ``None``."""
        return self.identities.get(provider)


class AuthChallenge(_Frozen):
    """The first step of an interactive sign-in.

    The browser opens ``url``; the hub then calls ``poll(handle)`` until it completes or
    ``expires_at`` passes. ``handle`` is opaque and must not be guessable.
    """

    url: str
    handle: str = Field(min_length=8)
    expires_at: AwareDatetime
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    code: str | None = Field(default=None, description="a short code to show the person, if any")


class RequestStatus(StrEnum):
    """Where a media request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    PROCESSING = "processing"
    AVAILABLE = "available"
    FAILED = "failed"


class MediaRequestCreate(_Frozen):
    """What a person asks for. ``seasons`` lists the seasons of a show; empty asks for every
    season (and is what films send)."""

    kind: Literal[MediaKind.MOVIE, MediaKind.SHOW]
    ids: ExternalIds
    title: str | None = None
    seasons: tuple[int, ...] = ()


class MediaRequest(_Frozen):
    """A request as its backend knows it."""

    backend: str = Field(pattern=PROVIDER_ID_PATTERN)
    request_id: str
    kind: MediaKind
    ids: ExternalIds
    title: str | None = None
    status: RequestStatus
    requested_by: str | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    year: int | None = Field(default=None, ge=1870, le=2200, description="release year (1.1)")
    seasons: tuple[int, ...] = Field(
        default=(), description="the seasons asked for (shows; empty: every season) (1.1)"
    )
    reason: str | None = Field(
        default=None, description="why it was declined or failed, when the backend says (1.1)"
    )


class DomainEvent(_Frozen):
    """Something that happened, fanned out to analytics sinks and notifiers.

    ``type`` is dotted, ``<area>.<what>`` (``media.play``, ``search.performed``,
    ``request.available``); ``source`` is the provider id or ``core``.
    """

    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    source: str
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    user_id: int | None = None
    item: SourceRef | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class RequestRef(_Frozen):
    """A request in one request backend."""

    backend: str = Field(pattern=PROVIDER_ID_PATTERN, description="request backend id")
    request_id: str = Field(min_length=1)


class Recipient(_Frozen):
    """Who a notification is for: one user (with their addresses) or everyone of a role.

    Build them with :meth:`user` and :meth:`role`; core resolves a user's ``username`` and
    ``addresses`` (address kind → address: ``"email"`` → their email, a linked identity's
    provider key → their account id there) before notifiers see them.
    """

    user_id: int | None = Field(default=None, ge=1)
    username: str | None = None
    role: Literal["admin", "user"] | None = None
    addresses: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> Recipient:
        if (self.user_id is None) == (self.role is None):
            raise ValueError("a recipient is either a user (user_id) or a role, not both")
        return self

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        """The user ``user_id`` (core fills in their addresses)."""
        return cls(user_id=user_id)

    @classmethod
    def for_role(cls, role: Literal["admin", "user"]) -> Recipient:
        """Everyone holding ``role``, reached through each notifier's shared channel."""
        return cls(role=role)


class Notification(_Frozen):
    """A message for people, delivered by notifiers: who it is for and what it is about.

    ``event_type`` names what happened (an :mod:`medianest.sdk.events` type such as
    ``request.available``, or a plugin's own ``<key>.<what>``); ``media`` and ``request``
    point at the item and the request it concerns, so a notifier can link to them.
    """

    event_type: str = Field(pattern=EVENT_TYPE_PATTERN)
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=5000)
    link: str | None = Field(default=None, description="where to read more (a hub page)")
    image: str | None = Field(default=None, description="a picture URL (a poster)")
    media: SourceRef | None = None
    request: RequestRef | None = None
    recipients: tuple[Recipient, ...] = Field(min_length=1)
    delivery_id: str | None = Field(
        default=None,
        max_length=255,
        description="set by core on each delivery: stable across retries of that delivery, "
        "so a receiver can drop a repeat (a webhook's Idempotency-Key)",
    )
