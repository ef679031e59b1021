"""Media details (``/media/<source>/<item_id>``) and library browsing (``/library``).

Both need ``search``, like ``GET /api/v1/media/...`` and ``GET /api/v1/library``, and call the
functions behind those routes (:func:`~medianest.core.web.media_api.details_of`,
:func:`~medianest.core.web.media_api.browse`). Holders of ``edit_metadata`` get a form of
corrections on the details page; it posts to ``/media/<source>/<item_id>/corrections`` and
stores them through :func:`~medianest.core.web.media_api.correct`, as ``PATCH`` does (audit
log, pub/sub announcement and all). A field emptied removes its correction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from quart import Response, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.web import context
from medianest.core.web.media_api import _fetch_item, _media_source, browse, correct, details_of
from medianest.core.web.media_schemas import LibraryQuery, MediaChange, MediaDetails
from medianest.core.web.pages import i18n
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import InvalidInputError, MediaNestError
from medianest.sdk.models import MediaKind, Principal
from medianest.sdk.providers import SourceCapability
from medianest.sdk.web import current_principal

media_pages = page_blueprint("media_pages", __name__, template_folder="../templates")
library_pages = page_blueprint("library_pages", __name__, template_folder="../templates")

LIBRARY_PAGE_SIZE = 48
LIBRARY_KINDS = tuple(kind.value for kind in MediaKind if kind is not MediaKind.SEASON)
SORTS = ("title", "-title", "added", "-added", "year", "-year")
CORRECTABLE = ("title", "year", "summary", "poster_url", "imdb", "tmdb", "tvdb")
NUMBERS = frozenset({"year", "tmdb", "tvdb"})


def external_links(details: MediaDetails) -> list[tuple[str, str, str]]:
    """(name, id, URL) of each external id of the item, for links to the public databases."""
    ids = details.item.ids
    show = details.item.kind in ("show", "season", "episode")
    links = []
    if ids.imdb:
        links.append(("IMDb", ids.imdb, f"https://www.imdb.com/title/{quote(ids.imdb)}/"))
    if ids.tmdb:
        path = "tv" if show else "movie"
        links.append(("TMDB", str(ids.tmdb), f"https://www.themoviedb.org/{path}/{ids.tmdb}"))
    if ids.tvdb:
        links.append(
            ("TheTVDB", str(ids.tvdb), f"https://thetvdb.com/dereferrer/series/{ids.tvdb}")
        )
    if ids.youtube:
        links.append(
            ("YouTube", ids.youtube, f"https://www.youtube.com/watch?v={quote(ids.youtube)}")
        )
    return links


@media_pages.get("/media/<source>/<item_id>")
@requires(Permission.SEARCH)
async def details(source: str, item_id: str) -> Response:
    """One item: poster, summary, external ids, copies, seasons or episodes, corrections."""
    found = await details_of(source, item_id)
    return await _details_page(found, saved=request.args.get("saved") == "1")


async def _details_page(
    found: MediaDetails,
    *,
    status: int = 200,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    principal = current_principal()
    can_correct = principal is not None and principal.has(Permission.EDIT_METADATA)
    return await render_page(
        "media/details.html",
        requesting=await requesting(found, principal),
        title=found.item.title,
        status=status,
        etag=status == 200 and not saved,
        details=found,
        links=external_links(found),
        libraries=_library_sources(),
        can_correct=can_correct,
        corrections=typed if typed is not None else _current_corrections(found),
        error=error,
        saved=saved,
    )


REQUESTABLE_KINDS = frozenset({MediaKind.MOVIE.value, MediaKind.SHOW.value})
MAX_SEASON = 1000


async def requesting(found: MediaDetails, principal: Principal | None) -> dict[str, Any]:
    """What the details page's request box needs: the title as the box reads it (with its
    ``availability``, as a search hit has it), its request (``None`` when not requested),
    whether this person may ask, and a show's season numbers for the picker."""
    item = found.item
    summary = getattr(found, "request", None)
    can_request = principal is not None and principal.has(Permission.REQUEST)
    backends = bool(context.hub().registry.all("request_backends"))
    if found.available:
        availability = "available"
    elif backends and item.kind in REQUESTABLE_KINDS and item.ids.tmdb:
        availability = "requestable"
    else:
        availability = "unavailable"
    seasons = None
    if item.kind == MediaKind.SHOW.value and availability == "requestable" and can_request:
        seasons = await _season_numbers(found) if summary is None else None
    return {
        "item": {
            "source": item.source,
            "item_id": item.item_id,
            "kind": item.kind,
            "title": item.title,
            "ids": item.ids,
            "availability": availability,
        },
        "summary": summary,
        "can_request": can_request,
        "seasons": seasons,
    }


