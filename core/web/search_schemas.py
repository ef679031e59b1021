"""Query and response models of ``GET /api/v1/search`` (they shape the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medianest.core.search.query import MAX_TEXT_LENGTH
from medianest.core.web.api_support import CURSOR_PATTERN
from medianest.core.web.media_schemas import ItemView, RequestMarkView
from medianest.sdk.models import MediaKind

MAX_SEARCH_LIMIT = 50
_KIND = "|".join(kind.value for kind in MediaKind)
_KINDS_PATTERN = f"^({_KIND}) *(, *({_KIND}) *)*$"


class SearchArgs(BaseModel):
    """The query string of a search."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="what to look for: words matched as prefixes of title words, in any order",
    )
    kind: Annotated[str, Field(json_schema_extra={"pattern": _KINDS_PATTERN})] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="comma-separated kinds (movie,show,episode,...); default: every kind "
        "but season, episode and track",
    )
    year: int | None = Field(default=None, ge=1870, le=2200, description="only this year")
    sources: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="comma-separated source ids to ask (plex:home,youtube); default: all",
    )
    limit: int = Field(default=20, ge=1, le=MAX_SEARCH_LIMIT, description="hits per page")
    cursor: str | None = Field(
        default=None,
        max_length=200,
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page (of the same search)",
    )

    @field_validator("q")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("the search text is empty")
        return stripped


class CopyView(BaseModel):
    """One copy of a hit: the same work in one source."""

    source: str
    item_id: str
    kind: str
    title: str
    year: int | None = None
    url: str | None = None
    library: bool = Field(description="true: a library holds it (it can be played there)")


class SearchHitView(ItemView):
    """One work found: its best copy's details, how it matched, where it is."""

    match: Literal["exact", "prefix", "words", "source"] = Field(
        description="exact title, title starts with the text, every word starts a title "
        "word, or found by a live source's own rules"
    )
    available: bool = Field(description="some library holds it")
    availability: Literal["available", "requestable", "unavailable"] = Field(
        description="available in a library; else requestable when a request backend can "
        "take it (a film or show with a TMDB id); else unavailable"
    )
    request: RequestMarkView | None = Field(
        default=None,
        description="the request for this work, null when nobody asked for it (read from "
        "the hub's own records, never asked of the request backend)",
    )
    copies: list[CopyView] = Field(description="every copy, the one shown first")


class SourceStatusView(BaseModel):
    """How one source took part in the search."""

    source: str
    via: Literal["catalogue", "live"] = Field(
        description="catalogue: answered from the synced library; live: asked now"
    )
    status: Literal["ok", "timeout", "error", "skipped"]
    results: int = Field(description="items it contributed")
    detail: str | None = Field(default=None, description="why it failed or was skipped")
    latency_ms: float | None = None
    cached: bool = Field(default=False, description="its answer came from the cache")


class SearchResponse(BaseModel):
    """One page of a unified search."""

    cached: bool = Field(description="the whole answer was reused from a moment ago")
    query: str
    items: list[SearchHitView]
    next_cursor: str | None
    sources: list[SourceStatusView]
    latency_ms: float = Field(description="how long the search took in the hub")
