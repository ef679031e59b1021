"""A real ``medianest worker`` process riding out a Redis outage and a PostgreSQL outage.

The worker reaches both servers through loopback proxies the test cuts (open connections
dropped, new ones refused); the test's own hub talks to them directly and queues syncs
while the worker is cut off.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind, Trigger
from medianest.sdk.testing import HubHarness
from medianest.workers import DEFAULT_QUEUE_NAME
from medianest.workers.heartbeat import WorkerBeat, read_beats
from medianest_plex import plugin
from medianest_plex.simulator import PlexWorld, serve_world
from tests.cli_helpers import MEDIANEST, clean_environment
from tests.services import SECRET_KEY
from tests.sync.conftest import plex_section
from tests.sync.test_sync_scaled import SYNC, wait_for, write_config
from tests.tcp_proxy import TcpProxy

# Every test here starts processes of its own (`-m "not slow"` leaves them out).
pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5.0
HEARTBEAT = {"MEDIANEST_JOBS__HEARTBEAT_SECONDS": "0.3"}


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def proxy_for(url: str) -> TcpProxy:
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 0)
    await proxy.start()
    return proxy


def events(log_file: Path) -> list[dict]:
    """The worker's JSON log lines (stderr), parsed; other lines are skipped."""
    lines = []
    for line in log_file.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return [line for line in lines if isinstance(line, dict)]


def count(log: list[dict], event: str, dependency: str) -> int:
    """How many lines of ``log`` are ``event`` about ``dependency``."""
    return sum(
        1 for line in log if line.get("event") == event and line.get("dependency") == dependency
    )


async def health_check(tmp_path: Path, redis_url: str) -> tuple[int, str]:
    """``medianest worker --health-check`` against ``redis_url``: exit status and output.

    Run without blocking the event loop: the proxies a worker goes through may live in it.
    """
    env = clean_environment(
        tmp_path, MEDIANEST_REDIS_URL=redis_url, MEDIANEST_SECRET_KEY=SECRET_KEY
    )
    probe = await asyncio.create_subprocess_exec(
        *MEDIANEST,
        "worker",
        "--health-check",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(probe.communicate(), 60)
    assert probe.returncode is not None
    return probe.returncode, output.decode()


async def test_a_worker_rides_out_redis_and_postgres_outages_and_runs_syncs_queued_meanwhile(
    medianest_hub: HubHarness,
    postgres_url: str,
    redis_url: str,
    redis_client: aioredis.Redis,
    tmp_path: Path,
) -> None:
    world = PlexWorld(seed=3, items=60, servers=1)
    redis_proxy, pg_proxy = await proxy_for(redis_url), await proxy_for(postgres_url)
    log_file = tmp_path / "worker.log"
    async with serve_world(world) as sim:
        write_config(tmp_path, sim)
        settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
        async with medianest_hub.run(
            {"plex": plugin}, plugins={"plex": plex_section(sim)}, sync=SYNC, **settings
        ) as running:
            hub = running.hub
            env = clean_environment(
                tmp_path,
                MEDIANEST_DATABASE_URL=through(postgres_url, pg_proxy),
                MEDIANEST_REDIS_URL=through(redis_url, redis_proxy),
                MEDIANEST_SECRET_KEY=SECRET_KEY,
                **HEARTBEAT,
            )
            with log_file.open("w") as log_out:
                worker = await asyncio.create_subprocess_exec(
                    *MEDIANEST,
                    "worker",
                    cwd=tmp_path,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=log_out,
                )
            try:

                async def beating() -> list[WorkerBeat]:
                    beats = await read_beats(redis_client, DEFAULT_QUEUE_NAME)
                    return [beat for beat in beats if beat.pid == worker.pid]

                await wait_for(beating, 30, "the worker's first heartbeat")

                async def idle_since(moment: datetime) -> bool:
                    return any(
                        beat.jobs_running == 0 and beat.beat_at > moment for beat in await beating()
                    )

                async def synced(run_id: int) -> SyncRun | None:
                    current = await SyncRun.get(id=run_id)
                    return current if current.status not in ("queued", "running") else None

                async def sync_across_a_cut(proxy: TcpProxy, what: str) -> SyncRun:
                    """Queue a sync while ``proxy`` is cut, restore it, and wait for the run
                    and its job (which tidies up after the run) to end."""
                    await proxy.stop()
                    queued, created = await hub.sync.request("plex:home", RunKind.FULL, Trigger.API)
                    assert created
                    await asyncio.sleep(OUTAGE_SECONDS)
                    await proxy.start()
                    done = await wait_for(
                        lambda: synced(queued.id), 30, f"the sync queued while {what} was cut"
                    )
                    assert (done.status, done.error) == ("succeeded", None)
                    await wait_for(lambda: idle_since(done.finished_at), 10, "the job to end")
                    return done

                with hub.database.activate():
                    await sync_across_a_cut(redis_proxy, "Redis")
                    done = await sync_across_a_cut(pg_proxy, "PostgreSQL")
                    assert done.attempts == 1

                    after, created = await hub.sync.request("plex:home", RunKind.FULL, Trigger.API)
                    assert created
                    done = await wait_for(lambda: synced(after.id), 30, "a sync queued afterwards")
                    assert (done.status, done.error) == ("succeeded", None)
                    await wait_for(lambda: idle_since(done.finished_at), 10, "the job to end")
                (beat,) = await beating()
                assert beat.jobs_done >= 3 and beat.unreachable == []
                status, output = await health_check(tmp_path, redis_url)
                assert status == 0 and f":{worker.pid}:" in output, output
            finally:
                if worker.returncode is None:
                    worker.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(worker.wait(), 20)
                await asyncio.gather(redis_proxy.stop(), pg_proxy.stop())
    log = events(log_file)
    text = log_file.read_text()
    assert code == 0, text
    assert not [line for line in text.splitlines() if not line.startswith("{")], text
    assert not [line for line in log if line["level"] in ("error", "critical")], text
    for dependency in ("redis", "database"):
        assert count(log, "worker lost a dependency, waiting for it", dependency) == 1, text
        assert count(log, "worker dependency reachable again", dependency) == 1, text
