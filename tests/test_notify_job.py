"""The notification job: one delivery per notifier and recipient; only failed ones retried."""

from __future__ import annotations

from typing import Any

from medianest.core import core_jobs
from medianest.sdk import (
    JobContext,
    JobHandle,
    Notification,
    Recipient,
    UpstreamError,
)


class Notifier:
    def __init__(self, notifier_id: str, address_kind: str | None, failures: int = 0) -> None:
        self.id = notifier_id
        self.name = notifier_id
        self.address_kind = address_kind
        self.failures = failures
        self.delivered: list[tuple[str | None, str | None]] = []

    async def send(
        self, notification: Notification, recipient: Recipient, address: str | None
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise UpstreamError("down for now", source=self.id)
        self.delivered.append((recipient.username or recipient.role, address))


class Registry:
    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    def all(self, kind: str) -> list[Notifier]:
        assert kind == "notifiers"
        return self.notifiers


class Jobs:
    def __init__(self) -> None:
        self.queued: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(self, name: str, /, *args: Any, **kwargs: Any) -> JobHandle:
        self.queued.append((name, kwargs))
        return JobHandle(job_id=str(kwargs.get("job_id")), queued=True)


class Hub:
    def __init__(self, notifiers: list[Notifier]) -> None:
        self.registry = Registry(notifiers)
        self.jobs = Jobs()


NOTE = Notification(
    event_type="request.available",
    title="Dune is here",
    recipients=(
        Recipient(user_id=1, username="ann", addresses={"email": "ann@example.org"}),
        Recipient(user_id=2, username="bob"),
        Recipient.for_role("admin"),
    ),
).model_dump(mode="json")


async def test_each_recipient_is_reached_at_the_address_of_each_notifier() -> None:
    email, webhook = Notifier("mail", "email"), Notifier("hook", None)
    hub = Hub([email, webhook])
    context = JobContext(hub, "n1", 1)  # type: ignore[arg-type]
    delivered = await core_jobs.notify(hub.registry, context, notification=NOTE)  # type: ignore[arg-type]
    assert delivered == 5
    assert email.delivered == [("ann", "ann@example.org"), ("admin", None)], "bob has no email"
    assert webhook.delivered == [("ann", None), ("bob", None), ("admin", None)]
    assert hub.jobs.queued == []


async def test_only_failed_deliveries_get_another_round() -> None:
    email, webhook = Notifier("mail", "email"), Notifier("hook", None, failures=1)
    hub = Hub([email, webhook])
    context = JobContext(hub, "n1", 1)  # type: ignore[arg-type]
    assert await core_jobs.notify(hub.registry, context, notification=NOTE) == 4  # type: ignore[arg-type]
    [(name, retry)] = hub.jobs.queued
    assert name == core_jobs.NOTIFY
    assert retry["pending"] == [["hook", 0]] and retry["round_"] == 2
    assert retry["job_id"] == "n1:round2" and retry["defer_seconds"] == 5.0
    again = await core_jobs.notify(  # type: ignore[arg-type]
        hub.registry,  # type: ignore[arg-type]
        JobContext(hub, "n1:round2", 1),
        notification=retry["notification"],
        pending=retry["pending"],
        round_=2,
    )
    assert again == 1
    assert webhook.delivered == [("bob", None), ("admin", None), ("ann", None)]
    assert email.delivered == [("ann", "ann@example.org"), ("admin", None)], "not sent twice"
