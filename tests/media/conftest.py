"""Fixtures for the media API tests: two simulated Plex servers synced into the catalogue, a
small library of films some of which have no year or time added (``shelf``), and a source
searched live (``live``), in embedded mode (SQLite) and scaled mode (PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medianest.core.db.models import LibraryItem
from medianest.sdk import HealthStatus, MediaItem, SourceCapability, hookimpl
from medianest.sdk.access import Permission
from medianest.sdk.errors import NotFoundError, UpstreamError
from medianest.sdk.testing import HubHarness, RunningHub
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from tests.sync.conftest import SYNC_SETTINGS, plex_section
from tests.sync.fake_source import FakeLibrary, FakePlugin
from tests.sync.sync_testing import sync

MEDIA = "/api/v1/media"
LIBRARY = "/api/v1/library"
PROBLEM = "application/problem+json"
LIVE_TIMEOUT = 0.3
"""The search timeout of the live source (seconds): its slow item takes longer."""
SHELF_UNDATED = {"4", "7"}
"""Films of ``shelf`` without a year or a time added."""


@pytest.fixture
def plex_world() -> PlexWorld:
    """Two servers (``home``, ``cabin``) of 150 leaves each, sharing some films."""
    return PlexWorld(seed=5, items=150, servers=2)


@pytest.fixture
async def plex_sim(plex_world: PlexWorld) -> AsyncIterator[RunningSimulator]:
    async with serve_world(plex_world) as running:
        yield running


def live_video(item_id: str, *, imdb: str | None = None, title: str = "A live video") -> MediaItem:
    return MediaItem.model_validate(
        {
            "kind": "movie",
            "title": title,
            "ref": {"source": "live", "item_id": item_id, "url": f"https://live.test/{item_id}"},
            "year": 2020,
            "ids": {"imdb": imdb} if imdb else {},
        }
    )


class LiveSource:
    """A source searched live, whose items are asked for one by one: some answer, some are
    missing, one is slower than the search timeout, others fail in each way a plugin can."""

    id = "live"
    name = "Live videos"
    capabilities = frozenset({SourceCapability.LIVE_SEARCH, SourceCapability.HEALTH})

    def __init__(self) -> None:
        self.items: dict[str, MediaItem] = {}

    async def get_item(self, item_id: str) -> Any:
        if item_id == "slow":
            await asyncio.sleep(30)
        if item_id == "failing":
            raise UpstreamError("the video service is down", status=503)
        if item_id == "buggy":
            raise RuntimeError("a bug in the plugin")
        if item_id == "junk":
            return {"kind": "movie"}
        if item_id == "stranger":
            return live_video("stranger").model_copy(
                update={"ref": live_video("x").ref.model_copy(update={"source": "elsewhere"})}
            )
        try:
            return self.items[item_id]
        except KeyError:
            raise NotFoundError(f"no video {item_id}") from None

    async def search(self, query: Any) -> list[MediaItem]:
        return []

    async def health(self) -> HealthStatus:
        return HealthStatus(ok=True)


class LivePlugin:
    def __init__(self, source: LiveSource) -> None:
        self.source = source

    @hookimpl
    def register_media_sources(self) -> list[LiveSource]:
        return [self.source]


def shelf_library() -> FakeLibrary:
    """Ten films; two of them (:data:`SHELF_UNDATED`) without a year or a time added."""
    library = FakeLibrary("shelf", 10)
    library.items = [
        item.model_copy(update={"year": None, "added_at": None})
        if item.ref.item_id in SHELF_UNDATED
        else item
        for item in library.items
    ]
    return library


@pytest.fixture
def live_source() -> LiveSource:
    return LiveSource()


@pytest.fixture
async def media_hub(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, live_source: LiveSource, mode: dict
) -> AsyncIterator[RunningHub]:
    """Both simulated servers, ``shelf`` and ``live``, nothing synced yet; the hub's database
    active in the test."""
    plugins = {
        "plex": plugin,
        "shelf": FakePlugin(shelf_library()),
        "live": LivePlugin(live_source),
    }
    async with medianest_hub.run(
        plugins,
        plugins={"plex": plex_section(plex_sim)},
        sync=SYNC_SETTINGS,
        search={"timeout_seconds": LIVE_TIMEOUT},
        **mode,
    ) as running:
        with running.hub.database.activate():
            yield running


@pytest.fixture
async def synced(media_hub: RunningHub) -> RunningHub:
    """:func:`media_hub` with every library synced into the catalogue."""
    for source in ("plex:home", "plex:cabin", "shelf"):
        run = await sync(media_hub.hub, source)
        assert run.status == "succeeded", run.error
    return media_hub


@pytest.fixture
async def reader(synced: RunningHub) -> dict[str, str]:
    """Headers of a user who may search and browse (and nothing else)."""
    return await synced.sign_in(permissions=[Permission.SEARCH])


@pytest.fixture
async def editor(synced: RunningHub) -> dict[str, str]:
    """Headers of a user who may search and correct metadata."""
    return await synced.sign_in(
        permissions=[Permission.SEARCH, Permission.EDIT_METADATA], username="editor"
    )


async def rows(**filters: Any) -> list[LibraryItem]:
    """Catalogue rows matching ``filters``, by id."""
    return await LibraryItem.filter(**filters).order_by("id")


async def problem_of(response: Any, status: int) -> dict[str, Any]:
    """The problem body of ``response``, checked to have ``status``."""
    body = await response.get_json()
    assert response.status_code == status, body
    assert response.content_type == PROBLEM
    return body


def fields_of(problem: dict[str, Any]) -> set[str]:
    """The fields a problem names."""
    return {error["field"] for error in problem.get("errors", [])}


def epoch_plus(minutes: int) -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
