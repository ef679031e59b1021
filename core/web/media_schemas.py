"""Response and request models of the search and media API (they shape the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
)

from medianest.core.media.reads import storable
from medianest.core.web.api_support import CURSOR_PATTERN, JSON_INTEGRAL, PageQuery
from medianest.sdk.models import MediaItem, MediaKind


class IdsView(BaseModel):
    """External ids: the keys that match one work across sources."""

    imdb: str | None = None
    tmdb: int | None = None
    tvdb: int | None = None
    youtube: str | None = None


class RefView(BaseModel):
    """An item of a source, by id."""

    source: str
    item_id: str


class ItemView(BaseModel):
    """One item of one source, with the admin's corrections applied."""

    source: str = Field(description="the source holding it (plex:home, youtube)")
    item_id: str = Field(description="its id in that source")
    kind: str
    title: str
    year: int | None = None
    summary: str | None = None
    ids: IdsView
    poster: str | None = Field(default=None, description="the poster's URL, if any")
    parent: RefView | None = Field(default=None, description="season → show, episode → season")
    index: int | None = Field(default=None, description="season or episode number")
    added_at: datetime | None = None
    updated_at: datetime | None = None
    duration_seconds: int | None = None
    url: str | None = Field(default=None, description="where to open it in its own app")

    @classmethod
    def of(cls, item: MediaItem) -> ItemView:
        """The view of ``item``."""
        poster = next((image.url for image in item.images if image.kind == "poster"), None)
        if poster is None and item.images:
            poster = item.images[0].url
        return cls(
            source=item.ref.source,
            item_id=item.ref.item_id,
            kind=item.kind.value,
            title=item.title,
            year=item.year,
            summary=item.summary,
            ids=IdsView(**item.ids.model_dump()),
            poster=poster,
            parent=RefView(source=item.parent.source, item_id=item.parent.item_id)
            if item.parent is not None
            else None,
            index=item.index,
            added_at=item.added_at,
            updated_at=item.updated_at,
            duration_seconds=item.duration_seconds,
            url=item.ref.url,
        )


# -- request marks -------------------------------------------------------------------------


MarkStatus = Literal["pending", "approved", "declined", "processing", "available", "failed"]


class RequesterView(BaseModel):
    """Who asked for a title."""

    id: int
    username: str


class RequestMarkView(BaseModel):
    """The request for a work, when someone asked for it (``GET /api/v1/requests/{id}`` has
    the whole request)."""

    id: int = Field(description="the request's id on the hub")
    status: MarkStatus = Field(description="where the request stands")
    requested_by: RequesterView | None = Field(
        default=None,
        description="who asked: shown to that person and to those who manage requests only",
    )


# -- details -------------------------------------------------------------------------------


class OverrideIdsView(BaseModel):
    """External ids an admin set; null: the source's value stands."""

    imdb: str | None = None
    tmdb: int | None = None
    tvdb: int | None = None


class OverrideView(BaseModel):
    """An admin's corrections of an item; each field left null keeps the source's value."""

    title: str | None = None
    year: int | None = None
    summary: str | None = None
    ids: OverrideIdsView
    poster_url: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = Field(default=None, description="who made the last change")

    @classmethod
    def of(cls, override: Mapping[str, Any]) -> OverrideView:
        """The view of an override's columns (as :mod:`medianest.core.media.reads` gives)."""
        return cls(
            title=override.get("title"),
            year=override.get("year"),
            summary=override.get("summary"),
            ids=OverrideIdsView(
                imdb=override.get("imdb"), tmdb=override.get("tmdb"), tvdb=override.get("tvdb")
            ),
            poster_url=override.get("poster_url"),
            updated_at=override.get("updated_at"),
            updated_by=override.get("updated_by"),
        )


class MediaDetails(BaseModel):
    """One item with its family, its copies in other sources and the admin's corrections."""

    item: ItemView
    children: list[ItemView] = Field(
        description="a show's seasons, a season's episodes: by number, then title"
    )
    children_total: int = Field(description="how many children there are (the list stops at 1000)")
    parent: ItemView | None = Field(description="the season of an episode, the show of a season")
    copies: list[ItemView] = Field(
        description="the same work in other sources (sharing an external id), by source"
    )
    available: bool = Field(
        description="whether the item or a copy of it is in the library of one of the sources"
    )
    overrides: OverrideView | None = Field(description="the admin's corrections, if any")
    request: RequestMarkView | None = Field(
        default=None,
        description="the request for this work (a film or show), null when nobody asked for it",
    )


# -- lists ---------------------------------------------------------------------------------


def _text(value: str) -> str:
    if not storable(value):
        raise ValueError("must be UTF-8 text without NUL characters")
    return value


