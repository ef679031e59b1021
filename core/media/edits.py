"""Setting and clearing an item's admin override, with its catalogue row, in one transaction.

The catalogue row is locked first (PostgreSQL: ``FOR UPDATE``; SQLite runs one transaction at
a time), so a sync merging the same row waits for the edit or the edit waits for the sync:
either way the row ends with the source's latest values under the override. The row's
``title``, ``year`` and external id columns become the override's value where it sets one and
the source's (from the stored item) elsewhere; syncs keep them so (see
:mod:`medianest.core.sync.store`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from medianest.core.db import Database
from medianest.core.db.models import LibraryItem, MediaOverride
from medianest.core.db.overrides import OVERRIDE_FIELDS, ROW_FIELDS
from medianest.core.db.records import item_of
from medianest.core.media.reads import storable
from medianest.sdk.errors import NotFoundError
from medianest.sdk.models import MediaItem

Changes = dict[str, tuple[Any, Any]]
"""Per override column that changed: its value before and after (``None``: not overridden)."""


async def set_override(
    database: Database,
    source: str,
    item_id: str,
    values: Mapping[str, Any],
    *,
    actor: str | None,
    now: datetime,
) -> Changes:
    """Set each override column in ``values`` (``None`` clears it); the others stay.

    The override row goes once no column is left set. Nothing is written when nothing
    changes.

    :param values: columns of :data:`OVERRIDE_FIELDS`, checked by the caller.
    :returns: what changed, per column, before and after.
    :raises NotFoundError: the catalogue has no such item.
    """
    unknown = set(values) - set(OVERRIDE_FIELDS)
    if unknown:
        raise ValueError(f"not override columns: {sorted(unknown)}")
    if not storable(item_id):
        raise NotFoundError(f"{source} has no item {item_id[:100]!r} in the catalogue")
    async with in_transaction(database.dialect) as tx:
        row = (
            await LibraryItem.filter(source=source, item_id=item_id)
            .select_for_update()
            .using_db(tx)
            .first()
        )
        if row is None:
            raise NotFoundError(f"{source} has no item {item_id[:100]!r} in the catalogue")
        current = await MediaOverride.filter(source=source, item_id=item_id).using_db(tx).first()
        before = {f: getattr(current, f) if current else None for f in OVERRIDE_FIELDS}
        after = before | dict(values)
        changes = {f: (before[f], after[f]) for f in OVERRIDE_FIELDS if before[f] != after[f]}
        if not changes:
            return {}
        if all(after[f] is None for f in OVERRIDE_FIELDS):
            if current is not None:
                await current.delete(using_db=tx)
        elif current is None:
            await MediaOverride.create(
                using_db=tx,
                source=source,
                item_id=item_id,
                updated_at=now,
                updated_by=actor,
                **after,
            )
        else:
            for column, value in after.items():
                setattr(current, column, value)
            current.updated_at = now
            current.updated_by = actor
            await current.save(using_db=tx)
        columns = row_columns(item_of(row.data), after)
        stale = {c: v for c, v in columns.items() if getattr(row, c) != v}
        if stale:
            await LibraryItem.filter(id=row.id).using_db(tx).update(**stale)
    return changes


def row_columns(upstream: MediaItem, override: Mapping[str, Any]) -> dict[str, Any]:
    """The catalogue columns of :data:`ROW_FIELDS` for ``upstream`` under ``override``."""
    source_values = {
        "title": upstream.title,
        "year": upstream.year,
        "imdb": upstream.ids.imdb,
        "tmdb": upstream.ids.tmdb,
        "tvdb": upstream.ids.tvdb,
    }
    return {
        column: override[column] if override.get(column) is not None else source_values[column]
        for column in ROW_FIELDS
    }
