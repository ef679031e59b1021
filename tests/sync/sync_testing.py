"""Helpers for the library sync tests: what a source holds, what the catalogue holds."""

from __future__ import annotations

from typing import Any

from medianest.core.db.models import LibraryItem, SyncRun
from medianest.core.hub import Hub
from medianest.core.sync import RunKind, Trigger
from medianest.sdk import MediaItem


async def source_items(hub: Hub, source_id: str) -> dict[str, MediaItem]:
    """Every item of the source, walked page by page through the plugin itself."""
    source = hub.registry.get("media_sources", source_id)
    items: dict[str, MediaItem] = {}
    cursor = None
    while True:
        page = await source.list_library(cursor, 100)
        items.update((item.ref.item_id, item) for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


async def catalogue(source_id: str) -> dict[str, LibraryItem]:
    """The catalogue rows of the source, by item id."""
    return {row.item_id: row for row in await LibraryItem.filter(source=source_id)}


async def sync(hub: Hub, source_id: str, kind: RunKind = RunKind.FULL) -> SyncRun:
    """Queue a run the way the jobs do and run it to its end in this task."""
    run, created = await hub.sync.claim_slot(source_id, kind, Trigger.CLI)
    assert created, f"a run of {source_id} was already active: {run.id}"
    ended = await hub.sync.execute(run.id)
    assert ended is not None
    return ended


def counts(run: SyncRun) -> dict[str, Any]:
    """The run's outcome and counters, for one-line assertions."""
    return {
        "status": run.status,
        "inserted": run.inserted,
        "updated": run.updated,
        "deleted": run.deleted,
        "error": run.error,
    }
