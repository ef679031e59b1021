"""Media items as catalogue rows: the columns, the stored JSON and the content digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medianest.sdk.models import MediaItem

COLUMNS = (
    "source",
    "item_id",
    "kind",
    "title",
    "year",
    "parent_id",
    "number",
    "imdb",
    "tmdb",
    "tvdb",
    "youtube",
    "added_at",
    "updated_at",
    "synced_at",
    "content_hash",
    "data",
)
"""The columns of ``core_library_item`` a sync writes, in the order of :attr:`Record.values`."""

DATETIME_COLUMNS = frozenset({"added_at", "updated_at", "synced_at"})


@dataclass(frozen=True, slots=True)
class Record:
    """One catalogue row: ``item_id`` and ``content_hash`` apart for the merge logic."""

    item_id: str
    content_hash: str
    values: tuple[Any, ...]


def record_of(item: MediaItem, synced_at: datetime) -> Record:
    """The row of ``item``; its digest covers everything the source said about it."""
    data = item.model_dump_json(exclude_defaults=True)
    digest = hashlib.blake2b(data.encode(), digest_size=16).hexdigest()
    ids = item.ids
    ref = item.ref
    return Record(
        item_id=ref.item_id,
        content_hash=digest,
        values=(
            ref.source,
            ref.item_id,
            item.kind.value,
            item.title,
            item.year,
            item.parent.item_id if item.parent is not None else None,
            item.index,
            ids.imdb,
            ids.tmdb,
            ids.tvdb,
            ids.youtube,
            item.added_at,
            item.updated_at,
            synced_at,
            digest,
            data,
        ),
    )


def item_of(data: str | bytes | dict[str, Any]) -> MediaItem:
    """The item a row's ``data`` column holds."""
    if isinstance(data, dict):
        return MediaItem.model_validate(data)
    return MediaItem.model_validate_json(data)
