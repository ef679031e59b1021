"""What only scaled mode does: ARQ worker settings, and a worker in a process of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function
from jobs_testing import FakeHub, delete_test_keys
from structlog.testing import capture_logs

from medianest.core.state import open_state
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.jobs import Cron, Job, JobContext
from medianest.workers import (
    ArqJobQueue,
    ManagedJobQueue,
    build_worker_settings,
    open_job_queue,
    outages,
    run_worker,
)

pytestmark = pytest.mark.redis

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


async def _noop(ctx: JobContext) -> None:
    return None


async def _startup(ctx: dict[str, Any]) -> None:
    ctx["hub"] = FakeHub()


def test_each_call_builds_a_new_settings_class_with_everything_on_it(redis_url: str) -> None:
    jobs = [Job("plex.sync", _noop, max_tries=4, timeout_seconds=60, cron=Cron(minute=0))]
    first = build_worker_settings(jobs=jobs, redis_url=redis_url, on_startup=_startup)
    second = build_worker_settings(
        jobs=jobs, redis_url=redis_url, on_startup=_startup, handle_signals=False
    )
    assert first is not second
    settings = first.__dict__
    assert settings["poll_delay"] == 0.01
    assert settings["max_jobs"] == 100
    assert settings["handle_signals"] is True
    assert second.__dict__["handle_signals"] is False
    assert settings["keep_result"] == 0
    assert settings["redis_settings"] == RedisSettings.from_dsn(redis_url)
    (function,) = settings["functions"]
    assert isinstance(function, Function)
    assert (function.name, function.max_tries, function.timeout_s) == ("plex.sync", 4, 61.0)
    (cron_job,) = settings["cron_jobs"]
    assert isinstance(cron_job, CronJob)
    assert (cron_job.name, cron_job.minute, cron_job.unique) == ("cron:plex.sync", 0, True)


async def test_worker_refuses_to_run_without_a_hub(
    redis_url: str, token: str, queue_name: str
) -> None:
    async def forgets_the_hub(ctx: dict[str, Any]) -> None:
        return None

    settings = build_worker_settings(
        jobs=[Job(f"t{token}.noop", _noop)],
        redis_url=redis_url,
        on_startup=forgets_the_hub,
        queue_name=queue_name,
        handle_signals=False,
    )
    try:
        with pytest.raises(ConfigurationError, match=r"ctx\['hub'\]"):
            await run_worker(settings, burst=True)
    finally:
        await delete_test_keys(redis_url, token, queue_name)


async def test_open_job_queue_uses_arq_with_redis(redis_url: str) -> None:
    queue = open_job_queue(jobs=[Job("plex.sync", _noop)], hub=FakeHub(), redis_url=redis_url)
    assert isinstance(queue, ArqJobQueue)
    assert isinstance(queue, ManagedJobQueue)


async def test_enqueue_needs_a_started_queue(redis_url: str) -> None:
    queue = ArqJobQueue(RedisSettings.from_dsn(redis_url), [Job("plex.sync", _noop)])
    with pytest.raises(RuntimeError, match="not started"):
        await queue.enqueue("plex.sync")


@pytest.mark.slow  # runs a process of its own
async def test_worker_in_its_own_process_runs_jobs_and_stops_on_sigterm(
    redis_url: str, token: str, queue_name: str, job_name: Callable[[str], str]
) -> None:
    name = job_name("store")
    prefix = f"{queue_name}:state:"
    queue = ArqJobQueue(
        RedisSettings.from_dsn(redis_url), [Job(name, _noop)], queue_name=queue_name
    )
    state = await open_state(redis_url, prefix=prefix)
    await queue.start()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(WORKER_SCRIPT),
        redis_url,
        queue_name,
        prefix,
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        handle = await queue.enqueue(name, "result", {"from": "another process"})
        stored = None
        for _ in range(160):
            stored = await state.cache.get("result")
            if stored is not None:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await queue.close()
        await state.close()
        await delete_test_keys(redis_url, token, queue_name)
    assert stored == {"value": {"from": "another process"}, "job_id": handle.job_id, "attempt": 1}
    assert process.returncode == 0, stderr.decode()
    assert "worker stopped cleanly after 1 job(s)" in stdout.decode()
    assert "Traceback" not in stderr.decode()


async def test_a_try_failing_while_a_dependency_is_down_runs_again_once_it_is_back_uncounted(
    redis_url: str,
    token: str,
    queue_name: str,
    job_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outages, "logger", structlog.get_logger(outages.__name__))
    name = job_name("needs_db")
    database_up = asyncio.Event()
    tries: list[int] = []

    async def probe() -> None:
        if not database_up.is_set():
            raise ConnectionRefusedError("the database refuses connections")

    async def needs_database(ctx: JobContext) -> str:
        tries.append(ctx.attempt)
        await probe()
        return "done"

    jobs = [Job(name, needs_database, max_tries=1)]
    settings = build_worker_settings(
        jobs=jobs,
        redis_url=redis_url,
        on_startup=_startup,
        queue_name=queue_name,
        handle_signals=False,
        dependencies={"database": probe},
        heartbeat_seconds=0.05,
    )
    queue = ArqJobQueue(RedisSettings.from_dsn(redis_url), jobs, queue_name=queue_name)
    await queue.start()
    with capture_logs() as logs:
        worker = asyncio.create_task(run_worker(settings))
        try:
            await queue.enqueue(name)
            for _ in range(100):
                if tries:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            assert tries == [1], "no new try while the database is down"
            database_up.set()
            for _ in range(100):
                if len(tries) == 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await queue.close()
            await delete_test_keys(redis_url, token, queue_name)
    assert tries == [1, 1], "the try lost to the outage is not counted"
    events = [(log["event"], log.get("dependency")) for log in logs]
    assert events.count(("worker lost a dependency, waiting for it", "database")) == 1
    assert events.count(("worker dependency reachable again", "database")) == 1
    assert ("job succeeded", None) in events
    assert ("job failed", None) not in events