async def _season_numbers(found: MediaDetails) -> list[int]:
    """A show's season numbers (specials left out): its seasons in the catalogue, else those
    its source tells in the item's ``extra["seasons"]`` (a request backend's search, which
    knows titles no library holds). Nothing when the source cannot say."""
    numbers = {
        child.index
        for child in found.children
        if child.kind == MediaKind.SEASON.value and child.index is not None
    }
    if not numbers:
        try:
            item = await _fetch_item(_media_source(found.item.source), found.item.item_id)
        except MediaNestError:
            return []
        for season in item.extra.get("seasons") or ():
            number = season.get("number") if isinstance(season, dict) else season
            if isinstance(number, int) and not isinstance(number, bool):
                numbers.add(number)
    return sorted(n for n in numbers if 0 < n <= MAX_SEASON)


def _current_corrections(found: MediaDetails) -> dict[str, str]:
    override = found.overrides
    if override is None:
        return dict.fromkeys(CORRECTABLE, "")
    values = {
        "title": override.title,
        "year": override.year,
        "summary": override.summary,
        "poster_url": override.poster_url,
        "imdb": override.ids.imdb,
        "tmdb": override.ids.tmdb,
        "tvdb": override.ids.tvdb,
    }
    return {name: "" if value is None else str(value) for name, value in values.items()}


@media_pages.post("/media/<source>/<item_id>/corrections")
@requires(Permission.EDIT_METADATA)
async def save_corrections(source: str, item_id: str) -> ResponseTypes:
    """Store the corrections typed in the details page's form, then show the item again."""
    principal = current_principal()
    assert principal is not None
    form = await request.form
    found = await details_of(source, item_id)
    before = _current_corrections(found)
    typed = {name: form.get(name, "").strip() for name in CORRECTABLE}
    change: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    for name in CORRECTABLE:
        if typed[name] == before[name]:
            continue
        value: Any = typed[name] or None
        if value is not None and name in NUMBERS:
            value = int(value) if value.isdigit() else value
        if name in ("imdb", "tmdb", "tvdb"):
            ids[name] = value
        else:
            change[name] = value
    if ids:
        change["ids"] = ids
    if not change:
        return redirect(_details_url(source, item_id), 303)
    try:
        await correct(source, item_id, MediaChange.model_validate(change), principal)
    except ValidationError as exc:
        message = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc'] if p != 'ids')}: {problem['msg']}"
            for problem in exc.errors()
        )
        return await _details_page(found, status=422, error=message, typed=typed)
    except InvalidInputError as exc:
        return await _details_page(found, status=422, error=exc.message, typed=typed)
    return redirect(_details_url(source, item_id) + "?saved=1", 303)


def _details_url(source: str, item_id: str) -> str:
    return url_for("media_pages.details", source=source, item_id=item_id)


def _library_sources() -> frozenset[str]:
    return frozenset(
        source.id
        for source in context.hub().registry.all("media_sources")
        if SourceCapability.LIBRARY in source.capabilities
    )


@library_pages.get("/library")
@requires(Permission.SEARCH)
async def library() -> Response:
    """The catalogue by source and kind, sorted and filtered like ``GET /api/v1/library``."""
    given = {name: value for name, value in request.args.items() if value.strip()}
    given.pop("page", None)
    page_number = _page_number(request.args.get("page"))
    args = {"limit": str(LIBRARY_PAGE_SIZE)} | given
    error = None
    listing = None
    status = 200
    try:
        listing = await browse(LibraryQuery.model_validate(args))
    except ValidationError as exc:
        error = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or 'query'}: {problem['msg']}"
            for problem in exc.errors()
        )
        status = 422
    except InvalidInputError as exc:
        error = exc.message
        status = 400 if exc.field == "cursor" else 422
    base: dict[str, Any] = {k: v for k, v in given.items() if k != "cursor"}
    next_url = first_url = None
    if listing is not None and listing.next_cursor:
        next_url = url_for(
            "library_pages.library", **base, cursor=listing.next_cursor, page=page_number + 1
        )
    if "cursor" in args:
        first_url = url_for("library_pages.library", **base)
    return await render_page(
        "media/library.html",
        title=i18n.gettext("Library"),
        status=status,
        etag=status == 200,
        listing=listing,
        error=error,
        filters={name: request.args.get(name, "") for name in ("source", "kind", "sort", "year")},
        source_choices=sorted(_library_sources()),
        kinds=LIBRARY_KINDS,
        sorts=SORTS,
        next_url=next_url,
        first_url=first_url,
        page_number=page_number,
    )


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return number if 1 <= number <= 100_000 else 1
