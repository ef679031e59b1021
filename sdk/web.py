"""Helpers for a plugin's Quart blueprints."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import current_app, g

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
