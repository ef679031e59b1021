"""Fixtures of the request status tests: a hub with in-memory request backends and a fake
library, in both runtime modes, with every domain event recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from medianest.sdk import DomainEvent, hookimpl
from medianest.sdk.testing import HubHarness, RunningHub
from tests.requests_status.fake_backend import FakeBackend, FakeBackendPlugin
from tests.sync.conftest import SYNC_SETTINGS
from tests.sync.fake_source import FakeLibrary


class Recorder:
    """An analytics sink keeping every event it is given."""

    id = "recorder"
    name = "Recorder"

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def record(self, events: list[DomainEvent]) -> None:
        self.events.extend(events)

    def of(self, event_type: str) -> list[DomainEvent]:
        return [event for event in self.events if event.type == event_type]


class RecorderPlugin:
    def __init__(self, sink: Recorder) -> None:
        self.sink = sink

    @hookimpl
    def register_analytics_sinks(self) -> list[Recorder]:
        return [self.sink]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend("fakereq:main")


@pytest.fixture
def other_backend() -> FakeBackend:
    return FakeBackend("fakereq:other")


@pytest.fixture
def library() -> FakeLibrary:
    """``fakereq:lib``: 300 films, film n with TMDB id 10,000 + n."""
    return FakeLibrary("fakereq:lib", 300)


@pytest.fixture
def cabin() -> FakeLibrary:
    """``fakereq:cabin``: the first 50 films of ``library`` again (same TMDB ids)."""
    return FakeLibrary("fakereq:cabin", 50)


@pytest.fixture
async def status_hub(
    medianest_hub: HubHarness,
    backend: FakeBackend,
    other_backend: FakeBackend,
    library: FakeLibrary,
    cabin: FakeLibrary,
    recorder: Recorder,
    mode: dict,
) -> AsyncIterator[RunningHub]:
    """A hub with both backends and both libraries, its database active in the test."""
    async with medianest_hub.run(
        {
            "fakereq": FakeBackendPlugin(backend, other_backend, sources=[library, cabin]),
            "recorder": RecorderPlugin(recorder),
        },
        sync=SYNC_SETTINGS,
        **mode,
    ) as running:
        with running.hub.database.activate():
            yield running
