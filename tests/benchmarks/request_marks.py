"""``request_marks``: what saying "requested" on every search hit costs a search.

The 100,000-item library of :mod:`tests.benchmarks.catalogue_search` is written into a fresh
catalogue and 10,000 requests into the request table (films and shows of that library, in
every status, from 50 people), on each database (PostgreSQL when reachable, then SQLite).
The hub runs in this process (Quart's test client, no HTTP), searched as a request manager
(who sees every requester: the largest marks). Each search of the plan runs four ways, in
turn, each timed on its own:

- **fresh, marked**: the whole search (catalogue, merge, render), then the request marks
  (one lookup on the request table for every hit of the page);
- **fresh, unmarked**: the same search with the marks left out;
- **kept, marked** / **kept, unmarked**: the same search again, its answer reused from the
  hub's answer cache: the marks are the only work left besides the cache lookup.

The order alternates (marked first, then unmarked first), and each timed search starts once
the background work of the one before (its search event, the session's touch) is done.

Reported per database: p50 and p90 of each way, and the p50 difference marked - unmarked
(target: within 2 ms), with how many hits carried a mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.db.models import User
from medianest.core.hub import Hub
from medianest.core.logging import configure_logging
from medianest.core.search.catalogue import SEARCH_INDEXES
from medianest.core.search.query import DEFAULT_KINDS
from medianest.core.web import search_api
from medianest.sdk.models import MediaItem
from tests.benchmarks.catalogue_search import (
    analyze,
    create_indexes,
    index_names,
    library,
    searches,
    seed_catalogue,
)
from tests.benchmarks.library_sync import fresh_database, reachable_postgres
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.search_server import SeededPlugin
from tests.benchmarks.stats import percentile

TARGET_DIFFERENCE_MS = 2.0
STATUSES = ("pending", "approved", "processing", "available", "declined", "failed")
STATUS_WEIGHTS = (0.3, 0.2, 0.1, 0.3, 0.05, 0.05)
PEOPLE = 50
WAYS = ("fresh_marked", "fresh_unmarked", "kept_marked", "kept_unmarked")
_SWAPPED = ("fresh_unmarked", "fresh_marked", "kept_unmarked", "kept_marked")
SETTLE_SECONDS = 0.005


@dataclass(frozen=True)
class Params:
    items: int
    requests: int
    searches: int
    warmup: int


FULL = Params(items=100_000, requests=10_000, searches=800, warmup=100)
QUICK = Params(items=10_000, requests=1_000, searches=150, warmup=30)


@dataclass
class Measured:
    """Milliseconds per search, by way; hits and marks seen."""

    ms: dict[str, list[float]] = field(default_factory=lambda: {way: [] for way in WAYS})
    hits: int = 0
    marked: int = 0
    seed_seconds: float = 0.0


def requested_works(items: Sequence[MediaItem], count: int, seed: int = 17) -> list[MediaItem]:
    """``count`` distinct films and shows with a TMDB id (one request per work)."""
    works: dict[tuple[str, int], MediaItem] = {}
    for item in items:
        if item.kind.value in ("movie", "show") and item.ids.tmdb:
            works.setdefault((item.kind.value, item.ids.tmdb), item)
    chosen = list(works.values())
    random.Random(seed).shuffle(chosen)
    if len(chosen) < count:
        raise BenchmarkError(f"the library has {len(chosen)} requestable works, {count} wanted")
    return chosen[:count]


async def seed_requests(hub: Hub, works: Sequence[MediaItem]) -> None:
    """One request per work, from ``PEOPLE`` people, statuses in ``STATUS_WEIGHTS``."""
    rng = random.Random(23)
    now = datetime.now(UTC)
    with hub.database.activate():
        people = [await User.create(username=f"bench-{n}", role="user") for n in range(PEOPLE)]
        rows = []
        for number, item in enumerate(works):
            status = rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]
            when = now - timedelta(minutes=number)
            rows.append(
                RequestRow(
                    backend="benchreq:main",
                    remote_id=str(number + 1),
                    kind=item.kind.value,
                    tmdb_id=item.ids.tmdb,
                    imdb_id=item.ids.imdb,
                    tvdb_id=item.ids.tvdb,
                    title=item.title,
                    year=item.year,
                    status=status,
                    requested_by=rng.choice(people),
                    created_at=when,
                    updated_at=when,
                )
            )
        await RequestRow.bulk_create(rows, batch_size=1000)


def query_string(request: Any) -> dict[str, Any]:
    """The search API's query string for a planned search."""
    query: dict[str, Any] = {"q": request.text}
    if request.kinds != DEFAULT_KINDS:
        query["kind"] = ",".join(sorted(kind.value for kind in request.kinds))
    if request.year is not None:
        query["year"] = request.year
    return query


@contextlib.asynccontextmanager
async def seeded_hub(
    database_url: str | None, workdir: Path, items: Sequence[MediaItem], params: Params
) -> AsyncIterator[tuple[Any, Hub, float]]:
    """A started hub over the seeded catalogue and requests; its client, hub and seed time."""
    settings = load_settings(
        data_dir=workdir,
        **({"database_url": database_url} if database_url else {}),
        log={"level": "warning"},
        rate_limits={"api": {"limit": 1_000_000_000, "window_seconds": 60}},
        sync={"incremental_minutes": 0, "full_daily_at": None},
        requests={"reconcile_minutes": 0},
    )
    plugins = {
        "plex": SeededPlugin(["plex:home", "plex:cabin"]),
        "jellyfin": SeededPlugin(["jellyfin:den"]),
    }
    configure_logging(settings.log, stream=sys.stderr)
    app = create_app(settings, plugins=plugins, autoload=False, migrate=True)
    async with app.test_app() as test_app:
        hub = hub_of(app)
        started = time.perf_counter()
        await seed_catalogue(hub.database, items)
        await seed_requests(hub, requested_works(items, params.requests))
        present = await index_names(hub.database)
        missing = [sql for name, sql in SEARCH_INDEXES[hub.database.dialect] if name not in present]
        if missing:
            await create_indexes(hub.database, missing)
        await analyze(hub.database)
        yield test_app.test_client(), hub, time.perf_counter() - started


