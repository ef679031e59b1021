"""Each kind of upstream trouble, made by the simulator's control API, reaches core as the
SDK's error for it, naming the instance, within the instance's timeout."""

from __future__ import annotations

import time

import pytest
from overseerr_testkit import API_KEY

from medianest.sdk import ExternalIds, MediaKind, MediaRequestCreate, Principal, SearchQuery
from medianest.sdk.errors import (
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest_overseerr.backend import OverseerrRequestBackend
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr
from medianest_overseerr.source import OverseerrMediaSource


def ask(world: OverseerrWorld) -> MediaRequestCreate:
    title = next(t for t in world.catalogue.requestable_only() if t.media_type == "movie")
    return MediaRequestCreate(
        kind=MediaKind.MOVIE, ids=ExternalIds(tmdb=title.tmdb), title=title.title
    )


async def test_a_slow_overseerr_times_out_naming_the_instance(
    backend: OverseerrRequestBackend,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    friend: Principal,
) -> None:
    await backend.users.find(friend)  # the directory is read before Overseerr slows down
    overseerr_sim.control.slow(3000)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await backend.create_request(friend, ask(overseerr_world))
    assert time.monotonic() - started < 2.9, "gave up at the instance's 2 s timeout"
    assert "Overseerr 'home' did not answer POST /request within 2 s" in caught.value.message
    assert caught.value.source == "overseerr:home"


@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ({"status": 500}, UpstreamError, "Overseerr 'home' failed with HTTP 500"),
        ({"status": 429}, UpstreamRateLimitedError, "Overseerr 'home' asked us to slow down"),
        ({"garbage": True}, UpstreamDataError, "Overseerr 'home' answered"),
    ],
)
async def test_failures_become_upstream_errors_naming_the_instance(
    backend: OverseerrRequestBackend,
    overseerr_sim: RunningOverseerr,
    overseerr_world: OverseerrWorld,
    friend: Principal,
    fault: dict[str, object],
    kind: type[Exception],
    words: str,
) -> None:
    await backend.users.find(friend)
    overseerr_sim.control.fail(**fault)  # type: ignore[arg-type]
    with pytest.raises(kind) as caught:
        await backend.create_request(friend, ask(overseerr_world))
    assert words in str(caught.value)
    assert API_KEY not in str(caught.value)
    if "garbage" not in fault:  # a garbled answer may follow a request Overseerr did file
        assert not overseerr_world.requests, "nothing was filed"


async def test_a_down_overseerr_is_an_upstream_error(
    backend: OverseerrRequestBackend, overseerr_sim: RunningOverseerr, friend: Principal
) -> None:
    overseerr_sim.control.down()
    with pytest.raises(UpstreamError, match="Overseerr 'home' failed with HTTP 503"):
        await backend.list_requests(friend, None, 5)


async def test_refused_connections_are_unreachable_and_health_says_so(
    backend: OverseerrRequestBackend,
    source: OverseerrMediaSource,
    overseerr_sim: RunningOverseerr,
    friend: Principal,
) -> None:
    assert (await source.health()).ok
    overseerr_sim.control.down()
    health = await source.health()
    assert not health.ok and "Overseerr 'home'" in health.detail
    overseerr_sim.control.up()
    refusing = overseerr_sim.control.refuse(1.0)
    import asyncio

    task = asyncio.create_task(refusing)
    await asyncio.sleep(0.3)
    try:
        with pytest.raises(UpstreamUnreachableError, match="could not reach Overseerr 'home'"):
            await source.search(SearchQuery(text="the"))
    finally:
        await task
    assert (await source.health()).ok, "back once the port answers again"
