"""Full syncs: the catalogue becomes exactly the library, rewriting only what changed."""

from __future__ import annotations

from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind
from medianest.sdk.testing import RunningHub
from medianest_plex.simulator import RunningSimulator
from tests.sync.sync_testing import catalogue, counts, source_items, sync


async def test_a_full_sync_copies_the_whole_library(sync_hub: RunningHub) -> None:
    hub = sync_hub.hub
    expected = await source_items(hub, "plex:home")

    run = await sync(hub, "plex:home")

    assert counts(run) == {
        "status": "succeeded",
        "inserted": len(expected),
        "updated": 0,
        "deleted": 0,
        "error": None,
    }
    assert run.items_seen == len(expected)
    assert run.total == len(expected)
    assert run.pages > 3
    rows = await catalogue("plex:home")
    assert rows.keys() == expected.keys()
    for item_id, item in expected.items():
        row = rows[item_id]
        assert (row.kind, row.title, row.year) == (item.kind.value, item.title, item.year)
        assert (row.imdb, row.tmdb, row.tvdb) == (item.ids.imdb, item.ids.tmdb, item.ids.tvdb)
        assert row.parent_id == (item.parent.item_id if item.parent else None)
        assert row.number == item.index
        assert row.added_at == item.added_at
    episodes = [row for row in rows.values() if row.kind == "episode"]
    assert episodes
    for episode in episodes:
        season = rows[episode.parent_id]
        assert season.kind == "season"
        assert rows[season.parent_id].kind == "show"
    assert await catalogue("plex:cabin") == {}


async def test_an_unchanged_library_writes_nothing(sync_hub: RunningHub) -> None:
    hub = sync_hub.hub
    await sync(hub, "plex:home")
    before = {k: (v.synced_at, v.content_hash) for k, v in (await catalogue("plex:home")).items()}

    again = await sync(hub, "plex:home")

    assert counts(again) == {
        "status": "succeeded",
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
        "error": None,
    }
    assert again.items_seen == len(before)
    after = {k: (v.synced_at, v.content_hash) for k, v in (await catalogue("plex:home")).items()}
    assert after == before


async def test_a_full_sync_applies_additions_edits_and_deletions(
    sync_hub: RunningHub, plex_sim: RunningSimulator
) -> None:
    hub = sync_hub.hub
    world = plex_sim.world
    await sync(hub, "plex:home")
    rows = await catalogue("plex:home")
    movies = sorted(int(k) for k, v in rows.items() if v.kind == "movie")
    shows = sorted(int(k) for k, v in rows.items() if v.kind == "show")
    world.advance_clock(60)
    world.update_item("home", movies[0], title="Renamed In Plex")
    gone = {str(i.rating_key) for i in world.remove_item("home", shows[0])}
    gone |= {str(i.rating_key) for i in world.remove_item("home", movies[1])}
    added = world.add_movie("home", title="Brand New Film", year=2026)

    run = await sync(hub, "plex:home")

    assert counts(run) == {
        "status": "succeeded",
        "inserted": 1,
        "updated": 1,
        "deleted": len(gone),
        "error": None,
    }
    rows = await catalogue("plex:home")
    assert rows.keys() == (await source_items(hub, "plex:home")).keys()
    assert rows[str(movies[0])].title == "Renamed In Plex"
    assert rows[str(added.rating_key)].title == "Brand New Film"
    assert not gone & rows.keys()
    assert len(gone) > 2  # the show took its seasons and episodes with it


async def test_two_servers_sync_independently(sync_hub: RunningHub) -> None:
    hub = sync_hub.hub
    home = await sync(hub, "plex:home")
    cabin = await sync(hub, "plex:cabin")

    assert home.status == cabin.status == "succeeded"
    home_rows, cabin_rows = await catalogue("plex:home"), await catalogue("plex:cabin")
    assert home_rows.keys() == (await source_items(hub, "plex:home")).keys()
    assert cabin_rows.keys() == (await source_items(hub, "plex:cabin")).keys()
    # A full sync of one server never deletes the other's items.
    again = await sync(hub, "plex:home")
    assert again.deleted == 0
    assert (await catalogue("plex:cabin")).keys() == cabin_rows.keys()
    assert await SyncRun.filter(source="plex:cabin").count() == 1


