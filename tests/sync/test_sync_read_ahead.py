"""The engine reads ahead: it asks a source for pages of the source's own size, and the
next page is being fetched while the writer works, up to a batch ahead and no further."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from medianest.core.sync import RunKind, Trigger
from medianest.core.sync.store import CatalogueWriter
from medianest.sdk.testing import RunningHub
from tests.sync.conftest import SYNC_SETTINGS
from tests.sync.fake_source import FakeLibrary
from tests.sync.sync_testing import catalogue, counts, sync

SYNC_PAGE = SYNC_SETTINGS["page_size"]
BATCH = SYNC_SETTINGS["batch_size"]


class WatchedWriter:
    """The hub's own catalogue writer, with a record of when each batch write ran; a write
    may be held until the test lets it go."""

    def __init__(self, inner: CatalogueWriter, library: FakeLibrary) -> None:
        self.inner = inner
        self.library = library
        self.events: list[tuple[str, int]] = []
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def write_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.events.append(("write started", self.library.pages_served))
        if self.hold is not None:
            self.held.set()
            await self.hold.wait()
        await asyncio.sleep(0.02)  # a commit takes longer than a page of an in-memory source
        result = await self.inner.write_batch(*args, **kwargs)
        self.events.append(("write ended", self.library.pages_served))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def watch(hub: RunningHub, library: FakeLibrary) -> WatchedWriter:
    watched = WatchedWriter(hub.hub.sync.writer, library)
    hub.hub.sync._writer = watched  # type: ignore[assignment]
    return watched


async def test_pages_are_asked_in_the_sources_own_size(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    fake_library.page_size = 20  # type: ignore[attr-defined]
    run = await sync(fake_hub.hub, "fake")
    assert counts(run)["status"] == "succeeded" and run.inserted == 500
    assert set(fake_library.limits) == {20}
    assert run.pages == 25
    assert len(await catalogue("fake")) == 500


async def test_a_source_page_larger_than_the_sync_page_is_capped(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    fake_library.page_size = SYNC_PAGE * 10  # type: ignore[attr-defined]
    await sync(fake_hub.hub, "fake")
    assert set(fake_library.limits) == {SYNC_PAGE}


async def test_a_source_without_a_page_size_gets_the_sync_page(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    assert not hasattr(fake_library, "page_size")
    await sync(fake_hub.hub, "fake", RunKind.INCREMENTAL)
    assert set(fake_library.limits) == {SYNC_PAGE}


async def test_the_next_page_is_fetched_while_a_batch_is_written(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    async def upstream_work(number: int) -> None:
        await asyncio.sleep(0.005)

    fake_library.on_page = upstream_work
    writer = watch(fake_hub, fake_library)
    run = await sync(fake_hub.hub, "fake")
    assert run.status == "succeeded" and run.inserted == 500
    starts = [served for event, served in writer.events if event == "write started"]
    ends = [served for event, served in writer.events if event == "write ended"]
    # The first write starts with pages already read ahead of it, and pages keep arriving
    # while it (and the ones after it) are written.
    assert starts[0] > math.ceil(BATCH / SYNC_PAGE), writer.events
    assert ends[0] > starts[0], writer.events


async def test_reading_ahead_stops_a_batch_ahead_of_a_stuck_writer(
    fake_hub: RunningHub, fake_library: FakeLibrary
) -> None:
    writer = watch(fake_hub, fake_library)
    writer.hold = asyncio.Event()
    run, _ = await fake_hub.hub.sync.claim_slot("fake", RunKind.FULL, Trigger.CLI)
    task = asyncio.create_task(fake_hub.hub.sync.execute(run.id))
    try:
        await asyncio.wait_for(writer.held.wait(), 5)
        first_batch = math.ceil(BATCH / SYNC_PAGE)
        ahead = math.ceil(BATCH / SYNC_PAGE)
        for _ in range(50):
            await asyncio.sleep(0.01)
        # The batch being written, the queue of pages read ahead, and the one in hand.
        assert fake_library.pages_served == first_batch + ahead + 1
        writer.hold.set()
        ended = await asyncio.wait_for(task, 10)
    finally:
        writer.hold.set()
        if not task.done():
            task.cancel()
    assert ended is not None and ended.status == "succeeded" and ended.inserted == 500
