"""Jobs core itself registers, beside the plugins' own."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import structlog

from medianest.core.backoff import RetryPolicy
from medianest.core.registry import ProviderRegistry
from medianest.sdk.errors import UpstreamError
from medianest.sdk.jobs import Job, JobContext
from medianest.sdk.models import Notification

log = structlog.get_logger(__name__)

NOTIFY = "core.notify"
NOTIFY_TIMEOUT_SECONDS = 15.0
NOTIFY_ROUNDS = 5


NOTIFY_BACKOFF = RetryPolicy(base_seconds=5.0, max_seconds=300.0)
"""The wait before delivery round ``n + 1``: 5 s, 10 s, 20 s, ... at most 5 minutes."""


async def notify(
    registry: ProviderRegistry,
    ctx: JobContext,
    *,
    notification: dict[str, Any],
    notifiers: list[str] | None = None,
    round_: int = 1,
) -> int:
    """Deliver a notification through every notifier (or only those in ``notifiers``).

    Notifiers that fail with an upstream error or a timeout get another round later, with
    back-off, up to ``NOTIFY_ROUNDS``; those that delivered are not called again. Returns how
    many notifiers delivered it in this round.
    """
    message = Notification.model_validate(notification)
    if notifiers is None:
        targets = registry.all("notifiers")
    else:
        targets = [registry.get("notifiers", notifier_id) for notifier_id in notifiers]
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
        await ctx.hub.jobs.enqueue(
            NOTIFY,
            notification=notification,
            notifiers=retry,
            round_=round_ + 1,
            job_id=f"{ctx.job_id}:round{round_ + 1}",
            defer_seconds=NOTIFY_BACKOFF.delay(round_),
        )
    elif retry:
        log.error("notification given up", notifiers=retry, rounds=round_)
    return sum(not isinstance(result, BaseException) for result in results)


def jobs_for(registry: ProviderRegistry) -> list[Job]:
    """The jobs core registers besides the sync ones, delivering through ``registry``."""
    return [Job(name=NOTIFY, function=partial(notify, registry), max_tries=1, timeout_seconds=60)]
