"""``GET /api/v1/search`` end to end: two simulated Plex servers synced into the catalogue and a
fake live source, over the real app, in both runtime modes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from medianest.core.db.models import LibraryItem
from medianest.core.web.search_schemas import SearchResponse
from medianest.sdk import (
    DomainEvent,
    MediaKind,
    NotFoundError,
    Page,
    PermissionDeniedError,
    hookimpl,
)
from medianest.sdk.testing import HubHarness, RunningHub
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from tests.search.fake_live import FakeLivePlugin, FakeLiveSource, live_item
from tests.sync.conftest import SYNC_SETTINGS, plex_section
from tests.sync.sync_testing import sync

SEARCH_SETTINGS = {"timeout_seconds": 0.4, "breaker_failures": 50}


class Recorder:
    """An analytics sink keeping every event it is given."""

    id = "recorder"
    name = "Recorder"

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []

    async def record(self, events: list[DomainEvent]) -> None:
        self.events.extend(events)


class Requests:
    """A request backend that takes nothing: its presence makes hits requestable."""

    id = "recorder:requests"
    name = "Requests"

    async def create_request(self, principal: Any, request: Any) -> Any:
        raise PermissionDeniedError("this backend takes no requests")

    async def get_request(self, principal: Any, request_id: str) -> Any:
        raise NotFoundError(f"no request {request_id!r}")

    async def list_requests(
        self, principal: Any, cursor: Any, limit: int, *, everyone: bool = False
    ) -> Any:
        return Page(items=[], total=0)

    async def request_status(self, principal: Any, ids: Any) -> Any:
        return {}

    async def act(self, principal: Any, request_id: str, action: Any) -> Any:
        raise NotFoundError(f"no request {request_id!r}")


class RecorderPlugin:
    """Records every event; offers the request backend too."""

    def __init__(self, sink: Recorder) -> None:
        self.sink = sink

    @hookimpl
    def register_analytics_sinks(self) -> list[Recorder]:
        return [self.sink]

    @hookimpl
    def register_request_backends(self) -> list[Requests]:
        return [Requests()]


@pytest.fixture
async def plex_sim() -> AsyncIterator[RunningSimulator]:
    async with serve_world(PlexWorld(seed=5, items=150, servers=2)) as running:
        yield running


@pytest.fixture
def tube() -> FakeLiveSource:
    return FakeLiveSource("fakelive:tube", [], name="Fake Tube")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def hub(
    medianest_hub: HubHarness,
    plex_sim: RunningSimulator,
    tube: FakeLiveSource,
    recorder: Recorder,
    mode: dict,
) -> AsyncIterator[RunningHub]:
    """Both Plex servers synced, ``tube`` as a live source, a recording analytics sink."""
    async with medianest_hub.run(
        {"plex": plugin, "fakelive": FakeLivePlugin(tube), "recorder": RecorderPlugin(recorder)},
        plugins={"plex": plex_section(plex_sim)},
        sync=SYNC_SETTINGS,
        search=SEARCH_SETTINGS,
        **mode,
    ) as running:
        with running.hub.database.activate():
            for source in ("plex:home", "plex:cabin"):
                assert (await sync(running.hub, source)).status == "succeeded"
        yield running


async def shared_film(running: RunningHub) -> tuple[LibraryItem, LibraryItem]:
    """A film both servers hold (the same IMDb id), with a title of several words."""
    with running.hub.database.activate():
        home = {
            row.imdb: row
            for row in await LibraryItem.filter(source="plex:home", kind="movie")
            if row.imdb
        }
        for row in await LibraryItem.filter(source="plex:cabin", kind="movie"):
            if row.imdb in home and home[row.imdb].title == row.title:
                return home[row.imdb], row
    raise AssertionError("the simulated servers share no film")


async def search(running: RunningHub, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await running.client.get("/api/v1/search", query_string=params, headers=headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    SearchResponse.model_validate(body)
    return body


def status_of(body: dict[str, Any], source: str) -> dict[str, Any]:
    return next(s for s in body["sources"] if s["source"] == source)


async def test_one_hit_per_work_across_both_servers_and_a_live_source(
    hub: RunningHub, tube: FakeLiveSource
) -> None:
    home, cabin = await shared_film(hub)
    tube.items = [
        live_item(
            "fakelive:tube", home.title, item_id="t1", year=home.year, ids={"imdb": home.imdb}
        )
    ]
    headers = await hub.sign_in()
    body = await search(hub, headers, q=home.title, kind="movie")
    hits = [hit for hit in body["items"] if hit["ids"]["imdb"] == home.imdb]
    assert len(hits) == 1
    hit = hits[0]
    assert hit["match"] == "exact"
    assert hit["available"] is True and hit["availability"] == "available"
    where = {(c["source"], c["item_id"], c["library"]) for c in hit["copies"]}
    assert where == {
        ("plex:home", home.item_id, True),
        ("plex:cabin", cabin.item_id, True),
        ("fakelive:tube", "t1", False),
    }
    assert hit["source"] in ("plex:home", "plex:cabin")
    for source in ("plex:home", "plex:cabin"):
        assert status_of(body, source) | {"latency_ms": None} == {
            "source": source,
            "via": "catalogue",
            "status": "ok",
            "results": status_of(body, source)["results"],
            "detail": None,
            "latency_ms": None,
            "cached": False,
        }
    assert status_of(body, "fakelive:tube")["status"] == "ok"
    assert status_of(body, "fakelive:tube")["via"] == "live"


async def test_availability_of_live_hits(hub: RunningHub, tube: FakeLiveSource) -> None:
    home, _ = await shared_film(hub)
    tube.items = [
        live_item("fakelive:tube", "Zyzzyva Nights", item_id="z", ids={"tmdb": 424242}),
        live_item("fakelive:tube", "Zyzzyva Home Video", item_id="v"),
        # Another title in the live source, the same film by IMDb id: found by its title, it
        # brings the libraries' copies along although their title does not match.
        live_item("fakelive:tube", "Zyzzyva Reprise", item_id="r", ids={"imdb": home.imdb}),
    ]
    headers = await hub.sign_in()
    body = await search(hub, headers, q="zyzzyva")
    by_id = {hit["copies"][-1]["item_id"]: hit for hit in body["items"]}
    # Not in a library; a film with a TMDB id can be requested, one without cannot.
    assert by_id["z"]["available"] is False
    assert by_id["z"]["availability"] == "requestable"
    assert by_id["z"]["match"] == "prefix"
    assert by_id["v"]["availability"] == "unavailable"
    reprise = next(hit for hit in body["items"] if hit["ids"]["imdb"] == home.imdb)
    assert reprise["available"] is True
    assert {c["source"] for c in reprise["copies"]} == {"plex:home", "plex:cabin", "fakelive:tube"}
    assert reprise["source"] in ("plex:home", "plex:cabin")


async def test_a_hanging_source_costs_its_timeout_and_a_failing_one_only_its_status(
    hub: RunningHub, tube: FakeLiveSource
) -> None:
    home, _ = await shared_film(hub)
    headers = await hub.sign_in()
    tube.mode = "hang"
    started = time.perf_counter()
    body = await search(hub, headers, q=home.title)
    elapsed = time.perf_counter() - started
    assert 0.35 <= elapsed < 2.0
    assert status_of(body, "fakelive:tube")["status"] == "timeout"
    assert any(hit["ids"]["imdb"] == home.imdb for hit in body["items"])
    tube.mode = "error"
    body = await search(hub, headers, q=home.title + " ")
    tube_status = status_of(body, "fakelive:tube")
    assert tube_status["status"] == "error"
    assert "503" in tube_status["detail"]
    assert body["items"]


async def test_pages_follow_each_other_without_overlap(hub: RunningHub) -> None:
    headers = await hub.sign_in()
    whole = await search(hub, headers, q="the", kind="movie,show,episode", limit=50)
    assert len(whole["items"]) > 6
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "the", "kind": "movie,show,episode", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = await search(hub, headers, **params)
        seen += [(hit["source"], hit["item_id"]) for hit in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None or len(seen) >= len(whole["items"]):
            break
    expected = [(hit["source"], hit["item_id"]) for hit in whole["items"]]
    assert seen[: len(expected)] == expected[: len(seen)]
    assert len(set(seen)) == len(seen)


async def test_filters_by_kind_year_and_source(hub: RunningHub) -> None:
    headers = await hub.sign_in()
    home, _ = await shared_film(hub)
    body = await search(hub, headers, q=home.title, sources="plex:home", year=str(home.year))
    assert {s["source"] for s in body["sources"]} == {"plex:home"}
    assert body["items"] and all(hit["year"] == home.year for hit in body["items"])
    with hub.hub.database.activate():
        episode = await LibraryItem.filter(source="plex:home", kind="episode").first()
    assert episode is not None
    default = await search(hub, headers, q=episode.title)
    assert all(hit["kind"] != "episode" for hit in default["items"])
    episodes = await search(hub, headers, q=episode.title, kind="episode")
    assert episodes["items"] and all(hit["kind"] == "episode" for hit in episodes["items"])


@pytest.mark.parametrize(
    "text",
    [
        "%",
        "_",
        '"',
        "'",
        "*",
        "star*",
        "NEAR(a b)",
        "a OR b",
        "NOT the",
        "^the",
        "title:the",
        "'; DROP TABLE core_library_item; --",
        "\\",
        '"unterminated',
        "a & | ! b",
    ],
)
async def test_search_text_is_data(hub: RunningHub, text: str) -> None:
    headers = await hub.sign_in()
    body = await search(hub, headers, q=text)
    assert isinstance(body["items"], list)
    with hub.hub.database.activate():
        assert await LibraryItem.all().count() > 0


async def test_bad_input_is_a_problem_naming_the_parameter(hub: RunningHub) -> None:
    headers = await hub.sign_in()
    other = await search(hub, headers, q="the", limit=1)
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 422, "q"),
        ({"q": "   "}, 422, "q"),
        ({"q": "x" * 201}, 422, "q"),
        ({"q": "the", "kind": "film"}, 400, "kind"),
        ({"q": "the", "sources": "plex:nowhere"}, 400, "sources"),
        ({"q": "the", "limit": "0"}, 422, "limit"),
        ({"q": "the", "limit": "51"}, 422, "limit"),
        ({"q": "the", "year": "soon"}, 422, "year"),
        ({"q": "the", "cursor": "not a cursor!"}, 422, "cursor"),
        ({"q": "the", "cursor": "bm90IGEgY3Vyc29y"}, 400, "cursor"),
        ({"q": "other", "cursor": other["next_cursor"]}, 400, "cursor"),
        ({"q": "the", "colour": "red"}, 422, "colour"),
    ]
    for params, status, field in cases:
        response = await hub.client.get("/api/v1/search", query_string=params, headers=headers)
        assert response.status_code == status, (params, await response.get_data(as_text=True))
        assert response.content_type == "application/problem+json"
        problem = await response.get_json()
        assert field in {error.get("field") for error in problem.get("errors", [])}, problem


async def test_access(hub: RunningHub) -> None:
    assert (await hub.client.get("/api/v1/search?q=the")).status_code == 401
    nobody = await hub.sign_in(permissions=[])
    response = await hub.client.get("/api/v1/search?q=the", headers=nobody)
    assert response.status_code == 403


async def test_answers_are_reused_until_the_catalogue_or_a_flag_changes(
    hub: RunningHub, tube: FakeLiveSource
) -> None:
    tube.items = [live_item("fakelive:tube", "Kept Answer", item_id="k")]
    headers = await hub.sign_in()
    first = await search(hub, headers, q="kept")
    assert first["cached"] is False
    again = await search(hub, headers, q="kept")
    assert again["cached"] is True
    assert again["items"] == first["items"]
    assert tube.calls == 1
    await hub.hub.pubsub.publish("catalogue", {"source": "plex:home", "item_id": "1"})
    for _ in range(100):
        if len(hub.hub.search.responses) == 0:
            break
        await asyncio.sleep(0.01)
    after = await search(hub, headers, q="kept")
    assert after["cached"] is False
    # The live source's own answer is still cached: no new upstream call.
    assert status_of(after, "fakelive:tube")["cached"] is True
    assert tube.calls == 1
    await hub.hub.flag_service.set("fakelive.search", False, by="test")
    off = await search(hub, headers, q="kept")
    assert off["cached"] is False
    assert status_of(off, "fakelive:tube")["status"] == "skipped"
    assert off["items"] == []


async def test_every_search_is_a_domain_event(hub: RunningHub, recorder: Recorder) -> None:
    headers = await hub.sign_in(username="searcher")
    await search(hub, headers, q="the", kind="movie")
    await search(hub, headers, q="the", kind="movie")
    for _ in range(100):
        searches = [e for e in recorder.events if e.type == "search.performed"]
        if len(searches) == 2:
            break
        await asyncio.sleep(0.01)
    first, second = searches
    assert first.user_id is not None and first.user_id == second.user_id
    assert first.data["query"] == "the"
    assert first.data["kinds"] == [MediaKind.MOVIE.value]
    assert first.data["results"] >= 1
    assert first.data["latency_ms"] > 0
    assert (first.data["cached"], second.data["cached"]) == (False, True)
    assert first.data["statuses"]["plex:home"] == "ok"


async def test_the_openapi_document_describes_search(hub: RunningHub) -> None:
    document = await (await hub.client.get("/api/v1/openapi.json")).get_json()
    validate(document)
    operation = document["paths"]["/api/v1/search"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "kind", "year", "sources", "limit", "cursor"} <= names
    assert "200" in operation["responses"]
