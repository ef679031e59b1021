"""``library_sync``: the library sync engine on a 100,000-leaf Plex library.

The Plex simulator serves one server on loopback in its own process. For each database
(a fresh PostgreSQL database on the test server, then a SQLite file), the simulator is reset
to its generated library and :mod:`tests.benchmarks.sync_worker` runs, in a process of its
own, a hub that syncs it through the Plex plugin (``hub.sync.execute``, no scheduled syncs,
no Redis; the engine asks the plugin for pages of the plugin's page size, its default of 1,000,
and reads one ahead while it writes):

1. a full sync into the empty catalogue;
2. a second full sync with nothing changed (it must write no row);
3. a first incremental sync (a whole walk: it stores the checkpoint), then 50 retitled and
   50 added movies (the simulator's control API) and an incremental sync that reads them;
4. 1,000 movies deleted upstream, and the full sync that deletes them from the catalogue.

Before the PostgreSQL syncs, :mod:`tests.benchmarks.bare_pipeline` fetches and parses every
page of the same library and COPYs four columns per item into a temporary table: the floor
a full sync is compared with. Reported: seconds, items per second, the runs' counters, the
worker's CPU seconds and peak RSS, and the CPU the simulator and PostgreSQL used meanwhile.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from medianest.config.settings import SyncSettings
from medianest_plex.const import MAX_PAGE_SIZE, SECTION_TYPES
from medianest_plex.settings import PlexSettings
from tests.benchmarks.plex_sim import Simulator, plex_simulator
from tests.benchmarks.procs import cpu_seconds, run_json_child
from tests.benchmarks.results import Result
from tests.services import POSTGRES_URL

CONTROL_TIMEOUT_SECONDS = 60.0
FULL_TARGET_SECONDS = 15.0
BARE_RATIO_TARGET = 3.0
INCREMENTAL_TARGET_SECONDS = 1.0
RSS_TARGET_MB = 250


@dataclass(frozen=True)
class Params:
    """Library size, sync page size, upstream changes, time allowed per process."""

    items: int
    page_size: int
    patches: int
    additions: int
    deletions: int
    time_limit: float


_PAGE_SIZE = min(SyncSettings().page_size, MAX_PAGE_SIZE)
FULL = Params(
    items=100_000,
    page_size=_PAGE_SIZE,
    patches=50,
    additions=50,
    deletions=1000,
    time_limit=900.0,
)
QUICK = Params(
    items=2_000, page_size=_PAGE_SIZE, patches=50, additions=50, deletions=100, time_limit=120.0
)


# -- the simulator and the databases -------------------------------------------------------


async def fresh_library(sim: Simulator, *, reset: bool) -> None:
    """The simulator's generated library (``reset``), its sorted lists built before timing.

    The first read of a list has the simulator sort it; every walk measured then starts
    from the same state.
    """
    headers = {"Accept": "application/json", "X-Plex-Token": sim.token}
    async with httpx.AsyncClient(
        base_url=sim.url, headers=headers, timeout=CONTROL_TIMEOUT_SECONDS
    ) as client:
        if reset:
            (await client.post("/__sim/reset")).raise_for_status()
        response = await client.get("/library/sections")
        response.raise_for_status()
        for section in response.json()["MediaContainer"].get("Directory", []):
            for plex_type in SECTION_TYPES.get(section["type"], ()):
                listed = await client.get(
                    f"/library/sections/{section['key']}/all",
                    params=[("type", plex_type), ("sort", "addedAt"), ("includeGuids", 1)],
                    headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "1"},
                )
                listed.raise_for_status()


async def postgres_admin() -> asyncpg.Connection:
    """A connection to the test server's ``postgres`` database.

    :raises OSError | asyncpg.PostgresError: the server cannot be reached.
    """
    return await asyncpg.connect(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres", timeout=5)


async def reachable_postgres(result: Result) -> asyncpg.Connection | None:
    """:func:`postgres_admin`, or ``None`` with a note in ``result`` saying why it is not."""
    try:
        admin = await postgres_admin()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        result.notes.append(
            f"PostgreSQL is not reachable at {POSTGRES_URL} "
            f"(MEDIANEST_TEST_DATABASE_URL): {exc!r}; no PostgreSQL figures"
        )
        return None
    result.params["postgresql"] = admin.get_server_version().major
    return admin


@contextlib.asynccontextmanager
async def fresh_database(admin: asyncpg.Connection) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped when the block exits."""
    name = f"medianest_bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the child processes -------------------------------------------------------------------


