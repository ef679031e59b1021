"""Fixtures of the search tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from medianest.sdk.testing import HubHarness, RunningHub
from tests.search.fake_live import (
    LIVE_SEARCH_SETTINGS,
    FakeLivePlugin,
    FakeLiveSource,
    live_item,
)

# Live sources ----------------------------------------------------------------------------------
# Two fake live sources in two plugins (so each has its own runtime flag), in a hub of either
# runtime mode, with short timeouts and a low breaker threshold.


@pytest.fixture
def tube() -> FakeLiveSource:
    """``fakelive:tube``: a few films and a show, answering at once."""
    return FakeLiveSource(
        "fakelive:tube",
        [
            live_item("fakelive:tube", "Star Wars", item_id="sw", year=1977),
            live_item("fakelive:tube", "Star Trek", item_id="st", kind="show", year=1966),
            live_item("fakelive:tube", "Starship Troopers", item_id="stt", year=1997),
            live_item("fakelive:tube", "The Lone Star", item_id="ls", year=1996),
            live_item("fakelive:tube", "Heat", item_id="heat", year=1995),
        ],
        name="Fake Tube",
    )


@pytest.fixture
def pod() -> FakeLiveSource:
    """``otherlive:pod``: another live source, in a plugin of its own."""
    return FakeLiveSource("otherlive:pod", ["Star Talk", "Heat Wave"], name="Fake Pod")


@pytest.fixture
async def live_hub(
    medianest_hub: HubHarness, tube: FakeLiveSource, pod: FakeLiveSource, mode: dict
) -> AsyncIterator[RunningHub]:
    """A hub whose live sources are ``tube`` (plugin ``fakelive``) and ``pod``
    (``otherlive``), with :data:`LIVE_SEARCH_SETTINGS`."""
    async with medianest_hub.run(
        {"fakelive": FakeLivePlugin(tube), "otherlive": FakeLivePlugin(pod)},
        search=LIVE_SEARCH_SETTINGS,
        **mode,
    ) as running:
        yield running
