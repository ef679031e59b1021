"""What only the in-process runner of embedded mode does: concurrency limit, start/close."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from jobs_testing import FakeHub
from structlog.testing import capture_logs

from medianest.sdk.errors import ConfigurationError
from medianest.sdk.jobs import Cron, Job, JobContext
from medianest.workers import InProcessJobQueue, ManagedJobQueue, RetryPolicy, open_job_queue


async def test_no_more_tries_run_at_once_than_the_limit(job_name: Callable[[str], str]) -> None:
    running = 0
    most_at_once = 0

    async def busy(ctx: JobContext) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(0.05)
        running -= 1

    name = job_name("busy")
    queue = InProcessJobQueue([Job(name, busy)], FakeHub(), max_concurrency=2)
    await queue.start()
    try:
        for _ in range(6):
            await queue.enqueue(name)
        await asyncio.wait_for(queue.join(), 5)
    finally:
        await queue.close()
    assert most_at_once == 2


async def test_jobs_enqueued_before_start_run_once_started(job_name: Callable[[str], str]) -> None:
    hub = FakeHub()

    async def note(ctx: JobContext) -> None:
        ctx.hub.calls.append({"job_id": ctx.job_id})  # type: ignore[attr-defined]

    name = job_name("note")
    queue = InProcessJobQueue([Job(name, note)], hub)
    handle = await queue.enqueue(name)
    await asyncio.sleep(0.05)
    assert hub.calls == []
    await queue.start()
    await asyncio.wait_for(queue.join(), 5)
    await queue.close()
    assert hub.calls == [{"job_id": handle.job_id}]


async def test_close_cancels_everything_and_leaves_no_task(job_name: Callable[[str], str]) -> None:
    before = asyncio.all_tasks()
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def endless(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    name, tick = job_name("endless"), job_name("tick")
    queue = InProcessJobQueue(
        [Job(name, endless), Job(tick, endless, cron=Cron(minute=0))],
        FakeHub(),
        shutdown_grace_seconds=0.05,
    )
    await queue.start()
    await queue.enqueue(name)
    await queue.enqueue(name, defer_seconds=30)
    await asyncio.wait_for(started.wait(), 5)
    with capture_logs() as logs:
        await queue.close()
    assert cancelled.is_set()
    assert asyncio.all_tasks() == before
    assert [e["event"] for e in logs] == ["job cancelled by shutdown"]
    with pytest.raises(RuntimeError, match="closed"):
        await queue.enqueue(name)
    await queue.close()


async def test_close_lets_running_tries_finish_within_the_grace_period(
    job_name: Callable[[str], str],
) -> None:
    hub = FakeHub()
    started = asyncio.Event()

    async def short(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.1)
        ctx.hub.calls.append({"finished": True})  # type: ignore[attr-defined]

    name = job_name("short")
    queue = InProcessJobQueue([Job(name, short)], hub, shutdown_grace_seconds=2)
    await queue.start()
    await queue.enqueue(name)
    await asyncio.wait_for(started.wait(), 5)
    await queue.close()
    assert hub.calls == [{"finished": True}]


async def test_failed_try_is_not_retried_once_closing(job_name: Callable[[str], str]) -> None:
    hub = FakeHub()
    started = asyncio.Event()

    async def fails_late(ctx: JobContext) -> None:
        hub.calls.append({"attempt": ctx.attempt})
        started.set()
        await asyncio.sleep(0.05)
        raise RuntimeError("late failure")

    name = job_name("fails_late")
    queue = InProcessJobQueue(
        [Job(name, fails_late)],
        hub,
        retry_policy=RetryPolicy(base_seconds=0.01),
        shutdown_grace_seconds=1,
    )
    await queue.start()
    await queue.enqueue(name)
    await asyncio.wait_for(started.wait(), 5)
    with capture_logs() as logs:
        await queue.close()
    assert hub.calls == [{"attempt": 1}]
    assert "job retry dropped, queue closing" in [e["event"] for e in logs]


async def test_cron_run_at_startup_runs_when_started(job_name: Callable[[str], str]) -> None:
    hub = FakeHub()

    async def boot(ctx: JobContext, **kwargs: object) -> None:
        ctx.hub.calls.append({"job_id": ctx.job_id, **kwargs})  # type: ignore[attr-defined]

    name = job_name("boot")
    job = Job(name, boot, cron=Cron(hour=3, minute=0, run_at_startup=True), cron_kwargs={"k": 1})
    queue = InProcessJobQueue([job], hub)
    await queue.start()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(queue.join(), 5)
    await queue.close()
    assert len(hub.calls) == 1
    assert hub.calls[0]["k"] == 1
    assert hub.calls[0]["job_id"].startswith(f"cron:{name}:")


async def _noop(ctx: JobContext) -> None:
    return None


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([Job("Bad Name", _noop)], "must look like"),
        ([Job("plex.sync", _noop), Job("plex.sync", _noop)], "duplicate job name"),
        ([Job("plex.sync", _noop, max_tries=0)], "max_tries"),
        ([Job("plex.sync", _noop, timeout_seconds=0)], "timeout_seconds"),
        ([Job("plex.sync", _noop, cron=Cron(hour=24))], "cron hour must be within 0..23"),
        ([Job("plex.sync", _noop, cron=Cron(second={0, 60}))], "cron second"),
    ],
)
def test_wrongly_registered_jobs_fail_at_boot(jobs: list[Job], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        InProcessJobQueue(jobs, FakeHub())


def test_open_job_queue_runs_in_process_without_redis(job_name: Callable[[str], str]) -> None:
    queue = open_job_queue(jobs=[Job(job_name("noop"), _noop)], hub=FakeHub(), redis_url=None)
    assert isinstance(queue, InProcessJobQueue)
    assert isinstance(queue, ManagedJobQueue)
