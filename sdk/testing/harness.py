"""Building a real hub around plugins under test.

This is the one SDK module that reaches into core: a test kit has to run the real thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.hub import Hub


@dataclass
class RunningHub:
    """A started hub: the Quart ``app``, a ``client`` for it, and the ``hub`` itself."""

    app: Any
    client: Any
    hub: Hub


class HubHarness:
    """Starts hubs for a test, each with its own data directory under ``tmp_path``."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._count = 0

    @asynccontextmanager
    async def run(
        self,
        plugin_objects: Mapping[str, object] | None = None,
        *,
        autoload: bool = False,
        **settings: Any,
    ) -> AsyncIterator[RunningHub]:
        """Start a hub with ``plugin_objects`` (by key) and settings overrides; stop it after.

        ``autoload=True`` also loads installed plugins through their entry points; settings
        overrides are keyword arguments (``plugins={"myplugin": {...}}`` for plugin sections).
        The database is migrated first, in either runtime mode.
        """
        self._count += 1
        settings.setdefault("data_dir", self._tmp_path / f"hub{self._count}")
        app = create_app(
            load_settings(**settings), plugins=plugin_objects, autoload=autoload, migrate=True
        )
        async with app.test_app() as test_app:
            yield RunningHub(app=app, client=test_app.test_client(), hub=hub_of(app))