async def test_a_sync_that_would_empty_the_catalogue_is_refused(
    sync_hub: RunningHub, plex_sim: RunningSimulator
) -> None:
    hub = sync_hub.hub
    await sync(hub, "plex:home")
    stored = await catalogue("plex:home")
    world = plex_sim.world
    for item_id, row in stored.items():
        if row.kind in ("movie", "show") and item_id in (await source_items(hub, "plex:home")):
            world.remove_item("home", item_id)

    run = await sync(hub, "plex:home", RunKind.FULL)

    assert run.status == "failed"
    assert "would delete" in run.error and "sync.max_delete_fraction" in run.error
    assert (await catalogue("plex:home")).keys() == stored.keys()


async def _title_search(hub, words: str) -> set[str]:
    """Item ids whose title matches ``words`` through the database's own search index."""
    connection = hub.database.connection
    if hub.database.dialect == "postgres":
        rows = await connection.execute_query_dict(
            "SELECT item_id FROM core_library_item "
            "WHERE search @@ plainto_tsquery('simple', $1) AND similarity(title, $1) > 0.3",
            [words],
        )
    else:
        rows = await connection.execute_query_dict(
            "SELECT item_id FROM core_library_item WHERE id IN (SELECT rowid FROM "
            "core_library_item_fts WHERE core_library_item_fts MATCH ?)",
            [" ".join(f'"{w}"' for w in words.split())],
        )
    return {row["item_id"] for row in rows}


async def test_the_search_index_follows_inserts_renames_and_deletions(
    sync_hub: RunningHub, plex_sim: RunningSimulator
) -> None:
    hub = sync_hub.hub
    world = plex_sim.world
    await sync(hub, "plex:home")
    rows = await catalogue("plex:home")
    first, second = sorted((int(k) for k, v in rows.items() if v.kind == "movie"))[:2]
    world.advance_clock(60)
    world.update_item("home", first, title="Zanzibar Moonlight Express")
    added = world.add_movie("home", title="Quixotic Zanzibar Voyage")
    await sync(hub, "plex:home")
    assert await _title_search(hub, "Zanzibar Moonlight Express") == {str(first)}
    assert await _title_search(hub, "Quixotic Zanzibar Voyage") == {str(added.rating_key)}
    assert await _title_search(hub, rows[str(first)].title) <= {
        k for k, v in rows.items() if v.title == rows[str(first)].title and k != str(first)
    }

    world.remove_item("home", first)
    world.remove_item("home", second)
    await sync(hub, "plex:home")
    assert await _title_search(hub, "Zanzibar Moonlight Express") == set()


async def test_an_incremental_sync_after_a_full_one_reads_only_the_changes(
    sync_hub: RunningHub, plex_sim: RunningSimulator
) -> None:
    hub = sync_hub.hub
    world = plex_sim.world
    full = await sync(hub, "plex:home")
    assert full.checkpoint is not None
    rows = await catalogue("plex:home")
    movie = min(int(k) for k, v in rows.items() if v.kind == "movie")
    world.advance_clock(3600)
    world.update_item("home", movie, title="Changed After The Full Sync")

    incremental = await sync(hub, "plex:home", RunKind.INCREMENTAL)

    assert incremental.since == full.checkpoint
    assert (incremental.status, incremental.inserted, incremental.updated) == ("succeeded", 0, 1)
    assert incremental.items_seen < len(rows) / 4
    assert (await catalogue("plex:home"))[str(movie)].title == "Changed After The Full Sync"
