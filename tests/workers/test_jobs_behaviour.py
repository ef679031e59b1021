"""The job queue behaves the same in embedded mode (in-process runner) and in scaled mode
(ARQ on Redis, with a real worker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from jobs_testing import MakeRuntime
from structlog.testing import capture_logs

from medianest.sdk.errors import NotFoundError
from medianest.sdk.jobs import Cron, Job, JobContext, RetryJob
from medianest.workers import JobTimeoutError

EVERY_SECOND = set(range(60))


def record(ctx: JobContext, **details: Any) -> None:
    ctx.hub.calls.append(  # type: ignore[attr-defined]
        {"job_id": ctx.job_id, "attempt": ctx.attempt, "at": time.monotonic(), **details}
    )


async def remember(ctx: JobContext, *args: Any, **kwargs: Any) -> str:
    record(ctx, args=list(args), kwargs=kwargs)
    return "done"


async def test_job_runs_with_the_hub_and_its_arguments(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    name = job_name("remember")
    async with make_runtime([Job(name, remember)]) as runtime:
        handle = await runtime.queue.enqueue(name, 1, "two", three=3)
        await runtime.drain()
    assert handle.queued
    assert runtime.hub.calls == [
        {
            "job_id": handle.job_id,
            "attempt": 1,
            "at": runtime.hub.calls[0]["at"],
            "args": [1, "two"],
            "kwargs": {"three": 3},
        }
    ]


async def test_unknown_job_name_is_not_found(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    async with make_runtime([Job(job_name("remember"), remember)]) as runtime:
        with pytest.raises(NotFoundError, match="no job named"):
            await runtime.queue.enqueue(job_name("missing"))


async def test_arguments_that_cannot_reach_a_worker_are_refused(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    name = job_name("remember")
    async with make_runtime([Job(name, remember)]) as runtime:
        with pytest.raises(TypeError, match="picklable"):
            await runtime.queue.enqueue(name, lambda: None)
        with pytest.raises(ValueError, match="may not start with '_'"):
            await runtime.queue.enqueue(name, _expires=5)


async def test_a_job_id_is_queued_once(
    make_runtime: MakeRuntime, job_name: Callable[[str], str], token: str
) -> None:
    name = job_name("remember")
    job_id = f"t{token}-sync"
    async with make_runtime([Job(name, remember)]) as runtime:
        first = await runtime.queue.enqueue(name, "a", job_id=job_id)
        second = await runtime.queue.enqueue(name, "b", job_id=job_id)
        await runtime.drain()
        after_it_ran = await runtime.queue.enqueue(name, "c", job_id=job_id)
        await runtime.drain()
    assert (first.queued, second.queued, after_it_ran.queued) == (True, False, True)
    assert first.job_id == second.job_id == job_id
    assert [call["args"] for call in runtime.hub.calls] == [["a"], ["c"]]


async def test_a_running_job_id_is_not_queued_again(
    make_runtime: MakeRuntime, job_name: Callable[[str], str], token: str
) -> None:
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(0.3)
        record(ctx)

    name = job_name("slow")
    job_id = f"t{token}-slow"
    async with make_runtime([Job(name, slow)]) as runtime:
        await runtime.queue.enqueue(name, job_id=job_id)
        draining = asyncio.create_task(runtime.drain())
        await asyncio.wait_for(started.wait(), 5)
        again = await runtime.queue.enqueue(name, job_id=job_id)
        await draining
    assert not again.queued
    assert len(runtime.hub.calls) == 1


async def test_failed_tries_are_retried_with_back_off_until_one_succeeds(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    async def flaky(ctx: JobContext) -> str:
        record(ctx)
        if ctx.attempt < 3:
            raise ConnectionError(f"upstream down (try {ctx.attempt})")
        return "ok"

    name = job_name("flaky")
    async with make_runtime([Job(name, flaky, max_tries=5)]) as runtime:
        with capture_logs() as logs:
            handle = await runtime.queue.enqueue(name)
            await runtime.drain()
    calls = runtime.hub.calls
    assert [c["attempt"] for c in calls] == [1, 2, 3]
    assert {c["job_id"] for c in calls} == {handle.job_id}
    assert calls[1]["at"] - calls[0]["at"] >= 0.05 * 0.9
    assert calls[2]["at"] - calls[1]["at"] >= 0.1 * 0.9
    retries = [e for e in logs if e["event"] == "job try failed, retrying"]
    assert [(e["job"], e["attempt"], e["retry_in"]) for e in retries] == [
        (name, 1, 0.05),
        (name, 2, 0.1),
    ]
    assert "ConnectionError: upstream down (try 1)" == retries[0]["error"]
    assert not [e for e in logs if e["event"] == "job failed"]


async def test_retry_job_waits_the_delay_it_asks_for(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    async def later(ctx: JobContext) -> None:
        record(ctx)
        if ctx.attempt == 1:
            raise RetryJob(defer_seconds=0.4)

    name = job_name("later")
    async with make_runtime([Job(name, later)]) as runtime:
        await runtime.queue.enqueue(name)
        await runtime.drain()
    first, second = runtime.hub.calls
    assert second["attempt"] == 2
    assert second["at"] - first["at"] >= 0.4 * 0.9


async def test_job_given_up_after_max_tries_is_logged_and_the_runner_goes_on(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    async def broken(ctx: JobContext) -> None:
        record(ctx)
        raise ValueError("boom")

    failing, fine = job_name("broken"), job_name("remember")
    async with make_runtime([Job(failing, broken, max_tries=3), Job(fine, remember)]) as runtime:
        with capture_logs() as logs:
            handle = await runtime.queue.enqueue(failing)
            await runtime.drain()
            await runtime.queue.enqueue(fine, "still working")
            await runtime.drain()
    assert [c["attempt"] for c in runtime.hub.calls[:3]] == [1, 2, 3]
    assert runtime.hub.calls[3]["args"] == ["still working"]
    failures = [e for e in logs if e["event"] == "job failed"]
    assert len(failures) == 1
    failure = failures[0]
    assert (failure["job"], failure["job_id"], failure["attempt"]) == (failing, handle.job_id, 3)
    assert failure["error"] == "ValueError: boom"
    assert failure["log_level"] == "error"


async def test_a_try_over_its_timeout_is_cancelled_and_counts_as_failed(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    async def stuck(ctx: JobContext) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            record(ctx, cancelled=True)
            raise

    name = job_name("stuck")
    async with make_runtime([Job(name, stuck, max_tries=2, timeout_seconds=0.2)]) as runtime:
        started = time.monotonic()
        with capture_logs() as logs:
            await runtime.queue.enqueue(name)
            await runtime.drain()
        elapsed = time.monotonic() - started
    assert [(c["attempt"], c["cancelled"]) for c in runtime.hub.calls] == [(1, True), (2, True)]
    assert elapsed < 5
    failure = next(e for e in logs if e["event"] == "job failed")
    assert failure["error"] == "JobTimeoutError: timed out after 0.2 s"
    assert isinstance(failure["exc_info"], JobTimeoutError)


async def test_defer_seconds_delays_the_start(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    name = job_name("remember")
    async with make_runtime([Job(name, remember)]) as runtime:
        enqueued_at = time.monotonic()
        await runtime.queue.enqueue(name, defer_seconds=0.4)
        await runtime.drain()
    assert runtime.hub.calls[0]["at"] - enqueued_at >= 0.4 * 0.9


async def test_cron_job_runs_on_its_schedule_with_its_kwargs(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    name = job_name("tick")
    job = Job(name, remember, cron=Cron(second=EVERY_SECOND), cron_kwargs={"source": "cron"})
    async with make_runtime([job]) as runtime:
        await runtime.run_for(2.3)
    calls = runtime.hub.calls
    assert len(calls) >= 2
    assert all(c["kwargs"] == {"source": "cron"} and c["args"] == [] for c in calls)
    assert len({c["job_id"] for c in calls}) == len(calls)


async def test_cron_run_still_going_is_not_started_again(
    make_runtime: MakeRuntime, job_name: Callable[[str], str]
) -> None:
    running = 0
    most_at_once = 0

    async def long_tick(ctx: JobContext) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        try:
            record(ctx)
            await asyncio.sleep(1.5)
        finally:
            running -= 1

    name = job_name("long_tick")
    job = Job(name, long_tick, cron=Cron(second=EVERY_SECOND))
    async with make_runtime([job]) as runtime:
        with capture_logs() as logs:
            await runtime.run_for(3.2)
    assert most_at_once == 1
    assert 1 <= len(runtime.hub.calls) <= 2
    assert any(e["event"] == "cron run skipped, previous run still going" for e in logs)
