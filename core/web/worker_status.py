"""The ARQ workers of a scaled hub as their heartbeats show them, for readiness and
``GET /api/v1/system``.

A missing or silent worker never makes an API replica unready (it can serve without one,
and failing readiness would take every replica out of its load balancer at once): the
``workers`` component is reported with ``required: false``, not ok, and the reason.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from medianest.core.web.schemas import ComponentHealth, WorkersStatus, WorkerView
from medianest.workers.arq_queue import DEFAULT_QUEUE_NAME
from medianest.workers.heartbeat import WorkerBeat, assess, read_beats

if TYPE_CHECKING:
    from medianest.core.hub import Hub

COMPONENT = "workers"


def _view(beat: WorkerBeat, now: datetime, silent_after: float) -> WorkerView:
    age = beat.age_seconds(now)
    return WorkerView(
        worker_id=beat.worker_id,
        host=beat.host,
        pid=beat.pid,
        started_at=beat.started_at,
        last_beat_at=beat.beat_at,
        seconds_since_beat=round(age, 1),
        alive=age <= silent_after,
        jobs_running=beat.jobs_running,
        jobs_done=beat.jobs_done,
        jobs_failed=beat.jobs_failed,
        jobs_retried=beat.jobs_retried,
        unreachable=list(beat.unreachable),
    )


async def worker_status(hub: Hub) -> WorkersStatus | None:
    """The workers on the hub's job queue; ``None`` in embedded mode (no ARQ workers).

    Never raises: when the heartbeats cannot be read (Redis down, no answer within the
    health check timeout), the status is not ok and says why.
    """
    redis = hub.state.redis if hub.mode == "scaled" else None
    if redis is None:
        return None
    silent_after = hub.settings.jobs.worker_silent_after_seconds
    timeout = hub.settings.health.check_timeout_seconds
    now = datetime.now(UTC)
    try:
        beats = await asyncio.wait_for(read_beats(redis, DEFAULT_QUEUE_NAME, now), timeout)
    except TimeoutError:
        detail = f"cannot read worker heartbeats: no answer within {timeout:g} s"
        return WorkersStatus(
            ok=False, detail=detail, silent_after_seconds=silent_after, items=[], total=0
        )
    except Exception as exc:
        detail = f"cannot read worker heartbeats: {type(exc).__name__}: {exc}"
        return WorkersStatus(
            ok=False, detail=detail, silent_after_seconds=silent_after, items=[], total=0
        )
    ok, detail = assess(beats, now, silent_after)
    items = [_view(beat, now, silent_after) for beat in beats]
    return WorkersStatus(
        ok=ok, detail=detail, silent_after_seconds=silent_after, items=items, total=len(items)
    )


def as_component(status: WorkersStatus) -> ComponentHealth:
    """The workers as a readiness component that does not decide readiness."""
    return ComponentHealth(name=COMPONENT, ok=status.ok, detail=status.detail, required=False)
