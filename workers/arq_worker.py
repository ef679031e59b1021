"""ARQ worker settings built from the hub's jobs, and a runner for them (scaled mode).

Named ``arq_worker`` so that ``import arq`` inside this package still means the library.
``medianest worker`` calls :func:`build_worker_settings` then :func:`run_worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC
from typing import Any

import structlog
from arq import Retry, cron
from arq.constants import retry_key_prefix
from arq.cron import CronJob
from arq.worker import Function, func, get_kwargs
from redis.exceptions import LockError

from medianest.core import tracing
from medianest.core.state.redis import CONNECTION_ERRORS, close_client
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.jobs import Job, JobContext
from medianest.workers.arq_queue import DEFAULT_QUEUE_NAME, redis_settings
from medianest.workers.attempt import AttemptOutcome, run_attempt
from medianest.workers.definitions import RetryPolicy, cron_fields, index_jobs
from medianest.workers.outages import Probe
from medianest.workers.resilient import DEFAULT_HEARTBEAT_SECONDS, ResilientWorker

logger = structlog.get_logger(__name__)

WorkerHook = Callable[[dict[str, Any]], Awaitable[None]]
"""``async def hook(ctx: dict) -> None``, ARQ's ``on_startup``/``on_shutdown`` shape."""

TIMEOUT_MARGIN_SECONDS = 1.0
"""ARQ's own time limit is the job's plus this: the job's timeout is enforced inside the
try (so that it counts as a failed try and is retried), ARQ's only as a backstop."""


def _settle(outcome: AttemptOutcome) -> Any:
    """The try's result for ARQ, or the exception that tells ARQ what to do next."""
    if outcome.succeeded:
        return outcome.result
    assert outcome.error is not None
    if outcome.retry_in is not None:
        raise Retry(defer=outcome.retry_in) from outcome.error
    raise outcome.error


