"""Pages and widgets plugins add (filled in by the plugin-pages hook)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Quart

if TYPE_CHECKING:
    from medianest.core.hub import Hub


def install_plugin_pages(app: Quart, hub: Hub) -> None:
    """Register the pages plugins provide."""


async def render_widgets(area: str) -> list[Any]:
    """The widgets plugins show in ``area``, rendered."""
    return []
