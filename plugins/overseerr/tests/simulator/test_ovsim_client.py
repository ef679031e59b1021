"""The real client Home Assistant uses, ``python-overseerr``, unchanged, against the
simulator over real HTTP, for every call it makes that the simulator serves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from ovsim_support import SpecChecker, WebhookReceiver
from python_overseerr import OverseerrClient
from python_overseerr.exceptions import OverseerrAuthenticationError, OverseerrConnectionError
from python_overseerr.models import (
    MediaType,
    NotificationType,
    RequestFilterStatus,
    RequestSortStatus,
    RequestStatus,
)

from medianest_overseerr.simulator import (
    DEFAULT_JSON_PAYLOAD,
    MediaStatus,
    OverseerrWorld,
    RunningOverseerr,
)
from medianest_overseerr.simulator.catalogue import MOVIE, TV, Title


@pytest.fixture(autouse=True)
def every_call_is_one_the_real_server_accepts(spec_checker: SpecChecker) -> Iterator[None]:
    """Each request python-overseerr sends validates against the document too."""
    yield
    spec_checker.assert_requests_valid()
    assert spec_checker.requests_checked > 0


def _client(sim: RunningOverseerr, key: str | None = None) -> OverseerrClient:
    parts = urlsplit(sim.url)
    assert parts.hostname is not None and parts.port is not None
    return OverseerrClient(parts.hostname, parts.port, key or sim.api_key, ssl=False)


@pytest.fixture
async def client(ov_sim: RunningOverseerr) -> AsyncIterator[OverseerrClient]:
    async with _client(ov_sim) as made:
        yield made


def _requestable(world: OverseerrWorld, media_type: str) -> Title:
    return next(t for t in world.catalogue.requestable_only() if t.media_type == media_type)


def _in_plex(world: OverseerrWorld, media_type: str) -> Title:
    return next(t for t in world.catalogue.in_plex() if t.media_type == media_type)


async def test_status(client: OverseerrClient) -> None:
    status = await client.get_status()
    assert status.version == "1.33.2"
    assert status.update_available is False
    assert status.commits_behind == 0


async def test_a_wrong_key_is_an_authentication_error(ov_sim: RunningOverseerr) -> None:
    async with _client(ov_sim, "not-the-key") as client:
        with pytest.raises(OverseerrAuthenticationError):
            await client.get_request_count()


async def test_search_finds_a_title_with_its_media_info(
    client: OverseerrClient, ov_world: OverseerrWorld
) -> None:
    title = _in_plex(ov_world, MOVIE)
    word = max(title.title.replace(":", " ").replace("'", " ").split(), key=len)
    results = await client.search(word)
    found = [r for r in results if r.id == title.tmdb and r.media_type == "movie"]
    assert len(results) <= 20
    assert found or len(results) == 20
    if found:
        assert found[0].media_info is not None
        assert found[0].media_info.status == MediaStatus.AVAILABLE


async def test_search_with_a_space_is_refused_as_the_real_server_does(
    client: OverseerrClient,
) -> None:
    # The client's query encoder sends a "+" for the space; the real validator answers 400.
    with pytest.raises(OverseerrConnectionError) as caught:
        await client.search("the harbor")
    assert "must be url encoded" in str(caught.value.args)


async def test_create_list_and_count_requests(
    client: OverseerrClient, ov_world: OverseerrWorld
) -> None:
    movie = _requestable(ov_world, MOVIE)
    show = _requestable(ov_world, TV)
    made = await client.create_request(MediaType.MOVIE, movie.tmdb)
    assert made.media.tmdb_id == movie.tmdb
    assert made.status == RequestStatus.APPROVED  # the admin's requests are auto-approved
    made_tv = await client.create_request(MediaType.TV, show.tmdb, seasons="all")
    assert made_tv.season_count == len(show.season_numbers())
    listed = await client.get_requests()
    assert [r.id for r in listed] == [made_tv.id, made.id]
    by_modified = await client.get_requests(
        status=RequestFilterStatus.PROCESSING, sort=RequestSortStatus.MODIFIED, requested_by=1
    )
    assert {r.id for r in by_modified} == {made.id, made_tv.id}
    count = await client.get_request_count()
    assert (count.total, count.movie, count.tv, count.approved, count.processing) == (
        2,
        1,
        1,
        2,
        2,
    )


async def test_movie_and_tv_details(client: OverseerrClient, ov_world: OverseerrWorld) -> None:
    movie = _in_plex(ov_world, MOVIE)
    details = await client.get_movie_details(movie.tmdb)
    assert (details.id, details.title, details.imdb_id) == (movie.tmdb, movie.title, movie.imdb)
    assert details.media_info.status == MediaStatus.AVAILABLE
    show = _in_plex(ov_world, TV)
    tv = await client.get_tv_details(show.tmdb)
    assert tv.name == show.title
    assert tv.number_of_seasons == len(show.seasons)
    assert [s.season_number for s in tv.seasons] == [n for n, _ in show.seasons]


async def test_webhook_settings_round_trip(client: OverseerrClient) -> None:
    config = await client.get_webhook_notification_config()
    assert config.enabled is False
    assert config.options.json_payload == DEFAULT_JSON_PAYLOAD
    await client.set_webhook_notification_config(
        enabled=True,
        types=NotificationType.REQUEST_APPROVED | NotificationType.REQUEST_AVAILABLE,
        webhook_url="http://127.0.0.1:9/hook",
        json_payload=DEFAULT_JSON_PAYLOAD,
    )
    config = await client.get_webhook_notification_config()
    assert config.enabled is True
    assert config.types == NotificationType.REQUEST_APPROVED | NotificationType.REQUEST_AVAILABLE
    assert config.options.webhook_url == "http://127.0.0.1:9/hook"


async def test_webhook_test_notification(
    client: OverseerrClient, receiver: WebhookReceiver
) -> None:
    assert await client.test_webhook_notification_config(receiver.url, DEFAULT_JSON_PAYLOAD)
    got = await receiver.wait_for(1)
    assert got[0].body["notification_type"] == "TEST_NOTIFICATION"
    assert got[0].body["subject"] == "Test Notification"


async def test_issue_count_and_watchlist(client: OverseerrClient) -> None:
    count = await client.get_issue_count()
    assert count.total == 0
    assert await client.get_issues() == []
    assert await client.get_watchlist() == []
