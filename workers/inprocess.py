"""The job runner of embedded mode: the hub's own process runs the jobs as asyncio tasks.

Same job functions, same enqueue API and the same retry, timeout, cron and idempotency rules
as the ARQ workers of scaled mode; jobs live in memory only, so queued jobs are lost when
the process stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from arq.cron import next_cron

from medianest.core import tracing
from medianest.sdk.jobs import Job, JobContext
from medianest.sdk.services import HubContext, JobHandle
from medianest.workers.attempt import run_attempt
from medianest.workers.definitions import (
    RetryPolicy,
    checked_arguments,
    cron_fields,
    index_jobs,
    lookup,
    new_job_id,
)

logger = structlog.get_logger(__name__)


@dataclass(eq=False)
class _Run:
    """One enqueued job, from queued through its last try."""

    job: Job
    job_id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    running: bool = False
    trace_context: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] = field(init=False)


class InProcessJobQueue:
    """A :class:`~medianest.sdk.services.JobQueue` running jobs in this process.

    :param jobs: every job the hub registered.
    :param hub: what the jobs get as ``ctx.hub``.
    :param max_concurrency: tries running at once; more wait for a free slot.
    :param retry_policy: back-off between tries of a failed job.
    :param shutdown_grace_seconds: how long :meth:`close` lets running tries finish before
        cancelling them.
    :raises ConfigurationError: a job is registered wrongly (see ``index_jobs``).
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        hub: HubContext,
        *,
        max_concurrency: int = 10,
        retry_policy: RetryPolicy | None = None,
        shutdown_grace_seconds: float = 5.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be 1 or more")
        self._jobs = index_jobs(jobs)
        self._hub = hub
        self._policy = retry_policy or RetryPolicy()
        self._grace = shutdown_grace_seconds
        self._slots = asyncio.Semaphore(max_concurrency)
        self._runs: dict[str, _Run] = {}
        self._cron_current: dict[str, _Run] = {}
        self._schedulers: list[asyncio.Task[None]] = []
        self._started = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        """Start running jobs (those enqueued earlier included) and the cron schedules.

        :raises RuntimeError: the queue was closed.
        """
        if self._closing:
            raise RuntimeError("job queue is closed")
        if self._started.is_set():
            return
        for job in self._jobs.values():
            if job.cron is not None:
                task = asyncio.create_task(self._schedule(job), name=f"cron {job.name}")
                self._schedulers.append(task)
        self._started.set()

    async def enqueue(
        self,
        name: str,
        /,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        **kwargs: Any,
    ) -> JobHandle:
        """Queue the registered job ``name``; a ``job_id`` queued or running is not queued twice.

        :raises NotFoundError: no job of that name is registered.
        :raises TypeError: an argument cannot be pickled (it could not reach an ARQ worker).
        :raises ValueError: a keyword argument starts with ``_``.
        :raises RuntimeError: the queue is closed.
        """
        if self._closing:
            raise RuntimeError("job queue is closed")
        job = lookup(self._jobs, name)
        args, kwargs = checked_arguments(name, args, kwargs)
        job_id = job_id or new_job_id()
        if job_id in self._runs:
            return JobHandle(job_id=job_id, queued=False)
        self._submit(job, job_id, args, kwargs, defer_seconds or 0.0)
        return JobHandle(job_id=job_id, queued=True)

    def _submit(
        self,
        job: Job,
        job_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        delay: float,
    ) -> _Run:
        run = _Run(
            job=job, job_id=job_id, args=args, kwargs=kwargs, trace_context=tracing.inject_context()
        )
        run.task = asyncio.create_task(self._execute(run, delay), name=f"job {job.name} {job_id}")
        self._runs[job_id] = run
        run.task.add_done_callback(lambda _: self._forget(run))
        return run

    def _forget(self, run: _Run) -> None:
        if self._runs.get(run.job_id) is run:
            del self._runs[run.job_id]

    async def _execute(self, run: _Run, delay: float) -> None:
        attempt = 1
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            await self._started.wait()
            async with self._slots:
                if self._closing:
                    return
                run.running = True
                try:
                    ctx = JobContext(hub=self._hub, job_id=run.job_id, attempt=attempt)
                    outcome = await run_attempt(
                        run.job,
                        ctx,
                        run.args,
                        run.kwargs,
                        self._policy,
                        trace_context=run.trace_context,
                    )
                finally:
                    run.running = False
            if outcome.retry_in is None:
                return
            if self._closing:
                logger.warning(
                    "job retry dropped, queue closing", job=run.job.name, job_id=run.job_id
                )
                return
            delay, attempt = outcome.retry_in, attempt + 1

    async def _schedule(self, job: Job) -> None:
        """Start ``job`` at each time of its cron schedule (UTC), unless a run is still going."""
        assert job.cron is not None
        fields = cron_fields(job.cron)
        now = datetime.now(UTC)
        if job.cron.run_at_startup:
            self._start_cron_run(job, now)
        due = next_cron(now, microsecond=0, **fields)
        while True:
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            self._start_cron_run(job, due)
            due = next_cron(max(due, datetime.now(UTC)), microsecond=0, **fields)

    def _start_cron_run(self, job: Job, due: datetime) -> None:
        current = self._cron_current.get(job.name)
        if current is not None and not current.task.done():
            logger.info("cron run skipped, previous run still going", job=job.name)
            return
        job_id = f"cron:{job.name}:{int(due.timestamp() * 1000)}"
        self._cron_current[job.name] = self._submit(job, job_id, (), dict(job.cron_kwargs), 0.0)

    async def join(self) -> None:
        """Wait until no job is queued, deferred, waiting for a retry or running."""
        while pending := [run.task for run in self._runs.values() if not run.task.done()]:
            await asyncio.wait(pending)

    async def close(self) -> None:
        """Stop: no new jobs or retries; running tries get ``shutdown_grace_seconds`` to
        finish, then everything still pending is cancelled and awaited. Idempotent."""
        if self._closing:
            await self._cancel_all()
            return
        self._closing = True
        for task in self._schedulers:
            task.cancel()
        running = []
        for run in list(self._runs.values()):
            if run.running:
                running.append(run.task)
            else:
                run.task.cancel()
        if running and self._grace > 0:
            await asyncio.wait(running, timeout=self._grace)
        await self._cancel_all()

    async def _cancel_all(self) -> None:
        tasks = [*self._schedulers, *(run.task for run in self._runs.values())]
        for run in list(self._runs.values()):
            if not run.task.done():
                if run.running:
                    logger.warning("job cancelled by shutdown", job=run.job.name, job_id=run.job_id)
                run.task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
