"""Background jobs: one enqueue API, two runners.

Embedded mode runs jobs in the hub's process (:class:`InProcessJobQueue`); scaled mode
queues them on Redis (:class:`ArqJobQueue`) for ARQ workers built by
:func:`build_worker_settings` and run by :func:`run_worker`. :func:`open_job_queue` picks
one from configuration alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from medianest.sdk.jobs import Job
from medianest.sdk.services import HubContext, JobQueue
from medianest.workers.arq_queue import DEFAULT_QUEUE_NAME, ArqJobQueue, redis_settings
from medianest.workers.arq_worker import build_worker_settings, run_worker
from medianest.workers.attempt import JobTimeoutError
from medianest.workers.definitions import RetryPolicy
from medianest.workers.inprocess import InProcessJobQueue

__all__ = [
    "DEFAULT_QUEUE_NAME",
    "ArqJobQueue",
    "InProcessJobQueue",
    "JobTimeoutError",
    "ManagedJobQueue",
    "RetryPolicy",
    "build_worker_settings",
    "open_job_queue",
    "run_worker",
]


@runtime_checkable
class ManagedJobQueue(JobQueue, Protocol):
    """A :class:`~medianest.sdk.services.JobQueue` whose owner starts and closes it."""

    async def start(self) -> None:
        """Connect or start running; call before serving."""
        ...

    async def close(self) -> None:
        """Stop and release everything; idempotent."""
        ...


def open_job_queue(
    *,
    jobs: Sequence[Job],
    hub: HubContext,
    redis_url: str | None,
    queue_name: str = DEFAULT_QUEUE_NAME,
    max_concurrency: int = 10,
    retry_policy: RetryPolicy | None = None,
) -> ManagedJobQueue:
    """The job queue for this configuration, not started yet.

    Without ``redis_url``, an :class:`InProcessJobQueue` running ``jobs`` with ``hub``
    (``max_concurrency`` tries at once). With it, an :class:`ArqJobQueue` on ``queue_name``:
    the jobs then run on ARQ workers, which build their own hub, so ``hub``,
    ``max_concurrency`` and ``retry_policy`` are the workers' business there.

    :raises ConfigurationError: a job is registered wrongly.
    """
    if redis_url is None:
        return InProcessJobQueue(
            jobs, hub, max_concurrency=max_concurrency, retry_policy=retry_policy
        )
    return ArqJobQueue(redis_settings(redis_url), jobs, queue_name=queue_name)
