"""The search page (``/search``, permission ``search``): the answer of ``GET /api/v1/search``.

The page calls :func:`medianest.core.web.search_api.answer`, the function behind the API, so
both show the same hits, the same availability and the same per-source statuses, from the
same cache. Without JavaScript it is a form submitted by GET; ``static/search.js`` adds
results as you type (debounced, the stale request aborted), asking for the results fragment
only (``partial=1``). Bad filters are shown on the page next to the form (422), never an
error page: the person fixes them where they typed them.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from pydantic import ValidationError
from quart import Response, current_app, request, url_for

from medianest.core.web import context
from medianest.core.web.pages import i18n
from medianest.core.web.pages.shell import (
    TEMPLATES_EXTENSION,
    csrf_token,
    page_blueprint,
    render_page,
    render_template,
)
from medianest.core.web.search_api import answer
from medianest.core.web.search_schemas import SearchArgs
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import InvalidInputError
from medianest.sdk.models import MediaKind
from medianest.sdk.web import current_principal

search_pages = page_blueprint("search_pages", __name__, template_folder="../templates")

PAGE_SIZE = 20
FILTER_KINDS = tuple(kind for kind in MediaKind if kind is not MediaKind.SEASON)
FRAGMENTS_EXTENSION = "medianest.pages.search_hits"
FRAGMENTS_KEPT = 512
"""Rendered hits kept per process (a few kilobytes each)."""
PAGE_ONLY = ("partial", "page")
"""Query parameters of the page itself, not of the search."""
CSRF_SLOT = "__medianest_csrf_slot__"
"""Where the kept hits' request forms take the person's CSRF token (filled per page)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the form shows: the values as typed, so a bad one can be corrected."""

    q: str = ""
    kind: str = ""
    year: str = ""
    sources: str = ""


COMPILED_AT_START = (
    "base.html",
    "search/search.html",
    "search/results_part.html",
    "search/hits.html",
    "media/details.html",
    "media/library.html",
    "requests/mine.html",
    "requests/manage.html",
    "admin/index.html",
    "admin/syncs.html",
)
"""Templates compiled before the first request, so the first visitor does not wait for it."""


@search_pages.before_app_serving
async def compile_templates() -> None:
    """Compile the pages' templates (and the layout they extend) while the hub starts."""
    environment = current_app.extensions[TEMPLATES_EXTENSION]
    for name in COMPILED_AT_START:
        environment.get_template(name)


@search_pages.get("/search")
@requires(Permission.SEARCH)
async def search() -> Response:
    """Search every source; the results part alone with ``partial=1``."""
    args = {name: value for name, value in request.args.items() if name not in PAGE_ONLY}
    filters = Filters(
        q=args.get("q", ""),
        kind=args.get("kind", ""),
        year=args.get("year", ""),
        sources=args.get("sources", ""),
    )
    partial = request.args.get("partial") == "1"
    page_number = _page_number(request.args.get("page"))
    values: dict[str, Any] = {
        "filters": filters,
        "kinds": [kind.value for kind in FILTER_KINDS],
        "source_choices": _source_choices(),
        "result": None,
        "error": None,
        "page_number": page_number,
        "next_url": None,
        "first_url": None,
    }
    status = 200
    cleaned = {name: value for name, value in args.items() if value.strip()}
    if cleaned.get("q", "").strip():
        try:
            query_args = SearchArgs.model_validate({"limit": str(PAGE_SIZE)} | cleaned)
            body, cached = await answer(query_args)
        except ValidationError as exc:
            values["error"] = _validation_message(exc)
            status = 422
        except InvalidInputError as exc:
            values["error"] = exc.message
            status = 422 if exc.field != "cursor" else 400
        else:
            result = json.loads(b'{"cached":' + (b"true," if cached else b"false,") + body)
            values["result"] = result
            values["problems"] = [s for s in result["sources"] if s["status"] != "ok"]
            base: dict[str, Any] = {k: v for k, v in cleaned.items() if k != "cursor"}
            if result["next_cursor"]:
                values["next_url"] = url_for(
                    "search_pages.search",
                    **base,
                    cursor=result["next_cursor"],
                    page=page_number + 1,
                )
            if "cursor" in cleaned:
                values["first_url"] = url_for("search_pages.search", **base)
            values["results_html"] = await _hits_html(body, values)
    template = "search/results_part.html" if partial else "search/search.html"
    title = (
        i18n.gettext("Search: %(text)s", text=filters.q.strip())
        if filters.q.strip()
        else i18n.gettext("Search")
    )
    return await render_page(
        template, title=title, status=status, query=filters.q, etag=status == 200, **values
    )


async def _hits_html(body: bytes, values: dict[str, Any]) -> Markup:
    """The hits of an answer as HTML, kept for the next person who gets the same answer in
    the same language and may (or may not) request too: the fragment holds nothing else
    about the person (their request forms' CSRF token is filled in afterwards)."""
    kept: OrderedDict[tuple[Any, ...], str] = current_app.extensions.setdefault(
        FRAGMENTS_EXTENSION, OrderedDict()
    )
    principal = current_principal()
    can_request = principal is not None and principal.has(Permission.REQUEST)
    key = (
        hashlib.sha256(body).digest(),
        i18n.current_locale(),
        values["page_number"],
        values["next_url"],
        values["first_url"],
        can_request,
    )
    html = kept.get(key)
    if html is not None:
        kept.move_to_end(key)
    else:
        html = await render_template(
            "search/hits.html", **values, can_request=can_request, csrf_slot=CSRF_SLOT
        )
        kept[key] = html
        while len(kept) > FRAGMENTS_KEPT:
            kept.popitem(last=False)
    # The template escaped everything; the token is escaped here.
    return Markup(html.replace(CSRF_SLOT, str(escape(csrf_token()))))  # noqa: S704


def _page_number(raw: str | None) -> int:
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return number if 1 <= number <= 10_000 else 1


def _source_choices() -> list[str]:
    return [source.id for source in context.hub().registry.all("media_sources")]


def _validation_message(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "query"
        if where == "q":
            where = i18n.gettext("search text")
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)
