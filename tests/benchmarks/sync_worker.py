"""The syncing process of ``library_sync``: ``python -m tests.benchmarks.sync_worker``.

Reads a JSON request on stdin, starts a hub the way ``medianest worker`` would (the Plex
plugin with one server, the catalogue in PostgreSQL or SQLite, no Redis, no scheduled
syncs), runs the sync scenario below against the simulated server, and prints one JSON
object on stdout: per phase, the run's counters, its wall seconds, the CPU seconds this
process used and its peak resident memory once the phase ended.

1. ``full``: a full sync into the empty catalogue;
2. ``resync``: a second full sync with nothing changed;
3. ``first_incremental``: an incremental sync (the first stores the checkpoint);
4. ``incremental``: after ``patches`` retitled movies and ``additions`` new movies (through
   the simulator's control API, clock moved on), an incremental sync;
5. ``deletions``: after ``deletions`` movies are deleted upstream, a full sync.

Request (JSON): ``url`` and ``token`` of the simulated server, ``simulator_pid`` (optional:
its CPU seconds are reported per phase), ``database_url`` (null: SQLite in ``data_dir``),
``data_dir``, ``page_size`` and ``batch_size`` (optional) of the sync, ``plex_page_size``
(optional; default: the plugin's), ``patches``, ``additions``, ``deletions``, and
``profile`` (optional): a directory where every sync's cProfile statistics are written as
``<phase>.pstats`` (for ``python -m pstats``; the timings are then inflated).

Anything the hub prints goes to stderr: stdout carries only the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from medianest.config import load_settings
from medianest.core.db.models import LibraryItem, SyncRun
from medianest.core.hub import Hub, build_hub
from medianest.core.logging import configure_logging
from medianest.core.sync import RunKind, Trigger
from medianest.core.sync.runs import run_view
from medianest_plex import plugin
from tests.benchmarks.procs import cpu_seconds as cpu_seconds_of

SERVER_NAME = "bench"
SOURCE_ID = f"plex:{SERVER_NAME}"
READ_TIMEOUT_SECONDS = 60.0
CONTROL_CONNECTIONS = 8
CLOCK_STEP_SECONDS = 60
"""The simulator's clock moves on this much before the changes an incremental sync reads."""


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu_seconds() -> float | None:
    """CPU seconds used so far by the PostgreSQL server's processes on this machine."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.find("(") + 1 : stat.rfind(")")] == "postgres":
            total += cpu_seconds_of(int(entry.name)) or 0.0
    return total


class OtherCpu:
    """CPU seconds the simulator and the database server used between two readings."""

    def __init__(self, simulator_pid: int | None, postgres: bool) -> None:
        self.simulator_pid = simulator_pid
        self.postgres = postgres

    def read(self) -> dict[str, float | None]:
        return {
            "simulator_cpu_seconds": (
                cpu_seconds_of(self.simulator_pid) if self.simulator_pid else None
            ),
            "database_cpu_seconds": postgres_cpu_seconds() if self.postgres else None,
        }

    @staticmethod
    def used(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
        return {
            key: after[key] - value if value is not None and after[key] is not None else None
            for key, value in before.items()
        }


@contextlib.asynccontextmanager
async def started_hub(request: dict[str, Any]) -> AsyncIterator[Hub]:
    """A hub with the simulated server as its only media source, started and migrated."""
    page_size = int(request["page_size"])
    sync: dict[str, Any] = {
        "incremental_minutes": 0,
        "full_daily_at": None,
        "page_size": page_size,
    }
    if request.get("batch_size"):
        sync["batch_size"] = int(request["batch_size"])
    settings = load_settings(
        data_dir=request["data_dir"],
        database_url=request.get("database_url"),
        redis_url=None,
        sync=sync,
        plugins={
            "plex": {
                "servers": [
                    {
                        "name": SERVER_NAME,
                        "url": request["url"],
                        "token": request["token"],
                        "timeout": READ_TIMEOUT_SECONDS,
                    }
                ],
                "plextv_url": request["url"],
                **(
                    {"page_size": request["plex_page_size"]}
                    if request.get("plex_page_size")
                    else {}
                ),
            }
        },
    )
    configure_logging(settings.log, stream=sys.stderr)
    hub = build_hub(settings, plugins={"plex": plugin}, autoload=False)
    await hub.start(migrate=True)
    try:
        with hub.database.activate():
            yield hub
    finally:
        await hub.close()


async def timed_sync(
    hub: Hub, others: OtherCpu, kind: RunKind, profile: Path | None = None
) -> tuple[SyncRun, dict[str, Any]]:
    """Run one sync to its end in this task; the run and the phase's figures.

    :param profile: run it under cProfile and write the statistics to this file.
    """
    run, created = await hub.sync.claim_slot(SOURCE_ID, kind, Trigger.CLI)
    if not created:
        raise RuntimeError(f"a run of {SOURCE_ID} was already active: {run.id}")
    profiler = cProfile.Profile() if profile else None
    others_before = others.read()
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        ended = await hub.sync.execute(run.id)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    others_used = others.used(others_before, others.read())
    if ended is None:
        raise RuntimeError(f"run {run.id} was not executed (taken by another worker?)")
    figures = {
        **run_view(ended),
        "seconds": seconds,
        "cpu_seconds": cpu,
        **others_used,
        "peak_rss_mib": peak_rss_mib(),
    }
    if ended.status != "succeeded":
        raise RuntimeError(f"the {kind.value} sync failed: {ended.error}")
    return ended, figures


async def movie_ids(count: int) -> list[str]:
    """``count`` movies of the catalogue (ratingKeys), oldest rows first."""
    rows = await (
        LibraryItem.filter(source=SOURCE_ID, kind="movie")
        .order_by("id")
        .limit(count)
        .values_list("item_id", flat=True)
    )
    if len(rows) < count:
        raise RuntimeError(f"the catalogue holds {len(rows)} movies; {count} are needed")
    return [str(r) for r in rows]


async def each(calls: list[Any]) -> list[Any]:
    """Await ``calls`` (coroutines) a few at a time, in order."""
    gate = asyncio.Semaphore(CONTROL_CONNECTIONS)

    async def one(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(one(c) for c in calls))


def checked(response: httpx.Response) -> dict[str, Any]:
    """The control API's JSON answer, once it says the change was made."""
    if response.status_code >= 400:
        raise RuntimeError(
            f"the simulator refused {response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:200]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def make_changes(control: httpx.AsyncClient, retitle: list[str], additions: int) -> None:
    """Retitle movies ``retitle`` and add ``additions`` movies, after moving the clock on."""
    checked(await control.post("/clock", json={"advance": CLOCK_STEP_SECONDS}))
    patches = [
        control.patch(f"/servers/0/items/{rk}", json={"title": f"Retitled by the benchmark {n}"})
        for n, rk in enumerate(retitle)
    ]
    added = [
        control.post(
            "/servers/0/items",
            json={"type": "movie", "title": f"Added by the benchmark {n}", "year": 2024},
        )
        for n in range(additions)
    ]
    for response in await each([*patches, *added]):
        checked(response)


async def delete_items(control: httpx.AsyncClient, doomed: list[str]) -> int:
    """Delete items ``doomed`` upstream; returns how many items went (with descendants)."""
    answers = await each([control.delete(f"/servers/0/items/{rk}") for rk in doomed])
    return sum(len(checked(a)["removed"]) for a in answers)


async def scenario(request: dict[str, Any]) -> dict[str, Any]:
    """Every phase, in order; the figures of each."""
    patches = int(request["patches"])
    additions = int(request["additions"])
    deletions = int(request["deletions"])
    phases: dict[str, dict[str, Any]] = {}
    profiles = Path(request["profile"]) if request.get("profile") else None
    if profiles is not None:
        profiles.mkdir(parents=True, exist_ok=True)

    def profile(phase: str) -> Path | None:
        return profiles / f"{phase}.pstats" if profiles is not None else None

    rss_start = peak_rss_mib()
    others = OtherCpu(request.get("simulator_pid"), postgres=bool(request.get("database_url")))
    async with (
        started_hub(request) as hub,
        httpx.AsyncClient(base_url=request["url"] + "/__sim", timeout=60.0) as control,
    ):
        rss_hub = peak_rss_mib()
        _, phases["full"] = await timed_sync(hub, others, RunKind.FULL, profile("full"))
        phases["full"]["catalogue_rows"] = await LibraryItem.filter(source=SOURCE_ID).count()
        _, phases["resync"] = await timed_sync(hub, others, RunKind.FULL, profile("resync"))
        _, phases["first_incremental"] = await timed_sync(
            hub, others, RunKind.INCREMENTAL, profile("first_incremental")
        )

        movies = await movie_ids(patches + deletions)
        await make_changes(control, movies[:patches], additions)
        _, phases["incremental"] = await timed_sync(
            hub, others, RunKind.INCREMENTAL, profile("incremental")
        )

        removed = await delete_items(control, movies[patches:])
        _, phases["deletions"] = await timed_sync(hub, others, RunKind.FULL, profile("deletions"))
        phases["deletions"]["removed_upstream"] = removed
        phases["deletions"]["catalogue_rows"] = await LibraryItem.filter(source=SOURCE_ID).count()
    return {
        "database": hub.database.dialect,
        "rss_at_start_mib": rss_start,
        "rss_hub_started_mib": rss_hub,
        "phases": phases,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> int:
    """Read the request from stdin, print the figures on stdout (only them)."""
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    request = json.load(sys.stdin)
    figures = asyncio.run(scenario(request))
    json.dump(figures, answer)
    answer.write("\n")
    answer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
