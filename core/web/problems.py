"""RFC 9457 problem details: the one shape of every error the HTTP API returns.

Each problem has a stable ``code`` (also in ``type`` as ``urn:medianest:problem:<code>``), a
``title`` per code, a ``detail`` saying what was wrong, the ``status`` and the ``request_id``.
Core maps SDK errors to problems here and nowhere else.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from pydantic import ValidationError
from quart import Response, g
from quart.wrappers.response import DataBody
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from medianest.core.db import DatabaseUnavailableError
from medianest.core.state.errors import StateUnavailableError
from medianest.sdk import errors
from medianest.sdk.web import PROBLEM_JSON
from medianest.sdk.web import problem as sdk_problem

log = structlog.get_logger(__name__)


_STATUS_BY_ERROR: list[tuple[type[errors.MediaNestError], int]] = [
    (errors.InvalidInputError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.RateLimitedError, 429),
    (errors.UpstreamTimeoutError, 504),
    (errors.UpstreamError, 502),
    (StateUnavailableError, 503),
    (DatabaseUnavailableError, 503),
]


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response (the SDK's shape) carrying the request's id."""
    request_id = g.get("request_id") if g else None
    return sdk_problem(
        status, code, detail, title=title, headers=headers, request_id=request_id, **extensions
    )


def from_medianest_error(error: errors.MediaNestError) -> Response:
    """Map an SDK error to its problem response."""
    status = next((s for cls, s in _STATUS_BY_ERROR if isinstance(error, cls)), 500)
    if status == 500:
        log.error("unexpected configuration error while serving", error=str(error))
        return internal_error()
    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if isinstance(error, errors.InvalidInputError) and error.field:
        extensions["errors"] = [{"field": error.field, "message": error.message}]
    if isinstance(error, errors.PermissionDeniedError) and error.permission:
        extensions["permission"] = error.permission
    if isinstance(error, errors.RateLimitedError) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if status == 503:
        headers["Retry-After"] = "5"
        log.error("a service the hub depends on is unavailable", error=str(error))
    if isinstance(error, errors.UpstreamError):
        extensions["source"] = error.source
        log.warning("upstream error", source=error.source, status=error.status, error=error.message)
    if status == 401:
        # Say that sign-in failed, never which part of a token was wrong.
        return problem(
            401,
            error.code,
            "authentication required or invalid",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return problem(
        status, error.code, str(error), headers=headers, plugin=error.plugin, **extensions
    )


def from_validation_error(error: RequestSchemaValidationError) -> Response:
    """422 naming each offending field (body, query string or headers)."""
    cause = error.validation_error
    where = {"QuerystringValidationError": "query", "RequestHeadersValidationError": "header"}.get(
        type(error).__name__, "body"
    )
    items: list[dict[str, str]] = []
    if isinstance(cause, ValidationError):
        for item in cause.errors(include_url=False):
            field = ".".join(str(p) for p in item["loc"]) or where
            items.append({"field": field, "message": item["msg"], "in": where})
    else:
        items.append({"field": where, "message": str(cause), "in": where})
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items)
    return problem(422, "validation_failed", detail, title="Validation failed", errors=items)


def from_http_exception(error: HTTPException) -> Response:
    """Werkzeug/Quart HTTP errors (404, 405, 413, ...) as problems, keeping their headers."""
    status = error.code or 500
    code = (error.name or "error").lower().replace(" ", "_")
    response = problem(status, code, error.description or error.name, title=error.name)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


async def add_request_id(response: Response, request_id: str) -> None:
    """Give a problem answer built outside this module (a plugin blueprint's own) the
    ``request_id`` every problem carries; answers that have one, or are not JSON objects,
    stay as they are."""
    if response.mimetype != PROBLEM_JSON or not isinstance(response.response, DataBody):
        return
    try:
        body = json.loads(await response.get_data())
    except (ValueError, RecursionError):
        return
    if isinstance(body, dict) and "request_id" not in body:
        body["request_id"] = request_id
        response.set_data(json.dumps(body))


def internal_error() -> Response:
    """500 without internals; the request id lets an operator find the logged traceback."""
    return problem(
        500,
        "internal_error",
        "something went wrong on our side; it has been logged",
        title="Internal server error",
    )
