"""``request_reconcile``: the reconciliation job over 10,000 requests in Overseerr.

The Overseerr simulator (``medianest_overseerr.simulator``, served over real HTTP on loopback,
in this process) holds 10,000 requests of 50 people; the hub (in this process, its database
on SQLite, then PostgreSQL when reachable) reaches it through the Overseerr plugin and keeps
the same 10,000 requests, with the statuses the plugin reads. Then:

1. **nothing changed**: one reconciliation run (``hub.reconciler.run()``): time, upstream
   calls (``GET /request`` pages the simulator answered), rows updated (target: 0 writes,
   ≤ 10,000 / 100 = 100 calls, under 5 s);
2. **100 changed**: 100 pending requests approved in Overseerr with no webhook sent, then one
   run: time, calls, rows updated (target: all 100, in that run).

The simulator shares this process (and its event loop) with the hub, so the times include
its own work serving the pages (it counts each requester's requests anew for every request it
renders: O(requests) per request, about 0.1 s per page of 100 at 10,000). Each run is
therefore reported whole and as the hub's own share: the run's time minus the time spent
waiting for the backend's pages (``list_requests``, HTTP and simulator included).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import medianest_overseerr.plugin as overseerr_plugin
from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.db.models import User
from medianest.core.hub import Hub
from medianest.core.logging import configure_logging
from medianest.core.requests import SYSTEM
from medianest.sdk.models import MediaRequest
from medianest_overseerr.simulator import OverseerrWorld, RunningOverseerr, serve_simulator
from medianest_overseerr.simulator.world import RequestError
from tests.benchmarks.library_sync import fresh_database, reachable_postgres
from tests.benchmarks.results import BenchmarkError, Result

TARGET_SECONDS = 5.0
PAGE = 100
INSTANCE = "bench"
BACKEND = f"overseerr:{INSTANCE}"
PEOPLE = 50


@dataclass(frozen=True)
class Params:
    requests: int
    changed: int


FULL = Params(requests=10_000, changed=100)
QUICK = Params(requests=1_000, changed=100)


def world_with_requests(count: int) -> OverseerrWorld:
    """A simulated Overseerr holding ``count`` requests of ``PEOPLE`` people."""
    world = OverseerrWorld(seed=7, plex_items=200, requestable=count + 500)
    people = [
        world.add_user(email=f"person{n}@example.com", username=f"person{n}") for n in range(PEOPLE)
    ]
    rng = random.Random(3)
    titles = list(world.catalogue.requestable_only())
    rng.shuffle(titles)
    made = 0
    for title in titles:
        if made == count:
            break
        with contextlib.suppress(RequestError):  # refused as Overseerr would: take another
            world.create_request(rng.choice(people), title.media_type, title.tmdb)
            made += 1
    if made < count:
        raise BenchmarkError(f"the simulator took {made} requests, {count} wanted")
    return world


async def listed(hub: Hub) -> list[MediaRequest]:
    """Every request of the backend as the plugin reads it (to seed the hub's copy)."""
    backend = hub.registry.get("request_backends", BACKEND)
    found: list[MediaRequest] = []
    cursor = None
    while True:
        page = await backend.list_requests(SYSTEM, cursor, PAGE, everyone=True)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


async def seed_hub(hub: Hub, remote: Sequence[MediaRequest]) -> None:
    """The hub's copy of every request, with the status the plugin reads."""
    now = datetime.now(UTC)
    with hub.database.activate():
        people = [await User.create(username=f"bench-{n}", role="user") for n in range(PEOPLE)]
        rows = [
            RequestRow(
                backend=BACKEND,
                remote_id=request.request_id,
                kind=request.kind.value,
                tmdb_id=request.ids.tmdb,
                imdb_id=request.ids.imdb,
                tvdb_id=request.ids.tvdb,
                title=request.title,
                status=request.status.value,
                requested_by=people[number % PEOPLE],
                created_at=now,
                updated_at=now,
            )
            for number, request in enumerate(remote)
        ]
        await RequestRow.bulk_create(rows, batch_size=1000)


async def scenario(
    sim: RunningOverseerr, database_url: str | None, workdir: Path, params: Params
) -> dict[str, Any]:
    """Both runs against one database; their figures."""
    calls: list[str] = []
    sim.world.observers.append(
        lambda exchange: calls.append(exchange.path) if exchange.path.endswith("/request") else None
    )
    settings = load_settings(
        data_dir=workdir,
        **({"database_url": database_url} if database_url else {}),
        log={"level": "warning"},
        sync={"incremental_minutes": 0, "full_daily_at": None},
        requests={"reconcile_minutes": 0},
        plugins={
            "overseerr": {
                "instances": [
                    {"name": INSTANCE, "url": sim.url, "api_key": sim.world.api_key, "timeout": 30}
                ]
            }
        },
    )
    configure_logging(settings.log, stream=sys.stderr)
    app = create_app(
        settings, plugins={"overseerr": overseerr_plugin}, autoload=False, migrate=True
    )
    figures: dict[str, Any] = {}
    upstream: list[float] = []
    try:
        async with app.test_app():
            hub = hub_of(app)
            backend = hub.registry.get("request_backends", BACKEND)
            listing = backend.list_requests

            async def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await listing(*args, **kwargs)
                finally:
                    upstream.append(time.perf_counter() - started)

            backend.list_requests = timed
            with hub.database.activate():
                remote = await listed(hub)
                await seed_hub(hub, remote)
                figures["requests"] = len(remote)

                calls.clear()
                upstream.clear()
                started = time.perf_counter()
                unchanged = await hub.reconciler.run()
                figures["unchanged"] = {
                    "seconds": time.perf_counter() - started,
                    "upstream_seconds": sum(upstream),
                    "calls": len(calls),
                    "updated": unchanged.updated,
                    "error": unchanged.backends[0].error,
                }

                pending = [r for r in remote if r.status.value == "pending"]
                if len(pending) < params.changed:
                    raise BenchmarkError(f"only {len(pending)} pending requests to approve")
                for request in pending[: params.changed]:
                    sim.world.approve(request.request_id)
                calls.clear()
                upstream.clear()
                started = time.perf_counter()
                changed = await hub.reconciler.run()
                elapsed = time.perf_counter() - started
                statuses = dict(
                    await RequestRow.filter(
                        remote_id__in=[r.request_id for r in pending[: params.changed]]
                    ).values_list("remote_id", "status")
                )
                figures["changed"] = {
                    "seconds": elapsed,
                    "upstream_seconds": sum(upstream),
                    "calls": len(calls),
                    "updated": changed.updated,
                    "moved_on_hub": sum(1 for s in statuses.values() if s != "pending"),
                    "error": changed.backends[0].error,
                }
    finally:
        sim.world.observers.clear()
    return figures


def add_figures(
    result: Result, key: str, name: str, figures: dict[str, Any], params: Params
) -> None:
    for phase, label in (
        ("unchanged", "nothing changed"),
        ("changed", f"{params.changed} changed"),
    ):
        measured = figures[phase]
        result.add(
            f"{key}.{phase}.seconds",
            f"{name}, {label}: time",
            round(measured["seconds"], 3),
            "s",
            target=f"< {TARGET_SECONDS:g} s",
        )
        result.add(
            f"{key}.{phase}.upstream_seconds",
            f"{name}, {label}: waiting for the backend",
            round(measured["upstream_seconds"], 3),
            "s",
        )
        result.add(
            f"{key}.{phase}.hub_seconds",
            f"{name}, {label}: the hub's own share",
            round(measured["seconds"] - measured["upstream_seconds"], 3),
            "s",
            target=f"< {TARGET_SECONDS:g} s",
        )
        result.add(
            f"{key}.{phase}.calls",
            f"{name}, {label}: upstream calls",
            measured["calls"],
            "calls",
            target=f"≤ {-(-figures['requests'] // PAGE)}",
        )
        result.add(
            f"{key}.{phase}.updated",
            f"{name}, {label}: rows updated",
            measured["updated"],
            "rows",
            target="0" if phase == "unchanged" else str(params.changed),
        )
        if measured["error"]:
            result.notes.append(f"{name}, {label}: the backend failed: {measured['error']}")
    moved = figures["changed"]["moved_on_hub"]
    result.add(
        f"{key}.changed.moved_on_hub",
        f"{name}, {params.changed} changed: no longer pending on the hub",
        moved,
        "rows",
        target=str(params.changed),
    )


async def run(quick: bool) -> Result:
    params = QUICK if quick else FULL
    started = time.perf_counter()
    world = world_with_requests(params.requests)
    result = Result(
        name="request_reconcile",
        title=f"reconciliation of {params.requests:,} Overseerr requests (SQLite, PostgreSQL)",
        params={
            "requests": params.requests,
            "changed": params.changed,
            "page_size": PAGE,
            "people": PEOPLE,
            "backend": "Overseerr simulator over HTTP (loopback, same process) + plugin",
            "world_seconds": round(time.perf_counter() - started, 2),
            "sqlite": sqlite3.sqlite_version,
        },
    )
    async with serve_simulator(world) as sim:
        with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
            sqlite = await scenario(sim, None, Path(tmp) / "sqlite", params)
            add_figures(result, "sqlite", "SQLite", sqlite, params)
            # The same world again, as it now stands (another 100 pending are approved).
            admin = await reachable_postgres(result)
            if admin is not None:
                try:
                    async with fresh_database(admin) as url:
                        postgres = await scenario(sim, url, Path(tmp) / "pg", params)
                finally:
                    await admin.close()
                add_figures(result, "postgres", "PostgreSQL", postgres, params)
    return result
