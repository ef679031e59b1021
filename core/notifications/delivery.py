"""Deliveries: one row per notification, notifier and recipient, sent exactly once.

The row's unique ``key`` is the delivery id a notifier receives (``notification.delivery_id``)
and passes on (a webhook's ``Idempotency-Key``). A job claims the row before sending:
``pending`` (or ``sending`` with a lapsed lease: its worker died) → ``sending`` with a lease;
only the claim's owner marks it ``sent``, and a row ``sent`` is never claimed again. A worker
killed mid-send leaves the lease to lapse; the job runs again and sends with the same key, so
the receiver can drop what it already got.

Failures: an ``UpstreamError`` (or a timeout, or an unexpected error) is tried again after
:class:`~medianest.core.backoff.RetryPolicy` back-off (a rate-limited upstream's
``retry_after`` when longer) up to ``notifications.delivery_attempts`` tries;
``InvalidInputError`` and ``PermissionDeniedError`` are final. Both end ``dead`` with the
last error: the dead letters admins see, retry or discard.

Each destination (notifier and address) has its own rate limit: a delivery over it waits for
the window to reopen (not counted as a try) while other destinations go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets as token_source
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from medianest.config.settings import NotificationSettings
from medianest.core.backoff import RetryPolicy
from medianest.core.db.models import Notification as InboxRow
from medianest.core.db.models import NotificationDelivery
from medianest.core.secrets import SecretBox
from medianest.sdk.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamRateLimitedError,
)
from medianest.sdk.models import Notification, Recipient
from medianest.sdk.services import JobQueue, RateLimiter

log = structlog.get_logger(__name__)

DELIVER = "core.notifications.deliver"
SWEEP = "core.notifications.sweep"
STALE_SECONDS = 30.0
"""A pending delivery due this long without a job taking it is queued again by the sweep."""
PENDING, SENDING, SENT, DEAD, DISCARDED = "pending", "sending", "sent", "dead", "discarded"
FINAL_ERRORS = (InvalidInputError, PermissionDeniedError)


def destination(notifier_id: str, address: str | None) -> str:
    """A short stable name of where a delivery goes (for its rate limit)."""
    return hashlib.sha256(f"{notifier_id}\0{address or ''}".encode()).hexdigest()[:32]


async def plan(
    box: SecretBox,
    *,
    key: str,
    notifier_id: str,
    message: Notification,
    recipient: Recipient,
    address: str | None,
    not_before: datetime | None = None,
) -> NotificationDelivery | None:
    """The delivery row for ``key``, created unless it exists (then ``None``: already planned)."""
    now = datetime.now(UTC)
    payload = message.model_copy(update={"recipients": (recipient,)}).model_dump(mode="json")
    try:
        return await NotificationDelivery.create(
            key=key,
            notifier=notifier_id,
            user_id=recipient.user_id,
            role=recipient.role,
            event_type=message.event_type,
            address=None if address is None else box.encrypt(address),
            destination=destination(notifier_id, address),
            payload=payload,
            status=PENDING,
            not_before=not_before,
            created_at=now,
            updated_at=now,
        )
    except IntegrityError:  # the unique key: planned already (here or by another process)
        if await NotificationDelivery.filter(key=key).exists():
            return None
        raise


async def enqueue(
    jobs: JobQueue, row_id: int, attempt: int, at: datetime | None, *, wait: str = ""
) -> None:
    """Queue the job of delivery ``row_id`` (once per try: the job id says which; a wait
    that is not a try, ``wait``, gets an id of its own, as the running job still holds the
    try's)."""
    delay = None
    if at is not None:
        delay = max(0.0, (at - datetime.now(UTC)).total_seconds())
    suffix = f":{wait}{time.monotonic_ns()}" if wait else ""
    await jobs.enqueue(
        DELIVER,
        delivery_id=row_id,
        job_id=f"{DELIVER}:{row_id}:{attempt}{suffix}",
        defer_seconds=delay or None,
    )


class Deliverer:
    """Runs delivery jobs (in the worker, or in-process when embedded)."""

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        notifiers: Any,
        box: Any,
        jobs: Any,
        rate_limiter: Any,
    ) -> None:
        self.settings = settings
        self._notifiers = notifiers
        self._box = box
        self._jobs = jobs
        self._rate_limiter = rate_limiter
        self.policy = RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds)
        self.owner = token_source.token_hex(8)

    async def run(self, delivery_id: int) -> str:
        """Try delivery ``delivery_id`` once; its status afterwards (or why nothing was done)."""
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        claimed = await NotificationDelivery.filter(
            Q(status=PENDING, not_before=None)
            | Q(status=PENDING, not_before__lte=now)
            | Q(status=SENDING, lease_until__lt=now),
            id=delivery_id,
        ).update(
            status=SENDING,
            lease_until=lease,
            owner=self.owner,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        row = await NotificationDelivery.get_or_none(id=delivery_id)
        if row is None:
            return "missing"
        if claimed != 1 or row.owner != self.owner:
            return await self._not_claimed(row, now)
        limits: RateLimiter = self._rate_limiter()
        hit = await limits.hit(
            f"notify:destination:{row.destination}",
            self.settings.destination_limit,
            self.settings.destination_window_seconds,
        )
        if not hit.allowed:
            wait = now + timedelta(seconds=max(hit.reset_after, 0.05))
            await self._settle(row, PENDING, attempts=row.attempts - 1, not_before=wait)
            await enqueue(self._jobs(), row.id, row.attempts, wait, wait="limit")
            return "rate_limited"
        return await self._send(row)

    async def _not_claimed(self, row: NotificationDelivery, now: datetime) -> str:
        """Why ``row`` was not claimed; a try queued for when it may be."""
        if row.status in (SENT, DEAD, DISCARDED):
            return row.status
        if row.status == SENDING and row.lease_until and row.lease_until > now:
            await enqueue(self._jobs(), row.id, row.attempts + 1, row.lease_until, wait="lease")
            return "leased"
        if row.status == PENDING and row.not_before is not None and row.not_before > now:
            await enqueue(self._jobs(), row.id, row.attempts + 1, row.not_before, wait="due")
            return "waiting"
        return "taken"

    async def _send(self, row: NotificationDelivery) -> str:
        try:
            notifier = self._notifiers(row.notifier)
        except NotFoundError:
            await self._settle(row, DEAD, error=f"notifier {row.notifier} is not installed")
            return DEAD
        payload = dict(row.payload)
        summary_of = payload.pop("summary_of", None)
        if summary_of is not None:  # a merged notification: say what it says now
            kept = await InboxRow.get_or_none(id=summary_of)
            if kept is not None:
                payload["title"] = kept.title
        message = Notification.model_validate(payload | {"delivery_id": row.key})
        address = None if row.address is None else self._box().decrypt(row.address)
        try:
            await asyncio.wait_for(
                notifier.send(message, message.recipients[0], address),
                self.settings.send_timeout_seconds,
            )
        except FINAL_ERRORS as exc:
            await self._settle(row, DEAD, error=describe(exc))
            log.warning("notification dead-lettered", delivery=row.key, error=describe(exc))
            return DEAD
        except Exception as exc:
            error = describe(exc)
            if row.attempts >= self.settings.delivery_attempts:
                await self._settle(row, DEAD, error=error)
                log.warning("notification dead-lettered", delivery=row.key, error=error)
                return DEAD
            wait = self.policy.delay(row.attempts)
            if isinstance(exc, UpstreamRateLimitedError) and exc.retry_after:
                wait = max(wait, float(exc.retry_after))
            at = datetime.now(UTC) + timedelta(seconds=wait)
            await self._settle(row, PENDING, error=error, not_before=at)
            await enqueue(self._jobs(), row.id, row.attempts + 1, at)
            return "retrying"
        await self._settle(row, SENT)
        return SENT

    async def _settle(
        self,
        row: NotificationDelivery,
        status: str,
        *,
        error: str | None = None,
        attempts: int | None = None,
        not_before: datetime | None = None,
    ) -> None:
        now = datetime.now(UTC)
        changes: dict[str, Any] = {
            "status": status,
            "lease_until": None,
            "owner": None,
            "updated_at": now,
            "not_before": not_before,
        }
        if error is not None:
            changes["last_error"] = error[:2000]
        if attempts is not None:
            changes["attempts"] = attempts
        if status == SENT:
            changes["sent_at"] = now
        await NotificationDelivery.filter(id=row.id, owner=self.owner, status=SENDING).update(
            **changes
        )


def describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "TimeoutError: the notifier did not answer in time"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def sweep(jobs: JobQueue) -> int:
    """Queue again every delivery that should be going and is not: due and still pending
    (its job was lost), or claimed by a worker whose lease lapsed (it died mid-send).
    How many were queued. Core runs it every 30 seconds on the workers."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=STALE_SECONDS)
    rows = await NotificationDelivery.filter(
        Q(status=PENDING, not_before__lte=stale)
        | Q(status=PENDING, not_before=None, updated_at__lte=stale)
        | Q(status=SENDING, lease_until__lt=now)
    ).values_list("id", "attempts")
    for row_id, attempts in rows:
        await enqueue(jobs, int(row_id), int(attempts) + 1, None)
    if rows:
        log.info("notification deliveries queued again", deliveries=len(rows))
    return len(rows)


async def retry(jobs: JobQueue, delivery_id: int) -> NotificationDelivery:
    """Put a dead letter back in the queue, with its tries counted afresh.

    :raises NotFoundError: no dead letter with that id.
    """
    row = await NotificationDelivery.get_or_none(id=delivery_id, status=DEAD)
    if row is None:
        raise NotFoundError(f"no dead letter with id {delivery_id}")
    await NotificationDelivery.filter(id=row.id, status=DEAD).update(
        status=PENDING, attempts=0, not_before=None, updated_at=datetime.now(UTC)
    )
    await enqueue(jobs, row.id, 1000 + int(datetime.now(UTC).timestamp()), None)
    await row.refresh_from_db()
    return row


async def discard(delivery_id: int) -> None:
    """Drop a dead letter for good (kept, marked ``discarded``).

    :raises NotFoundError: no dead letter with that id.
    """
    changed = await NotificationDelivery.filter(id=delivery_id, status=DEAD).update(
        status=DISCARDED, updated_at=datetime.now(UTC)
    )
    if not changed:
        raise NotFoundError(f"no dead letter with id {delivery_id}")
