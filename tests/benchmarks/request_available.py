"""``request_available``: a requested film added to Plex → its request ``available``.

The Plex simulator (one server, served on loopback in this process) and a hub synced from it
(in this process, jobs run in-process; SQLite, then PostgreSQL when reachable). Each round:

1. a new film is added to the simulated server (as Radarr and Plex's scanner would) and a
   request for it (by its TMDB and IMDb ids, approved) is written on the hub;
2. the ``library.new`` webhook Plex sends is posted to the Plex plugin's webhook route, and the
   clock starts;
3. the hub runs one incremental sync of the server (the webhook queued it), the sync's batch
   finds the film, and the request turns ``available``: the clock stops when the request's
   row says so (polled every 2 ms).

Reported: the webhook's own answer time, and the time from the webhook to ``available``
(median, p90, max over the rounds), with the incremental syncs it took (target: one).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.db.models import SyncRun, User
from medianest.core.logging import configure_logging
from medianest.core.sync import RunKind, Trigger
from medianest_plex import plugin as plex_plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from medianest_plex.simulator.metadata import external_ids
from tests.benchmarks.library_sync import fresh_database, reachable_postgres
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.stats import percentile

SECRET = "bench-webhook-secret-0123456789abcdef"
SERVER = "home"
SOURCE = f"plex:{SERVER}"
TIMEOUT_SECONDS = 60.0


async def run_sync(hub: Any, kind: RunKind) -> None:
    run, _ = await hub.sync.claim_slot(SOURCE, kind, Trigger.CLI)
    ended = await hub.sync.execute(run.id)
    if ended is None or ended.status != "succeeded":
        raise BenchmarkError(f"the {kind.value} sync of {SOURCE} did not succeed")


async def scenario(
    sim: RunningSimulator, database_url: str | None, workdir: Path, rounds: int, label: str
) -> dict[str, Any]:
    settings = load_settings(
        data_dir=workdir,
        **({"database_url": database_url} if database_url else {}),
        log={"level": "warning"},
        sync={"incremental_minutes": 0, "full_daily_at": None},
        requests={"reconcile_minutes": 0},
        plugins={
            "plex": {
                "servers": [
                    {"name": SERVER, "url": sim.server_urls[SERVER], "token": sim.world.owner.token}
                ],
                "plextv_url": sim.plextv_url,
                "auth_app_url": sim.auth_url,
                "webhook_secret": SECRET,
            }
        },
        rate_limits={"api": {"limit": 1_000_000_000, "window_seconds": 60}},
    )
    configure_logging(settings.log, stream=sys.stderr)
    app = create_app(settings, plugins={"plex": plex_plugin}, autoload=False, migrate=True)
    webhook_ms: list[float] = []
    available_ms: list[float] = []
    incrementals: list[int] = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        hub = hub_of(app)
        with hub.database.activate():
            await run_sync(hub, RunKind.FULL)
            await run_sync(hub, RunKind.INCREMENTAL)  # the checkpoint webhooks start from
            uuid = await hub.provider(SOURCE).machine_identifier()
            person = await User.create(username="bench-asker", role="user")
            for number in range(rounds):
                item = sim.world.add_movie(SERVER, title=f"Requested Film {label} {number}")
                ids = external_ids(item)
                now = datetime.now(UTC)
                request = await RequestRow.create(
                    backend="overseerr:bench",
                    remote_id=f"{label}-{number}",
                    kind="movie",
                    tmdb_id=ids.tmdb,
                    imdb_id=ids.imdb,
                    title=item.title,
                    status="approved",
                    requested_by=person,
                    created_at=now,
                    updated_at=now,
                )
                before = await SyncRun.filter(source=SOURCE, kind="incremental").count()
                body = json.dumps(
                    {
                        "event": "library.new",
                        "Server": {"uuid": uuid},
                        "Metadata": {"ratingKey": str(item.rating_key), "type": "movie"},
                    }
                )
                multipart = httpx.Request(
                    "POST", "http://hub/", files={"payload": (None, body.encode())}
                )
                data = multipart.read()
                started = time.perf_counter()
                response = await client.post(
                    f"/api/v1/plugins/plex/webhook/{SECRET}",
                    data=data,
                    headers={"Content-Type": multipart.headers["content-type"]},
                )
                webhook_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 202:
                    raise BenchmarkError(f"the webhook answered {response.status_code}")
                deadline = started + TIMEOUT_SECONDS
                while True:
                    status = (
                        await RequestRow.filter(id=request.id).values_list("status", flat=True)
                    )[0]
                    if status == "available":
                        available_ms.append((time.perf_counter() - started) * 1000)
                        break
                    if time.perf_counter() > deadline:
                        raise BenchmarkError(
                            f"round {number}: the request was still {status} "
                            f"{TIMEOUT_SECONDS:g} s after the webhook"
                        )
                    await asyncio.sleep(0.002)
                # Let the sync that made it available end before the next round.
                await ended(SOURCE)
                incrementals.append(
                    await SyncRun.filter(source=SOURCE, kind="incremental").count() - before
                )
    return {"webhook_ms": webhook_ms, "available_ms": available_ms, "incrementals": incrementals}


async def ended(source: str) -> None:
    """Once no run of ``source`` is queued or running."""
    for _ in range(int(TIMEOUT_SECONDS / 0.005)):
        if not await SyncRun.filter(source=source, status__in=("queued", "running")).exists():
            return
        await asyncio.sleep(0.005)
    raise BenchmarkError(f"a sync of {source} was still going {TIMEOUT_SECONDS:g} s on")


def add_figures(result: Result, key: str, name: str, figures: dict[str, Any]) -> None:
    samples = figures["available_ms"]
    result.add(
        f"{key}.webhook_answer_ms.median",
        f"{name}: webhook answered (median)",
        round(statistics.median(figures["webhook_ms"]), 2),
        "ms",
    )
    result.add(
        f"{key}.available_ms.median",
        f"{name}: webhook → available (median)",
        round(statistics.median(samples), 1),
        "ms",
    )
    result.add(
        f"{key}.available_ms.p90",
        f"{name}: webhook → available (p90)",
        round(percentile(samples, 90), 1),
        "ms",
    )
    result.add(
        f"{key}.available_ms.max",
        f"{name}: webhook → available (max)",
        round(max(samples), 1),
        "ms",
    )
    result.add(
        f"{key}.incremental_syncs.max",
        f"{name}: incremental syncs per round (max)",
        max(figures["incrementals"]),
        "runs",
        target="1",
    )


async def run(quick: bool) -> Result:
    items, rounds = (300, 5) if quick else (2_000, 20)
    result = Result(
        name="request_available",
        title="requested film added to Plex → request available (SQLite, PostgreSQL)",
        params={
            "plex_leaves": items,
            "rounds": rounds,
            "process": "simulator and hub in this process; jobs in-process",
            "sqlite": sqlite3.sqlite_version,
        },
    )
    async with serve_world(PlexWorld(seed=9, items=items, servers=1)) as sim:
        with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
            sqlite = await scenario(sim, None, Path(tmp) / "sqlite", rounds, "sqlite")
            add_figures(result, "sqlite", "SQLite", sqlite)
            admin = await reachable_postgres(result)
            if admin is not None:
                try:
                    async with fresh_database(admin) as url:
                        postgres = await scenario(sim, url, Path(tmp) / "pg", rounds, "pg")
                finally:
                    await admin.close()
                add_figures(result, "postgres", "PostgreSQL", postgres)
    return result
