"""``medianest sync``, run in a subprocess like a person would, against simulated Plex servers
and a hub on the same database (embedded: the same SQLite file; scaled: PostgreSQL + Redis,
with a ``medianest worker`` running what the command queues)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from medianest.config import load_settings
from medianest.core.db.models import AuditEvent, LibraryItem, SyncRun
from medianest.core.hub import Hub, build_hub
from medianest.core.sync import RunKind, Trigger
from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator
from tests.cli_helpers import MEDIANEST, clean_environment, medianest
from tests.services import SECRET_KEY
from tests.sync.conftest import SYNC_SETTINGS, plex_section

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

SUMMARY = re.compile(
    r"(?P<source>\S+): (?P<kind>full|incremental) sync succeeded \(run (?P<id>\d+)\) "
    r"in [\d.]+ s: (?P<items>[\d,]+) items in (?P<pages>\d+) pages; (?P<new>[\d,]+) new, "
    r"(?P<updated>[\d,]+) updated, (?P<deleted>[\d,]+) deleted"
)


@pytest.fixture
def plex_world() -> PlexWorld:
    """Two servers of 400 leaves: walks of a dozen pages or more."""
    return PlexWorld(seed=11, items=400, servers=2)


def command_environment(sim: RunningSimulator, mode: dict[str, Any]) -> dict[str, str]:
    """The settings of a ``medianest`` process sharing the test hub's database and sources."""
    env = {
        "MEDIANEST_PLUGINS__PLEX__SERVERS": json.dumps(
            [
                {"name": slug, "url": url, "token": sim.world.owner.token, "timeout": 10}
                for slug, url in sim.server_urls.items()
            ]
        ),
        "MEDIANEST_PLUGINS__PLEX__PLEXTV_URL": sim.plextv_url,
        "MEDIANEST_SYNC__PAGE_SIZE": str(SYNC_SETTINGS["page_size"]),
        "MEDIANEST_SYNC__BATCH_SIZE": str(SYNC_SETTINGS["batch_size"]),
        "MEDIANEST_SYNC__PAGE_RETRIES": "1",
        "MEDIANEST_SYNC__RETRY_BASE_SECONDS": "0.01",
        "MEDIANEST_SYNC__INCREMENTAL_MINUTES": "0",
        "MEDIANEST_SYNC__FULL_DAILY_AT": "",
        "COLUMNS": "200",
    }
    if mode:
        env |= {
            "MEDIANEST_DATABASE_URL": mode["database_url"],
            "MEDIANEST_REDIS_URL": mode["redis_url"],
            "MEDIANEST_SECRET_KEY": mode["secret_key"],
        }
    return env


