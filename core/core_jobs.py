"""Jobs core itself registers, beside the plugins' own."""

from __future__ import annotations

import asyncio

import structlog

from medianest.sdk.errors import UpstreamError
from medianest.sdk.jobs import Job, JobContext
from medianest.sdk.models import Notification

log = structlog.get_logger(__name__)

NOTIFY = "core.notify"
NOTIFY_TIMEOUT_SECONDS = 15.0
NOTIFY_ROUNDS = 5


def notify_backoff(round_: int) -> float:
    """Seconds before delivery round ``round_ + 1``: 5 s, 10 s, 20 s, ... at most 5 minutes."""
    return min(300.0, 5.0 * 2 ** (round_ - 1))


async def notify(
    ctx: JobContext,
    *,
    notification: dict,
    notifiers: list[str] | None = None,
    round_: int = 1,
) -> int:
    """Deliver a notification through every notifier (or only those in ``notifiers``).

    Notifiers that fail with an upstream error or a timeout get another round later, with
    back-off, up to ``NOTIFY_ROUNDS``; those that delivered are not called again. Returns how
    many notifiers delivered it in this round.
    """
    message = Notification.model_validate(notification)
    hub = ctx.hub
    if notifiers is None:
        targets = hub.registry.all("notifiers")
    else:
        targets = [hub.registry.get("notifiers", notifier_id) for notifier_id in notifiers]
    results = await asyncio.gather(
        *(asyncio.wait_for(n.send(message), NOTIFY_TIMEOUT_SECONDS) for n in targets),
        return_exceptions=True,
    )
    retry = []
    for notifier, result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            log.warning(
                "notification not delivered",
                notifier=notifier.id,
                round=round_,
                error=f"{type(result).__name__}: {result}",
            )
            if isinstance(result, UpstreamError | TimeoutError):
                retry.append(notifier.id)
    if retry and round_ < NOTIFY_ROUNDS:
        await hub.jobs.enqueue(
            NOTIFY,
            notification=notification,
            notifiers=retry,
            round_=round_ + 1,
            job_id=f"{ctx.job_id}:round{round_ + 1}",
            defer_seconds=notify_backoff(round_),
        )
    elif retry:
        log.error("notification given up", notifiers=retry, rounds=round_)
    return sum(not isinstance(result, BaseException) for result in results)


JOBS = [Job(name=NOTIFY, function=notify, max_tries=1, timeout_seconds=60)]
