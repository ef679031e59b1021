"""Request and response models of the media requests API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from medianest.core.requests import Quota, RequestView
from medianest.core.web.api_support import JSON_INTEGRAL, IsoDateTime, PageQuery
from medianest.sdk.models import PROVIDER_ID_PATTERN

KindName = Literal["movie", "show"]
StatusName = Literal[
    "pending", "approved", "declined", "processing", "available", "failed", "deleted"
]
ActionName = Literal["approve", "decline", "retry", "delete"]
MAX_REQUEST_ID = 2**63 - 1
TMDB_MAX = 2**31 - 1
SeasonNumber = Annotated[int, Field(ge=0, le=1000), JSON_INTEGRAL]
EverySeason = Annotated[Literal["all"], Field(json_schema_extra={"enum": ["all"]})]
MEDIA_PATTERN = r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.-]+)?/[^/]+$"


class RequestCreate(BaseModel):
    """The body of ``POST /api/v1/requests``: a film or a show, by TMDB id or by a hub media
    reference (exactly one of the two)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # Exactly one of tmdb_id and media; seasons only for shows.
            "oneOf": [
                {"required": ["tmdb_id"], "properties": {"tmdb_id": {"type": "integer"}}},
                {"required": ["media"], "properties": {"media": {"type": "string"}}},
            ],
            "anyOf": [
                {"properties": {"kind": {"enum": ["show"]}}},
                {"properties": {"seasons": {"type": "null"}}},
            ],
        },
    )

    kind: KindName = Field(description="movie or show")
    tmdb_id: Annotated[int, Field(ge=1, le=TMDB_MAX), JSON_INTEGRAL] | None = Field(
        default=None, description="the work's TMDB id (give this or media)"
    )
    media: str | None = Field(
        default=None,
        max_length=400,
        pattern=MEDIA_PATTERN,
        description="a media item the hub shows, as <source>/<item_id> (plex:home/123): its "
        "external ids are requested (give this or tmdb_id)",
    )
    seasons: (
        Annotated[list[SeasonNumber], Field(min_length=1, max_length=200)] | EverySeason | None
    ) = Field(
        default=None,
        description='shows only: season numbers, or "all" (the default for shows)',
    )
    backend: str | None = Field(
        default=None,
        max_length=200,
        pattern=PROVIDER_ID_PATTERN,
        description="the request backend (overseerr:home); default: the hub's",
    )


class PersonView(BaseModel):
    """Someone as a request shows them."""

    id: int
    username: str


class IdsView(BaseModel):
    """The work's ids in public databases."""

    tmdb: int | None
    imdb: str | None
    tvdb: int | None


class LocationView(BaseModel):
    """Where an available title is: the media source and the item there."""

    source: str
    item_id: str


class RequestLinks(BaseModel):
    """Where to read the request, and the title once it is in a library."""

    self: str
    media: str | None = None


class RequestOut(BaseModel):
    """One media request as the hub keeps it."""

    id: int
    backend: str = Field(description="the request backend (overseerr:home)")
    remote_id: str = Field(description="the request's id in its backend")
    kind: KindName
    title: str | None
    year: int | None
    ids: IdsView
    seasons: list[int] | Literal["all"] | None
    status: StatusName
    reason: str | None = Field(description="why it was declined or failed, when known")
    requested_by: PersonView
    decided_by: PersonView | None
    interested: list[PersonView] = Field(
        description="everyone told of its changes: the requester and whoever asked again"
    )
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    available_at: datetime | None
    location: LocationView | None
    links: RequestLinks

    @classmethod
    def of(cls, view: RequestView) -> RequestOut:
        """The API shape of ``view``."""
        return cls.model_validate(view.to_json())


class RequestCreated(RequestOut):
    """A request just filed."""

    approved_at_once: bool = Field(description="approved as filed (the person holds auto_approve)")


class RequestQueryArgs(PageQuery):
    """The query string of ``GET /api/v1/requests``."""

    everyone: bool = Field(
        default=False, description="everyone's requests (needs manage_requests); else yours"
    )
    user: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        default=None, description="one person's requests (someone else's needs manage_requests)"
    )
    status: StatusName | None = None
    kind: KindName | None = None
    since: IsoDateTime | None = Field(default=None, description="filed at or after")
    until: IsoDateTime | None = Field(default=None, description="filed before")


class RequestList(BaseModel):
    """One page of requests, newest first."""

    items: list[RequestOut]
    total: int = Field(description="requests matching the filters, on every page")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class DeclineBody(BaseModel):
    """Why the request is declined (told to the requester); the body may be left out."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class BulkAction(BaseModel):
    """The body of ``POST /api/v1/requests/bulk``: one action on several requests."""

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    ids: list[Annotated[int, Field(ge=1, le=MAX_REQUEST_ID), JSON_INTEGRAL]] = Field(
        min_length=1, max_length=100
    )
    reason: str | None = Field(default=None, max_length=1000, description="for decline")


class BulkError(BaseModel):
    """Why the action failed on one request."""

    code: str
    detail: str


class BulkOutcome(BaseModel):
    """The action's outcome on one request."""

    id: int
    ok: bool
    request: RequestOut | None = Field(description="the request after it (null once deleted)")
    error: BulkError | None


class BulkResult(BaseModel):
    """Each request's outcome, in the order asked."""

    results: list[BulkOutcome]
    succeeded: int
    failed: int


class QuotaView(BaseModel):
    """A person's request quota for one kind, and how much of it is used."""

    kind: KindName
    limit: int = Field(description="requests per period; 0: unlimited")
    days: int
    used: int = Field(description="requests filed in the current period")
    remaining: int | None = Field(description="null: unlimited")
    reset_at: datetime | None = Field(description="when the next request frees up, when used up")
    overridden: bool = Field(description="set for this person by an admin (else the default)")

    @classmethod
    def of(cls, quota: Quota) -> QuotaView:
        """The API shape of ``quota``."""
        return cls(
            kind=quota.kind,
            limit=quota.limit,
            days=quota.days,
            used=quota.used,
            remaining=quota.remaining,
            reset_at=quota.reset_at,
            overridden=quota.overridden,
        )


class QuotaList(BaseModel):
    """A person's quotas: films, then shows."""

    items: list[QuotaView]


class QuotaSetting(BaseModel):
    """One kind's quota for one person."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=0, le=10_000), JSON_INTEGRAL] = Field(
        description="requests per period; 0: unlimited"
    )
    days: Annotated[int, Field(ge=1, le=365), JSON_INTEGRAL] = Field(description="the period")


class QuotaChange(BaseModel):
    """The body of ``PUT /api/v1/users/{id}/request-quota``: a kind left out stays as it is,
    a kind set to null goes back to the settings' default."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    movie: QuotaSetting | None = None
    show: QuotaSetting | None = None
