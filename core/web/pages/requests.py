"""Request pages: the request button (``POST /requests``), My requests (``/requests``) and
Manage requests (``/requests/manage``).

Each view calls the requests service the API calls (``hub.requests``,
:class:`~medianest.core.requests.RequestService`), so asking, listing, deleting and deciding
are validated, authorised, quota-checked, audited and announced exactly as through
``/api/v1/requests``: a rule lives in one place. Forms post with the session's CSRF token.

The request button (on search hits and media details) answers the title's request box as an
HTML fragment when the page's script asks for it (``partial=1``): the new status, or the
refusal's message (already requested by someone, quota, no account on the backend, backend
down) with the refusal's status. Without JavaScript it leads to My requests, or to the error
page naming the refusal. The lists follow status changes live (``static/requests.js``: topic
``me`` on My requests, ``requests`` on Manage requests).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import Response, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.requests import (
    KINDS,
    AlreadyRequestedError,
    Kind,
    NoRequestBackendError,
    QuotaExceededError,
    RequestAsk,
    RequestNotSavedError,
    RequestQuery,
    RequestService,
    RequestView,
)
from medianest.core.web import context, problems
from medianest.core.web.pages import i18n
from medianest.core.web.pages.i18n import N_
from medianest.core.web.pages.shell import (
    csrf_token,
    error_page,
    page_blueprint,
    render_page,
    render_template,
    safe_next,
)
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import (
    InvalidInputError,
    MediaNestError,
    UpstreamError,
    UpstreamTimeoutError,
)
from medianest.sdk.models import Principal
from medianest.sdk.rate_limits import rate_limited
from medianest.sdk.web import current_principal

requests_pages = page_blueprint("requests_pages", __name__, template_folder="../templates")

STATUS_NAMES: dict[str, str] = {
    "pending": N_("pending"),
    "approved": N_("approved"),
    "declined": N_("declined"),
    "processing": N_("processing"),
    "available": N_("available"),
    "failed": N_("failed"),
    "deleted": N_("deleted"),
}
"""A request's status as people read it (every status the service knows)."""
SHOWN = 25
"""Requests per page."""
SHOWN_BY_DEFAULT = tuple(status for status in STATUS_NAMES if status != "deleted")
"""Without a status filter, lists leave deleted requests out (the filter shows them)."""
PEOPLE_SHOWN = 200
"""People offered by the "asked by" filter of Manage requests."""
MAX_SEASON = 1000


@requests_pages.app_template_global()
def request_status_name(status: object) -> str:
    """``status`` of a request in the current locale."""
    value = str(getattr(status, "value", status))
    return i18n.gettext(STATUS_NAMES[value]) if value in STATUS_NAMES else value


def _me() -> Principal:
    principal = current_principal()
    assert principal is not None  # every view here needs a signed-in person
    return principal


def _service() -> RequestService:
    service: RequestService = context.hub().requests
    return service


def shown(view: RequestView) -> dict[str, Any]:
    """``view`` as the templates read it: the API's JSON, with dates as dates and the page
    where the title is once it is available."""
    data = view.to_json()
    data["created_at"] = view.created_at
    data["updated_at"] = view.updated_at
    data["page"] = (
        url_for("media_pages.details", source=view.location[0], item_id=view.location[1])
        if view.location is not None
        else None
    )
    return data


# -- the request button --------------------------------------------------------------------


@requests_pages.post("/requests")
@requires(Permission.REQUEST)
@rate_limited("requests")
async def ask() -> ResponseTypes:
    """Request the title of the form (a film, or a show's seasons); with ``partial=1`` the
    title's request box with the outcome, else My requests (a refusal: its error page)."""
    form = await request.form
    partial = form.get("partial") == "1"
    item = {
        "source": form.get("source", "")[:200],
        "item_id": form.get("item_id", "")[:500],
        "kind": form.get("kind", ""),
        "title": form.get("title", "")[:500],
        "ids": {"tmdb": form.get("tmdb")},
        "availability": "requestable",
    }
    choices = [int(n) for n in form.get("choices", "").split(",") if n.isdigit() and len(n) < 5]
    try:
        made = await _service().create(_me(), _ask_of(form))
    except MediaNestError as exc:
        status = refusal_status(exc)
        if not partial:
            return await error_page(status, _refusal(exc))
        existing = exc.existing if isinstance(exc, AlreadyRequestedError) else None
        summary = _mark(existing) if existing is not None else None
        return await _box(item, summary, ("bad", _refusal(exc)), status=status, seasons=choices)
    if not partial:
        return redirect(url_for("requests_pages.requests", made=made.request.id), 303)
    message = i18n.gettext(
        "Requested: %(status)s. You will hear when it changes.",
        status=request_status_name(made.request.status),
    )
    return await _box(item, _mark(made.request), ("ok", message), status=201)


def refusal_status(error: MediaNestError) -> int:
    """The status ``POST /api/v1/requests`` answers ``error`` with: a backend that failed is
    unavailable (503) or too slow (504); the hub without a backend, or unable to keep the
    request, is unavailable too."""
    if isinstance(error, UpstreamTimeoutError):
        return 504
    if isinstance(error, UpstreamError | NoRequestBackendError | RequestNotSavedError):
        return 503
    return problems.from_medianest_error(error).status_code


