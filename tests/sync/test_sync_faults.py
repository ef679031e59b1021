"""Upstream trouble during a sync: retried with back-off, or a clean failure with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from medianest.sdk.testing import RunningHub
from medianest_plex.simulator import RunningSimulator
from tests.sync.sync_testing import catalogue, source_items, sync

LISTING = "/library/sections/*/all"


@pytest.fixture
async def control(plex_sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=plex_sim.control_url, timeout=10) as client:
        yield client


async def inject(control: httpx.AsyncClient, **rule: Any) -> None:
    response = await control.post("/faults", json={"path": LISTING, **rule})
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(
    "rule",
    [
        {"mode": "error", "status": 500, "times": 2},
        {"mode": "error", "status": 503, "times": 1},
        {"mode": "rate_limit", "retry_after": 1, "times": 1},
        {"mode": "hang", "times": 1},
        {"mode": "malformed", "times": 2},
    ],
    ids=["500", "503", "429", "hang", "malformed"],
)
async def test_passing_upstream_trouble_is_retried_and_the_sync_completes(
    sync_hub: RunningHub, control: httpx.AsyncClient, rule: dict
) -> None:
    hub = sync_hub.hub
    expected = await source_items(hub, "plex:home")
    await inject(control, **rule)

    run = await sync(hub, "plex:home")

    assert (run.status, run.error) == ("succeeded", None)
    assert 1 <= run.errors <= rule["times"]  # one page may meet several faulty requests
    assert run.inserted == len(expected)
    assert (await catalogue("plex:home")).keys() == expected.keys()


async def test_trouble_that_does_not_pass_fails_the_run_and_deletes_nothing(
    sync_hub: RunningHub, control: httpx.AsyncClient
) -> None:
    hub = sync_hub.hub
    await sync(hub, "plex:home")
    before = (await catalogue("plex:home")).keys()
    await inject(control, mode="error", status=500)

    run = await sync(hub, "plex:home")

    assert run.status == "failed"
    assert run.error.startswith("plex:home failed on page 1 after 4 tries: ")
    assert "500" in run.error
    assert run.errors == 4
    assert run.finished_at is not None
    assert (await catalogue("plex:home")).keys() == before
    assert (await control.delete("/faults")).status_code in (200, 204)
    again = await sync(hub, "plex:home")
    assert (again.status, again.inserted, again.deleted) == ("succeeded", 0, 0)


async def test_a_token_the_server_refuses_fails_at_once(
    medianest_hub, plex_sim: RunningSimulator, mode: dict
) -> None:
    from medianest_plex import plugin
    from tests.sync.conftest import SYNC_SETTINGS, plex_section

    section = plex_section(plex_sim)
    section["servers"][0]["token"] = "not-a-valid-token"
    async with medianest_hub.run(
        {"plex": plugin}, plugins={"plex": section}, sync=SYNC_SETTINGS, **mode
    ) as running:
        with running.hub.database.activate():
            run = await sync(running.hub, "plex:home")
    assert run.status == "failed"
    assert run.error.startswith("plex:home refused the hub: ")
    assert run.errors == 0
    assert "not-a-valid-token" not in run.error
