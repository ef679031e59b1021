"""Fixtures of the requests tests: a hub with the in-memory request backend, in both modes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from medianest.core.db.models import ExternalIdentity, LibraryItem, User
from medianest.core.db.records import COLUMNS, record_of
from medianest.sdk import MediaItem
from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness, RunningHub
from tests.requests.fake_backend import BACKEND_ID, EventLog, FakeRequests, FakeRequestsPlugin

REQUESTS = "/api/v1/requests"
PROBLEM = "application/problem+json"
SETTINGS: dict[str, Any] = {
    "requests": {"default_backend": BACKEND_ID, "backend_timeout_seconds": 0.5},
    "events": {"flush_seconds": 0.02},
}


@dataclass
class Person:
    """A signed-in person: their id, name and the headers that authenticate as them."""

    id: int
    username: str
    headers: dict[str, str]


@dataclass
class RequestsHub:
    """A running hub with the fake backend and an event log."""

    running: RunningHub
    backend: FakeRequests
    events: EventLog

    @property
    def client(self) -> Any:
        return self.running.client

    @property
    def hub(self) -> Any:
        return self.running.hub

    async def person(
        self,
        username: str,
        *,
        permissions: list[Permission] | None = None,
        role: str = "user",
        plex_id: str | None = None,
        email: str | None = None,
    ) -> Person:
        """Sign someone in (default permissions: search and request), with a linked Plex
        account and an email when given."""
        headers = await self.running.sign_in(
            username=username,
            permissions=permissions,
            role=role,  # type: ignore[arg-type]
        )
        with self.hub.database.activate():
            user = await User.get(username=username)
            if email:
                user.email = email
                await user.save()
            if plex_id:
                await ExternalIdentity.create(user=user, provider="plex", external_id=plex_id)
        return Person(user.id, username, headers)

    async def ask(self, person: Person, **body: Any) -> Any:
        return await self.client.post(REQUESTS, json=body, headers=person.headers)

    async def in_library(
        self,
        source: str,
        item_id: str,
        kind: str,
        *,
        parent: str | None = None,
        index: int | None = None,
        **ids: Any,
    ) -> None:
        """Put an item in the catalogue, as a sync would."""
        item = MediaItem.model_validate(
            {
                "kind": kind,
                "title": f"{kind} {item_id}",
                "ref": {"source": source, "item_id": item_id},
                "ids": ids,
                "parent": {"source": source, "item_id": parent} if parent else None,
                "index": index,
            }
        )
        values = dict(zip(COLUMNS, record_of(item, datetime.now(UTC)).values, strict=True))
        values["data"] = json.loads(values["data"])
        with self.hub.database.activate():
            await LibraryItem.create(**values)


@pytest.fixture
def backend() -> FakeRequests:
    return FakeRequests()


@pytest.fixture
async def requests_hub(
    medianest_hub: HubHarness, mode: dict, backend: FakeRequests
) -> AsyncIterator[RequestsHub]:
    plugin = FakeRequestsPlugin(backend)
    async with medianest_hub.run({"fake": plugin}, **SETTINGS, **mode) as running:
        yield RequestsHub(running, backend, plugin.events)


@pytest.fixture
async def embedded_hub(
    medianest_hub: HubHarness, backend: FakeRequests
) -> AsyncIterator[RequestsHub]:
    """The same, embedded only (tests of rules that do not depend on the mode)."""
    plugin = FakeRequestsPlugin(backend)
    async with medianest_hub.run({"fake": plugin}, **SETTINGS) as running:
        yield RequestsHub(running, backend, plugin.events)
