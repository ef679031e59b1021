"""Jobs core itself registers, beside the plugins' own."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import structlog

from medianest.core.backoff import RetryPolicy
from medianest.core.notifications import delivery, health
from medianest.core.notifications.delivery import DELIVER, SWEEP
from medianest.core.registry import ProviderRegistry
from medianest.sdk.errors import UpstreamError
from medianest.sdk.jobs import Cron, Job, JobContext
from medianest.sdk.models import Notification, Recipient
from medianest.sdk.providers import Notifier

log = structlog.get_logger(__name__)

NOTIFY = "core.notify"
"""Delivers a notification queued before per-delivery jobs existed (kept for queued jobs)."""
NOTIFY_TIMEOUT_SECONDS = 15.0
NOTIFY_ROUNDS = 5


NOTIFY_BACKOFF = RetryPolicy(base_seconds=5.0, max_seconds=300.0)
"""The wait before delivery round ``n + 1``: 5 s, 10 s, 20 s, ... at most 5 minutes."""


def deliveries(
    notifiers: list[Notifier], recipients: tuple[Recipient, ...]
) -> list[tuple[Notifier, int, str | None]]:
    """(notifier, recipient index, address) for every delivery a notification needs.

    A notifier with an ``address_kind`` delivers to each user recipient at their address of
    that kind (users without one are skipped) and to each role recipient without an address;
    a notifier without one delivers to every recipient without an address.
    """
    planned: list[tuple[Notifier, int, str | None]] = []
    for notifier in notifiers:
        kind = getattr(notifier, "address_kind", None)
        for index, recipient in enumerate(recipients):
            if kind is None or recipient.user_id is None:
                planned.append((notifier, index, None))
            elif kind in recipient.addresses:
                planned.append((notifier, index, recipient.addresses[kind]))
    return planned


async def notify(
    registry: ProviderRegistry,
    ctx: JobContext,
    *,
    notification: dict[str, Any],
    pending: list[list[Any]] | None = None,
    round_: int = 1,
) -> int:
    """Deliver a notification: each notifier, once per recipient (or only the ``pending``
    ``[notifier id, recipient index]`` pairs of an earlier round).

    Deliveries that fail with an upstream error or a timeout get another round later, with
    back-off, up to ``NOTIFY_ROUNDS``; those that delivered are not made again. Returns how
    many deliveries succeeded in this round.
    """
    message = Notification.model_validate(notification)
    planned = deliveries(registry.all("notifiers"), message.recipients)
    if pending is not None:
        wanted = {(str(n), int(i)) for n, i in pending}
        planned = [d for d in planned if (d[0].id, d[1]) in wanted]
    results = await asyncio.gather(
        *(
            asyncio.wait_for(
                notifier.send(message, message.recipients[index], address), NOTIFY_TIMEOUT_SECONDS
            )
            for notifier, index, address in planned
        ),
        return_exceptions=True,
    )
    retry: list[list[Any]] = []
    for (notifier, index, _), result in zip(planned, results, strict=True):
        if isinstance(result, BaseException):
            log.warning(
                "notification not delivered",
                notifier=notifier.id,
                recipient=index,
                round=round_,
                error=f"{type(result).__name__}: {result}",
            )
            if isinstance(result, UpstreamError | TimeoutError):
                retry.append([notifier.id, index])
    if retry and round_ < NOTIFY_ROUNDS:
        await ctx.hub.jobs.enqueue(
            NOTIFY,
            notification=notification,
            pending=retry,
            round_=round_ + 1,
            job_id=f"{ctx.job_id}:round{round_ + 1}",
            defer_seconds=NOTIFY_BACKOFF.delay(round_),
        )
    elif retry:
        log.error("notification given up", deliveries=retry, rounds=round_)
    return sum(not isinstance(result, BaseException) for result in results)


async def deliver(ctx: JobContext, *, delivery_id: int) -> str:
    """Try one notification delivery (see :mod:`medianest.core.notifications.delivery`).

    The job never fails for the delivery's sake: the row keeps its state and the job queues
    the next try itself. A job cut short (its worker killed) is run again by the queue and
    finds the row's lease, then takes it over once it lapsed.
    """
    hub: Any = ctx.hub
    with hub.database.activate():
        return str(await hub.notifications.deliverer.run(delivery_id))


async def sweep(ctx: JobContext) -> int:
    """Queue again the deliveries whose job was lost or whose worker died mid-send."""
    hub: Any = ctx.hub
    with hub.database.activate():
        return await delivery.sweep(hub.jobs)


async def source_check(ctx: JobContext, *, source: str, since: str) -> bool:
    """Tell the admins a source is still down, if it is (see
    :mod:`medianest.core.notifications.health`)."""
    hub: Any = ctx.hub
    return bool(await hub.notifications.health.check(source, since))


def jobs_for(registry: ProviderRegistry) -> list[Job]:
    """The jobs core registers besides the sync ones, delivering through ``registry``."""
    return [
        Job(name=NOTIFY, function=partial(notify, registry), max_tries=1, timeout_seconds=60),
        Job(name=DELIVER, function=deliver, max_tries=5, timeout_seconds=120),
        Job(name=health.CHECK, function=source_check, max_tries=3, timeout_seconds=60),
        Job(
            name=SWEEP,
            function=sweep,
            max_tries=1,
            timeout_seconds=60,
            cron=Cron(second={0, 30}),
        ),
    ]
