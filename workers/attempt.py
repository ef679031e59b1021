"""One try of a job, the same in both runners: timeout, outcome, logging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from medianest.core import tracing
from medianest.sdk.jobs import Job, JobContext, RetryJob
from medianest.workers.definitions import RetryPolicy

logger = structlog.get_logger(__name__)


class JobTimeoutError(TimeoutError):
    """A try of a job ran longer than the job's ``timeout_seconds`` and was cancelled."""


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one try ended.

    ``retry_in`` is set when another try is due after that many seconds; ``error`` is set
    when the try failed (whether or not it will be retried). ``outage`` names the
    dependencies that were down when the try failed: such a try is run again once they are
    back and does not count against ``max_tries``.
    """

    succeeded: bool
    result: Any = None
    error: BaseException | None = None
    retry_in: float | None = None
    outage: tuple[str, ...] = ()


def describe(error: BaseException) -> str:
    """``"TypeName: message"`` for logs."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def run_attempt(
    job: Job,
    ctx: JobContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: RetryPolicy,
    outage: Callable[[], Awaitable[list[str]]] | None = None,
    trace_context: Mapping[str, str] | None = None,
) -> AttemptOutcome:
    """Run try ``ctx.attempt`` of ``job`` (see :func:`_run_attempt`) inside a span of its own
    when tracing is on, continuing ``trace_context``: the trace of whoever enqueued it."""
    with tracing.job_span(
        job.name,
        job_id=ctx.job_id,
        attempt=ctx.attempt,
        max_tries=job.max_tries,
        trace_context=trace_context,
    ) as span:
        outcome = await _run_attempt(job, ctx, args, kwargs, policy, outage)
        if outcome.error is not None:
            tracing.record_failure(span, outcome.error)
        return outcome


async def _run_attempt(
    job: Job,
    ctx: JobContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    policy: RetryPolicy,
    outage: Callable[[], Awaitable[list[str]]] | None = None,
) -> AttemptOutcome:
    """Run try ``ctx.attempt`` of ``job`` within its timeout and say what comes next.

    Exceptions from the job (a timeout included) are caught and logged with the job's name,
    id and try: a warning when another try follows (after ``policy``'s back-off, or the
    ``RetryJob``'s own delay), an error when the job is given up. Cancellation propagates.
    The job's own log lines carry ``job``, ``job_id`` and ``attempt`` too.

    :param outage: asked after a failure which dependencies are unreachable now; when any
        is, the outcome names them in ``outage`` (to be run again once they are back, the
        try not counted) instead of retrying or giving up.
    """
    log = logger.bind(job=job.name, job_id=ctx.job_id, attempt=ctx.attempt, max_tries=job.max_tries)
    started = time.monotonic()
    deadline = asyncio.timeout(job.timeout_seconds)
    error: BaseException
    with structlog.contextvars.bound_contextvars(
        job=job.name, job_id=ctx.job_id, attempt=ctx.attempt
    ):
        try:
            async with deadline:
                result = await job.function(ctx, *args, **kwargs)
        except RetryJob as exc:
            error, retry_in = exc, exc.defer_seconds
        except TimeoutError as exc:
            error = exc
            if deadline.expired():
                error = JobTimeoutError(f"timed out after {job.timeout_seconds:g} s")
                error.__cause__ = exc
            retry_in = policy.delay(ctx.attempt)
        except Exception as exc:
            error, retry_in = exc, policy.delay(ctx.attempt)
        else:
            log.info("job succeeded", duration=round(time.monotonic() - started, 3))
            return AttemptOutcome(succeeded=True, result=result)
    duration = round(time.monotonic() - started, 3)
    down = await outage() if outage is not None else []
    if down:
        log.warning(
            "job try cut short by an outage, runs again once it ends",
            error=describe(error),
            duration=duration,
            unreachable=down,
        )
        return AttemptOutcome(succeeded=False, error=error, retry_in=0.0, outage=tuple(down))
    if ctx.attempt >= job.max_tries:
        log.error("job failed", error=describe(error), duration=duration, exc_info=error)
        return AttemptOutcome(succeeded=False, error=error)
    log.warning(
        "job try failed, retrying", error=describe(error), duration=duration, retry_in=retry_in
    )
    return AttemptOutcome(succeeded=False, error=error, retry_in=retry_in)
