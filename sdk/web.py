"""Helpers for a plugin's Quart blueprints."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from quart import Response, current_app, g

from medianest.sdk.models import Principal
from medianest.sdk.services import HubContext

HUB_EXTENSION = "medianest.hub"
"""The key under ``app.extensions`` where core keeps the running hub."""


def current_hub() -> HubContext:
    """The hub serving the current request (call inside a view)."""
    hub: HubContext = current_app.extensions[HUB_EXTENSION]
    return hub


def current_principal() -> Principal | None:
    """Who is calling (a person or an API key), or ``None`` for an anonymous request."""
    principal: Principal | None = g.get("principal")
    return principal


RESPONSES_ATTRIBUTE = "__medianest_responses__"
F = TypeVar("F", bound=Callable[..., object])


def responds(status: int, description: str, *, media_type: str | None = None) -> Callable[[F], F]:
    """Document an answer of a view that no response model describes, for the OpenAPI
    document: a 204 (no body, ``media_type`` left out), a problem the view returns itself
    (``application/problem+json``: the hub's problem shape), or a body of another type.

    Problems every route can give (no sign-in, a missing permission, invalid input, an id that
    names nothing, the database unavailable) are documented by the hub itself.
    """

    def declare(view: F) -> F:
        answers = dict(getattr(view, RESPONSES_ATTRIBUTE, {}))
        answers[status] = (description, media_type)
        setattr(view, RESPONSES_ATTRIBUTE, answers)
        return view

    return declare


def responses_of(view: Callable[..., object]) -> dict[int, tuple[str, str | None]]:
    """The answers :func:`responds` documents on ``view``: status → (description, type)."""
    return dict(getattr(view, RESPONSES_ATTRIBUTE, {}))


PROBLEM_JSON = "application/problem+json"
"""The media type of every error answer (RFC 9457 problem details)."""

PROBLEM_TYPE_PREFIX = "urn:medianest:problem:"


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """An error answer in the hub's problem shape, for a view that answers one itself.

    The body is ``{"type": "urn:medianest:problem:<code>", "title", "status", "detail",
    "code", ...extensions}`` (extensions that are ``None`` are left out); core adds the
    request's ``request_id``. A plugin's codes start with its key (``plex.webhook.disabled``)
    so they cannot clash with core's. Raising an SDK error (``InvalidInputError``,
    ``NotFoundError`` ...) is the usual way to fail a request; this is for answers that need
    their own code or are served outside core's error handling.

    :param title: a short summary of the kind of problem; by default the code, capitalised.
    """
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({name: value for name, value in extensions.items() if value is not None})
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
