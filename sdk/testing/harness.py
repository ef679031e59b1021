"""Building a real hub around plugins under test.

This is the one SDK module that reaches into core: a test kit has to run the real thing.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import User
from medianest.core.hub import Hub
from medianest.sdk.access import Permission


@dataclass
class RunningHub:
    """A started hub: the Quart ``app``, a ``client`` for it, and the ``hub`` itself.

    Every route declares who may call it, so tests of protected routes sign in first with
    :meth:`sign_in`::

        headers = await running.sign_in(permissions=[Permission.REQUEST])
        response = await running.client.post("/api/v1/plugins/mine/things", headers=headers)
    """

    app: Any
    client: Any
    hub: Hub

    async def sign_in(
        self,
        *,
        role: Literal["admin", "user"] = "user",
        permissions: Iterable[Permission | str] | None = None,
        username: str | None = None,
    ) -> dict[str, str]:
        """Create a user directly in the hub's database, open a session for them, and return
        the headers that authenticate as them (``Authorization: Bearer <access token>``).

        :param role: ``admin`` holds every permission; ``user`` only ``permissions``.
        :param permissions: what a ``user`` may do; default: what a new user gets
            (:data:`~medianest.sdk.access.USER_PERMISSIONS`); ``[]`` for nothing at all.
        :param username: default: a new unique name.
        :raises ValueError: an unknown permission.
        """
        names = None if permissions is None else sorted({str(Permission(p)) for p in permissions})
        with self.hub.database.activate():
            user = await User.create(
                username=username or f"test-{role}-{secrets.token_hex(4)}",
                role=role,
                permissions=names,
            )
            issued = await self.hub.sessions.start(
                user, ip="127.0.0.1", user_agent="medianest test kit"
            )
        return {"Authorization": f"Bearer {issued.access_token}"}


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
        The database is migrated first, in either runtime mode. Scheduled library syncs are
        off unless the ``sync`` settings given turn them on.
        """
        self._count += 1
        settings.setdefault("data_dir", self._tmp_path / f"hub{self._count}")
        # Library syncs run when a test asks for one, not on a schedule of their own.
        settings["sync"] = {"incremental_minutes": 0, "full_daily_at": None} | dict(
            settings.get("sync") or {}
        )
        app = create_app(
            load_settings(**settings), plugins=plugin_objects, autoload=autoload, migrate=True
        )
        async with app.test_app() as test_app:
            yield RunningHub(app=app, client=test_app.test_client(), hub=hub_of(app))