async def _attempt(
    job: Job,
    ctx: dict[str, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: RetryPolicy,
) -> AttemptOutcome:
    """One try on this worker; a try lost to an outage is taken back from ARQ's count."""
    worker: ResilientWorker | None = ctx.get("worker")
    job_ctx = JobContext(hub=ctx["hub"], job_id=ctx["job_id"], attempt=ctx["job_try"])
    outage = worker.outages.unreachable if worker is not None else None
    trace_context = kwargs.pop(tracing.TRACE_CONTEXT_KWARG, None)
    outcome = await run_attempt(job, job_ctx, args, kwargs, policy, outage, trace_context)
    if outcome.outage and worker is not None:
        await worker.uncount_try(ctx["job_id"])
    return outcome


RELEASE_TIMEOUT_SECONDS = 2.0
"""How long a stopping worker tries to give an interrupted try back before it exits."""


def _job_function(job: Job, policy: RetryPolicy) -> Function:
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return _settle(await _attempt(job, ctx, args, kwargs, policy))
        except asyncio.CancelledError:
            await _release(ctx)
            raise

    return func(
        run,
        name=job.name,
        max_tries=job.max_tries,
        timeout=job.timeout_seconds + TIMEOUT_MARGIN_SECONDS,
    )


async def _release(ctx: dict[str, Any]) -> None:
    """A try cut short because the worker stops: it does not count against ``max_tries``.

    ARQ then puts the job back on the queue (``retry_jobs``) and drops its running claim,
    so the next worker runs it again from the start.
    """
    worker: ResilientWorker | None = ctx.get("worker")
    if worker is None or not worker.stopping:
        return
    logger.info("job released: the worker is stopping", job_id=ctx["job_id"])
    with contextlib.suppress(TimeoutError, *CONNECTION_ERRORS):
        async with asyncio.timeout(RELEASE_TIMEOUT_SECONDS):
            await worker.pool.decr(retry_key_prefix + ctx["job_id"])


def _cron_job(job: Job, policy: RetryPolicy, queue_name: str) -> CronJob:
    assert job.cron is not None
    lock_seconds = job.timeout_seconds + TIMEOUT_MARGIN_SECONDS

    async def run(ctx: dict[str, Any]) -> Any:
        lock = ctx["redis"].lock(
            f"{queue_name}:cron:{job.name}:running",
            timeout=lock_seconds,
            blocking=False,
            thread_local=False,
        )
        if not await lock.acquire():
            logger.info("cron run skipped, previous run still going", job=job.name)
            return None
        try:
            outcome = await _attempt(job, ctx, (), dict(job.cron_kwargs), policy)
        finally:
            with contextlib.suppress(LockError):
                await lock.release()
        return _settle(outcome)

    return cron(
        run,
        name=f"cron:{job.name}",
        unique=True,
        run_at_startup=job.cron.run_at_startup,
        max_tries=job.max_tries,
        timeout=lock_seconds,
        **cron_fields(job.cron),
    )


def build_worker_settings(
    *,
    jobs: Sequence[Job],
    redis_url: str,
    on_startup: WorkerHook,
    on_shutdown: WorkerHook | None = None,
    queue_name: str = DEFAULT_QUEUE_NAME,
    handle_signals: bool = True,
    shutdown_grace_seconds: int = 5,
    max_jobs: int = 100,
    poll_delay: float = 0.01,
    retry_policy: RetryPolicy | None = None,
    health_check_interval: float = 60,
    dependencies: Mapping[str, Probe] | None = None,
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
) -> type:
    """A new ARQ ``WorkerSettings`` class running ``jobs``; every setting is on the class.

    Each job becomes an ARQ function named after it (``max_tries`` and timeout from the
    job); a failed try is retried with ``retry_policy``'s back-off, ``RetryJob`` after its
    own delay. A job with a ``cron`` also gets a unique ARQ cron job, ``cron:<name>``, in
    UTC, which skips a run while the previous one is still going on any worker.

    :param on_startup: builds the hub and stores it as ``ctx["hub"]``; jobs get it as
        ``ctx.hub``. ``ctx["redis"]`` is ARQ's pool.
    :param on_shutdown: releases what ``on_startup`` made; runs even when it failed.
    :param queue_name: must match the API's :class:`~medianest.workers.ArqJobQueue`.
    :param handle_signals: stop on SIGINT/SIGTERM; ``False`` inside another event loop
        (tests, an embedded worker).
    :param shutdown_grace_seconds: after a signal, how long running jobs may finish before
        they are cancelled and put back on the queue; a try cut short that way does not
        count against the job's ``max_tries``, and another worker runs it again.
    :param dependencies: name → probe of what the jobs need besides Redis (the hub's
        ``database``): while one is down the worker takes no new job, and a try that failed
        then runs again once it is back (see :class:`ResilientWorker`).
    :param heartbeat_seconds: how often the worker writes its heartbeat to Redis.
    :raises ConfigurationError: a job is registered wrongly.
    """
    policy = retry_policy or RetryPolicy()
    index = index_jobs(jobs)

    async def startup(ctx: dict[str, Any]) -> None:
        await on_startup(ctx)
        if "hub" not in ctx:
            raise ConfigurationError("the worker's on_startup must store the hub in ctx['hub']")

    settings: dict[str, Any] = {
        "__doc__": f"ARQ settings for {len(index)} MediaNest jobs on queue {queue_name!r}.",
        "functions": [_job_function(job, policy) for job in index.values()],
        "cron_jobs": [
            _cron_job(job, policy, queue_name) for job in index.values() if job.cron is not None
        ],
        "redis_settings": redis_settings(redis_url),
        "queue_name": queue_name,
        "on_startup": startup,
        "on_shutdown": on_shutdown,
        "handle_signals": handle_signals,
        "job_completion_wait": shutdown_grace_seconds,
        "max_jobs": max_jobs,
        "poll_delay": poll_delay,
        "keep_result": 0,
        "timezone": UTC,
        "health_check_interval": health_check_interval,
        "dependencies": dict(dependencies or {}),
        "heartbeat_seconds": heartbeat_seconds,
    }
    return type("WorkerSettings", (), settings)


async def run_worker(settings_cls: type, *, burst: bool = False) -> ResilientWorker:
    """Run an ARQ worker for ``settings_cls`` until it is stopped; returns it for its counters.

    It stops on SIGINT/SIGTERM when the settings handle signals (and then returns
    normally), when the calling task is cancelled (the cancellation propagates), or in
    ``burst`` mode once the queue is empty. Jobs still running then are cancelled and go
    back on the queue; the pool is closed and ``on_shutdown`` has run when this returns.
    Outages of Redis and of the settings' ``dependencies`` are waited out, not fatal.
    """
    worker = ResilientWorker(
        **get_kwargs(settings_cls),
        burst=burst,
        dependencies=settings_cls.__dict__.get("dependencies"),
        heartbeat_seconds=settings_cls.__dict__.get("heartbeat_seconds", DEFAULT_HEARTBEAT_SECONDS),
    )
    try:
        await worker.async_run()
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        logger.info("worker stopped by signal")
    finally:
        await _shut_down(worker)
    return worker


async def _shut_down(worker: ResilientWorker) -> None:
    worker.stopping = True
    running = list(worker.tasks.values())
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    worker.tasks.clear()
    with warnings.catch_warnings():
        # arq 0.28 closes its pool with redis-py's deprecated close(); nothing to act on.
        warnings.filterwarnings(
            "ignore", message=r"Call to deprecated close\.", category=DeprecationWarning
        )
        pool = worker._pool
        await worker.close()
        if pool is not None:  # arq leaves the connections to the sentinels open
            await close_client(pool)