async def measure(
    database_url: str | None, workdir: Path, items: Sequence[MediaItem], params: Params
) -> Measured:
    """Every search of the plan, four ways (see the module)."""
    plan = [query_string(s.request) for s in searches(items, params.warmup + params.searches)]
    measured = Measured()
    original = search_api._marked

    async def unmarked(kept: Any, principal: Any) -> bytes:
        return bytes(kept.body)

    async with seeded_hub(database_url, workdir, items, params) as (client, hub, seeded):
        measured.seed_seconds = seeded
        with hub.database.activate():
            manager = await User.create(username="bench-manager", role="admin")
            issued = await hub.sessions.start(manager, ip="127.0.0.1", user_agent="bench")
        headers = {"Authorization": f"Bearer {issued.access_token}"}
        clock = time.perf_counter

        async def one(query: dict[str, Any], *, marked: bool, fresh: bool) -> tuple[float, Any]:
            search_api._marked = original if marked else unmarked  # type: ignore[assignment]
            if fresh:
                hub.search.responses.invalidate()
            started = clock()
            response = await client.get("/api/v1/search", query_string=query, headers=headers)
            elapsed = (clock() - started) * 1000
            if response.status_code != 200:
                raise BenchmarkError(
                    f"search {query} answered {response.status_code}: "
                    f"{(await response.get_data(as_text=True))[:300]}"
                )
            return elapsed, response

        try:
            for query in plan[: params.warmup]:
                await one(query, marked=True, fresh=True)
            gc.collect()
            gc.freeze()
            for number, query in enumerate(plan[params.warmup :]):
                # Marked first for one search, unmarked first for the next; and the
                # background work a search leaves (its event, the session's touch) is let
                # finish before the next is timed, so that no way pays for another's.
                ways = WAYS if number % 2 == 0 else _SWAPPED
                for way in ways:
                    fresh = way.startswith("fresh")
                    marked = way.endswith("_marked")
                    await asyncio.sleep(SETTLE_SECONDS)
                    elapsed, response = await one(query, marked=marked, fresh=fresh)
                    measured.ms[way].append(elapsed)
                    if way == "kept_marked":
                        hits = (await response.get_json())["items"]
                        measured.hits += len(hits)
                        measured.marked += sum(1 for hit in hits if hit["request"])
        finally:
            gc.unfreeze()
            search_api._marked = original  # type: ignore[assignment]
    return measured


def add_measured(result: Result, key: str, name: str, measured: Measured) -> None:
    result.add(f"{key}.seed_seconds", f"{name}: seeding", round(measured.seed_seconds, 1), "s")
    for way in WAYS:
        label = way.replace("_", ", ")
        for pct in (50, 90):
            result.add(
                f"{key}.{way}.p{pct}_ms",
                f"{name} {label}: p{pct}",
                round(percentile(measured.ms[way], pct), 3),
                "ms",
            )
    for state in ("fresh", "kept"):
        difference = percentile(measured.ms[f"{state}_marked"], 50) - percentile(
            measured.ms[f"{state}_unmarked"], 50
        )
        result.add(
            f"{key}.{state}.p50_difference_ms",
            f"{name} {state}: p50 marked - unmarked",
            round(difference, 3),
            "ms",
            target=f"≤ {TARGET_DIFFERENCE_MS:g} ms",
        )
    result.add(
        f"{key}.hits",
        f"{name}: hits per page (avg)",
        round(measured.hits / max(1, len(measured.ms["kept_marked"])), 1),
        "hits",
    )
    result.add(f"{key}.marked", f"{name}: hits marked requested", measured.marked, "hits")


async def run(quick: bool) -> Result:
    params = QUICK if quick else FULL
    items = library(params.items)
    result = Result(
        name="request_marks",
        title=(
            f"search with a request mark on every hit: {len(items):,} items, "
            f"{params.requests:,} requests (PostgreSQL, SQLite)"
        ),
        params={
            "items": len(items),
            "requests": params.requests,
            "searches": params.searches,
            "warmup": params.warmup,
            "people": PEOPLE,
            "statuses": dict(zip(STATUSES, STATUS_WEIGHTS, strict=True)),
            "caller": "an admin (sees every requester)",
            "process": "in-process (Quart test client)",
            "sqlite": sqlite3.sqlite_version,
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        admin = await reachable_postgres(result)
        if admin is not None:
            try:
                async with fresh_database(admin) as url:
                    postgres = await measure(url, Path(tmp) / "pg", items, params)
            finally:
                await admin.close()
            add_measured(result, "postgres", "PostgreSQL", postgres)
        sqlite = await measure(None, Path(tmp) / "sqlite", items, params)
    add_measured(result, "sqlite", "SQLite", sqlite)
    if not sqlite.marked:
        raise BenchmarkError("no hit was marked requested: the requests were not seeded")
    return result
