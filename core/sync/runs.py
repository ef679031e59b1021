"""Sync runs in the database: requesting one, the lease of the worker running it, its end.

The database is the lock. A partial unique index allows one queued or running run per
source, so two replicas, two workers or a webhook racing a schedule cannot start a second
run: the loser gets the existing run back and *joins* it. A worker runs a run under a lease
(an owner token and a heartbeat); a run whose heartbeat is older than the lease lost its
worker and is taken over by the next one, which resumes it from its stored cursor.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Max

from medianest.core.db.models import SyncRun

ACTIVE = ("queued", "running")
_REQUEST_TRIES = 5


class RunKind(StrEnum):
    """What a run reads: the whole library, or what changed since the last checkpoint."""

    FULL = "full"
    INCREMENTAL = "incremental"


class Trigger(StrEnum):
    """What asked for a run."""

    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    API = "api"
    CLI = "cli"
    PLUGIN = "plugin"
    """A plugin asked (``hub.request_sync``: a webhook, a rescan button)."""


def covers(active: str, wanted: str) -> bool:
    """True when a run of kind ``active`` does what a run of kind ``wanted`` would."""
    return active == wanted or active == RunKind.FULL


async def request_run(
    source: str, kind: RunKind, trigger: Trigger, requested_by: str | None, now: datetime
) -> tuple[SyncRun, bool]:
    """A new queued run of ``source``, or the one already queued or running.

    Returns ``(run, created)``; ``created`` is false when another run was active (which may
    be of another kind: the caller decides whether that one will do).
    """
    for _ in range(_REQUEST_TRIES):
        try:
            run = await SyncRun.create(
                source=source,
                kind=kind.value,
                trigger=trigger.value,
                requested_by=requested_by,
                status="queued",
                created_at=now,
                heartbeat_at=now,
            )
        except IntegrityError:
            active = await SyncRun.get_or_none(source=source, status__in=ACTIVE)
            if active is not None:
                return active, False
            continue  # it ended between the insert and the look-up: try again
        return run, True
    raise RuntimeError(f"could not queue a sync of {source}: runs keep starting and ending")


def is_stale(run: SyncRun, now: datetime, lease: timedelta) -> bool:
    """True when an active run has had no sign of life for longer than the lease."""
    return run.status in ACTIVE and run.heartbeat_at < now - lease


async def claim(run_id: int, owner: str, now: datetime, lease: timedelta) -> SyncRun | None:
    """Take the run for ``owner``: a queued run, or a running one whose lease lapsed.

    Returns the run, or ``None`` when it is finished or another worker holds it.
    """
    claimable = Q(status="queued") | Q(status="running", heartbeat_at__lt=now - lease)
    taken = await SyncRun.filter(Q(id=run_id) & claimable).update(
        status="running", owner=owner, heartbeat_at=now, attempts=F("attempts") + 1
    )
    if not taken:
        return None
    await SyncRun.filter(id=run_id, started_at__isnull=True).update(started_at=now)
    return await SyncRun.get(id=run_id)


async def heartbeat(run_id: int, owner: str, now: datetime) -> bool:
    """Renew the lease; false when the run is no longer ``owner``'s."""
    renewed = await SyncRun.filter(id=run_id, owner=owner, status="running").update(
        heartbeat_at=now
    )
    return bool(renewed)


async def record(run_id: int, holder: str, /, **fields: Any) -> bool:
    """Store ``fields`` on the run while ``holder`` owns it; false when it does not."""
    return bool(await SyncRun.filter(id=run_id, owner=holder, status="running").update(**fields))


async def finish(
    run_id: int, owner: str, now: datetime, *, error: str | None = None, **fields: Any
) -> bool:
    """End the run: ``failed`` with ``error``, else ``succeeded``; false when not ours."""
    return await record(
        run_id,
        owner,
        status="failed" if error else "succeeded",
        error=error,
        finished_at=now,
        heartbeat_at=now,
        owner=None,
        **fields,
    )


async def latest_checkpoint(source: str) -> str | None:
    """Where the next incremental sync of ``source`` starts (``None``: from the start)."""
    run = (
        await SyncRun.filter(source=source, status="succeeded", checkpoint__isnull=False)
        .order_by("-finished_at", "-id")
        .first()
    )
    return run.checkpoint if run is not None else None


async def last_finished(source: str, kind: RunKind) -> SyncRun | None:
    """The latest run of ``kind`` that ended (succeeded or failed)."""
    return (
        await SyncRun.filter(source=source, kind=kind.value, status__in=("succeeded", "failed"))
        .order_by("-finished_at", "-id")
        .first()
    )


async def stale_runs(now: datetime, lease: timedelta) -> list[SyncRun]:
    """Active runs with no sign of life for longer than the lease (their worker is gone)."""
    return await SyncRun.filter(status__in=ACTIVE, heartbeat_at__lt=now - lease).order_by("id")


async def prune(now: datetime, keep_days: int) -> int:
    """Delete runs that ended more than ``keep_days`` ago, except each source's last success
    of each kind (the last checkpoint lives there). Returns how many went."""
    keep = await (
        SyncRun.filter(status="succeeded")
        .annotate(last=Max("id"))
        .group_by("source", "kind")
        .values_list("last", flat=True)
    )
    return (
        await SyncRun.filter(
            status__in=("succeeded", "failed"), finished_at__lt=now - timedelta(days=keep_days)
        )
        .exclude(id__in=list(keep) or [0])
        .delete()
    )


def run_view(run: SyncRun) -> dict[str, Any]:
    """The run as the API, the CLI and progress events show it."""
    return {
        "id": run.id,
        "source": run.source,
        "kind": run.kind,
        "trigger": run.trigger,
        "requested_by": run.requested_by,
        "status": run.status,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "heartbeat_at": _iso(run.heartbeat_at),
        "attempts": run.attempts,
        "pages": run.pages,
        "items_seen": run.items_seen,
        "total": run.total,
        "inserted": run.inserted,
        "updated": run.updated,
        "deleted": run.deleted,
        "errors": run.errors,
        "error": run.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
