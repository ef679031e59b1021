"""The pictures route of the pages (``/media/<source>/<item_id>/image/<kind>``): what reaches a
browser from a source's ``fetch_image`` (only real JPEG, PNG, WebP and GIF images, within the
size cap), caching in the shared cache and by the browser, refusals, sources without the
capability or failing, and an admin's poster correction, in both runtime modes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from medianest.core.web.pages import images
from medianest.sdk import ImageData, Page, SourceCapability, hookimpl
from medianest.sdk.access import Permission
from medianest.sdk.errors import NotFoundError, UpstreamError
from medianest.sdk.testing import HubHarness, RunningHub
from tests.sync.fake_source import FakeLibrary, FakePlugin
from tests.sync.sync_testing import sync

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
WEBP = b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 30
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"

ANSWERS: dict[str, tuple[bytes, str]] = {
    "png": (PNG, "image/png"),
    "gif": (GIF, "image/gif"),
    "jpeg": (JPEG, "image/jpeg; charset=binary"),
    "webp": (WEBP, "image/webp"),
    "svg": (SVG, "image/svg+xml"),
    "html": (HTML, "text/html; charset=utf-8"),
    "html-as-png": (HTML, "image/png"),
    "svg-as-gif": (SVG, "image/gif"),
    "png-as-html": (PNG, "text/html"),
    "jpeg-as-png": (JPEG, "image/png"),
    "huge": (PNG + b"\x00" * images.MAX_BYTES, "image/png"),
}


class PictureSource:
    """A source that hands over pictures: each item id answers in its own way."""

    id = "pictures"
    name = "Pictures"
    capabilities = frozenset({SourceCapability.IMAGES})

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    async def get_item(self, item_id: str) -> Any:
        raise NotFoundError(f"no item {item_id}")

    async def fetch_image(self, item_id: str, kind: str, width: int) -> ImageData:
        self.calls.append((item_id, kind, width))
        if item_id == "missing" or kind == "backdrop":
            raise NotFoundError(f"{item_id} has no {kind}")
        if item_id == "failing":
            raise UpstreamError("the picture service is down", status=503, source=self.id)
        if item_id == "slow":
            await asyncio.sleep(5)
        if item_id == "buggy":
            return {"data": PNG}  # type: ignore[return-value]
        if item_id == "crashing":
            raise RuntimeError("a bug in the plugin")
        data, content_type = ANSWERS[item_id]
        return ImageData(data=data, content_type=content_type)


class CataloguedPictures(PictureSource):
    """A picture source whose library is copied into the catalogue (empty here)."""

    id = "pictures:albums"
    name = "Albums"
    capabilities = frozenset({SourceCapability.IMAGES, SourceCapability.LIBRARY})

    async def list_library(self, cursor: str | None, limit: int) -> Page[Any]:
        return Page(items=[], next_cursor=None, total=0)


class PicturePlugin:
    def __init__(self, *sources: PictureSource) -> None:
        self.sources = list(sources)

    @hookimpl
    def register_media_sources(self) -> list[PictureSource]:
        return self.sources


@pytest.fixture
def pictures() -> PictureSource:
    return PictureSource()


@pytest.fixture
def albums() -> CataloguedPictures:
    return CataloguedPictures()


@pytest.fixture
async def running(
    medianest_hub: HubHarness, pictures: PictureSource, albums: CataloguedPictures, mode: dict
) -> AsyncIterator[RunningHub]:
    plugins = {
        "pictures": PicturePlugin(pictures, albums),
        "shelf": FakePlugin(FakeLibrary("shelf", 3)),
    }
    async with medianest_hub.run(plugins, **mode) as hub:
        with hub.hub.database.activate():
            yield hub


@pytest.fixture
async def reader(running: RunningHub) -> dict[str, str]:
    return await running.sign_in(permissions=[Permission.SEARCH])


def url(item_id: str, kind: str = "poster", width: int | str | None = 320) -> str:
    query = "" if width is None else f"?w={width}"
    return f"/media/pictures/{item_id}/image/{kind}{query}"


async def blank(response: Any, status: int) -> None:
    """Check ``response`` is the see-through stand-in with ``status``."""
    body = await response.get_data()
    assert response.status_code == status, body[:200]
    assert response.content_type == "image/gif"
    assert body.startswith(b"GIF89a") and len(body) < 100
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("item_id", ["png", "gif", "jpeg", "webp"])
async def test_an_image_is_served_with_its_type_an_etag_and_private_caching(
    running: RunningHub, reader: dict, pictures: PictureSource, item_id: str
) -> None:
    data, declared = ANSWERS[item_id]
    response = await running.client.get(url(item_id), headers=reader)

    assert response.status_code == 200
    assert await response.get_data() == data
    assert response.content_type == declared.split(";")[0]
    assert response.headers["Cache-Control"] == f"private, max-age={images.BROWSER_SECONDS}"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    etag = response.headers["ETag"]
    assert "img-src 'self'" in response.headers["Content-Security-Policy"]

    again = await running.client.get(url(item_id), headers={**reader, "If-None-Match": etag})
    assert again.status_code == 304 and await again.get_data() == b""
    assert pictures.calls == [(item_id, "poster", 320)]  # the second came from the cache


@pytest.mark.parametrize(
    "item_id",
    ["svg", "html", "html-as-png", "svg-as-gif", "png-as-html", "jpeg-as-png", "buggy"],
)
async def test_anything_but_a_real_image_of_an_allowed_type_is_refused(
    running: RunningHub, reader: dict, pictures: PictureSource, item_id: str
) -> None:
    response = await running.client.get(url(item_id), headers=reader)

    await blank(response, 502)
    assert response.headers["Cache-Control"] == "private, no-store"
    body = await response.get_data()
    assert b"<svg" not in body and b"<script" not in body
    await running.client.get(url(item_id), headers=reader)
    assert len(pictures.calls) == 2  # refusals are not cached


async def test_a_picture_over_the_size_cap_is_refused(
    running: RunningHub, reader: dict, pictures: PictureSource
) -> None:
    await blank(await running.client.get(url("huge"), headers=reader), 502)
    assert pictures.calls == [("huge", "poster", 320)]


async def test_a_missing_picture_is_a_cached_see_through_404(
    running: RunningHub, reader: dict, pictures: PictureSource
) -> None:
    for _ in range(2):
        response = await running.client.get(url("missing"), headers=reader)
        await blank(response, 404)
        assert response.headers["Cache-Control"] == f"private, max-age={images.MISSING_SECONDS}"
    assert pictures.calls == [("missing", "poster", 320)]
    await blank(await running.client.get(url("png", "backdrop"), headers=reader), 404)
    await blank(await running.client.get(url("png", "avatar"), headers=reader), 404)
    assert ("png", "avatar", 320) not in pictures.calls  # only poster, backdrop, thumbnail


async def test_a_failing_or_slow_source_is_not_cached_and_breaks_nothing(
    running: RunningHub, reader: dict, pictures: PictureSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(2):
        await blank(await running.client.get(url("failing"), headers=reader), 502)
    assert pictures.calls == [("failing", "poster", 320)] * 2
    await blank(await running.client.get(url("crashing"), headers=reader), 502)
    monkeypatch.setattr(images, "FETCH_SECONDS", 0.2)
    await blank(await running.client.get(url("slow"), headers=reader), 504)


async def test_widths_snap_to_the_few_allowed_sizes(
    running: RunningHub, reader: dict, pictures: PictureSource
) -> None:
    asked = {None: 320, "1": 160, "160": 160, "161": 320, "500": 780, "99999999": 780}
    asked |= {"abc": 320, "-5": 320, "0": 320, "1e3": 320}
    for given in asked:
        response = await running.client.get(url("png", width=given), headers=reader)
        assert response.status_code == 200, given
    assert sorted(call[2] for call in pictures.calls) == sorted(set(asked.values()))


async def test_sources_without_the_capability_or_unknown_answer_404(
    running: RunningHub, reader: dict
) -> None:
    for path in ("/media/shelf/1/image/poster", "/media/attic/1/image/poster"):
        await blank(await running.client.get(path, headers=reader), 404)


async def test_a_catalogued_source_is_asked_only_for_items_the_catalogue_holds(
    running: RunningHub, reader: dict, albums: CataloguedPictures
) -> None:
    for item_id in ("png", "invented-1", "9" * 300):
        path = f"/media/pictures:albums/{item_id}/image/poster"
        await blank(await running.client.get(path, headers=reader), 404)
    assert albums.calls == []


async def test_pictures_need_the_search_permission(running: RunningHub) -> None:
    anonymous = await running.client.get(url("png"))
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].startswith("/sign-in?next=")
    bare = await running.sign_in(permissions=[])
    assert (await running.client.get(url("png"), headers=bare)).status_code == 403


async def test_an_admin_poster_correction_wins_when_it_is_https(
    running: RunningHub, pictures: PictureSource
) -> None:
    run = await sync(running.hub, "shelf")
    assert run.status == "succeeded", run.error
    editor = await running.sign_in(permissions=[Permission.SEARCH, Permission.EDIT_METADATA])
    path = "/media/shelf/1/image/poster"
    await blank(await running.client.get(path, headers=editor), 404)
    poster = "https://images.example.org/posters/1.jpg"
    patched = await running.client.patch(
        "/api/v1/media/shelf/1", json={"poster_url": poster}, headers=editor
    )
    assert patched.status_code == 200, await patched.get_data(as_text=True)

    response = await running.client.get(path, headers=editor)
    assert response.status_code == 302 and response.headers["Location"] == poster
    assert response.headers["Cache-Control"].startswith("private, max-age=")

    plain = "http://images.example.org/posters/1.jpg"
    await running.client.patch("/api/v1/media/shelf/1", json={"poster_url": plain}, headers=editor)
    await blank(await running.client.get(path, headers=editor), 404)  # never http
    assert pictures.calls == []