def _refusal(error: MediaNestError) -> str:
    """What the request box says of a refusal: the problem's message, or for the hub's own
    quota, when it is known, the same in the person's language and dates."""
    if isinstance(error, QuotaExceededError) and error.limit and error.days:
        text = i18n.gettext(
            "You have used your requests: %(limit)s every %(days)s days.",
            limit=error.limit,
            days=error.days,
        )
        if error.reset_at is not None:
            text += " " + i18n.gettext(
                "You can ask again from %(when)s.", when=i18n.format_when(error.reset_at)
            )
        return text
    if isinstance(error, UpstreamError) and error.source and error.source not in error.message:
        return i18n.gettext(
            "The request backend %(backend)s did not answer properly: %(problem)s",
            backend=error.source,
            problem=error.message,
        )
    return error.message


def _mark(view: RequestView) -> dict[str, Any]:
    """What the request box says of ``view``: what search hits and media details say of a
    requested title (who asked only to that person and to those who manage requests), and
    where it is once available."""
    principal = _me()
    allowed = view.requested_by.id == principal.user_id or principal.has(Permission.MANAGE_REQUESTS)
    return {
        "id": view.id,
        "status": view.status,
        "requested_by": shown(view)["requested_by"] if allowed else None,
        "location": shown(view)["location"],
    }


def _ask_of(form: Any) -> RequestAsk:
    """The service's ask from the button's form: the title by its hub reference (the service
    reads its ids), else by TMDB id; a show's seasons ("all", or numbers)."""
    kind = form.get("kind", "")
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}", field="kind")
    typed: Kind = "movie" if kind == "movie" else "show"
    source, item_id, tmdb = form.get("source", ""), form.get("item_id", ""), form.get("tmdb", "")
    media = (source, item_id) if source and item_id else None
    tmdb_id = int(tmdb) if tmdb.isdigit() and len(tmdb) < 10 else None
    if media is None and tmdb_id is None:
        raise InvalidInputError("say what to request: a media reference or a TMDB id", field="tmdb")
    picked = form.getlist("seasons")
    seasons: tuple[int, ...] | str | None = None
    if typed == "show":
        if not picked or "all" in picked:
            seasons = "all"
        else:
            numbers = []
            for raw in picked:
                if not raw.isdigit() or int(raw) > MAX_SEASON:
                    raise InvalidInputError(f"not a season number: {raw[:20]!r}", field="seasons")
                numbers.append(int(raw))
            seasons = tuple(sorted(set(numbers)))
    elif picked:
        raise InvalidInputError("a film has no seasons", field="seasons")
    return RequestAsk(
        kind=typed,
        tmdb_id=None if media is not None else tmdb_id,
        media=media,
        seasons=seasons,  # type: ignore[arg-type]  # "all" or numbers, checked above
    )