async def sync_scenario(
    sim: Simulator, params: Params, workdir: Path, label: str, database_url: str | None
) -> dict[str, Any]:
    """Every sync phase in a fresh worker process; its figures."""
    return await run_json_child(
        "tests.benchmarks.sync_worker",
        {
            "url": sim.url,
            "token": sim.token,
            "simulator_pid": sim.child.pid,
            "database_url": database_url,
            "data_dir": str(workdir / f"hub-{label}"),
            "page_size": params.page_size,
            "patches": params.patches,
            "additions": params.additions,
            "deletions": params.deletions,
        },
        name=f"sync worker ({label})",
        log_path=workdir / f"sync-worker-{label}.log",
        time_limit=params.time_limit,
    )


async def bare_pipeline(
    sim: Simulator, params: Params, workdir: Path, database_url: str
) -> dict[str, Any]:
    """Fetch, parse and COPY the whole library in a fresh process; its figures, with the
    simulator's CPU seconds meanwhile."""
    before = cpu_seconds(sim.child.pid)
    figures = await run_json_child(
        "tests.benchmarks.bare_pipeline",
        {
            "url": sim.url,
            "token": sim.token,
            "database_url": database_url,
            "page_size": params.page_size,
        },
        name="bare pipeline",
        log_path=workdir / "bare-pipeline.log",
        time_limit=params.time_limit,
    )
    after = cpu_seconds(sim.child.pid)
    figures["simulator_cpu_seconds"] = (
        after - before if before is not None and after is not None else None
    )
    return figures


# -- figures -------------------------------------------------------------------------------


def add_cpu(result: Result, key: str, label: str, phase: dict[str, Any]) -> None:
    """The worker's CPU seconds in a phase, and the simulator's and PostgreSQL's."""
    result.add(
        f"{key}.worker_cpu_seconds", f"{label}: worker CPU", round(phase["cpu_seconds"], 2), "s"
    )
    for field, who in (
        ("simulator_cpu_seconds", "simulator"),
        ("database_cpu_seconds", "PostgreSQL"),
    ):
        if phase.get(field) is not None:
            result.add(f"{key}.{field}", f"{label}: {who} CPU", round(phase[field], 2), "s")


def add_speed(result: Result, key: str, label: str, phase: dict[str, Any]) -> None:
    """Items read per second in a phase."""
    result.add(
        f"{key}.items_per_second",
        f"{label}: items/s",
        round(phase["items_seen"] / phase["seconds"]),
        "items/s",
    )


