"""Background jobs plugins contribute.

A job is a plain ``async def job(ctx: JobContext, *args, **kwargs)`` at module level. The
same function runs on ARQ workers (scaled mode) and in the hub's own process (embedded mode).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from medianest.sdk.services import HubContext

JOB_NAME_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a running job gets: the hub, its own id and which try this is (1-based)."""

    hub: HubContext
    job_id: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Cron:
    """When to run a job on a schedule, in UTC; ``None`` fields mean "every".

    ``Cron(minute={0, 15, 30, 45})`` runs every quarter hour. A cron run is unique: a run
    still going when the next is due is not started twice.
    """

    month: set[int] | int | None = None
    day: set[int] | int | None = None
    weekday: set[int] | int | None = None
    hour: set[int] | int | None = None
    minute: set[int] | int | None = None
    second: set[int] | int = 0
    run_at_startup: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """A job a plugin registers with ``register_jobs``.

    :param name: ``<plugin key>.<job>``, e.g. ``plex.refresh_sessions``; unique in the hub.
    :param function: ``async def (ctx: JobContext, *args, **kwargs)``.
    :param max_tries: tries before the job is given up (each failure retries with back-off).
    :param timeout_seconds: a try running longer is cancelled and counts as failed.
    :param cron: run on this schedule as well as on demand.
    :param cron_kwargs: keyword arguments for the scheduled runs.
    """

    name: str
    function: Callable[..., Awaitable[Any]]
    max_tries: int = 3
    timeout_seconds: float = 300
    cron: Cron | None = None
    cron_kwargs: dict[str, Any] = field(default_factory=dict)


class RetryJob(Exception):
    """Raise inside a job to try it again after ``defer_seconds`` (counts as a try)."""

    def __init__(self, defer_seconds: float = 5.0) -> None:
        super().__init__(f"retry in {defer_seconds} s")
        self.defer_seconds = defer_seconds
