"""Pictures: PlexMediaSource.fetch_image through the simulated servers' photo transcoder, over
real HTTP, and the simulator's picture routes themselves."""

from __future__ import annotations

import logging
import struct

import httpx
import pytest
from plex_testkit import add_fault

from medianest.sdk import (
    CAPABILITY_PROTOCOLS,
    ImageData,
    NotFoundError,
    SourceCapability,
    UpstreamError,
)
from medianest_plex.simulator import Kind, PlexWorld, RunningSimulator
from medianest_plex.simulator.items import Item
from medianest_plex.source import PlexMediaSource


def png_size(image: ImageData) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, checking the signature."""
    assert image.content_type == "image/png"
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and image.data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", image.data[16:24])
    return width, height


def first(world: PlexWorld, server: int, kind: Kind) -> Item:
    library = world.servers[server].library
    for section in library.sections.values():
        found = library.of_kind(section.key, kind)
        if found:
            return found[0]
    raise AssertionError(f"no {kind} on server {server}")


async def test_the_source_declares_pictures_and_has_the_method(home: PlexMediaSource) -> None:
    assert SourceCapability.IMAGES in home.capabilities
    assert isinstance(home, CAPABILITY_PROTOCOLS[SourceCapability.IMAGES])


async def test_a_poster_is_scaled_to_the_width_asked_in_a_two_by_three_shape(
    home: PlexMediaSource, plex_world: PlexWorld
) -> None:
    movie = first(plex_world, 0, Kind.MOVIE)
    image = await home.fetch_image(str(movie.rating_key), "poster", 320)
    assert png_size(image) == (320, 480)
    again = await home.fetch_image(str(movie.rating_key), "poster", 320)
    assert again.data == image.data  # deterministic
    backdrop = await home.fetch_image(str(movie.rating_key), "backdrop", 480)
    assert png_size(backdrop) == (480, 270)
    other = first(plex_world, 0, Kind.SHOW)
    assert (await home.fetch_image(str(other.rating_key), "poster", 320)).data != image.data


async def test_an_episode_poster_is_its_show_poster(
    home: PlexMediaSource, plex_world: PlexWorld
) -> None:
    episode = first(plex_world, 0, Kind.EPISODE)
    show = episode.show
    assert show is not None
    poster = await home.fetch_image(str(episode.rating_key), "poster", 160)
    assert poster.data == (await home.fetch_image(str(show.rating_key), "poster", 160)).data
    still = await home.fetch_image(str(episode.rating_key), "thumbnail", 160)
    assert png_size(still) == (160, 90)


async def test_missing_items_and_kinds_are_not_found(home: PlexMediaSource) -> None:
    with pytest.raises(NotFoundError, match="plex:home has no item 99999999"):
        await home.fetch_image("99999999", "poster", 320)
    with pytest.raises(NotFoundError):
        await home.fetch_image("../identity", "poster", 320)
    listed = (await home.list_library(None, 1)).items[0]
    with pytest.raises(NotFoundError, match="has no avatar"):
        await home.fetch_image(listed.ref.item_id, "avatar", 320)


async def test_a_failing_server_is_an_upstream_error_without_the_token(
    home: PlexMediaSource,
    plex_world: PlexWorld,
    control: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    movie = first(plex_world, 0, Kind.MOVIE)
    await add_fault(control, mode="error", path="/photo/:/transcode", status=500, times=1)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamError, match="HTTP 500") as raised:
        await home.fetch_image(str(movie.rating_key), "poster", 320)
    token = plex_world.owner.token
    assert token not in raised.value.message
    assert token not in caplog.text


async def test_the_simulator_serves_thumbs_and_guards_them(
    plex_sim: RunningSimulator, plex_world: PlexWorld
) -> None:
    movie = first(plex_world, 0, Kind.MOVIE)
    thumb = f"/library/metadata/{movie.rating_key}/thumb/{movie.updated_at}"
    token = {"X-Plex-Token": plex_world.owner.token}
    async with httpx.AsyncClient(base_url=plex_sim.url("home"), timeout=10) as client:
        natural = await client.get(thumb, headers=token)
        assert natural.status_code == 200 and natural.headers["content-type"] == "image/png"
        assert struct.unpack(">II", natural.content[16:24]) == (600, 900)
        assert (await client.get(thumb)).status_code == 401
        scaled = await client.get(
            "/photo/:/transcode", params={"url": thumb, "width": 100}, headers=token
        )
        assert struct.unpack(">II", scaled.content[16:24]) == (100, 150)
        elsewhere = await client.get(
            "/photo/:/transcode", params={"url": "https://example.com/x.png"}, headers=token
        )
        assert elsewhere.status_code == 400 and "url" in elsewhere.text
        bad_width = await client.get(
            "/photo/:/transcode", params={"url": thumb, "width": "wide"}, headers=token
        )
        assert bad_width.status_code == 400 and "width" in bad_width.text
        gone = thumb.replace(str(movie.rating_key), "99999999")
        missing = await client.get("/photo/:/transcode", params={"url": gone}, headers=token)
        assert missing.status_code == 404
