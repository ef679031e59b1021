"""Media requests over HTTP: file one, follow yours, and (``manage_requests``) act on anyone's.

- ``POST /api/v1/requests`` (``request``) files a film or a show with the hub's request
  backend, as the signed-in person (201). Asking for something already requested answers 409
  ``already_requested`` with that request (the person now follows it); something already in a
  library 409 ``already_available`` saying where; a used-up quota 403 ``quota_exceeded`` with
  what remains and when it frees up; a person the backend has no account for 409
  ``account_not_linked``. A backend that fails answers 503, one that is too slow 504, both
  naming it; nothing is left half-saved.
- ``GET /api/v1/requests`` lists your requests (everyone's, or one person's, with
  ``manage_requests``), newest first, filtered and keyset-paged, with the total;
  ``GET /api/v1/requests/{id}`` is one you may see (others answer 404).
- ``POST /api/v1/requests/{id}/approve|decline|retry`` and ``POST /api/v1/requests/bulk``
  (``manage_requests``) act in the backend first, then on the hub; ``DELETE`` deletes it in
  the backend too (a person may delete their own pending request).
- ``GET /api/v1/requests/quota`` is your quota; ``GET``/``PUT
  /api/v1/users/{id}/request-quota`` (``manage_users``) a person's, and their own setting.

Every action is in the audit log, emits its ``request.*`` event and is published live.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from quart import Blueprint, Response, request
from quart_schema import (
    RequestSchemaValidationError,
    document_request,
    tag,
    validate_querystring,
    validate_request,
    validate_response,
)

from medianest.core.requests import (
    AlreadyAvailableError,
    AlreadyRequestedError,
    NoRequestBackendError,
    QuotaExceededError,
    RequestAsk,
    RequestNotSavedError,
    RequestQuery,
    RequestService,
)
from medianest.core.web import context, problems
from medianest.core.web.api_support import caller
from medianest.core.web.requests_schemas import (
    MAX_REQUEST_ID,
    BulkAction,
    BulkError,
    BulkOutcome,
    BulkResult,
    DeclineBody,
    QuotaChange,
    QuotaList,
    QuotaView,
    RequestCreate,
    RequestCreated,
    RequestList,
    RequestOut,
    RequestQueryArgs,
)
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import InvalidInputError, UpstreamError, UpstreamTimeoutError
from medianest.sdk.rate_limits import rate_limited
from medianest.sdk.web import PROBLEM_JSON, responds

blueprint = Blueprint("requests", __name__, url_prefix="/api/v1")

ID = f"<int(max={MAX_REQUEST_ID}):request_id>"
BACKEND_SLOW = "The request backend did not answer in time (names it)"


def _service() -> RequestService:
    return context.hub().requests


# -- errors ----------------------------------------------------------------------------------


@blueprint.errorhandler(InvalidInputError)
async def _invalid(error: InvalidInputError) -> Response:
    if error.field in (None, "cursor"):
        return problems.from_medianest_error(error)
    where = "query" if error.field in ("status", "limit", "user") else "body"
    return problems.problem(
        422,
        "validation_failed",
        f"{error.field}: {error.message}",
        title="Validation failed",
        errors=[{"field": error.field, "message": error.message, "in": where}],
    )


@blueprint.errorhandler(UpstreamError)
async def _upstream(error: UpstreamError) -> Response:
    timeout = isinstance(error, UpstreamTimeoutError)
    detail = error.message
    if error.source and error.source not in detail:
        detail = f"request backend {error.source}: {detail}"
    return problems.problem(
        504 if timeout else 503,
        error.code,
        detail,
        title="Request backend too slow" if timeout else "Request backend unavailable",
        headers={} if timeout else {"Retry-After": "5"},
        source=error.source,
    )


@blueprint.errorhandler(QuotaExceededError)
async def _quota(error: QuotaExceededError) -> Response:
    return problems.problem(
        403, error.code, str(error), title="Quota exceeded", **error.extensions()
    )


@blueprint.errorhandler(AlreadyRequestedError)
async def _requested(error: AlreadyRequestedError) -> Response:
    existing = error.existing
    return problems.problem(
        409,
        error.code,
        str(error),
        title="Already requested",
        request=RequestOut.of(existing).model_dump(mode="json") if existing else None,
    )


@blueprint.errorhandler(AlreadyAvailableError)
async def _available(error: AlreadyAvailableError) -> Response:
    return problems.problem(
        409,
        error.code,
        str(error),
        title="Already available",
        location={"source": error.source, "item_id": error.item_id},
    )


@blueprint.errorhandler(NoRequestBackendError)
@blueprint.errorhandler(RequestNotSavedError)
async def _unavailable(error: NoRequestBackendError | RequestNotSavedError) -> Response:
    return problems.problem(
        503, error.code, str(error), title="Service unavailable", headers={"Retry-After": "5"}
    )


# -- create ----------------------------------------------------------------------------------


@blueprint.post("/requests")
@requires(Permission.REQUEST)
@rate_limited("requests")
@tag(["requests"])
@validate_request(RequestCreate)
@validate_response(RequestCreated, 201)
@responds(403, "Not allowed, or the quota is used up (quota_exceeded)", media_type=PROBLEM_JSON)
@responds(404, "No such TMDB id or media item (names it)", media_type=PROBLEM_JSON)
@responds(
    409,
    "Already requested (with the request), already available (with where), or the backend "
    "has no account for you (account_not_linked)",
    media_type=PROBLEM_JSON,
)
@responds(504, BACKEND_SLOW, media_type=PROBLEM_JSON)
async def create_request(data: RequestCreate) -> Any:
    """Request a film or a show (201; Location: the request)."""
    media = None
    if data.media is not None:
        source, item_id = data.media.split("/", 1)
        media = (source, item_id)
    seasons: tuple[int, ...] | str | None = (
        tuple(data.seasons) if isinstance(data.seasons, list) else data.seasons
    )
    if isinstance(seasons, tuple) and not seasons:
        raise InvalidInputError('name at least one season, or "all"', field="seasons")
    created = await _service().create(
        caller(),
        RequestAsk(
            kind=data.kind,
            tmdb_id=data.tmdb_id,
            media=media,
            seasons=seasons,  # type: ignore[arg-type]
            backend=data.backend,
        ),
    )
    body = RequestCreated(
        **RequestOut.of(created.request).model_dump(), approved_at_once=created.approved
    )
    return body, 201, {"Location": f"/api/v1/requests/{created.request.id}"}


# -- read ------------------------------------------------------------------------------------


@blueprint.get("/requests")
@signed_in(api_keys=True)
@tag(["requests"])
@validate_querystring(RequestQueryArgs)
@validate_response(RequestList)
async def list_requests(query_args: RequestQueryArgs) -> RequestList:
    """Your requests, or everyone's (manage_requests), newest first."""
    page = await _service().list(
        caller(),
        RequestQuery(
            everyone=query_args.everyone,
            user=query_args.user,
            status=(query_args.status,) if query_args.status else (),
            kind=query_args.kind,
            since=query_args.since,
            until=query_args.until,
            limit=query_args.limit,
            cursor=query_args.cursor,
        ),
    )
    return RequestList(
        items=[RequestOut.of(view) for view in page.items],
        total=page.total,
        next_cursor=page.next_cursor,
    )


