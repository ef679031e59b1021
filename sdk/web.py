"""Helpers for a plugin's Quart blueprints."""

from __future__ import annotations

from quart import current_app, g

from medianest.sdk.models import Principal
from medianest.sdk.services import HubContext

HUB_EXTENSION = "medianest.hub"
"""The key under ``app.extensions`` where core keeps the running hub."""


def current_hub() -> HubContext:
    """The hub serving the current request (call inside a view)."""
    return current_app.extensions[HUB_EXTENSION]


def current_principal() -> Principal | None:
    """Who is calling (a person or an API key), or ``None`` for an anonymous request."""
    return g.get("principal")