class Command:
    """Runs ``medianest`` next to a test hub on the same database."""

    def __init__(self, hub: Hub, tmp_path: Path, env: dict[str, str]) -> None:
        self.hub = hub
        self.tmp_path = tmp_path
        self.env = env

    @property
    def scaled(self) -> bool:
        return self.hub.mode == "scaled"

    async def __call__(self, *args: str) -> subprocess.CompletedProcess:
        """``medianest ARGS``, without blocking the simulator or the hub."""
        return await asyncio.to_thread(medianest, self.tmp_path, *args, **self.env)

    async def sync(self, *args: str) -> subprocess.CompletedProcess:
        """``medianest sync ARGS``; in scaled mode, once the command has asked for its run, a
        burst worker runs what is queued."""
        call = asyncio.ensure_future(self("sync", *args))
        if self.scaled:
            asked = await AuditEvent.filter(action="sync.requested", actor="cli").count()
            while not call.done():
                now = await AuditEvent.filter(action="sync.requested", actor="cli").count()
                if now > asked:
                    worker = await self("worker", "--burst")
                    assert worker.returncode == 0, worker.stderr
                    break
                await asyncio.wait({call}, timeout=0.1)
        return await call

    @asynccontextmanager
    async def started(self, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
        """``medianest ARGS`` in the background, killed at the end of the block; what it
        printed is added to an error raised in the block."""
        process = await asyncio.create_subprocess_exec(
            *MEDIANEST,
            *args,
            cwd=self.tmp_path,
            env=clean_environment(self.tmp_path, **self.env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            yield process
        except BaseException as exc:
            if process.returncode is None:
                process.kill()
            out, err = await process.communicate()
            exc.add_note(f"medianest {' '.join(args)} printed:\n{out.decode()}{err.decode()}")
            raise
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def interrupt(process: asyncio.subprocess.Process) -> str:
    """Press Ctrl-C in ``process``; what it printed on standard error once it exited."""
    process.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        _, err = await process.communicate()
    return err.decode()


@asynccontextmanager
async def hub_on_the_same_database(
    medianest_hub: HubHarness, sim: RunningSimulator, mode: dict, tmp_path: Path
) -> AsyncIterator[Hub]:
    """A hub on the command's database (migrated), its database active in the test.

    Embedded, it runs no jobs: its scheduler would hand on the runs a test leaves queued or
    interrupted. Scaled, its job queue only hands jobs to Redis, where the workers the tests
    start take them.
    """
    section = {"plex": plex_section(sim)}
    if mode:
        async with medianest_hub.run(
            {"plex": plugin}, plugins=section, sync=SYNC_SETTINGS, **mode
        ) as running:
            with running.hub.database.activate():
                yield running.hub
        return
    hub = build_hub(
        load_settings(data_dir=tmp_path / "data", plugins=section, sync=SYNC_SETTINGS),
        plugins={"plex": plugin},
        autoload=False,
    )
    await hub.start(migrate=True, services_only=True)
    try:
        with hub.database.activate():
            yield hub
    finally:
        await hub.close()


@pytest.fixture
async def shared(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, mode: dict, tmp_path: Path
) -> AsyncIterator[Command]:
    """The command, and a hub on its database for the test to look at."""
    async with hub_on_the_same_database(medianest_hub, plex_sim, mode, tmp_path) as hub:
        yield Command(hub, tmp_path, command_environment(plex_sim, mode))


@pytest.fixture
async def embedded(
    medianest_hub: HubHarness, plex_sim: RunningSimulator, tmp_path: Path
) -> AsyncIterator[Command]:
    """``shared``, in embedded mode only."""
    async with hub_on_the_same_database(medianest_hub, plex_sim, {}, tmp_path) as hub:
        yield Command(hub, tmp_path, command_environment(plex_sim, {}))


@pytest.fixture
async def scaled(
    medianest_hub: HubHarness,
    plex_sim: RunningSimulator,
    postgres_url: str,
    redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[Command]:
    """``shared``, in scaled mode only."""
    mode = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with hub_on_the_same_database(medianest_hub, plex_sim, mode, tmp_path) as hub:
        yield Command(hub, tmp_path, command_environment(plex_sim, mode))


async def eventually(condition: Any) -> None:
    """Wait until the async ``condition()`` is true (a minute at most)."""
    for _ in range(1200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{condition.__name__} did not come true within a minute")


async def test_a_sync_runs_to_its_end_and_exits_0_with_a_summary(shared: Command) -> None:
    result = await shared.sync("plex:home", "--full")

    assert result.returncode == 0, result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary, result.stdout
    assert (summary["source"], summary["kind"]) == ("plex:home", "full")
    items = int(summary["items"].replace(",", ""))
    assert items > 400 and int(summary["new"].replace(",", "")) == items
    assert int(summary["pages"]) > 5
    said = "started" if not shared.scaled else "queued for the workers"
    assert f"full sync of plex:home {said} (run {summary['id']})" in result.stderr
    assert "Traceback" not in result.stderr
    run = await SyncRun.get(id=int(summary["id"]))
    assert (run.status, run.trigger, run.requested_by) == ("succeeded", "cli", "cli")
    assert await LibraryItem.filter(source="plex:home").count() == items
    [event] = await AuditEvent.filter(action="sync.requested")
    assert (event.actor, event.target) == ("cli", "source:plex:home")

    incremental = await shared.sync("plex:home", "--json")

    assert incremental.returncode == 0, incremental.stderr
    shown = json.loads(incremental.stdout)
    assert (shown["kind"], shown["status"], shown["joined"]) == ("incremental", "succeeded", False)
    assert shown["trigger"] == "cli" and shown["error"] is None

    listed = await shared("sync", "--list", "--json", "plex:home")
    assert listed.returncode == 0, listed.stderr
    assert [r["id"] for r in json.loads(listed.stdout)] == [shown["id"], run.id]
    table = await shared("sync", "--list")
    assert table.returncode == 0, table.stderr
    assert re.search(rf"{shown['id']}\s.*plex:home\s.*incremental\s.*succeeded", table.stdout)
    assert re.search(rf"{run.id}\s.*plex:home\s.*full\s.*succeeded", table.stdout)


async def test_a_failed_sync_exits_1_with_its_reason(
    shared: Command, plex_sim: RunningSimulator
) -> None:
    plex_sim.world.faults.add("error", status=503)

    result = await shared.sync("plex:cabin", "--full")

    assert result.returncode == 1, result.stdout + result.stderr
    [run] = await SyncRun.filter(source="plex:cabin")
    assert run.status == "failed"
    assert "plex:cabin failed on page 1 after 2 tries" in run.error
    assert f"the full sync of plex:cabin failed (run {run.id}): {run.error}" in " ".join(
        result.stderr.split()
    )
    assert "Traceback" not in result.stderr


async def test_an_unknown_source_exits_2_naming_the_known_ones(shared: Command) -> None:
    result = await shared("sync", "plex:attic")

    assert result.returncode == 2
    assert "plex:attic" in result.stderr
    assert "plex:home" in result.stderr and "plex:cabin" in result.stderr
    assert "Traceback" not in result.stderr
    assert await SyncRun.all().count() == 0

    nothing = await shared("sync")
    assert nothing.returncode == 2
    assert "plex:home, plex:cabin" in nothing.stderr or "plex:cabin, plex:home" in nothing.stderr


async def test_a_sync_joins_the_run_already_going(shared: Command) -> None:
    hub = shared.hub
    if shared.scaled:  # queued by the API for the workers
        going, _ = await hub.sync.request("plex:home", RunKind.FULL, Trigger.API, "ops")
    else:  # queued, and nobody has taken it on yet
        going, _ = await hub.sync.claim_slot("plex:home", RunKind.FULL, Trigger.API, "ops")

    result = await shared.sync("plex:home")

    assert result.returncode == 0, result.stderr
    assert f"joining the full sync of plex:home already queued (run {going.id})" in result.stderr
    summary = SUMMARY.search(result.stdout)
    assert summary and (summary["kind"], summary["id"]) == ("full", str(going.id))
    assert await SyncRun.filter(source="plex:home").count() == 1


async def test_a_sync_of_the_other_kind_going_exits_2(shared: Command) -> None:
    going, _ = await shared.hub.sync.claim_slot(
        "plex:home", RunKind.INCREMENTAL, Trigger.API, "ops"
    )

    result = await shared("sync", "plex:home", "--full")

    assert result.returncode == 2
    assert f"incremental sync of plex:home is queued (run {going.id})" in result.stderr
    assert "Traceback" not in result.stderr
    assert await SyncRun.filter(source="plex:home").count() == 1


async def test_ctrl_c_stops_a_run_here_and_the_next_sync_resumes_it(
    embedded: Command, plex_sim: RunningSimulator
) -> None:
    faults = plex_sim.world.faults
    held = None

    async def committed() -> bool:
        run = await SyncRun.get_or_none(source="plex:home")
        return run is not None and run.items_seen > 0

    async def fetching() -> bool:
        return held is not None and held.fired > 0

    faults.add("latency", latency_ms=60)
    async with embedded.started("sync", "plex:home", "--full") as process:
        await eventually(committed)
        # Hold the walk in a page fetch, so the interruption lands between batches.
        held = faults.add("hang")
        await eventually(fetching)
        await asyncio.sleep(0.3)
        err = await interrupt(process)
    faults.clear()

    assert process.returncode == 130, err
    run = await SyncRun.get(source="plex:home")
    assert f"interrupted: run {run.id} stopped after its last committed batch" in err
    assert "the next sync of plex:home resumes it" in " ".join(err.split())
    assert (run.status, run.owner) == ("running", None)
    assert 0 < run.items_seen and run.cursor is not None

    resumed = await embedded("sync", "plex:home", "--json")

    assert resumed.returncode == 0, resumed.stderr
    shown = json.loads(resumed.stdout)
    assert (shown["id"], shown["kind"], shown["joined"]) == (run.id, "full", True)
    assert (shown["status"], shown["attempts"]) == ("succeeded", 2)
    assert shown["items_seen"] == shown["total"] == shown["inserted"]
    assert await LibraryItem.filter(source="plex:home").count() == shown["total"]


async def test_ctrl_c_while_following_a_queued_run_leaves_it_to_the_workers(
    scaled: Command,
) -> None:
    async def queued() -> bool:
        return await SyncRun.filter(source="plex:home").exists()

    async with scaled.started("sync", "plex:home", "--full") as process:
        await eventually(queued)
        await asyncio.sleep(0.5)  # following it
        err = await interrupt(process)

    assert process.returncode == 130, err
    run = await SyncRun.get(source="plex:home")
    assert f"stopped following run {run.id}; the sync of plex:home goes on" in err
    assert run.status == "queued"
