"""The notification center (``hub.notifications``): routing, inbox, delivery together.

Events reach it as an analytics sink of the hub's event buffer (:attr:`sink`): in the process
that emitted them, in the background, never on the request path. For each event the matching
rule (:mod:`.rules`) names who is concerned; each person's preferences drop muted types, the
notification is kept in their inbox (merged with the unread one about the same thing within
the grouping window) and announced to their open pages, and one delivery per channel they
chose is queued (held until their quiet hours end). Role recipients (admins' shared channels)
get one delivery per notifier with ``address=None``. ``hub.notify`` from a plugin goes the same
way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from medianest.config.settings import NotificationSettings
from medianest.core.auth.principals import effective_permissions
from medianest.core.db.models import User
from medianest.core.events import person_channel
from medianest.core.notifications import channels as person_channels
from medianest.core.notifications import delivery, inbox, preferences
from medianest.core.notifications.health import HealthWatch
from medianest.core.notifications.recipients import resolve_recipients
from medianest.core.notifications.rules import Draft, Rule, core_rules, rule_for
from medianest.sdk.errors import InvalidInputError, NotFoundError
from medianest.sdk.models import DomainEvent, Notification, Recipient

log = structlog.get_logger(__name__)


ROUTING_RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
"""Seconds between tries of routing an event that failed (an outage): two minutes in all."""


class RoutingSink:
    """The center as the event buffer sees it: an analytics sink routing each batch.

    The buffer gives a batch again to a sink that failed or took too long; routing must not
    tell anyone twice. So each event is routed once, in a task of its own that a timeout of
    the buffer does not cancel (a batch given again waits for it), and the events routed
    lately are remembered (held, so their identities cannot be reused meanwhile).
    """

    id = "core:notifications"
    name = "Notifications"
    REMEMBERED = 10_000

    def __init__(self, center: NotificationCenter) -> None:
        self._center = center
        self._recent: deque[DomainEvent] = deque()
        self._seen: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._later: set[asyncio.Task[None]] = set()

    async def record(self, events: Sequence[DomainEvent]) -> None:
        fresh = [e for e in events if id(e) not in self._seen]
        for event in fresh:
            self._recent.append(event)
            self._seen.add(id(event))
            while len(self._recent) > self.REMEMBERED:
                self._seen.discard(id(self._recent.popleft()))
        if fresh:
            task = asyncio.create_task(self._route_all(fresh))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.shield(asyncio.gather(*self._tasks))

    async def drain(self) -> None:
        """Wait for the routing still going (the hub stopping); routing waiting to be tried
        again after an outage is given up."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)

    async def _route_all(self, events: list[DomainEvent]) -> None:
        retry: list[DomainEvent] = []
        for event in events:
            try:
                await self._center.route(event)
            except Exception as exc:  # one event's trouble must not hold up the others
                log.warning(
                    "notification routing failed; tried again",
                    event_type=event.type,
                    error=str(exc),
                )
                retry.append(event)
        if retry:  # an outage (Redis, the database) while routing: try again once it is over
            task = asyncio.create_task(self._route_later(retry))
            self._later.add(task)
            task.add_done_callback(self._later.discard)

    async def _route_later(self, events: list[DomainEvent]) -> None:
        for pause in ROUTING_RETRY_PAUSES:
            await asyncio.sleep(pause)
            failed: list[DomainEvent] = []
            for event in events:
                try:
                    await self._center.route(event)
                except Exception as exc:
                    log.warning(
                        "notification routing failed again", event_type=event.type, error=str(exc)
                    )
                    failed.append(event)
            if not failed:
                return
            events = failed
        for event in events:
            log.error("notification routing gave up", event_type=event.type)


