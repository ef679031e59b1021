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
from collections import deque
from pathlib import Path
from typing import Any

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import User
from medianest.core.logging import configure_logging
from medianest.core.search.query import words_of
from medianest.core.serving import bind_socket, serve_until, stop_on_signals
from medianest.sdk import (
    HealthStatus,
    MediaItem,
    NotFoundError,
    Page,
    SearchQuery,
    SourceCapability,
    UpstreamError,
    hookimpl,
)
from tests.search.fake_live import FakeLivePlugin, FakeLiveSource

LIVE_PLUGIN = "benchlive"


class SeededLibrary:
    """A library source whose catalogue rows were written before the hub started."""

    capabilities = frozenset({SourceCapability.LIBRARY, SourceCapability.HEALTH})

    def __init__(self, source_id: str) -> None:
        self.id = source_id
        self.name = f"Seeded library {source_id}"

    async def health(self) -> HealthStatus:
        return HealthStatus(ok=True, detail="seeded catalogue")

    async def list_library(self, cursor: str | None, limit: int) -> Page[MediaItem]:
        raise UpstreamError("the benchmark's catalogue is seeded, not synced", source=self.id)

    async def get_item(self, item_id: str) -> MediaItem:
        raise NotFoundError(f"{self.id} serves its items from the seeded catalogue only")


class SeededPlugin:
    def __init__(self, source_ids: list[str]) -> None:
        self.sources = [SeededLibrary(source_id) for source_id in source_ids]

    @hookimpl
    def register_media_sources(self) -> list[SeededLibrary]:
        return self.sources


class IndexedLiveSource(FakeLiveSource):
    """A fake live source that finds its matches through a prefix index of title words.

    A real live source does its matching on its own servers; this one runs inside the hub
    being measured, so it must cost next to nothing there.
    """

    def __init__(self, source_id: str, items: list[MediaItem], *, latency: float) -> None:
        super().__init__(source_id, items, latency=latency)
        # The hub is measured, not this double: recall only the last few queries.
        self.queries = deque(maxlen=16)
        self._by_prefix: dict[str, set[int]] = {}
        for number, item in enumerate(self.items):
            for word in words_of(item.title):
                for end in range(1, len(word) + 1):
                    self._by_prefix.setdefault(word[:end], set()).add(number)

    def matching(self, query: SearchQuery) -> list[MediaItem]:
        words = words_of(query.text)
        if not words:
            return []
        found = set.intersection(*(self._by_prefix.get(word, set()) for word in words))
        text = " ".join(query.text.lower().split())
        hits = []
        for number in sorted(found):
            item = self.items[number]
            if query.kinds and item.kind not in query.kinds:
                continue
            if query.year is not None and item.year != query.year:
                continue
            title = item.title.lower()
            hits.append((0 if title == text else 1 if title.startswith(text) else 2, number, item))
        return [item for _, _, item in sorted(hits, key=lambda hit: hit[:2])][: query.limit]


def live_sources(spec: dict[str, Any]) -> list[FakeLiveSource]:
    """The live sources of ``spec``, each holding every live item under its own id."""
    templates = [MediaItem.model_validate(raw) for raw in spec["live_items"]]
    made = []
    for source in spec["live"]:
        items = [
            item.model_copy(update={"ref": item.ref.model_copy(update={"source": source["id"]})})
            for item in templates
        ]
        live = IndexedLiveSource(source["id"], items, latency=source.get("latency", 0.0))
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
    configure_logging(settings.log, stream=sys.stderr)  # as `medianest serve`: JSON lines
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
