"""Scaled mode for real: syncs on ARQ worker processes, one killed in the middle of a run."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind, Trigger
from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world
from tests.cli_helpers import MEDIANEST, clean_environment
from tests.services import SECRET_KEY
from tests.sync.conftest import plex_section
from tests.sync.sync_testing import catalogue, source_items

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

SYNC = {
    "page_size": 50,
    "batch_size": 100,
    "lease_seconds": 2,
    "retry_base_seconds": 0.05,
    "incremental_minutes": 0,
    "full_daily_at": None,
}


def write_config(directory: Path, sim: RunningSimulator) -> None:
    """The ``medianest.toml`` the worker processes read (cwd): the simulated servers."""
    section = plex_section(sim)
    lines = ["[sync]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in SYNC.items() if value is not None]
    lines.append('full_daily_at = ""')
    lines.append("[plugins.plex]")
    for key in ("plextv_url", "auth_app_url", "page_size"):
        lines.append(f"{key} = {json.dumps(section[key])}")
    for server in section["servers"]:
        lines.append("[[plugins.plex.servers]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in server.items()]
    (directory / "medianest.toml").write_text("\n".join(lines) + "\n")


def start_worker(directory: Path, postgres_url: str, redis_url: str) -> subprocess.Popen:
    env = clean_environment(
        directory,
        MEDIANEST_DATABASE_URL=postgres_url,
        MEDIANEST_REDIS_URL=redis_url,
        MEDIANEST_SECRET_KEY=SECRET_KEY,
    )
    return subprocess.Popen(
        [*MEDIANEST, "worker"],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = await condition()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_worker_killed_mid_sync_is_replaced_and_the_run_resumes(
    medianest_hub: HubHarness, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    world = PlexWorld(seed=8, items=400, servers=1)
    async with serve_world(world) as sim, httpx.AsyncClient(base_url=sim.control_url) as control:
        write_config(tmp_path, sim)
        # Slow listings, so the walk is still going when its worker is killed.
        fault = {"mode": "latency", "path": "/library/sections/*/all", "latency_ms": 150}
        assert (await control.post("/faults", json=fault)).status_code in (200, 201)
        settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
        async with medianest_hub.run(
            {"plex": plugin}, plugins={"plex": plex_section(sim)}, sync=SYNC, **settings
        ) as running:
            hub = running.hub
            with hub.database.activate():
                expected = await source_items(hub, "plex:home")
                run, created = await hub.sync.request("plex:home", RunKind.FULL, Trigger.API)
                assert created

                first = start_worker(tmp_path, postgres_url, redis_url)
                try:

                    async def two_batches() -> bool:
                        current = await SyncRun.get(id=run.id)
                        return current.items_seen >= 200

                    await wait_for(two_batches, 60, "the first worker to commit two batches")
                finally:
                    first.send_signal(signal.SIGKILL)
                    first.communicate(timeout=10)
                killed = await SyncRun.get(id=run.id)
                assert killed.status == "running"
                assert 200 <= killed.items_seen < len(expected)
                assert killed.cursor is not None

                await asyncio.sleep(SYNC["lease_seconds"] + 0.5)
                assert (await control.delete("/faults")).status_code in (200, 204)
                joined, created = await hub.sync.request("plex:home", RunKind.FULL, Trigger.API)
                assert (joined.id, created) == (run.id, False)

                second = start_worker(tmp_path, postgres_url, redis_url)
                try:

                    async def ended() -> SyncRun | None:
                        current = await SyncRun.get(id=run.id)
                        return current if current.status != "running" else None

                    done = await wait_for(ended, 60, "the second worker to finish the run")
                finally:
                    second.send_signal(signal.SIGTERM)
                    _, errors = second.communicate(timeout=20)
                assert (done.status, done.error) == ("succeeded", None), errors
                assert done.attempts == 2
                assert done.inserted == done.items_seen == len(expected)
                assert (await catalogue("plex:home")).keys() == expected.keys()
