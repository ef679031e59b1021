"""The search page with live sources that fail: partial results that name the failing
source (never a blank page), hostile titles escaped, the same answer as the API, and a
circuit opening announced to followers of the ``health`` topic (both runtime modes)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.web.live import LIVE_PATH
from tests.search.fake_live import LIVE_SEARCH_SETTINGS, FakeLivePlugin, FakeLiveSource

HOSTILE = 'Quiet <script>alert(1)</script> "River" \u202egnp.exe'


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator[Any]:
    tube = FakeLiveSource("fakelive:tube", ["Quiet River", HOSTILE, "Quiet Harbor"])
    stuck = FakeLiveSource("fakelive:stuck", ["Quiet Garden"])
    stuck.mode = "hang"
    broken = FakeLiveSource("otherlive:broken", ["Quiet Orbit"])
    broken.mode = "error"
    async with medianest_hub.run(
        {"fakelive": FakeLivePlugin(tube, stuck), "otherlive": FakeLivePlugin(broken)},
        search=LIVE_SEARCH_SETTINGS | {"breaker_failures": 1},
        **mode,
    ) as hub:
        yield hub


async def test_failing_sources_are_named_above_the_results_they_left_out(running) -> None:
    headers = await running.sign_in()
    response = await running.client.get("/search?q=quiet", headers=headers)
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert page.count('class="hit"') == 3
    assert "fakelive:stuck did not answer in time" in page
    assert "otherlive:broken failed" in page
    assert "Quiet Garden" not in page and "Quiet Orbit" not in page
    api = await running.client.get("/api/v1/search?q=quiet", headers=headers)
    titles = [hit["title"] for hit in (await api.get_json())["items"]]
    assert len(titles) == 3 and all(f">{t}<" in page for t in titles if "<" not in t)


async def test_hostile_titles_are_escaped_and_isolated_in_results(running) -> None:
    headers = await running.sign_in()
    page = await (await running.client.get("/search?q=river", headers=headers)).get_data(
        as_text=True
    )
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;River&#34;" in page or "&quot;River&quot;" in page
    assert "<bdi>Quiet &lt;script&gt;" in page  # an RTL override stays inside its title


async def test_the_results_part_alone_for_search_as_you_type(running) -> None:
    headers = await running.sign_in()
    response = await running.client.get("/search?q=harbor&partial=1", headers=headers)
    part = await response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in part and "Quiet Harbor" in part


async def test_bad_filters_are_shown_next_to_the_form(running) -> None:
    headers = await running.sign_in()
    for query, named in (("q=x&kind=dragon", "dragon"), ("q=x&sources=nowhere", "nowhere")):
        response = await running.client.get(f"/search?{query}", headers=headers)
        assert response.status_code == 422, query
        page = await response.get_data(as_text=True)
        assert 'role="alert"' in page and named in page and 'id="search-form"' in page


async def test_a_circuit_opening_reaches_followers_of_the_health_topic(running) -> None:
    admin = await running.sign_in(role="admin")
    async with running.app.test_client().websocket(LIVE_PATH, headers=admin) as socket:
        await socket.send(json.dumps({"type": "subscribe", "topics": ["health"]}))
        assert json.loads(await socket.receive())["type"] == "subscribed"
        await running.client.get("/search?q=orbit", headers=admin)
        seen = {}
        while len(seen) < 2:
            event = json.loads(await asyncio.wait_for(socket.receive(), 5))
            seen[event["data"]["source"]] = event["data"]
    assert seen["otherlive:broken"]["circuit"] == "open"
    assert "503" in seen["otherlive:broken"]["detail"]
    assert seen["fakelive:stuck"]["circuit"] == "open"
