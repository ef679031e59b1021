"""Pictures of media items, served from the hub's own origin (``/media/<source>/<id>/image/...``).

A source's images often cannot be loaded by a browser directly: a Plex server's pictures need its
token, which must never reach a page. A source with the ``images`` capability
(:class:`~medianest.sdk.providers.ImageSource`) hands the bytes over instead, and this route
serves them to pages, with the access of the details page (``search``):

- only JPEG, PNG, WebP and GIF go out, checked against both the type the source gave and the
  bytes' own signature; SVG, HTML or anything else is refused (502), so nothing a source
  answers can run script or be rendered as a document on the hub's origin;
- at most :data:`MAX_BYTES` per picture;
- widths snap to :data:`WIDTHS` (the next one up), so a page cannot make the source render
  arbitrary sizes, and the cache holds few variants;
- the bytes are kept in the shared cache for :data:`CACHE_SECONDS` (Redis in scaled mode, so
  every replica shares them), "none" for :data:`MISSING_SECONDS`; failures are not kept;
- answers carry ``Cache-Control: private, max-age=...`` and an ETag (304 to a browser that has
  them);
- an admin's poster correction (``poster_url``, ``https:``) wins: the route redirects to it;
- a source copied into the catalogue (``library``) is asked only for items the catalogue
  holds, so invented ids cost its service nothing.

When there is nothing to show (no such item or picture, a source without the capability, a
failing source, a refused answer) the route answers its status with a transparent 1x1 GIF, so
the ``<img>`` laid over the letter placeholder stays see-through and the page never shows a
broken image. Pages build the address with :func:`poster_src`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import structlog
from quart import Response, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.db.models import LibraryItem, MediaOverride
from medianest.core.media.reads import storable
from medianest.core.web import context
from medianest.core.web.pages.shell import page_blueprint
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import MediaNestError, NotFoundError
from medianest.sdk.providers import (
    IMAGE_KINDS,
    ImageData,
    ImageSource,
    MediaSource,
    SourceCapability,
)

log = structlog.get_logger(__name__)

image_pages = page_blueprint("image_pages", __name__)

WIDTHS = (160, 320, 480, 780)
"""The widths a picture is asked in; any other is served as the next one up (or the largest)."""
DEFAULT_WIDTH = 320
MAX_BYTES = 5 * 1024 * 1024
"""The largest picture served; a bigger one is refused."""
CACHE_SECONDS = 6 * 3600
"""How long a picture is kept in the shared cache (and by the browser: :data:`BROWSER_SECONDS`)."""
BROWSER_SECONDS = 3600
MISSING_SECONDS = 600
"""How long "this item has no such picture" is kept, so missing pictures are not asked again
on every page view."""
FETCH_SECONDS = 10.0
"""How long a source may take to hand over a picture."""
CACHE_PREFIX = "media-image:v1:"
MAX_ITEM_ID = 255
"""The longest item id the catalogue holds (longer ones are never looked up there)."""

ALLOWED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
"""The only media types served; never SVG or HTML."""

_BLANK_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
"""A transparent 1x1 GIF: the body of every answer without a picture."""


class _Refused(Exception):
    """A source's answer that must not reach a browser (the reason is logged, not shown)."""


def _signature_type(data: bytes) -> str | None:
    """The image type the bytes themselves say, among :data:`ALLOWED_TYPES`."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def checked_type(image: ImageData) -> str:
    """The media type ``image`` is served as.

    :raises _Refused: the declared type is not an allowed image type, the bytes are not one
        (an SVG or HTML page labelled ``image/png``), the two disagree, or it is too big.
    """
    declared = image.content_type.split(";", 1)[0].strip().lower()
    if declared == "image/jpg":
        declared = "image/jpeg"
    if declared not in ALLOWED_TYPES:
        raise _Refused(f"type {declared[:60]!r} is not an allowed image type")
    if len(image.data) > MAX_BYTES:
        raise _Refused(f"{len(image.data)} bytes is over the {MAX_BYTES}-byte limit")
    actual = _signature_type(image.data)
    if actual is None:
        raise _Refused(f"the bytes are not a {declared} image")
    if actual != declared:
        raise _Refused(f"labelled {declared} but the bytes are {actual}")
    return declared


def snap_width(raw: str | None) -> int:
    """The width of :data:`WIDTHS` served for ``?w=``: the next one up, the largest above it,
    :data:`DEFAULT_WIDTH` when absent or not a positive number."""
    if raw is None or not raw.isdigit() or int(raw) <= 0:
        return DEFAULT_WIDTH
    wanted = int(raw[:6]) if len(raw) <= 6 else WIDTHS[-1]
    return next((width for width in WIDTHS if width >= wanted), WIDTHS[-1])


def _media_source(source_id: str) -> MediaSource | None:
    sources: list[MediaSource] = context.hub().registry.all("media_sources")
    return next((source for source in sources if source.id == source_id), None)


def _lookupable(item_id: str) -> bool:
    """Whether ``item_id`` can be a catalogue id (short enough, a storable text)."""
    return len(item_id) <= MAX_ITEM_ID and storable(item_id)


def image_sources() -> frozenset[str]:
    """The ids of the media sources that hand over their pictures."""
    return frozenset(
        source.id
        for source in context.hub().registry.all("media_sources")
        if SourceCapability.IMAGES in source.capabilities
    )


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def poster_src(item: Any, width: int = DEFAULT_WIDTH) -> str | None:
    """Where a page loads ``item``'s poster from (an item view, or its JSON as a mapping):
    this hub's image route when its source hands over pictures, else the poster's own
    address when it is ``https:``, else ``None`` (the letter placeholder alone)."""
    source = _field(item, "source")
    if source in image_sources():
        return url_for(
            "image_pages.media_image",
            source=source,
            item_id=_field(item, "item_id"),
            kind="poster",
            w=width,
        )
    poster = _field(item, "poster")
    if isinstance(poster, str) and poster.startswith("https://"):
        return poster
    return None


def _blank(status: int, *, max_age: int | None = None) -> Response:
    response = Response(_BLANK_GIF, status=status, content_type="image/gif")
    response.headers["Cache-Control"] = (
        f"private, max-age={max_age}" if max_age is not None else "private, no-store"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _cache_key(source: str, item_id: str, kind: str, width: int) -> str:
    digest = hashlib.sha256(f"{source}\n{item_id}\n{kind}\n{width}".encode()).hexdigest()
    return f"{CACHE_PREFIX}{digest}"


async def _catalogued(source: ImageSource, item_id: str) -> bool:
    """Whether the item may be asked of ``source``: a source copied into the catalogue is asked
    only for items the catalogue holds (an invented id costs the service nothing), a live one
    for any."""
    capabilities = source.capabilities
    if SourceCapability.LIBRARY not in capabilities or SourceCapability.LIVE_SEARCH in capabilities:
        return True
    if not _lookupable(item_id):
        return False
    return await LibraryItem.filter(source=source.id, item_id=item_id).exists()


async def _override_poster(source: str, item_id: str) -> str | None:
    """The admin's ``https:`` poster correction of the item, if any."""
    if not _lookupable(item_id):
        return None
    found = await MediaOverride.filter(source=source, item_id=item_id).values_list(
        "poster_url", flat=True
    )
    url = found[0] if found else None
    return url if isinstance(url, str) and url.startswith("https://") else None


