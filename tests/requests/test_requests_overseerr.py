"""The requests API against the real Overseerr plugin and the Overseerr simulator: filed as
the person asking (their Overseerr user, found by their Plex account), joined when asked
again, refused for someone Overseerr does not know, approved and deleted in Overseerr too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness
from medianest_overseerr import plugin
from medianest_overseerr.simulator import (
    OverseerrWorld,
    RequestStatus,
    RunningOverseerr,
    serve_simulator,
)
from medianest_plex.simulator import PlexWorld
from tests.requests.conftest import REQUESTS, RequestsHub
from tests.requests.fake_backend import EventLog, FakeRequests

API_KEY = "requests-test-overseerr-key"
BACKEND = "overseerr:home"


@pytest.fixture
def world() -> OverseerrWorld:
    """Overseerr over a small Plex world: friend1 has an Overseerr user, friend2 has none."""
    return OverseerrWorld(PlexWorld(seed=7, items=120), requestable=30, api_key=API_KEY)


@pytest.fixture
async def overseerr(world: OverseerrWorld) -> AsyncIterator[RunningOverseerr]:
    async with serve_simulator(world) as running:
        yield running


@pytest.fixture
async def hub_with_overseerr(
    medianest_hub: HubHarness, overseerr: RunningOverseerr, mode: dict[str, Any]
) -> AsyncIterator[RequestsHub]:
    section = {"instances": [{"name": "home", "url": overseerr.url, "api_key": overseerr.api_key}]}
    async with medianest_hub.run(
        {"overseerr": plugin},
        plugins={"overseerr": section},
        requests={"default_backend": BACKEND},
        **mode,
    ) as running:
        yield RequestsHub(running, FakeRequests(), EventLog())


def requestable_film(world: OverseerrWorld, skip: int = 0) -> int:
    films = [t for t in world.catalogue.requestable_only() if t.media_type == "movie"]
    return films[skip].tmdb


async def test_a_request_is_filed_in_overseerr_as_the_person(
    hub_with_overseerr: RequestsHub, world: OverseerrWorld
) -> None:
    hub = hub_with_overseerr
    friend1 = world.plex.accounts["friend1"]
    friend2 = world.plex.accounts["friend2"]
    ann = await hub.person(friend1.username, plex_id=str(friend1.id), email=friend1.email)
    stranger = await hub.person(friend2.username, plex_id=str(friend2.id), email=friend2.email)
    boss = await hub.person("boss", role="admin")
    tmdb = requestable_film(world)

    answer = await hub.ask(ann, kind="movie", tmdb_id=tmdb)
    body = await answer.get_json()
    assert answer.status_code == 201, body
    assert body["backend"] == BACKEND and body["status"] == "pending"
    remote = world.requests[int(body["remote_id"])]
    assert remote.requested_by.plex_id == friend1.id, "filed as friend1, not the admin"

    again = await hub.ask(boss, kind="movie", tmdb_id=tmdb)
    problem = await again.get_json()
    assert again.status_code == 409 and problem["code"] == "already_requested"
    assert [p["username"] for p in problem["request"]["interested"]] == [ann.username, "boss"]

    unknown = await hub.ask(stranger, kind="movie", tmdb_id=requestable_film(world, 1))
    problem = await unknown.get_json()
    assert unknown.status_code == 409 and problem["code"] == "account_not_linked", problem

    approved = await hub.client.post(f"{REQUESTS}/{body['id']}/approve", headers=boss.headers)
    assert approved.status_code == 200, await approved.get_json()
    # Overseerr approves and starts fetching at once: the hub shows where it stands.
    assert (await approved.get_json())["status"] in ("approved", "processing")
    assert (await approved.get_json())["decided_by"]["username"] == "boss"
    assert world.requests[int(body["remote_id"])].status == RequestStatus.APPROVED

    deleted = await hub.client.delete(f"{REQUESTS}/{body['id']}", headers=boss.headers)
    assert deleted.status_code == 204
    gone = world.requests.get(int(body["remote_id"]))
    assert gone is None or gone.deleted
    with hub.hub.database.activate():
        row = await RequestRow.get(id=body["id"])
    assert row.status == "deleted"


async def test_an_unknown_tmdb_id_is_404_naming_it(
    hub_with_overseerr: RequestsHub, world: OverseerrWorld
) -> None:
    friend1 = world.plex.accounts["friend1"]
    ann = await hub_with_overseerr.person(
        friend1.username,
        plex_id=str(friend1.id),
        email=friend1.email,
        permissions=[Permission.REQUEST],
    )
    answer = await hub_with_overseerr.ask(ann, kind="movie", tmdb_id=987654321)
    problem = await answer.get_json()
    assert answer.status_code == 404, problem
    assert "987654321" in problem["detail"]