def _listed(value: Any) -> Any:
    """A repeatable query parameter as a list: repeated, comma separated, or both."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        return value  # left to the type check
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def _unique(value: list[str] | None) -> list[str] | None:
    """Repeats dropped, once the list's length is checked (the document counts every value)."""
    return None if value is None else list(dict.fromkeys(value))


_KIND_NAMES = [kind.value for kind in MediaKind]


def _known_kinds(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [kind for kind in value if kind not in _KIND_NAMES]
    if unknown:
        raise ValueError(
            f"unknown kind {', '.join(repr(k[:40]) for k in unknown[:5])} "
            f"(known: {', '.join(_KIND_NAMES)})"
        )
    return value


Sources = Annotated[
    Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]],
        Field(min_length=1, max_length=50),
    ]
    | None,
    BeforeValidator(_listed),
    AfterValidator(_unique),
    Field(default=None, description="only these sources (repeat or separate with commas)"),
]
Kinds = Annotated[
    Annotated[
        list[Annotated[str, Field(json_schema_extra={"enum": _KIND_NAMES})]],
        Field(min_length=1, max_length=len(_KIND_NAMES)),
    ]
    | None,
    BeforeValidator(_listed),
    AfterValidator(_unique),
    AfterValidator(_known_kinds),
    Field(
        default=None,
        description=f"only these kinds (repeat or separate with commas): {', '.join(_KIND_NAMES)}",
    ),
]


class RecentQuery(PageQuery):
    source: Sources
    kind: Kinds


class RecentList(BaseModel):
    items: list[ItemView] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


LibrarySort = Literal["title", "-title", "added", "-added", "year", "-year"]


class LibraryQuery(PageQuery):
    cursor: str | None = Field(
        default=None,
        max_length=600,
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page, with the same sort; omit for the first",
    )
    source: Sources
    kind: Kinds
    year: int | None = Field(
        default=None,
        ge=1870,
        le=2200,
        description="released this year (not with year_from or year_to)",
    )
    year_from: int | None = Field(
        default=None, ge=1870, le=2200, description="released from (up to year_to)"
    )
    year_to: int | None = Field(default=None, ge=1870, le=2200, description="released until")
    parent: Annotated[str, AfterValidator(_text)] | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="only the children of this item (its item_id; give exactly one source)",
    )
    sort: LibrarySort = Field(
        default="title",
        description="title, added (time added) or year; a leading - reverses. Items without a "
        "year or a time added come first in ascending order, last in descending",
    )


class LibraryList(BaseModel):
    items: list[ItemView]
    total: int = Field(description="items matching the filters, on every page")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


# -- changes -------------------------------------------------------------------------------


def _title(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return _text(value)


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http or https URL")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain spaces or control characters")
    return _text(value)


Year = Annotated[int, Field(ge=1870, le=2200), JSON_INTEGRAL]
ExternalId = Annotated[int, Field(gt=0, lt=2**31), JSON_INTEGRAL]
Title = Annotated[StrictStr, Field(min_length=1, max_length=500), AfterValidator(_title)]
Summary = Annotated[StrictStr, Field(max_length=10_000), AfterValidator(_text)]
WebUrl = Annotated[
    StrictStr,
    Field(
        max_length=2000,
        # No control character or space anywhere, the host included (\x85 is a space to
        # Python, not to the document's regular expressions).
        json_schema_extra={
            "pattern": r"^https?://[^\s/?#\x00-\x1f\x7f\x85]+[^\s\x00-\x1f\x7f\x85]*$"
        },
    ),
    AfterValidator(_web_url),
]


class IdsChange(BaseModel):
    """External ids to set; null removes the correction (the source's id stands again)."""

    model_config = ConfigDict(extra="forbid")

    imdb: str | None = Field(
        default=None, pattern=r"^tt\d{1,14}$", description="tt followed by digits"
    )
    tmdb: ExternalId | None = None
    tvdb: ExternalId | None = None


class MediaChange(BaseModel):
    """Corrections of an item. A field left out stays as it is; null removes the correction
    (the source's value shows again). Corrections survive syncs."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    title: Title | None = None
    year: Year | None = None
    summary: Summary | None = None
    ids: IdsChange | None = Field(default=None, description="null removes every id correction")
    poster_url: WebUrl | None = Field(default=None, description="an http or https URL")

    def columns(self) -> dict[str, Any]:
        """The override columns this change sets (a value) or clears (``None``)."""
        values: dict[str, Any] = {}
        for name in ("title", "year", "summary", "poster_url"):
            if name in self.model_fields_set:
                values[name] = getattr(self, name)
        if "ids" in self.model_fields_set:
            for name in ("imdb", "tmdb", "tvdb"):
                if self.ids is None:
                    values[name] = None
                elif name in self.ids.model_fields_set:
                    values[name] = getattr(self.ids, name)
        return values
