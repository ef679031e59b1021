"""The HTTP clients against the simulator: identification, paging and error translation."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from plex_testkit import SERVER_TIMEOUT, add_fault, closed_port_url

from medianest.sdk import (
    NotFoundError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
)
from medianest_plex.client import ClientIdentity
from medianest_plex.plugin import PlexRuntime
from medianest_plex.pms import PlexServerClient
from medianest_plex.settings import PlexSettings
from medianest_plex.simulator import RunningSimulator
from medianest_plex.source import PlexMediaSource


def server_client(url: str, token: str, timeout: float = SERVER_TIMEOUT) -> PlexServerClient:
    return PlexServerClient(
        base_url=url,
        label="Plex server 'home'",
        source="plex:home",
        identity=ClientIdentity("test-client", "MediaNest"),
        timeout=timeout,
        token=token,
    )


async def test_plex_tv_sees_our_identification(
    runtime: PlexRuntime, control: httpx.AsyncClient, plex_settings: PlexSettings
) -> None:
    await runtime.plextv.create_pin()
    pins = (await control.get("/pins")).json()
    assert pins[-1]["clientIdentifier"] == plex_settings.client_identifier
    assert pins[-1]["product"] == "MediaNest"


def test_identification_headers() -> None:
    headers = ClientIdentity("abc", "MediaNest").headers()
    assert headers["Accept"] == "application/json"
    assert headers["X-Plex-Client-Identifier"] == "abc"
    assert headers["X-Plex-Product"] == "MediaNest"
    for name in ("X-Plex-Version", "X-Plex-Platform", "X-Plex-Device"):
        assert headers[name]


async def test_count_with_page_size_zero_matches_the_simulator(
    home: PlexMediaSource, plex_sim: RunningSimulator
) -> None:
    sections = plex_sim.world.describe()["servers"][0]["sections"]
    movies = sections["1"]["count"]
    assert await home.client.count("/library/sections/1/all", params=[("type", 1)]) == movies
    page = await home.client.page("/library/sections/1/all", start=5, size=7)
    assert len(page.items) == 7 and page.offset == 5 and page.total == movies


async def test_server_error_is_an_upstream_error_naming_the_server(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="error", path="/library/sections", status=503, times=1)
    with pytest.raises(UpstreamError) as caught:
        await home.client.sections()
    error = caught.value
    assert type(error) is UpstreamError
    assert error.status == 503 and error.source == "plex:home" and error.plugin == "plex"
    assert "Plex server 'home' failed with HTTP 503 on GET /library/sections" in str(error)


async def test_rate_limit_carries_retry_after(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="rate_limit", path="/library/sections", retry_after=7, times=1)
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await home.client.sections()
    assert caught.value.retry_after == 7
    assert "asked us to slow down (HTTP 429)" in caught.value.message


async def test_hanging_server_times_out_quickly(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="hang", path="/library/sections")
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await home.client.sections()
    assert time.monotonic() - started < SERVER_TIMEOUT + 1.5
    assert "did not answer GET /library/sections within 1 s" in caught.value.message


async def test_malformed_body_is_a_data_error(
    home: PlexMediaSource, control: httpx.AsyncClient
) -> None:
    await add_fault(control, mode="malformed", path="/library/sections", times=1)
    with pytest.raises(UpstreamDataError, match="body that is not valid JSON"):
        await home.client.sections()


async def test_rejected_token_is_an_auth_error_without_the_token(
    plex_sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = server_client(plex_sim.url("home"), "not-a-valid-token-123")
    try:
        with pytest.raises(UpstreamAuthError) as caught:
            await client.sections()
    finally:
        await client.aclose()
    assert caught.value.status == 401
    assert "refused our credentials (HTTP 401)" in str(caught.value)
    assert "not-a-valid-token-123" not in str(caught.value)
    assert "not-a-valid-token-123" not in caplog.text


async def test_missing_thing_is_not_found(home: PlexMediaSource) -> None:
    with pytest.raises(NotFoundError, match="has nothing at GET /library/sections/99/all"):
        await home.client.page("/library/sections/99/all", start=0, size=1)


async def test_unreachable_server_is_an_upstream_error() -> None:
    client = server_client(closed_port_url(), "secret-token-abc")
    try:
        with pytest.raises(UpstreamError) as caught:
            await client.identity()
    finally:
        await client.aclose()
    assert "could not reach Plex server 'home' at http://127.0.0.1:" in caught.value.message
    assert "secret-token-abc" not in str(caught.value)


async def test_plextv_errors_name_plextv(runtime: PlexRuntime, control: httpx.AsyncClient) -> None:
    await add_fault(control, mode="error", path="/api/v2/pins", status=500, times=1)
    with pytest.raises(UpstreamError, match=r"plex\.tv failed with HTTP 500 on POST /api/v2/pins"):
        await runtime.plextv.create_pin()


async def test_plextv_error_message_is_passed_on(runtime: PlexRuntime) -> None:
    with pytest.raises(UpstreamAuthError, match="User could not be authenticated"):
        await runtime.plextv.user("wrong-token")


FAULTS = [
    ({"mode": "error", "status": 500}, UpstreamError),
    ({"mode": "error", "status": 401}, UpstreamAuthError),
    ({"mode": "rate_limit", "retry_after": 3}, UpstreamRateLimitedError),
    ({"mode": "hang"}, UpstreamTimeoutError),
    ({"mode": "latency", "latency_ms": 3000}, UpstreamTimeoutError),
    ({"mode": "malformed"}, UpstreamDataError),
]


@pytest.mark.parametrize(("rule", "expected"), FAULTS, ids=lambda v: str(v))
async def test_every_fault_mode_gives_its_error_without_hanging(
    runtime: PlexRuntime, control: httpx.AsyncClient, rule: dict[str, object], expected: type
) -> None:
    calls = {
        "/library/sections": runtime.sources[0].client.sections,
        "/api/v2/pins": runtime.plextv.create_pin,
    }
    for path, call in calls.items():
        await add_fault(control, path=path, **rule)
        started = time.monotonic()
        with pytest.raises(expected) as caught:
            await call()
        assert type(caught.value) is expected
        assert time.monotonic() - started < SERVER_TIMEOUT + 1.5
        assert caught.value.plugin == "plex"
        assert ("plex.tv" if path.startswith("/api") else "Plex server 'home'") in str(caught.value)
        await control.delete("/faults")
