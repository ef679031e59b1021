"""Runs: one at a time per source, resumed after a crash, failing cleanly with a reason."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind, Trigger
from medianest.core.sync.engine import PROGRESS_CHANNEL
from medianest.sdk import ConflictError, InvalidInputError, NotFoundError, Page
from medianest.sdk.testing import HubHarness, RunningHub
from tests.sync.fake_source import FakeLibrary, FakePlugin, movie, stop_at
from tests.sync.sync_testing import catalogue, counts, sync


async def test_a_run_killed_between_pages_resumes_without_loss_or_duplicates(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    run, _ = await hub.sync.claim_slot("fake", RunKind.FULL, Trigger.CLI)
    reached = asyncio.Event()
    fake_library.on_page = stop_at(7, reached)
    worker = asyncio.create_task(hub.sync.execute(run.id))
    await asyncio.wait_for(reached.wait(), 10)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker

    halfway = await SyncRun.get(id=run.id)
    assert halfway.status == "running"
    assert halfway.owner is None  # released: the next worker need not wait for the lease
    assert halfway.items_seen in (150, 300)  # whole batches (3 pages of 50), nothing partial
    assert len(await catalogue("fake")) == halfway.items_seen
    assert halfway.cursor is not None

    fake_library.on_page = None
    fake_library.cursors.clear()
    ended = await hub.sync.execute(run.id)

    assert ended is not None
    assert counts(ended) == {
        "status": "succeeded",
        "inserted": 500,
        "updated": 0,
        "deleted": 0,
        "error": None,
    }
    assert ended.items_seen == 500
    assert ended.attempts == 2
    assert fake_library.cursors[0] == halfway.cursor  # resumed, not restarted
    assert (await catalogue("fake")).keys() == {str(n) for n in range(1, 501)}


async def test_a_run_whose_worker_vanished_is_taken_over_once_its_lease_lapses(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    run, _ = await hub.sync.claim_slot("fake", RunKind.FULL, Trigger.CLI)
    # A worker that claimed the run and died without a word: its lease still looks fresh.
    now = datetime.now(UTC)
    await SyncRun.filter(id=run.id).update(status="running", owner="dead-worker", heartbeat_at=now)

    assert await hub.sync.execute(run.id) is None

    await SyncRun.filter(id=run.id).update(heartbeat_at=now - timedelta(seconds=30))
    ended = await hub.sync.execute(run.id)
    assert ended is not None and ended.status == "succeeded"
    assert len(await catalogue("fake")) == 500


async def test_a_worker_that_lost_its_lease_stops_writing(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    run, _ = await hub.sync.claim_slot("fake", RunKind.FULL, Trigger.CLI)
    reached = asyncio.Event()
    fake_library.on_page = stop_at(3, reached)
    worker = asyncio.create_task(hub.sync.execute(run.id))
    await asyncio.wait_for(reached.wait(), 10)
    await SyncRun.filter(id=run.id).update(owner="another-worker")

    assert await asyncio.wait_for(worker, 10) is None  # noticed at its next heartbeat
    taken = await SyncRun.get(id=run.id)
    assert (taken.status, taken.owner) == ("running", "another-worker")


async def test_one_run_per_source_and_later_requests_join_it(fake_hub: RunningHub) -> None:
    hub = fake_hub.hub
    results = await asyncio.gather(
        *(hub.sync.claim_slot("fake", RunKind.FULL, Trigger.API) for _ in range(8))
    )
    assert sum(created for _, created in results) == 1
    assert len({run.id for run, _ in results}) == 1
    run = results[0][0]

    joined, created = await hub.sync.claim_slot("fake", RunKind.INCREMENTAL, Trigger.WEBHOOK)
    assert (joined.id, created) == (run.id, False)  # a full run does what an incremental would

    first, second = await asyncio.gather(hub.sync.execute(run.id), hub.sync.execute(run.id))
    assert [r is None for r in (first, second)].count(True) == 1
    assert await SyncRun.all().count() == 1


async def test_a_full_sync_is_refused_while_an_incremental_one_runs(fake_hub: RunningHub) -> None:
    hub = fake_hub.hub
    running, _ = await hub.sync.claim_slot("fake", RunKind.INCREMENTAL, Trigger.SCHEDULE)
    expected = rf"incremental sync of fake is queued \(run {running.id}\)"
    with pytest.raises(ConflictError, match=expected):
        await hub.sync.claim_slot("fake", RunKind.FULL, Trigger.API)


async def test_unknown_sources_and_impossible_kinds_are_refused(
    medianest_hub: HubHarness, mode: dict
) -> None:
    library = FakeLibrary("fake", 3, changes=False)
    async with medianest_hub.run({"fake": FakePlugin(library)}, **mode) as running:
        hub = running.hub
        with pytest.raises(NotFoundError, match="fake"):
            await hub.sync.request("plex:nowhere", RunKind.FULL, Trigger.API)
        with pytest.raises(InvalidInputError, match="cannot list its changes"):
            await hub.sync.request("fake", RunKind.INCREMENTAL, Trigger.API)


async def test_an_incremental_sync_reads_only_what_changed_since_the_last_one(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    await sync(hub, "fake")
    first = await sync(hub, "fake", RunKind.INCREMENTAL)  # no checkpoint yet: reads all
    assert counts(first)["status"] == "succeeded"
    assert (first.inserted, first.updated, first.items_seen) == (0, 0, 500)
    assert first.checkpoint is not None

    later = datetime(2030, 1, 1, tzinfo=UTC)
    renamed = movie("fake", 7, title="Film Seven, Remastered").model_copy(
        update={"updated_at": later}
    )
    fake_library.items[6] = renamed
    fake_library.items.append(movie("fake", 501).model_copy(update={"updated_at": later}))
    fake_library.cursors.clear()

    second = await sync(hub, "fake", RunKind.INCREMENTAL)

    assert counts(second) == {
        "status": "succeeded",
        "inserted": 1,
        "updated": 1,
        "deleted": 0,
        "error": None,
    }
    assert second.items_seen == 3  # and film 500 again: changes start at the checkpoint
    assert second.since == first.checkpoint
    rows = await catalogue("fake")
    assert rows["7"].title == "Film Seven, Remastered"
    assert "501" in rows


async def test_a_full_sync_keeps_the_checkpoint_its_walk_gave(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    fake_library.walk_checkpoints = True
    full = await sync(hub, "fake")
    assert full.checkpoint == fake_library.items[-1].updated_at.isoformat()

    incremental = await sync(hub, "fake", RunKind.INCREMENTAL)

    assert incremental.since == full.checkpoint
    assert (incremental.status, incremental.items_seen) == ("succeeded", 1)


async def test_a_plugin_that_breaks_the_protocol_fails_the_run_with_the_reason(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    hub = fake_hub.hub
    stranger = movie("elsewhere", 1)
    fake_library.result = lambda page: Page(items=[*page.items, stranger], next_cursor=None)

    run = await sync(hub, "fake")

    assert run.status == "failed"
    assert run.error == "fake returned item '1' of another source (elsewhere)"
    assert await catalogue("fake") == {}

    fake_library.result = lambda page: {"items": []}
    run = await sync(hub, "fake")
    assert run.error == "fake returned dict for a page; expected a Page"


async def test_progress_is_published_at_the_start_and_after_every_batch(
    fake_hub: RunningHub,
) -> None:
    hub = fake_hub.hub
    seen: list[dict] = []
    async with hub.pubsub.subscribe(PROGRESS_CHANNEL) as messages:

        async def collect() -> None:
            async for message in messages:
                seen.append(message["run"])
                if message["run"]["status"] == "succeeded":
                    return

        collector = asyncio.create_task(collect())
        await asyncio.sleep(0.05)
        await sync(hub, "fake")
        await asyncio.wait_for(collector, 10)

    assert [m["items_seen"] for m in seen] == [0, 150, 300, 450, 500, 500]
    assert seen[0]["status"] == "running" and seen[0]["started_at"] is not None
    assert seen[-1]["status"] == "succeeded" and seen[-1]["total"] == 500