def add_scenario(
    result: Result, key: str, name: str, figures: dict[str, Any], params: Params
) -> None:
    """Record one database's phases; notes any counter that is not what it should be."""
    phases = figures["phases"]

    full = phases["full"]
    label = f"{name} full"
    target = f"< {FULL_TARGET_SECONDS:g} s" if key == "postgres" else None
    result.add(
        f"{key}.full.seconds",
        f"{name} full sync, empty catalogue",
        round(full["seconds"], 2),
        "s",
        target=target,
    )
    add_speed(result, f"{key}.full", label, full)
    result.add(f"{key}.full.items", f"{label}: items", full["items_seen"], "items")
    result.add(f"{key}.full.pages", f"{label}: pages", full["pages"], "pages")
    result.add(f"{key}.full.inserted", f"{label}: inserted", full["inserted"], "rows")
    add_cpu(result, f"{key}.full", label, full)
    result.add(
        f"{key}.full.worker_peak_rss_mib",
        f"{label}: worker peak RSS",
        round(full["peak_rss_mib"], 1),
        "MiB",
        target=f"< {RSS_TARGET_MB} MB",
    )
    result.add(
        f"{key}.worker_rss_hub_started_mib",
        f"{name} worker RSS, hub started",
        round(figures["rss_hub_started_mib"], 1),
        "MiB",
    )

    resync = phases["resync"]
    label = f"{name} re-sync"
    result.add(
        f"{key}.resync.seconds",
        f"{name} re-sync, nothing changed",
        round(resync["seconds"], 2),
        "s",
    )
    add_speed(result, f"{key}.resync", label, resync)
    for counter in ("inserted", "updated", "deleted"):
        result.add(f"{key}.resync.{counter}", f"{label}: {counter}", resync[counter], "rows")
    written = resync["inserted"] + resync["updated"] + resync["deleted"]
    result.add(f"{key}.resync.rows_written", f"{label}: rows written", written, "rows", target="0")
    add_cpu(result, f"{key}.resync", label, resync)

    first = phases["first_incremental"]
    label = f"{name} 1st incremental"
    result.add(
        f"{key}.first_incremental.seconds", f"{label} (checkpoint)", round(first["seconds"], 2), "s"
    )
    result.add(f"{key}.first_incremental.items", f"{label}: items", first["items_seen"], "items")
    result.add(
        f"{key}.first_incremental.rows_written",
        f"{label}: rows written",
        first["inserted"] + first["updated"],
        "rows",
    )

    incremental = phases["incremental"]
    label = f"{name} incremental"
    changes = params.patches + params.additions
    result.add(
        f"{key}.incremental.seconds",
        f"{label}, {changes} changes",
        round(incremental["seconds"], 3),
        "s",
        target=f"< {INCREMENTAL_TARGET_SECONDS:g} s",
    )
    result.add(
        f"{key}.incremental.items", f"{label}: items read", incremental["items_seen"], "items"
    )
    result.add(
        f"{key}.incremental.inserted",
        f"{label}: inserted",
        incremental["inserted"],
        "rows",
        target=str(params.additions),
    )
    result.add(
        f"{key}.incremental.updated",
        f"{label}: updated",
        incremental["updated"],
        "rows",
        target=str(params.patches),
    )

    deletions = phases["deletions"]
    label = f"{name} full after deletions"
    result.add(
        f"{key}.deletions.seconds",
        f"{name} full after {params.deletions:,} deletions",
        round(deletions["seconds"], 2),
        "s",
    )
    result.add(
        f"{key}.deletions.deleted",
        f"{label}: deleted",
        deletions["deleted"],
        "rows",
        target=f"{deletions['removed_upstream']:,}",
    )
    result.add(
        f"{key}.deletions.rows_written",
        f"{label}: ins. + upd.",
        deletions["inserted"] + deletions["updated"],
        "rows",
        target="0",
    )
    result.add(
        f"{key}.worker_peak_rss_mib",
        f"{name} worker peak RSS, all phases",
        round(figures["peak_rss_mib"], 1),
        "MiB",
    )
    check_counts(result, name, phases, params)


def check_counts(
    result: Result, name: str, phases: dict[str, dict[str, Any]], params: Params
) -> None:
    """A note for every counter that is not what the phase should have produced."""
    full = phases["full"]
    problems = []
    if not full["items_seen"] == full["inserted"] == full["catalogue_rows"] == full["total"]:
        problems.append(
            f"the full sync saw {full['items_seen']} items, inserted {full['inserted']}, "
            f"the catalogue holds {full['catalogue_rows']}, the library reports {full['total']}"
        )
    resync = phases["resync"]
    if resync["inserted"] or resync["updated"] or resync["deleted"]:
        problems.append(
            f"the unchanged re-sync wrote rows: {resync['inserted']} inserted, "
            f"{resync['updated']} updated, {resync['deleted']} deleted"
        )
    incremental = phases["incremental"]
    if (incremental["inserted"], incremental["updated"]) != (params.additions, params.patches):
        problems.append(
            f"the incremental sync inserted {incremental['inserted']} and updated "
            f"{incremental['updated']} rows, expected {params.additions} and {params.patches}"
        )
    deletions = phases["deletions"]
    if deletions["deleted"] != deletions["removed_upstream"]:
        problems.append(
            f"the full sync after the deletions deleted {deletions['deleted']} rows; "
            f"{deletions['removed_upstream']} items were deleted upstream"
        )
    result.notes.extend(f"{name}: {problem}" for problem in problems)


