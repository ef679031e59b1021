"""The media API: item details, recently added, library browsing and admin overrides.

- ``GET /api/v1/media/{source}/{item_id}`` (permission ``search``): one item of a media source
  (``plex:home``) with its children (a show's seasons, a season's episodes), its parent, its
  copies in other sources (sharing an external id), whether any of them is in a library, and
  the admin's corrections, and the request for it when someone asked for it (``request``, from
  the hub's own records; who asked is shown to that person and to request managers). Items of
  the catalogue are read from it; a source searched live, or
  without a library, is asked for the item under its search timeout (504 past it, 502 when it
  fails, naming the source). An unknown source, or an item that is not there, is a 404.
- ``GET /api/v1/media/recent`` (``search``): items by time added, newest first, across sources.
- ``GET /api/v1/library`` (``search``): the catalogue filtered by source, kind, year and parent,
  sorted by title, time added or year, with the total of the filtered list.
- ``PATCH /api/v1/media/{source}/{item_id}`` (``edit_metadata``): correct an item's title,
  year, summary, external ids or poster. Corrections are kept apart from what syncs write and
  laid over it, so they survive every sync; ``null`` removes one. Each change is in the audit
  log (``media.overridden``) and announced on the ``catalogue`` pub/sub channel, so caches of
  search answers can drop what went stale.

Lists page with opaque cursors (``next_cursor``); a cursor works only with the order it was
made for. Items always show the admin's corrections.
"""

from __future__ import annotations

import asyncio

import structlog
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from medianest.core.auth import audit
from medianest.core.media.edits import set_override
from medianest.core.media.reads import RECENT_KINDS, BrowseRequest, Details, MediaReads
from medianest.core.requests.marks import marks_for, work_of
from medianest.core.search.query import DEFAULT_KINDS
from medianest.core.web import context
from medianest.core.web.api_support import caller
from medianest.core.web.media_schemas import (
    ItemView,
    LibraryList,
    LibraryQuery,
    MediaChange,
    MediaDetails,
    OverrideView,
    RecentList,
    RecentQuery,
    RequestMarkView,
)
from medianest.sdk import events
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import (
    InvalidInputError,
    MediaNestError,
    NotFoundError,
    UpstreamDataError,
    UpstreamError,
    UpstreamTimeoutError,
)
from medianest.sdk.models import MediaItem, MediaKind, Principal, utcnow
from medianest.sdk.providers import MediaSource, SourceCapability

log = structlog.get_logger(__name__)

blueprint = Blueprint("media", __name__, url_prefix="/api/v1")

CATALOGUE_CHANNEL = events.CATALOGUE_CHANNEL
"""Pub/sub channel announcing catalogue items whose corrections changed."""

_AUDIT_NAMES = {"imdb": "ids.imdb", "tmdb": "ids.tmdb", "tvdb": "ids.tvdb"}


@blueprint.get("/media/recent")
@requires(Permission.SEARCH)
@tag(["media"])
@validate_querystring(RecentQuery)
@validate_response(RecentList)
async def recent(query_args: RecentQuery) -> RecentList:
    """Recently added items across sources, newest first (seasons only when asked for)."""
    sources = _sources(query_args.source)
    kinds = _kinds(query_args.kind) or RECENT_KINDS
    page = await _reads().recent(sources, kinds, limit=query_args.limit, cursor=query_args.cursor)
    return RecentList(items=[ItemView.of(i) for i in page.items], next_cursor=page.next_cursor)


@blueprint.get("/library")
@requires(Permission.SEARCH)
@tag(["media"])
@validate_querystring(LibraryQuery)
@validate_response(LibraryList)
async def library(query_args: LibraryQuery) -> LibraryList:
    """Browse the catalogue: filter, sort, page.

    Without ``kind`` it lists works (films, shows, albums, ...), or every child of
    ``parent``.
    """
    return await browse(query_args)


