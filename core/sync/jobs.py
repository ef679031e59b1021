"""The sync jobs: run a queued run, sync a source now, and the scheduler's tick.

- ``sync.run(run_id=)`` runs (or resumes) a run the API, the CLI or the scheduler queued.
- ``sync.full(source=)`` and ``sync.incremental(source=)`` queue-or-join and run at once;
  plugins queue them through ``hub.request_sync`` (the Plex ``library.new`` webhook does).
- ``sync.schedule`` runs every minute: it queues the runs each source's schedule says are
  due, hands runs whose worker died to a new one, and prunes old runs.

A run is never restarted by its schedule: while one is queued or running for a source, the
tick joins it (see :mod:`medianest.core.sync.runs`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog

from medianest.config.settings import SyncSchedule
from medianest.core.db.models import SyncRun
from medianest.core.sync import runs
from medianest.core.sync.engine import RUN_JOB, SyncEngine, utcnow
from medianest.core.sync.runs import RunKind, Trigger
from medianest.sdk.errors import ConflictError, MediaNestError
from medianest.sdk.jobs import Cron, Job, JobContext
from medianest.sdk.providers import SourceCapability

log = structlog.get_logger(__name__)

FULL_JOB = "sync.full"
INCREMENTAL_JOB = "sync.incremental"
SCHEDULE_JOB = "sync.schedule"
RUN_TIMEOUT_SECONDS = 12 * 3600
FAILED_FULL_RETRY = timedelta(hours=1)
"""A scheduled full sync that failed is tried again after this long, not at the next slot."""


async def run_job(engine: SyncEngine, ctx: JobContext, *, run_id: int) -> dict[str, Any] | None:
    """Run the queued run ``run_id``; ``None`` when it ended already or has a worker."""
    run = await engine.execute(run_id)
    return runs.run_view(run) if run is not None else None


async def _sync_now(engine: SyncEngine, source: str, kind: RunKind, trigger: str) -> Any:
    try:
        run, created = await engine.claim_slot(source, kind, Trigger(trigger))
    except (MediaNestError, ValueError) as exc:
        log.warning("sync not started", source=source, kind=kind.value, reason=str(exc))
        return None
    if not created and not runs.is_stale(run, utcnow(), engine.lease):
        log.info("sync already going, joined", source=source, run=run.id)
        return runs.run_view(run)
    ended = await engine.execute(run.id)
    return runs.run_view(ended) if ended is not None else None


async def full_job(
    engine: SyncEngine, ctx: JobContext, *, source: str, trigger: str = "schedule"
) -> Any:
    """Sync the whole library of ``source`` now (or join the run already going)."""
    return await _sync_now(engine, source, RunKind.FULL, trigger)


async def incremental_job(
    engine: SyncEngine, ctx: JobContext, *, source: str, trigger: str = "webhook"
) -> Any:
    """Sync what changed in ``source`` now (or join the run already going)."""
    return await _sync_now(engine, source, RunKind.INCREMENTAL, trigger)


def due(
    schedule: SyncSchedule,
    now: datetime,
    *,
    last_full: SyncRun | None,
    last_incremental: SyncRun | None,
    can_list_changes: bool,
) -> RunKind | None:
    """Which run a source's schedule wants now, given its last ended runs of each kind.

    A full sync is due when none has run since the latest daily slot (so one missed while
    the hub was down runs as soon as it is back, and a new source gets its first at once);
    one that failed is tried again an hour later. An incremental sync is due every
    ``incremental_minutes`` after the last one began.
    """
    if schedule.full_daily_at is not None:
        slot = datetime.combine(now.date(), schedule.full_daily_at, tzinfo=now.tzinfo)
        if slot > now:
            slot -= timedelta(days=1)
        if last_full is None:
            return RunKind.FULL
        if last_full.status == "failed":
            if last_full.created_at <= now - FAILED_FULL_RETRY:
                return RunKind.FULL
        elif last_full.created_at < slot:
            return RunKind.FULL
    if can_list_changes and schedule.incremental_minutes:
        every = timedelta(minutes=schedule.incremental_minutes)
        if last_incremental is None or last_incremental.created_at <= now - every:
            return RunKind.INCREMENTAL
    return None


async def schedule_job(engine: SyncEngine, ctx: JobContext) -> dict[str, Any]:
    """Queue due runs, re-queue runs whose worker is gone, prune old runs."""
    now = utcnow()
    queued: list[int] = []
    for run in await runs.stale_runs(now, engine.lease):
        log.warning("sync run lost its worker, handing it on", run=run.id, source=run.source)
        await engine.jobs.enqueue(
            RUN_JOB, run_id=run.id, job_id=f"{RUN_JOB}:{run.id}:{run.attempts}"
        )
        queued.append(run.id)
    for source in engine.sources():
        kind = due(
            engine.settings.schedule_for(source.id),
            now,
            last_full=await runs.last_finished(source.id, RunKind.FULL),
            last_incremental=await runs.last_finished(source.id, RunKind.INCREMENTAL),
            can_list_changes=SourceCapability.CHANGES in source.capabilities,
        )
        if kind is None:
            continue
        try:
            run, created = await engine.request(source.id, kind, Trigger.SCHEDULE)
        except ConflictError as exc:
            log.info("scheduled sync waits", source=source.id, reason=exc.message)
            continue
        if created:
            queued.append(run.id)
    pruned = await runs.prune(now, engine.settings.keep_runs_days)
    return {"queued": queued, "pruned": pruned}


def jobs_for(engine: SyncEngine) -> list[Job]:
    """The sync jobs core registers, each running on ``engine``."""
    return [
        Job(
            name=RUN_JOB,
            function=partial(run_job, engine),
            max_tries=1,
            timeout_seconds=RUN_TIMEOUT_SECONDS,
        ),
        Job(
            name=FULL_JOB,
            function=partial(full_job, engine),
            max_tries=1,
            timeout_seconds=RUN_TIMEOUT_SECONDS,
        ),
        Job(
            name=INCREMENTAL_JOB,
            function=partial(incremental_job, engine),
            max_tries=1,
            timeout_seconds=RUN_TIMEOUT_SECONDS,
        ),
        Job(
            name=SCHEDULE_JOB,
            function=partial(schedule_job, engine),
            max_tries=1,
            timeout_seconds=60,
            cron=Cron(second=0, run_at_startup=True),
        ),
    ]