def add_bare(result: Result, bare: dict[str, Any], postgres: dict[str, Any] | None) -> None:
    """The bare pipeline's figures, and the full sync's time as a multiple of it."""
    label = "bare pipeline"
    result.add("bare.seconds", "bare pipeline: fetch, parse, COPY", round(bare["seconds"], 2), "s")
    result.add(
        "bare.items_per_second",
        f"{label}: items/s",
        round(bare["items"] / bare["seconds"]),
        "items/s",
    )
    result.add("bare.requests", f"{label}: HTTP requests", bare["pages"], "requests")
    result.add("bare.cpu_seconds", f"{label}: CPU", round(bare["cpu_seconds"], 2), "s")
    if bare["simulator_cpu_seconds"] is not None:
        result.add(
            "bare.simulator_cpu_seconds",
            f"{label}: simulator CPU",
            round(bare["simulator_cpu_seconds"], 2),
            "s",
        )
    result.add("bare.copy_seconds", f"{label}: COPY", round(bare["copy_seconds"], 2), "s")
    if postgres is None:
        return
    full = postgres["phases"]["full"]
    result.add(
        "postgres.full.bare_ratio",
        "PostgreSQL full / bare pipeline",
        round(full["seconds"] / bare["seconds"], 2),
        "x",
        target=f"≤ {BARE_RATIO_TARGET:g}x",
    )
    result.add(
        "postgres.full.bare_cpu_ratio",
        "PostgreSQL full / bare pipeline, client CPU",
        round(full["cpu_seconds"] / bare["cpu_seconds"], 2),
        "x",
    )
    if bare["items"] != full["items_seen"]:
        result.notes.append(
            f"the bare pipeline read {bare['items']} items, the full sync {full['items_seen']}"
        )


def cpu_note(result: Result, figures: dict[str, Any]) -> None:
    """Who was busy during the PostgreSQL full sync, as a share of one core."""
    full = figures["phases"]["full"]
    seconds = full["seconds"]
    parts = [f"worker {full['cpu_seconds'] / seconds:.0%}"]
    if full.get("simulator_cpu_seconds") is not None:
        parts.append(f"simulator {full['simulator_cpu_seconds'] / seconds:.0%}")
    if full.get("database_cpu_seconds") is not None:
        parts.append(f"PostgreSQL {full['database_cpu_seconds'] / seconds:.0%}")
    result.notes.append(
        "during the PostgreSQL full sync, CPU as a share of one core: " + ", ".join(parts)
    )


# -- the benchmark -------------------------------------------------------------------------


async def run(quick: bool) -> Result:
    """Sync the simulated library into PostgreSQL, then into SQLite; the bare pipeline."""
    params = QUICK if quick else FULL
    changes = params.patches + params.additions
    result = Result(
        name="library_sync",
        title=f"library sync of a {params.items:,}-leaf Plex library (PostgreSQL, SQLite)",
        params={
            "leaves": params.items,
            "page_size": params.page_size,
            "batch_size": SyncSettings().batch_size,
            "plex_page_size": PlexSettings.model_fields["page_size"].default,
            "incremental_changes": {"retitled": params.patches, "added": params.additions},
            "deletions": params.deletions,
            "worker_process": "separate (python -m tests.benchmarks.sync_worker)",
            "bare_pipeline_process": "separate (python -m tests.benchmarks.bare_pipeline)",
            "sqlite": sqlite3.sqlite_version,
        },
    )
    postgres: dict[str, Any] | None = None
    bare: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with plex_simulator(params.items, workdir) as sim:
            result.params["simulator_start_seconds"] = round(sim.started_seconds, 2)
            admin = await reachable_postgres(result)
            if admin is not None:
                try:
                    async with fresh_database(admin) as database_url:
                        await fresh_library(sim, reset=False)
                        bare = await bare_pipeline(sim, params, workdir, database_url)
                        postgres = await sync_scenario(
                            sim, params, workdir, "postgres", database_url
                        )
                finally:
                    await admin.close()
            await fresh_library(sim, reset=postgres is not None)
            sqlite = await sync_scenario(sim, params, workdir, "sqlite", None)
    if postgres is not None and bare is not None:
        result.params["library_items"] = postgres["phases"]["full"]["total"]
        add_scenario(result, "postgres", "PostgreSQL", postgres, params)
        add_bare(result, bare, postgres)
        cpu_note(result, postgres)
    else:
        result.params["library_items"] = sqlite["phases"]["full"]["total"]
    add_scenario(result, "sqlite", "SQLite", sqlite, params)
    result.notes.append(
        f"incremental: {params.patches} movies retitled and {params.additions} added after "
        f"the first incremental sync stored its checkpoint ({changes} changes)"
    )
    result.notes.append(
        "the first incremental sync after a full sync starts from the checkpoint the full "
        "sync's walk ended with (the newest change as it began) and reads only the overlap"
    )
    return result
