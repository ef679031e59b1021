"""The hub the search benchmark loads: ``python -m tests.benchmarks.search_server SPEC.json``.

It serves the real app with hypercorn on loopback, like ``medianest serve``, around plugins
made for the measurement: library sources whose catalogue the benchmark seeded beforehand
(never synced while it runs) and live sources held in memory that answer after a set latency,
or never. Once serving it prints ``serving on <url> (<mode> mode)`` and then
``token <access token>`` of an admin it signed in, and serves until SIGTERM.

The spec (JSON): ``settings`` (keyword overrides of the hub's settings), ``library`` (library
source ids by plugin key), ``live`` (``{"id", "latency", "hang"}`` each, all of plugin
``benchlive``), ``live_items`` (titles and external ids the live sources hold, as MediaItem
JSON with a placeholder source).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import User
from medianest.core.serving import bind_socket, serve_until, stop_on_signals
from medianest.sdk import HealthStatus, MediaItem, Page, SourceCapability, hookimpl
from tests.search.fake_live import FakeLivePlugin, FakeLiveSource

LIVE_PLUGIN = "benchlive"


class SeededLibrary:
    """A library source whose catalogue rows were written before the hub started."""

    capabilities = frozenset({SourceCapability.LIBRARY})

    def __init__(self, source_id: str) -> None:
        self.id = source_id
        self.name = f"Seeded library {source_id}"

    async def health(self) -> HealthStatus:
        return HealthStatus(ok=True, detail="seeded catalogue")

    async def list_library(self, cursor: str | None, limit: int) -> Page[MediaItem]:
        raise NotImplementedError("the benchmark's catalogue is seeded, not synced")

    async def get_item(self, item_id: str) -> MediaItem:
        raise NotImplementedError("the benchmark's catalogue is seeded, not synced")

    async def search(self, query: Any) -> list[MediaItem]:
        raise NotImplementedError("searched through the catalogue")

    async def list_changes(self, since: str | None, cursor: str | None, limit: int) -> Any:
        raise NotImplementedError("the benchmark's catalogue is seeded, not synced")

    async def count(self) -> int:
        raise NotImplementedError("the benchmark's catalogue is seeded, not synced")

    async def recently_added(self, limit: int) -> list[MediaItem]:
        raise NotImplementedError("read from the catalogue")


class SeededPlugin:
    def __init__(self, source_ids: list[str]) -> None:
        self.sources = [SeededLibrary(source_id) for source_id in source_ids]

    @hookimpl
    def register_media_sources(self) -> list[SeededLibrary]:
        return self.sources


def live_sources(spec: dict[str, Any]) -> list[FakeLiveSource]:
    """The live sources of ``spec``, each holding every live item under its own id."""
    templates = [MediaItem.model_validate(raw) for raw in spec["live_items"]]
    made = []
    for source in spec["live"]:
        items = [
            item.model_copy(update={"ref": item.ref.model_copy(update={"source": source["id"]})})
            for item in templates
        ]
        live = FakeLiveSource(source["id"], items, latency=source.get("latency", 0.0))
        if source.get("hang"):
            live.mode = "hang"
        made.append(live)
    return made


async def admin_token(app: Any) -> str:
    """An access token of a new admin of the hub behind ``app``."""
    hub = hub_of(app)
    with hub.database.activate():
        user = await User.create(username="bench-admin", role="admin")
        issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="bench")
    return issued.access_token


async def serve(spec: dict[str, Any]) -> None:
    plugins: dict[str, object] = {key: SeededPlugin(ids) for key, ids in spec["library"].items()}
    plugins[LIVE_PLUGIN] = FakeLivePlugin(*live_sources(spec))
    settings = load_settings(**spec["settings"])
    app = create_app(settings, plugins=plugins, autoload=False)
    sock = bind_socket("127.0.0.1", 0)
    stop = asyncio.Event()
    stop_on_signals(stop)

    async def ready(url: str) -> None:
        token = await admin_token(app)
        print(f"serving on {url} ({settings.mode} mode)", flush=True)
        print(f"token {token}", flush=True)

    with sock:
        await serve_until(app, sock, stop, on_ready=ready)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
