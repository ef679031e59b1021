"""Each order of the lists is read through its index (migration 0005), first page and deep:
the statements order by the very expressions the indexes hold, so no list sorts the catalogue.
(SQLite sorts lists of up to ``SORT_IN_MEMORY`` items instead: here that is set to none.)
"""

from __future__ import annotations

from typing import Any

import pytest

from medianest.core.media import reads
from medianest.core.media.reads import MediaReads
from medianest.sdk.testing import RunningHub
from tests.media.conftest import LIBRARY, MEDIA

INDEXES = {
    "title": "core_library_item_title_order",
    "year": "core_library_item_year_order",
    "added": "core_library_item_added",
}
RANKED = ("core_library_item_rank", "core_library_item_rank_works")
"""Search's ranked indexes lead with the year too: PostgreSQL may read works by year through
them, sorting only the items of each year by id (an incremental sort), never the catalogue."""


async def plan_of(running: RunningHub, statement: str, args: list[Any]) -> str:
    """The database's plan of ``statement``; PostgreSQL is told to avoid sorts and full scans
    wherever it can (a table this small would rather sort it all)."""
    database = running.hub.database
    if database.dialect == "postgres":
        async with database.connection.acquire_connection() as connection:
            async with connection.transaction():
                await connection.execute("SET LOCAL enable_sort = off")
                await connection.execute("SET LOCAL enable_seqscan = off")
                found = await connection.fetch(f"EXPLAIN {statement}", *args)
        return "\n".join(row[0] for row in found)
    found = await database.connection.execute_query_dict(f"EXPLAIN QUERY PLAN {statement}", args)
    return "\n".join(row["detail"] for row in found)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[Any]]]:
    """The statements the media API's reads run, with their arguments, as they run."""
    seen: list[tuple[str, list[Any]]] = []
    original = MediaReads._fetch

    async def spy(self: MediaReads, q: Any, statement: str) -> Any:
        seen.append((statement, list(q.args)))
        return await original(self, q, statement)

    monkeypatch.setattr(MediaReads, "_fetch", spy)
    monkeypatch.setattr(reads, "SORT_IN_MEMORY", 0)
    return seen


@pytest.mark.parametrize(
    ("url", "params", "index"),
    [
        *[(LIBRARY, {"sort": sort}, INDEXES[sort.removeprefix("-")]) for sort in INDEXES],
        *[(LIBRARY, {"sort": f"-{sort}"}, INDEXES[sort]) for sort in INDEXES],
        (f"{MEDIA}/recent", {}, INDEXES["added"]),
    ],
)
async def test_every_order_reads_its_index(
    synced: RunningHub,
    reader: dict,
    statements: list[tuple[str, list[Any]]],
    url: str,
    params: dict,
    index: str,
) -> None:
    first = await synced.client.get(url, headers=reader, query_string=params | {"limit": 5})
    cursor = (await first.get_json())["next_cursor"]
    await synced.client.get(url, headers=reader, query_string=params | {"cursor": cursor})

    pages = [(s, a) for s, a in statements if "sort_key" in s]
    assert len(pages) == 2
    for statement, args in pages:
        plan = await plan_of(synced, statement, args)
        ranked = index == INDEXES["year"] and any(name in plan for name in RANKED)
        assert index in plan or ranked, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
        nodes = [line.strip().removeprefix("->").strip() for line in plan.splitlines()]
        sorts = ("Sort  (",) if ranked else ("Sort  (", "Incremental Sort  (")
        assert not [node for node in nodes if node.startswith(sorts)], plan
