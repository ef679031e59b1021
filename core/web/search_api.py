"""``GET /api/v1/search`` (permission ``search``): one query across every source.

The synced libraries answer from the catalogue; live sources are asked at the same time, each
under its own timeout, cache and circuit breaker. Hits are one per work (copies in several
sources merged by external id), ranked, paged with an opaque cursor, and say whether and where
they are available, and whether someone requested them (``request``: one lookup on the
hub's own request records per page, never a call to the request backend; who asked is shown
to that person and to those who manage requests). ``sources`` in the answer says how each
source took part: ``ok``, ``timeout``, ``error`` (with the reason) or ``skipped`` (its flag is
off or its circuit open); a failing source never fails the search.

Bad input is a problem naming the parameter: an empty or oversized ``q`` or a ``limit`` out of
range (422), an unknown ``kind`` or source, or a cursor from another search (400). Every search
is recorded as a ``search.performed`` domain event.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from quart import Blueprint, Response
from quart_schema import document_response, tag, validate_querystring

from medianest.core.requests.marks import marks_for, work_of
from medianest.core.search.merge import Hit
from medianest.core.search.query import DEFAULT_KINDS, MAX_OFFSET, MatchTier, SearchRequest
from medianest.core.search.service import KeptAnswer, SearchResult, SearchService
from medianest.core.web import context
from medianest.core.web.api_support import caller
from medianest.core.web.media_schemas import ItemView
from medianest.core.web.search_schemas import (
    CopyView,
    SearchArgs,
    SearchHitView,
    SearchResponse,
    SourceStatusView,
)
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import MediaKind, Principal, decode_cursor, encode_cursor

log = structlog.get_logger(__name__)

blueprint = Blueprint("search", __name__, url_prefix="/api/v1")

_MATCH = {
    MatchTier.EXACT: "exact",
    MatchTier.PREFIX: "prefix",
    MatchTier.WORDS: "words",
    MatchTier.SOURCE: "source",
}
_REQUESTABLE_KINDS = (MediaKind.MOVIE, MediaKind.SHOW)
_NO_REQUEST = b'"request":null'
"""How each hit of a kept answer says "not requested" (a key: never inside a JSON string,
where its quotes would be escaped)."""


@blueprint.get("/search")
@requires(Permission.SEARCH)
@tag(["search"])
@validate_querystring(SearchArgs)
@document_response(SearchResponse)
async def search(query_args: SearchArgs) -> Response:
    """Search every source at once: the libraries, and live sources in parallel."""
    body, cached = await answer(query_args)
    # The body is rendered once and kept without its first member; ``cached`` goes in front.
    head = b'{"cached":true,' if cached else b'{"cached":false,'
    return Response(head + body, content_type="application/json")


async def answer(query_args: SearchArgs) -> tuple[bytes, bool]:
    """The search ``query_args`` asks for, as the caller may see it: the answer's JSON
    without its first member (``cached``), and whether it was reused. The search page shows
    the same answer.

    :raises InvalidInputError: an unknown kind or source, or a cursor of another search.
    """
    started = time.perf_counter()
    hub = context.hub()
    service = hub.search
    principal = caller()
    request = search_request(query_args, service)
    key = service.cache_key(request)
    kept = service.responses.get(key)
    cached = kept is not None
    if kept is None:
        result = await service.search(request)
        kept = KeptAnswer(
            body=_render(result, requestable=bool(hub.registry.all("request_backends"))),
            results=len(result.hits),
            statuses={s.source: s.status for s in result.statuses},
            works=tuple(work_of(hit.members) for hit in result.hits),
        )
        service.responses.put(key, kept, result.ttl)
    body = await _marked(kept, principal)
    elapsed = time.perf_counter() - started
    hub.metrics.searches.labels("yes" if cached else "no").observe(elapsed)
    service.record(
        request,
        principal,
        results=kept.results,
        latency_ms=round(elapsed * 1000, 2),
        cached=cached,
        statuses=kept.statuses,
    )
    return body, cached


async def _marked(kept: KeptAnswer, principal: Principal) -> bytes:
    """``kept``'s body with each hit's request mark as ``principal`` may see it."""
    if not any(kept.works):
        return kept.body
    marks = await marks_for(context.hub().request_marks, principal, kept.works)
    if not any(marks):
        return kept.body
    parts = kept.body.split(_NO_REQUEST)
    if len(parts) != len(marks) + 1:  # cannot happen: one per hit, see SearchHitView
        log.error("search answer without one request mark per hit", hits=len(marks))
        return kept.body
    out = [parts[0]]
    for mark, part in zip(marks, parts[1:], strict=True):
        out.append(_NO_REQUEST if mark is None else b'"request":' + _json(mark))
        out.append(part)
    return b"".join(out)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def search_request(args: SearchArgs, service: SearchService) -> SearchRequest:
    """The validated search the query string asks for.

    :raises InvalidInputError: an unknown kind or source, or a cursor of another search.
    """
    kinds = _kinds(args.kind)
    sources = service.check_sources(_listed(args.sources)) if args.sources else None
    request = SearchRequest(
        text=args.q, kinds=kinds, year=args.year, sources=sources, limit=args.limit
    )
    if args.cursor is None:
        return request
    position = decode_cursor(args.cursor)
    offset = position.get("o")
    if (
        not isinstance(offset, int)
        or isinstance(offset, bool)
        or not 0 < offset <= MAX_OFFSET
        or position.get("f") != request.fingerprint()
    ):
        raise InvalidInputError(
            "the cursor is not valid for this search (it belongs to another query or filters)",
            field="cursor",
        )
    return SearchRequest(
        text=request.text,
        kinds=request.kinds,
        year=request.year,
        sources=request.sources,
        limit=request.limit,
        offset=offset,
    )


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _kinds(value: str | None) -> frozenset[MediaKind]:
    names = _listed(value)
    if not names:
        return DEFAULT_KINDS
    known = {kind.value for kind in MediaKind}
    unknown = sorted({name.lower() for name in names} - known)
    if unknown:
        raise InvalidInputError(
            f"unknown kind {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            field="kind",
        )
    return frozenset(MediaKind(name.lower()) for name in names)


def _render(result: SearchResult, *, requestable: bool) -> bytes:
    """The answer's JSON without its opening brace's first member (``cached``)."""
    request = result.request
    following = (
        encode_cursor({"o": result.next_offset, "f": request.fingerprint()})
        if result.next_offset is not None
        else None
    )
    body = SearchResponse(
        cached=False,
        query=request.text,
        items=[_hit_view(hit, result.library_sources, requestable) for hit in result.hits],
        next_cursor=following,
        sources=[SourceStatusView.model_validate(s, from_attributes=True) for s in result.statuses],
        latency_ms=result.latency_ms,
    ).model_dump_json(exclude={"cached"})
    return body[1:].encode()


def _hit_view(hit: Hit, library: frozenset[str], requestable: bool) -> SearchHitView:
    shown = hit.representative
    copies = [shown, *(item for item in hit.members if item is not shown)]
    if hit.available:
        availability = "available"
    elif requestable and any(item.kind in _REQUESTABLE_KINDS and item.ids.tmdb for item in copies):
        availability = "requestable"
    else:
        availability = "unavailable"
    return SearchHitView(
        **ItemView.of(shown).model_dump(),
        match=_MATCH[hit.tier],
        available=hit.available,
        availability=availability,
        copies=[
            CopyView(
                source=item.ref.source,
                item_id=item.ref.item_id,
                kind=item.kind.value,
                title=item.title,
                year=item.year,
                url=item.ref.url,
                library=item.ref.source in library,
            )
            for item in copies
        ],
    )
