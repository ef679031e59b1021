"""Runtime flags: defaults, stored values, and every replica seeing a change within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from medianest.core.db import Database
from medianest.core.flags import FLAGS_CHANNEL, FlagService, FlagState
from medianest.core.state.memory import MemoryPubSub
from medianest.sdk.errors import InvalidInputError, NotFoundError, PluginError
from medianest.sdk.flags import Flag
from medianest.sdk.services import FlagReader, PubSub
from tests.db.conftest import OpenDatabase

FLAGS = [
    Flag("plex.webhooks", "Accept Plex webhooks", default=True),
    Flag("youtube.search", "Search YouTube", default=False),
]


@pytest.fixture
async def replicas() -> AsyncIterator[Callable[..., Any]]:
    """Start flag services (replicas of the hub); every one is closed after the test."""
    started: list[FlagService] = []

    async def start(database: Database, pubsub: PubSub, **kwargs: Any) -> FlagService:
        service = FlagService(FLAGS, database, pubsub, **kwargs)
        await service.start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            await service.close()


async def _eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until ``check()`` held; fails the test if it did not within ``within``."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > within:
            pytest.fail(f"not seen within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


class BrokenPubSub:
    """A pub/sub whose server is down: publishing and subscribing both fail."""

    async def publish(self, channel: str, message: Any) -> None:
        raise ConnectionError("pub/sub is down")

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        @asynccontextmanager
        async def failing() -> AsyncIterator[AsyncIterator[Any]]:
            raise ConnectionError("pub/sub is down")
            yield  # pragma: no cover

        return failing()


async def test_flag_service_is_a_flag_reader(database: Database, pubsub: MemoryPubSub) -> None:
    assert isinstance(FlagService(FLAGS, database, pubsub), FlagReader)


async def test_flags_start_at_their_defaults(
    database: Database, pubsub: MemoryPubSub, replicas: Callable[..., Any]
) -> None:
    flags = await replicas(database, pubsub)
    assert flags.is_enabled("plex.webhooks") is True
    assert flags.is_enabled("youtube.search") is False
    assert flags.list() == [
        FlagState("plex.webhooks", "Accept Plex webhooks", True, True, False, None, None),
        FlagState("youtube.search", "Search YouTube", False, False, False, None, None),
    ]


async def test_a_set_value_reads_back_and_survives_a_restart(
    database: Database, pubsub: MemoryPubSub, replicas: Callable[..., Any]
) -> None:
    flags = await replicas(database, pubsub)
    before = datetime.now(UTC)
    await flags.set("plex.webhooks", False, by="alice")
    await flags.set("youtube.search", True, by=None)
    await flags.set("youtube.search", True, by="bob")
    assert flags.is_enabled("plex.webhooks") is False
    assert flags.is_enabled("youtube.search") is True
    await flags.close()

    restarted = await replicas(database, pubsub)
    webhooks, search = restarted.list()
    assert (webhooks.enabled, webhooks.overridden, webhooks.updated_by) == (False, True, "alice")
    assert (search.enabled, search.default, search.updated_by) == (True, False, "bob")
    assert webhooks.updated_at is not None and webhooks.updated_at >= before
    assert webhooks.updated_at.utcoffset() is not None


async def test_a_second_replica_sees_a_change_through_pubsub(
    url: str, database: Database, open_database: OpenDatabase, replicas: Callable[..., Any]
) -> None:
    pubsub = MemoryPubSub()
    try:
        first = await replicas(database, pubsub)
        # A reload period far beyond the test: only the message can carry the change.
        second = await replicas(await open_database(url), pubsub, refresh_seconds=60)
        await first.set("youtube.search", True, by="alice")
        waited = await _eventually(lambda: second.is_enabled("youtube.search"), within=1.0)
        assert waited < 0.5
        assert second.list()[1].updated_by == "alice"
    finally:
        await pubsub.aclose()


async def test_a_second_replica_sees_a_change_when_the_message_is_lost(
    url: str, database: Database, open_database: OpenDatabase, replicas: Callable[..., Any]
) -> None:
    first_bus, second_bus = MemoryPubSub(), MemoryPubSub()
    try:
        first = await replicas(database, first_bus)
        # Separate buses: the second replica never hears the first one's message.
        second = await replicas(await open_database(url), second_bus, refresh_seconds=0.2)
        await first.set("plex.webhooks", False, by="alice")
        await _eventually(lambda: not second.is_enabled("plex.webhooks"), within=1.0)
    finally:
        await first_bus.aclose()
        await second_bus.aclose()


async def test_changes_are_announced_on_the_flags_channel(
    database: Database, pubsub: MemoryPubSub, replicas: Callable[..., Any]
) -> None:
    flags = await replicas(database, pubsub)
    async with pubsub.subscribe(FLAGS_CHANNEL) as messages:
        await flags.set("plex.webhooks", False, by="alice")
        message = await asyncio.wait_for(anext(aiter(messages)), 1.0)
    assert message == {"key": "plex.webhooks"}


async def test_flags_keep_working_without_pubsub(
    url: str, database: Database, open_database: OpenDatabase, replicas: Callable[..., Any]
) -> None:
    began = time.monotonic()
    first = await replicas(database, BrokenPubSub(), refresh_seconds=0.2)
    second = await replicas(await open_database(url), BrokenPubSub(), refresh_seconds=0.2)
    assert time.monotonic() - began < 2.0
    await first.set("youtube.search", True, by="alice")
    assert first.is_enabled("youtube.search")
    await _eventually(lambda: second.is_enabled("youtube.search"), within=1.0)


async def test_unknown_keys_are_not_found(
    database: Database, pubsub: MemoryPubSub, replicas: Callable[..., Any]
) -> None:
    flags = await replicas(database, pubsub)
    with pytest.raises(NotFoundError, match=r"'plex\.nope'") as caught:
        flags.is_enabled("plex.nope")
    assert "plex.webhooks, youtube.search" in str(caught.value)
    with pytest.raises(NotFoundError, match=r"'plex\.nope'"):
        await flags.set("plex.nope", True, by="alice")


async def test_an_overlong_author_is_invalid_input(
    database: Database, pubsub: MemoryPubSub, replicas: Callable[..., Any]
) -> None:
    flags = await replicas(database, pubsub)
    with pytest.raises(InvalidInputError) as caught:
        await flags.set("plex.webhooks", False, by="x" * 201)
    assert caught.value.field == "by"
    assert flags.is_enabled("plex.webhooks") is True


async def test_close_leaves_no_tasks_behind(database: Database, pubsub: MemoryPubSub) -> None:
    before = asyncio.all_tasks()
    flags = FlagService(FLAGS, database, pubsub, refresh_seconds=0.05)
    await flags.start()
    assert len(asyncio.all_tasks() - before) == 2
    await flags.close()
    await flags.close()
    assert asyncio.all_tasks() == before
    assert flags.is_enabled("plex.webhooks") is True


def test_duplicate_definitions_name_the_key() -> None:
    twice = [*FLAGS, Flag("plex.webhooks", "again")]
    with pytest.raises(PluginError, match=r"'plex\.webhooks' is declared twice") as caught:
        FlagService(twice, Database("sqlite://:memory:"), MemoryPubSub())
    assert caught.value.plugin == "plex"


@pytest.mark.parametrize("key", ["webhooks", "Plex.webhooks", "plex.", "plex.web-hooks", ""])
def test_malformed_keys_are_rejected(key: str) -> None:
    with pytest.raises(PluginError, match=r"must look like '<plugin>\.<feature>'"):
        FlagService([Flag(key, "bad")], Database("sqlite://:memory:"), MemoryPubSub())