@blueprint.get("/requests/quota")
@signed_in(api_keys=True)
@tag(["requests"])
@validate_response(QuotaList)
async def my_quota() -> QuotaList:
    """Your request quotas and how much of them is used."""
    quotas = await _service().quotas(caller().user_id)
    return QuotaList(items=[QuotaView.of(q) for q in quotas])


@blueprint.get(f"/requests/{ID}")
@signed_in(api_keys=True)
@tag(["requests"])
@validate_response(RequestOut)
async def get_request(request_id: int) -> RequestOut:
    """One request: yours, one you follow, or any (manage_requests)."""
    return RequestOut.of(await _service().get(caller(), request_id))


# -- act -------------------------------------------------------------------------------------

_ACT_DOCS = (
    (409, "The action does not apply to the request's status", PROBLEM_JSON),
    (504, BACKEND_SLOW, PROBLEM_JSON),
)


def _documented(view: Any) -> Any:
    for status, text, media in _ACT_DOCS:
        view = responds(status, text, media_type=media)(view)
    return view


@blueprint.post(f"/requests/{ID}/approve")
@requires(Permission.MANAGE_REQUESTS)
@tag(["requests"])
@validate_response(RequestOut)
@_documented
async def approve_request(request_id: int) -> RequestOut:
    """Approve a pending (or declined) request, in its backend and on the hub."""
    view = await _service().act(caller(), request_id, "approve")
    assert view is not None
    return RequestOut.of(view)