async def _fetch(source: ImageSource, item_id: str, kind: str, width: int) -> dict[str, Any]:
    """What the cache keeps for one picture: ``{"missing": true}`` or its checked bytes.

    :raises _Refused: the source's answer must not be served.
    :raises MediaNestError: the source failed (not cached).
    """
    try:
        image = await asyncio.wait_for(
            source.fetch_image(item_id, kind, width), timeout=FETCH_SECONDS
        )
    except NotFoundError:
        return {"missing": True}
    if not isinstance(image, ImageData):
        raise _Refused(f"fetch_image returned {type(image).__name__}, not ImageData")
    content_type = checked_type(image)
    return {
        "type": content_type,
        "etag": hashlib.sha256(image.data).hexdigest()[:32],
        "data": base64.b64encode(image.data).decode("ascii"),
    }


@image_pages.get("/media/<source>/<item_id>/image/<kind>")
@requires(Permission.SEARCH)
async def media_image(source: str, item_id: str, kind: str) -> ResponseTypes:
    """A picture of an item (``kind``: poster, backdrop or thumbnail), about ``?w=`` wide."""
    if kind not in IMAGE_KINDS:
        return _blank(404, max_age=MISSING_SECONDS)
    width = snap_width(request.args.get("w"))
    media_source = _media_source(source)
    if media_source is None:
        return _blank(404, max_age=MISSING_SECONDS)
    if kind == "poster":
        override = await _override_poster(source, item_id)
        if override is not None:
            moved = redirect(override, 302)
            moved.headers["Cache-Control"] = f"private, max-age={MISSING_SECONDS}"
            return moved
    if SourceCapability.IMAGES not in media_source.capabilities:
        return _blank(404, max_age=MISSING_SECONDS)
    image_source: ImageSource = media_source  # type: ignore[assignment]  # checked at boot
    if not await _catalogued(image_source, item_id):
        return _blank(404, max_age=MISSING_SECONDS)
    cache = context.hub().cache
    key = _cache_key(source, item_id, kind, width)
    cached = await cache.get(key)
    if cached is None:
        try:
            cached = await _fetch(image_source, item_id, kind, width)
        except _Refused as exc:
            log.warning("picture refused", source=source, item_id=item_id[:100], reason=str(exc))
            return _blank(502)
        except (MediaNestError, TimeoutError) as exc:
            timed_out = isinstance(exc, TimeoutError)
            reason = f"no answer within {FETCH_SECONDS:g} s" if timed_out else str(exc)
            log.info("picture unavailable", source=source, item_id=item_id[:100], reason=reason)
            return _blank(504 if timed_out else 502)
        except Exception:  # a bug in the plugin: reported, and the page keeps its placeholder
            log.exception("fetch_image failed", source=source, item_id=item_id[:100])
            return _blank(502)
        ttl = MISSING_SECONDS if cached.get("missing") else CACHE_SECONDS
        await cache.set(key, cached, ttl)
    if cached.get("missing"):
        return _blank(404, max_age=MISSING_SECONDS)
    etag = cached["etag"]
    response = Response(base64.b64decode(cached["data"]), content_type=cached["type"])
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={BROWSER_SECONDS}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.if_none_match.contains(etag):
        response.status_code = 304
        response.set_data(b"")
    return response
