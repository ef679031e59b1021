"""Response and request models of the search and media API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from medianest.sdk.models import MediaItem


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