@blueprint.post(f"/requests/{ID}/decline")
@requires(Permission.MANAGE_REQUESTS)
@tag(["requests"])
@document_request(DeclineBody)
@validate_response(RequestOut)
@_documented
async def decline_request(request_id: int) -> RequestOut:
    """Decline a request, with a reason the requester is told (the body may be left out)."""
    body = await _optional_body(DeclineBody)
    view = await _service().act(caller(), request_id, "decline", reason=body.reason)
    assert view is not None
    return RequestOut.of(view)


@blueprint.post(f"/requests/{ID}/retry")
@requires(Permission.MANAGE_REQUESTS)
@tag(["requests"])
@validate_response(RequestOut)
@_documented
async def retry_request(request_id: int) -> RequestOut:
    """Ask the backend again for a request that failed."""
    view = await _service().act(caller(), request_id, "retry")
    assert view is not None
    return RequestOut.of(view)


@blueprint.delete(f"/requests/{ID}")
@requires(Permission.REQUEST)
@tag(["requests"])
@responds(204, "The request is deleted, in its backend and on the hub; no body")
@_documented
async def delete_request(request_id: int) -> Response:
    """Delete a request in its backend, then on the hub (yours while pending, or any with
    manage_requests)."""
    await _service().act(caller(), request_id, "delete")
    return Response(status=204)


@blueprint.post("/requests/bulk")
@requires(Permission.MANAGE_REQUESTS)
@tag(["requests"])
@validate_request(BulkAction)
@validate_response(BulkResult)
async def bulk_action(data: BulkAction) -> BulkResult:
    """Approve, decline, retry or delete several requests; each outcome is reported."""
    outcomes = await _service().bulk(caller(), data.ids, data.action, reason=data.reason)
    results = [
        BulkOutcome(
            id=request_id,
            ok=error is None,
            request=RequestOut.of(view) if view is not None else None,
            error=BulkError(code=error.code, detail=str(error)) if error is not None else None,
        )
        for request_id, view, error in outcomes
    ]
    ok = sum(1 for r in results if r.ok)
    return BulkResult(results=results, succeeded=ok, failed=len(results) - ok)


# -- quotas ----------------------------------------------------------------------------------


@blueprint.get("/users/<int:user_id>/request-quota")
@requires(Permission.MANAGE_USERS)
@tag(["users"])
@validate_response(QuotaList)
async def get_user_quota(user_id: int) -> QuotaList:
    """A person's request quotas and how much of them is used."""
    return QuotaList(items=[QuotaView.of(q) for q in await _service().quotas(user_id)])


@blueprint.put("/users/<int:user_id>/request-quota")
@requires(Permission.MANAGE_USERS)
@tag(["users"])
@validate_request(QuotaChange)
@validate_response(QuotaList)
async def set_user_quota(user_id: int, data: QuotaChange) -> QuotaList:
    """Give a person their own quota per kind (null: back to the default)."""
    if not data.model_fields_set:
        raise InvalidInputError("nothing to change: give movie or show", field="movie")
    quotas = await _service().quotas(user_id)
    for kind in ("movie", "show"):
        if kind in data.model_fields_set:
            setting = getattr(data, kind)
            quotas = await _service().set_quota(
                caller(),
                user_id,
                kind,
                setting.limit if setting else None,
                setting.days if setting else None,
            )
    return QuotaList(items=[QuotaView.of(q) for q in quotas])


async def _optional_body(model: type[DeclineBody]) -> DeclineBody:
    """The JSON body, or the model's defaults when there is none.

    :raises InvalidInputError: a body that is not JSON (400).
    :raises RequestSchemaValidationError: a body that does not fit ``model`` (422).
    """
    if not await request.get_data(as_text=False):
        return model()
    body = await request.get_json()
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from exc