async def _box(
    item: dict[str, Any],
    summary: Any,
    outcome: tuple[str, str],
    *,
    status: int,
    seasons: list[int] | None = None,
) -> Response:
    """The request box of ``item`` alone (the page's script puts it in place): the outcome,
    then the request's status, or the form again to try once more."""
    body = await render_template(
        "requests/box_part.html",
        item=item,
        summary=summary,
        outcome=outcome,
        can_request=_me().has(Permission.REQUEST),
        csrf_token=csrf_token(),
        seasons=seasons or None,
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


# -- My requests ---------------------------------------------------------------------------


@requests_pages.get("/requests")
@signed_in
async def requests() -> Response:
    """The person's own requests, newest first, filtered by status and kind."""
    notice = None
    made = request.args.get("made", "")
    if made.isdigit() and len(made) < 19:
        try:
            found = await _service().get(_me(), int(made))
        except MediaNestError:
            found = None
        if found is not None:
            notice = i18n.gettext(
                "Requested %(title)s: %(status)s.",
                title=found.title or "",
                status=request_status_name(found.status),
            )
    if request.args.get("deleted") == "1":
        notice = i18n.gettext("Request deleted.")
    return await _listing(
        "requests_pages.requests",
        "requests/mine.html",
        i18n.gettext("My requests"),
        everyone=False,
        notice=notice,
    )


@requests_pages.post("/requests/<int:request_id>/delete")
@signed_in
async def delete(request_id: int) -> ResponseTypes:
    """Delete a request, here and in its backend: one's own while it is pending, anyone's with
    ``manage_requests`` (the service's rule)."""
    await _service().act(_me(), request_id, "delete")
    return redirect(url_for("requests_pages.requests", deleted=1), 303)


# -- Manage requests -----------------------------------------------------------------------


@requests_pages.get("/requests/manage")
@requires(Permission.MANAGE_REQUESTS)
async def manage() -> Response:
    """Everyone's requests, filtered by status, kind and person, to approve or decline several
    at once."""
    notice = error = None
    done = request.args.get("done", "")
    if done in ("approve", "decline"):
        count = _count(request.args.get("n"))
        failed = _count(request.args.get("failed"))
        if done == "approve":
            notice = i18n.ngettext("%(num)s request approved.", "%(num)s requests approved.", count)
        else:
            notice = i18n.ngettext("%(num)s request declined.", "%(num)s requests declined.", count)
        if failed:
            error = i18n.ngettext(
                "%(num)s request could not be changed: it was no longer waiting for a decision, "
                "or its backend refused.",
                "%(num)s requests could not be changed: they were no longer waiting for a "
                "decision, or their backend refused.",
                failed,
            )
    if request.args.get("picked") == "none":
        error = i18n.gettext("Select at least one request first.")
    return await _listing(
        "requests_pages.manage",
        "requests/manage.html",
        i18n.gettext("Manage requests"),
        everyone=True,
        notice=notice,
        error=error,
    )


@requests_pages.post("/requests/manage")
@requires(Permission.MANAGE_REQUESTS)
async def decide() -> ResponseTypes:
    """Approve or decline (with a reason) the selected requests, then show the list again."""
    form = await request.form
    action = form.get("action", "")
    back = safe_next(form.get("next"))
    if not back.startswith("/requests/manage"):
        back = url_for("requests_pages.manage")
    back = _without(back, ("done", "n", "failed", "picked"))
    if action not in ("approve", "decline"):
        raise InvalidInputError('action must be "approve" or "decline"', field="action")
    ids: list[int] = []
    for raw in form.getlist("ids"):
        if not raw.isdigit() or len(raw) > 18:
            raise InvalidInputError(f"not a request id: {raw[:40]!r}", field="ids")
        ids.append(int(raw))
    separator = "&" if "?" in back else "?"
    if not ids:
        return redirect(back + separator + urlencode({"picked": "none"}), 303)
    reason = form.get("reason", "").strip()[:500] or None
    outcomes = await _service().bulk(_me(), ids, action, reason=reason)
    failed = sum(1 for _id, _view, problem in outcomes if problem is not None)
    query = urlencode({"done": action, "n": len(outcomes) - failed, "failed": failed})
    return redirect(back + separator + query, 303)


# -- shared --------------------------------------------------------------------------------


async def _listing(
    endpoint: str,
    template: str,
    title: str,
    *,
    everyone: bool,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    names = ("status", "kind", "user", "cursor") if everyone else ("status", "kind", "cursor")
    filters = {name: request.args.get(name, "").strip() for name in names}
    listing = None
    status = 200
    try:
        page = await _service().list(_me(), _query_of(filters, everyone=everyone))
    except InvalidInputError as exc:
        error = exc.message
        status = 400 if exc.field == "cursor" else 422
    else:
        listing = {
            "items": [shown(view) for view in page.items],
            "total": page.total,
            "next_cursor": page.next_cursor,
        }
    base: dict[str, Any] = {k: v for k, v in filters.items() if v and k != "cursor"}
    next_url = first_url = None
    if listing is not None and listing["next_cursor"]:
        next_url = url_for(endpoint, **base, cursor=listing["next_cursor"])
    if filters["cursor"]:
        first_url = url_for(endpoint, **base)
    return await render_page(
        template,
        title=title,
        status=status,
        etag=False,  # live data
        listing=listing,
        filters=filters,
        filtered=any(v for k, v in filters.items() if k != "cursor"),
        statuses=tuple(STATUS_NAMES),
        kinds=KINDS,
        with_user=everyone,
        people=await _requesters() if everyone else [],
        status_labels={name: i18n.gettext(label) for name, label in STATUS_NAMES.items()},
        can_manage=_me().has(Permission.MANAGE_REQUESTS),
        notice=notice,
        error=error,
        next_url=next_url,
        first_url=first_url,
    )


def _query_of(filters: dict[str, str], *, everyone: bool) -> RequestQuery:
    """The service's query of the page's filters (a bad one: 422 naming it)."""
    status = filters["status"]
    if status and status not in STATUS_NAMES:
        raise InvalidInputError(f"status must be one of {', '.join(STATUS_NAMES)}", field="status")
    kind = filters["kind"]
    if kind and kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}", field="kind")
    user = filters.get("user", "")
    if user and (not user.isdigit() or len(user) > 18):
        raise InvalidInputError("user must be a user id", field="user")
    return RequestQuery(
        everyone=everyone and not user,
        user=int(user) if user else None,
        status=(status,) if status else SHOWN_BY_DEFAULT,
        kind="movie" if kind == "movie" else ("show" if kind == "show" else None),
        limit=SHOWN,
        cursor=filters["cursor"] or None,
    )


async def _requesters() -> list[tuple[int, str]]:
    """(id, name) of the people who have asked for something, by name."""
    with context.hub().database.activate():
        rows = (
            await RequestRow.all()
            .distinct()
            .order_by("requested_by__username")
            .limit(PEOPLE_SHOWN)
            .values_list("requested_by_id", "requested_by__username")
        )
    return [(int(user_id), str(name)) for user_id, name in rows]


def _count(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 0


def _without(path: str, names: tuple[str, ...]) -> str:
    """``path`` without the query parameters ``names`` (the last decision's notice)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(path)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return parts.path + ("?" + urlencode(kept) if kept else "")