async def browse(query_args: LibraryQuery) -> LibraryList:
    """The page of the catalogue ``query_args`` asks for (the library page shows it too).

    :raises InvalidInputError: an unknown source, or filters that contradict each other.
    """
    sources = _sources(query_args.source)
    if query_args.year is not None and (
        query_args.year_from is not None or query_args.year_to is not None
    ):
        raise InvalidInputError("give year, or year_from and year_to, not both", field="year")
    if (
        query_args.year_from is not None
        and query_args.year_to is not None
        and query_args.year_from > query_args.year_to
    ):
        raise InvalidInputError("year_from is after year_to", field="year_from")
    if query_args.parent is not None and len(sources) != 1:
        raise InvalidInputError(
            "parent needs exactly one source (the parent's, in source)", field="parent"
        )
    kinds = _kinds(query_args.kind)
    if kinds is None and query_args.parent is None:
        kinds = DEFAULT_KINDS
    page = await _reads().browse(
        BrowseRequest(
            sources=sources,
            kinds=kinds,
            sort=query_args.sort,
            year=query_args.year,
            year_from=query_args.year_from,
            year_to=query_args.year_to,
            parent=query_args.parent,
            limit=query_args.limit,
            cursor=query_args.cursor,
        )
    )
    return LibraryList(
        items=[ItemView.of(i) for i in page.items],
        total=page.total or 0,
        next_cursor=page.next_cursor,
    )


@blueprint.get("/media/<source>/<item_id>")
@requires(Permission.SEARCH)
@tag(["media"])
@validate_response(MediaDetails)
async def item_details(source: str, item_id: str) -> MediaDetails:
    """One item: its children, parent, copies in other sources and corrections."""
    return await details_of(source, item_id)


async def details_of(source: str, item_id: str) -> MediaDetails:
    """Item ``item_id`` of ``source`` with its children, parent, copies and corrections (the
    details page shows it too).

    :raises NotFoundError: no such source or item.
    :raises UpstreamError: a live source failed or timed out when asked for it.
    """
    media_source = _media_source(source)
    reads = _reads()
    known = _source_ids()
    details = await reads.details(source, item_id, sources=known)
    if details is None:
        capabilities = media_source.capabilities
        live = SourceCapability.LIVE_SEARCH in capabilities
        if not live and SourceCapability.LIBRARY in capabilities:
            raise NotFoundError(f"{source} has no item {item_id[:100]!r}")
        item = await _fetch_item(media_source, item_id)
        details = await reads.details_of(item, sources=known)
    return await _details_view(details)


@blueprint.patch("/media/<source>/<item_id>")
@requires(Permission.EDIT_METADATA)
@tag(["media"])
@validate_request(MediaChange)
@validate_response(MediaDetails)
async def correct_item(source: str, item_id: str, data: MediaChange) -> MediaDetails:
    """Correct an item's metadata; null removes a correction. Corrections survive syncs."""
    return await correct(source, item_id, data, caller())


async def correct(
    source: str, item_id: str, data: MediaChange, principal: Principal
) -> MediaDetails:
    """Store ``principal``'s corrections of an item, audit and announce them (the details
    page's form does the same); the item as it now shows.

    :raises InvalidInputError: nothing to change.
    :raises NotFoundError: no such source or item.
    """
    _media_source(source)
    values = data.columns()
    if not values:
        raise InvalidInputError(
            "nothing to change: give title, year, summary, ids or poster_url", field="body"
        )
    hub = context.hub()
    changes = await set_override(
        hub.database, source, item_id, values, actor=principal.username, now=utcnow()
    )
    if changes:
        await audit.record(
            "media.overridden",
            actor=principal,
            target=f"media:{source}/{item_id}",
            details={
                _AUDIT_NAMES.get(column, column): {"before": before, "after": after}
                for column, (before, after) in changes.items()
            },
        )
        try:
            await hub.pubsub.publish(CATALOGUE_CHANNEL, {"source": source, "item_id": item_id})
        except Exception as exc:  # the correction is stored; caches expire on their own
            log.warning("catalogue change not published", source=source, error=str(exc))
    details = await _reads().details(source, item_id, sources=_source_ids())
    if details is None:  # deleted by a sync in between
        raise NotFoundError(f"{source} has no item {item_id[:100]!r}")
    return await _details_view(details)