class NotificationCenter:
    """Routes events and notifications to people; see the module docstring.

    :param hub: the hub (its database, registry, jobs, pub/sub, rate limiter and secrets are
        used when needed, so the center exists before they are open).
    """

    def __init__(self, settings: NotificationSettings, hub: Any) -> None:
        self.settings = settings
        self._hub = hub
        self.rules: dict[str, Rule] = core_rules()
        self.sink = RoutingSink(self)
        self.health = HealthWatch(hub)
        self.deliverer = delivery.Deliverer(
            settings,
            notifiers=self._notifier,
            box=lambda: hub.secrets,
            jobs=lambda: hub.jobs,
            rate_limiter=lambda: hub.rate_limiter,
        )

    async def sweep(self) -> int:
        """Queue again the deliveries whose job was lost or whose worker died mid-send."""
        with self._hub.database.activate():
            return await delivery.sweep(self._hub.jobs)

    def add_rule(self, event_type: str, rule: Rule) -> None:
        """Route ``event_type`` (or every type under ``prefix.*``) with ``rule``.

        :raises InvalidInputError: core already routes that pattern.
        """
        if event_type in self.rules:
            raise InvalidInputError(
                f"{event_type!r} already has a notification rule", field="event_type"
            )
        self.rules[event_type] = rule

    def _notifier(self, notifier_id: str) -> Any:
        found = [n for n in self.notifiers() if n.id == notifier_id]
        if not found:
            raise NotFoundError(f"no notifier {notifier_id!r}")
        return found[0]

    def notifiers(self) -> list[Any]:
        return list(self._hub.registry.all("notifiers"))

    # routing -----------------------------------------------------------------------------

    async def route(self, event: DomainEvent) -> int:
        """Turn ``event`` into notifications by its rule; how many people it reached."""
        rule = rule_for(self.rules, event.type)
        if rule is None:
            return 0
        draft = rule(event)
        if draft is None:
            return 0
        with self._hub.database.activate():
            users = list(draft.users)
            if draft.permissions:
                users += await holders(draft.permissions)
            return await self.dispatch(draft, list(dict.fromkeys(users)), draft.roles)

    async def notify(self, notification: Notification) -> str:
        """A plugin's (or core's) notification, routed like an event's; its routing id."""
        draft = Draft(
            event_type=notification.event_type,
            title=notification.title,
            body=notification.body,
            link=notification.link,
            image=notification.image,
            data={
                "media": None if notification.media is None else notification.media.model_dump(),
                "request": None
                if notification.request is None
                else notification.request.model_dump(),
            },
        )
        users = [r.user_id for r in notification.recipients if r.user_id is not None]
        roles = tuple(r.role for r in notification.recipients if r.role is not None)
        extra = {r.user_id: r.addresses for r in notification.recipients if r.user_id is not None}
        routing = uuid.uuid4().hex
        with self._hub.database.activate():
            await self.dispatch(
                draft, users, roles, base=notification, addresses=extra, key=routing
            )
        return routing

    async def dispatch(
        self,
        draft: Draft,
        users: list[int],
        roles: Sequence[str] = (),
        *,
        base: Notification | None = None,
        addresses: dict[int, dict[str, str]] | None = None,
        key: str | None = None,
    ) -> int:
        """Keep ``draft`` in each user's inbox and queue its deliveries; people reached."""
        chosen = await preferences.of_users(users)
        wanted = [u for u in users if chosen[u].wants(draft.event_type)]
        own = await person_channels.of_users(self._hub.secrets, wanted)
        recipients = await resolve_recipients(
            [Recipient(user_id=u, addresses=(addresses or {}).get(u, {})) for u in wanted]
            + [Recipient(role=r) for r in roles],
            own,
        )
        now = datetime.now(UTC)
        reached = 0
        notifiers = self.notifiers()
        for recipient in recipients:
            if recipient.user_id is None:
                message = _message(draft, base, recipient, draft.title)
                routing = key or uuid.uuid4().hex
                for notifier in notifiers:  # each to its shared channel
                    await self._queue(
                        f"r:{routing}:{recipient.role}:{notifier.id}",
                        notifier.id,
                        message,
                        recipient,
                        None,
                        None,
                    )
                continue
            user_id = recipient.user_id
            row, merged = await inbox.store(
                user_id, draft, window_seconds=self.settings.group_window_seconds
            )
            reached += 1
            await self._announce(user_id, row)
            choice = chosen[user_id]
            held = choice.quiet_hours.held_until(now) if choice.quiet_hours else None
            shared = {n.id for n in notifiers if getattr(n, "address_kind", None) is None}
            kinds = choice.channels_for(draft.event_type, set(recipient.addresses) | shared)
            title = draft.title_for(row.count) if merged else draft.title
            message = _message(draft, base, recipient, title)
            for notifier in notifiers:
                kind = getattr(notifier, "address_kind", None) or notifier.id
                if kind not in kinds:
                    continue
                at: datetime | None = held  # None: at once
                if merged:  # one summary at the end of the window, whatever comes meanwhile
                    end = row.created_at + timedelta(seconds=self.settings.group_window_seconds)
                    at = max(end, held) if held else end
                    delivery_key = f"n:{row.id}:summary:{notifier.id}"
                else:
                    delivery_key = f"n:{row.id}:{notifier.id}"
                await self._queue(
                    delivery_key,
                    notifier.id,
                    message,
                    recipient,
                    recipient.addresses.get(kind) if kind != notifier.id else None,
                    at,
                    summary_of=row.id if merged else None,
                )
        return reached

    async def _queue(
        self,
        key: str,
        notifier_id: str,
        message: Notification,
        recipient: Recipient,
        address: str | None,
        at: datetime | None,
        *,
        summary_of: int | None = None,
    ) -> None:
        row = await delivery.plan(
            self._hub.secrets,
            key=key,
            notifier_id=notifier_id,
            message=message,
            recipient=recipient,
            address=address,
            not_before=at,
        )
        if row is None:
            return
        if summary_of is not None:
            row.payload = {**row.payload, "summary_of": summary_of}
            await row.save(update_fields=["payload"])
        try:
            await delivery.enqueue(self._hub.jobs, row.id, 1, at)
        except Exception as exc:  # the delivery is planned: the sweep queues it once it can
            log.warning("notification delivery not queued yet", delivery=row.id, error=str(exc))

    async def _announce(self, user_id: int, row: Any) -> None:
        try:
            await self._hub.pubsub.publish(
                person_channel(user_id),
                {
                    "type": "notification",
                    "notification": inbox.view(row),
                    "unread": await inbox.unread(user_id),
                },
            )
        except Exception as exc:  # the inbox has it; a page reloading shows it
            log.warning("notification not announced", user_id=user_id, error=str(exc))

    async def announce_unread(self, user_id: int) -> None:
        """Tell the person's pages the unread count changed (read, read all, deleted)."""
        try:
            await self._hub.pubsub.publish(
                person_channel(user_id),
                {"type": "notification.unread", "unread": await inbox.unread(user_id)},
            )
        except Exception as exc:
            log.warning("unread count not announced", user_id=user_id, error=str(exc))


def _message(
    draft: Draft, base: Notification | None, recipient: Recipient, title: str
) -> Notification:
    if base is not None:
        return base.model_copy(update={"recipients": (recipient,), "title": title[:300]})
    return Notification(
        event_type=draft.event_type,
        title=title[:300],
        body=draft.body[:5000],
        link=draft.link,
        image=draft.image,
        recipients=(recipient,),
    )


async def holders(permissions: frozenset[Any]) -> list[int]:
    """Active users holding any of ``permissions``."""
    users = await User.filter(is_active=True).order_by("id")
    return [u.id for u in users if effective_permissions(u) & permissions]
