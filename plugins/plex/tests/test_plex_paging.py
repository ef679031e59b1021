"""A call whose limit is above the plugin's page size reads several server pages in turn and
returns exactly what reading page by page returns; reading ahead across calls is core's
(see tests/sync/test_sync_read_ahead.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from medianest.sdk import UpstreamError
from medianest_plex.client import ClientIdentity
from medianest_plex.settings import ServerSettings
from medianest_plex.simulator import Kind, RunningSimulator
from medianest_plex.source import PlexMediaSource

PAGE_SIZE = 7
LIMIT = 30


@dataclass
class Asked:
    """One list request as the server saw it."""

    path: str
    plex_type: str | None
    start: int
    size: int


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """A real transport that records list requests and can tamper with their answers.

    :param fail: 0-based numbers of list requests answered with this status instead.
    :param total_header: ``keep``, ``drop`` the announced total, or make it ``low``/``high``.
    :param delay: seconds to wait before each list request is sent on.
    """

    fail: dict[int, int] = field(default_factory=dict)
    total_header: str = "keep"
    delay: float = 0.0
    asked: list[Asked] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            not request.url.path.endswith("/all")
            or request.headers.get("X-Plex-Container-Size") in (None, "0")
            or request.url.params.get("sort") == "updatedAt:desc"  # the walk's checkpoint
        ):
            return await self.inner.handle_async_request(request)
        number = len(self.asked)
        asked = Asked(
            path=request.url.path,
            plex_type=request.url.params.get("type"),
            start=int(request.headers["X-Plex-Container-Start"]),
            size=int(request.headers["X-Plex-Container-Size"]),
        )
        self.asked.append(asked)
        self.events.append(("asked", asked.start))
        self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if number in self.fail:
                return httpx.Response(self.fail[number], json={"errors": []})
            response = await self.inner.handle_async_request(request)
        finally:
            self.in_flight -= 1
        return self._tamper(response)

    def _tamper(self, response: httpx.Response) -> httpx.Response:
        total = response.headers.get("X-Plex-Container-Total-Size")
        if self.total_header == "keep" or total is None:
            return response
        del response.headers["X-Plex-Container-Total-Size"]
        if self.total_header != "drop":
            shifted = int(total) + (PAGE_SIZE if self.total_header == "high" else -PAGE_SIZE)
            response.headers["X-Plex-Container-Total-Size"] = str(max(0, shifted))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def source_for(sim: RunningSimulator, transport: httpx.AsyncBaseTransport) -> PlexMediaSource:
    server = ServerSettings(
        name="home", url=sim.url("home"), token=sim.world.owner.token, timeout=5.0
    )
    return PlexMediaSource(
        server,
        identity=ClientIdentity("read-ahead-test", "MediaNest"),
        page_size=PAGE_SIZE,
        overlap_seconds=0,
        transport=transport,
    )


async def pages_of(
    source: PlexMediaSource, limit: int, cursor: str | None = None
) -> list[tuple[list[str], str | None]]:
    """Every page of a library walk as ``(item ids, next cursor)``."""
    pages = []
    while True:
        page = await source.list_library(cursor, limit)
        assert len(page.items) <= limit
        pages.append(([item.ref.item_id for item in page.items], page.next_cursor))
        cursor = page.next_cursor
        if cursor is None:
            return pages


def ids(pages: list[tuple[list[str], str | None]]) -> list[str]:
    return [item_id for page_ids, _ in pages for item_id in page_ids]


async def single_pages(sim: RunningSimulator) -> list[str]:
    """The walk read one server page per call."""
    source = source_for(sim, Recorder())
    try:
        return ids(await pages_of(source, PAGE_SIZE))
    finally:
        await source.aclose()


@pytest.mark.parametrize("total_header", ["keep", "drop", "low", "high"])
async def test_several_pages_per_call_return_what_single_pages_do(
    plex_sim: RunningSimulator, total_header: str
) -> None:
    expected = await single_pages(plex_sim)
    recorder = Recorder(total_header=total_header)
    source = source_for(plex_sim, recorder)
    try:
        pages = await pages_of(source, LIMIT)
        assert ids(pages) == expected
        assert len(expected) == len(set(expected))
        assert all(len(page_ids) == LIMIT for page_ids, _ in pages[:-1])
        # Every cursor points just after the last item returned with it.
        for number, (_, cursor) in enumerate(pages[:-1]):
            rest = await pages_of(source, LIMIT, cursor)
            assert ids(rest) == ids(pages[number + 1 :])
    finally:
        await source.aclose()


@pytest.mark.parametrize("failing", [0, 1, 3])
async def test_a_failed_request_fails_the_call_and_the_walk_resumes_from_its_cursor(
    plex_sim: RunningSimulator, failing: int
) -> None:
    expected = await single_pages(plex_sim)
    recorder = Recorder()
    source = source_for(plex_sim, recorder)
    try:
        first = await source.list_library(None, LIMIT)
        recorder.fail = {len(recorder.asked) + failing: 500}
        with pytest.raises(UpstreamError):
            await source.list_library(first.next_cursor, LIMIT)
        rest = await pages_of(source, LIMIT, first.next_cursor)
    finally:
        await source.aclose()
    assert [i.ref.item_id for i in first.items] + ids(rest) == expected
    assert recorder.in_flight == 0


async def test_a_section_gone_during_a_call_is_skipped_as_during_a_plain_read(
    plex_sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    walks = []
    for limit in (PAGE_SIZE, LIMIT):
        recorder = Recorder()
        source = source_for(plex_sim, recorder)
        original = recorder.handle_async_request

        async def shows_gone(request: httpx.Request, original: Any = original) -> httpx.Response:
            listing = request.headers.get("X-Plex-Container-Size") not in (None, "0")
            if listing and request.url.params.get("type") == "2":
                return httpx.Response(404, json={"errors": []})
            return await original(request)

        recorder.handle_async_request = shows_gone  # type: ignore[method-assign]
        try:
            with caplog.at_level(logging.WARNING, logger="medianest_plex"):
                walks.append(ids(await pages_of(source, limit)))
        finally:
            await source.aclose()
    single, several = walks
    assert several == single
    assert "vanished during a walk" in caplog.text
    kinds = [plex_sim.world.item("home", item_id).kind for item_id in single]
    assert Kind.SHOW not in kinds
    assert {Kind.MOVIE, Kind.SEASON, Kind.EPISODE} <= set(kinds)


async def test_a_cancelled_call_leaves_no_request_behind(plex_sim: RunningSimulator) -> None:
    recorder = Recorder(delay=0.2)
    source = source_for(plex_sim, recorder)
    try:
        first = await source.list_library(None, PAGE_SIZE)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(source.list_library(first.next_cursor, LIMIT), 0.3)
        for _ in range(5):
            await asyncio.sleep(0)
        assert recorder.in_flight == 0
        recorder.delay = 0.0
        rest = await pages_of(source, LIMIT, first.next_cursor)
    finally:
        await source.aclose()
    assert [i.ref.item_id for i in first.items] + ids(rest) == await single_pages(plex_sim)


async def test_malformed_items_do_not_shift_the_walk() -> None:
    raws: list[dict[str, Any]] = [
        {"ratingKey": str(n), "type": "movie", "title": f"Movie {n}"} for n in range(1, 24)
    ]
    for broken in (3, 4, 11, 23):
        raws[broken - 1]["addedAt"] = "yesterday"

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/library/sections":
            body: dict[str, Any] = {"Directory": [{"key": "1", "type": "movie", "title": "M"}]}
        else:
            start = int(request.headers["X-Plex-Container-Start"])
            size = int(request.headers["X-Plex-Container-Size"])
            body = {"totalSize": len(raws), "offset": start, "Metadata": raws[start : start + size]}
        return httpx.Response(200, json={"MediaContainer": body})

    server = ServerSettings(name="fake", url="http://pms.invalid:32400", token="t0ken")
    source = PlexMediaSource(
        server,
        identity=ClientIdentity("t", "MediaNest"),
        page_size=3,
        overlap_seconds=0,
        transport=httpx.MockTransport(handle),
    )
    try:
        pages = await pages_of(source, 5)
    finally:
        await source.aclose()
    expected = [raw["ratingKey"] for raw in raws if "addedAt" not in raw]
    assert ids(pages) == expected
    assert all(len(page_ids) == 5 for page_ids, _ in pages[:-1])


async def test_json_only_the_standard_library_reads_costs_one_item_not_the_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listing = (
        b'{"MediaContainer":{"totalSize":4,"offset":0,"Metadata":['
        b'{"ratingKey":"1","type":"movie","title":"Fine"},'
        b'{"ratingKey":"2","type":"movie","title":"Broken \\ud800"},'
        b'{"ratingKey":"3","type":"movie","title":"Odd","year":NaN,"duration":1e400},'
        b'{"ratingKey":"4","type":"movie","title":"Also fine"}]}}'
    )

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/library/sections":
            body = b'{"MediaContainer":{"Directory":[{"key":"1","type":"movie","title":"M"}]}}'
            return httpx.Response(200, content=body)
        return httpx.Response(200, content=listing)

    server = ServerSettings(name="fake", url="http://pms.invalid:32400", token="t0ken")
    source = PlexMediaSource(
        server,
        identity=ClientIdentity("t", "MediaNest"),
        page_size=50,
        overlap_seconds=0,
        transport=httpx.MockTransport(handle),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="medianest_plex"):
            page = await source.list_library(None, 10)
    finally:
        await source.aclose()
    assert [item.ref.item_id for item in page.items] == ["1", "4"]
    assert "Plex item 2 of plex:fake" in caplog.text
    assert "Plex item 3 of plex:fake" in caplog.text