def _reads() -> MediaReads:
    return MediaReads(context.hub().database)


def _source_ids() -> list[str]:
    return [source.id for source in context.hub().registry.all("media_sources")]


def _media_source(source_id: str) -> MediaSource:
    """The media source ``source_id``.

    :raises NotFoundError: the hub has no such media source (naming it).
    """
    sources: list[MediaSource] = context.hub().registry.all("media_sources")
    for source in sources:
        if source.id == source_id:
            return source
    raise NotFoundError(f"no media source {source_id[:100]!r}")


def _sources(requested: list[str] | None) -> list[str]:
    """The sources a list covers: those asked for, or every media source.

    :raises InvalidInputError: one asked for is not a media source of the hub.
    """
    known = _source_ids()
    if not requested:
        return known
    unknown = [source for source in requested if source not in known]
    if unknown:
        raise InvalidInputError(
            f"unknown source {', '.join(repr(s[:100]) for s in unknown[:5])} "
            f"(known: {', '.join(known) or 'none'})",
            field="source",
        )
    return requested


def _kinds(names: list[str] | None) -> frozenset[MediaKind] | None:
    return frozenset(MediaKind(name) for name in names) if names else None


async def _fetch_item(source: MediaSource, item_id: str) -> MediaItem:
    """``item_id`` asked of ``source`` itself, under its search timeout.

    :raises NotFoundError: the source has no such item.
    :raises UpstreamTimeoutError: it did not answer in time (504).
    :raises UpstreamError: it failed, or answered something that is not its item (502).
    """
    timeout = context.hub().settings.search.timeout_for(source.id)
    try:
        item = await asyncio.wait_for(source.get_item(item_id), timeout)
    except (NotFoundError, InvalidInputError) as exc:
        raise NotFoundError(f"{source.id} has no item {item_id[:100]!r}") from exc
    except TimeoutError as exc:
        raise UpstreamTimeoutError(
            f"{source.id} did not answer within {timeout:g} s", source=source.id
        ) from exc
    except UpstreamError as exc:
        exc.source = exc.source or source.id
        if source.id not in exc.message:
            exc.message = f"{source.id} failed: {exc.message}"
        raise
    except MediaNestError as exc:
        raise UpstreamError(
            f"{source.id} failed: {exc.message}", source=source.id, plugin=exc.plugin
        ) from exc
    except Exception as exc:
        log.exception("media source failed", source=source.id, error_type=type(exc).__name__)
        raise UpstreamError(f"{source.id} failed unexpectedly", source=source.id) from exc
    if not isinstance(item, MediaItem) or item.ref.source != source.id:
        raise UpstreamDataError(
            f"{source.id} answered something that is not its item", source=source.id
        )
    return item


async def _details_view(details: Details) -> MediaDetails:
    libraries = {
        source.id
        for source in context.hub().registry.all("media_sources")
        if SourceCapability.LIBRARY in source.capabilities
    }
    held = [details.item.ref.source] if details.in_catalogue else []
    held += [copy.ref.source for copy in details.copies]
    return MediaDetails(
        item=ItemView.of(details.item),
        children=[ItemView.of(child) for child in details.children],
        children_total=details.children_total,
        parent=ItemView.of(details.parent) if details.parent is not None else None,
        copies=[ItemView.of(copy) for copy in details.copies],
        available=any(source in libraries for source in held),
        overrides=OverrideView.of(details.override) if details.override is not None else None,
        request=await _request_mark(details),
    )


async def _request_mark(details: Details) -> RequestMarkView | None:
    """The request for the item's work (its own ids and its copies'), as the caller may see
    it; one lookup on the hub's records."""
    work = work_of([details.item, *details.copies])
    if not work:
        return None
    mark = (await marks_for(context.hub().request_marks, caller(), [work]))[0]
    return RequestMarkView.model_validate(mark) if mark is not None else None
