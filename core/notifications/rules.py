"""Rules: which domain events become notifications, for whom, saying what.

A rule takes a :class:`~medianest.sdk.DomainEvent` and answers a :class:`Draft` (or ``None``:
nobody is told). Core's rules:

- ``request.created``: the people who manage requests (permission ``manage_requests``).
- ``request.approved/declined/available/failed/deleted``: the requester and everyone in
  ``data["interested"]``.
- ``sync.failed``: the people who run syncs or manage settings.
- ``source.down`` / ``source.back`` (core's health watch, see :mod:`.center`): the people who
  manage settings.

A plugin adds rules for its own event types (``<key>.<what>``) with
``hub.notifications.add_rule(prefix, rule)`` in its ``startup`` hook, or calls ``hub.notify``
with the recipients itself; either way the notification goes through the same preferences,
inbox, grouping and delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medianest.sdk.access import Permission
from medianest.sdk.events import (
    REQUEST_APPROVED,
    REQUEST_AVAILABLE,
    REQUEST_CREATED,
    REQUEST_DECLINED,
    REQUEST_DELETED,
    REQUEST_FAILED,
    SYNC_FAILED,
)
from medianest.sdk.models import DomainEvent

SOURCE_DOWN = "source.down"
"""A live source's circuit stayed open ``notifications.source_down_minutes``."""
SOURCE_BACK = "source.back"
"""A source that was reported down answers again."""


@dataclass(frozen=True)
class Draft:
    """A notification before it reaches people: what to say and who is concerned.

    ``group_key`` joins drafts about one thing (its request, or the parent of an item):
    within the grouping window they become one notification, titled ``grouped_title``
    with ``{count}`` and ``{title}`` filled in.
    """

    event_type: str
    title: str
    body: str = ""
    link: str | None = None
    image: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    users: tuple[int, ...] = ()
    permissions: frozenset[Permission] = frozenset()
    roles: tuple[str, ...] = ()
    group_key: str | None = None
    grouped_title: str = "{title} (and {more} more)"

    def title_for(self, count: int) -> str:
        if count <= 1:
            return self.title
        return self.grouped_title.format(count=count, more=count - 1, title=self.title)[:300]


Rule = Callable[[DomainEvent], Draft | None]

_REQUEST_WORDS = {
    REQUEST_APPROVED: ("approved", "Your request for {title} was approved"),
    REQUEST_DECLINED: ("declined", "Your request for {title} was declined"),
    REQUEST_AVAILABLE: ("available", "{title} is available"),
    REQUEST_FAILED: ("failed", "Your request for {title} could not be completed"),
    REQUEST_DELETED: ("deleted", "Your request for {title} was removed"),
}


def _ids(values: Any) -> tuple[int, ...]:
    if not isinstance(values, list | tuple):
        return ()
    return tuple(v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0)


def request_rule(event: DomainEvent) -> Draft | None:
    data = event.data
    title = str(data.get("title") or "a title")
    request_id = data.get("request_id")
    link = f"/requests/{request_id}" if request_id is not None else None
    common: dict[str, Any] = {
        "link": link,
        "data": {"request_id": request_id, "status": data.get("status"), "title": title},
        "group_key": f"{event.type}:request:{request_id}" if request_id is not None else None,
    }
    if event.type == REQUEST_CREATED:
        return Draft(
            event_type=event.type,
            title=f"New request: {title}",
            body=f"{title} was requested.",
            permissions=frozenset({Permission.MANAGE_REQUESTS}),
            grouped_title="{title} (asked {count} times)",
            **common,
        )
    words = _REQUEST_WORDS.get(event.type)
    if words is None:
        return None
    users = tuple(dict.fromkeys((*_ids([event.user_id]), *_ids(data.get("interested")))))
    body = ""
    if event.type == REQUEST_DECLINED and data.get("reason"):
        body = f"Reason: {data['reason']}"
    return Draft(
        event_type=event.type,
        title=words[1].format(title=title),
        body=body,
        users=users,
        grouped_title="{title} ({count} updates)",
        **common,
    )


def sync_failed_rule(event: DomainEvent) -> Draft:
    source = str(event.data.get("source") or event.source)
    error = str(event.data.get("error") or "")
    return Draft(
        event_type=event.type,
        title=f"Library sync of {source} failed",
        body=error[:2000],
        link="/admin/sync",
        data={"source": source, "run_id": event.data.get("id")},
        permissions=frozenset({Permission.RUN_SYNCS, Permission.MANAGE_SETTINGS}),
        group_key=f"{event.type}:{source}",
        grouped_title="Library sync of {source} failed {count} times".replace("{source}", source),
    )


def source_rule(event: DomainEvent) -> Draft:
    source = str(event.data.get("source") or event.source)
    minutes = event.data.get("minutes")
    if event.type == SOURCE_DOWN:
        title = f"{source} has been down for {minutes} min"
    else:
        title = f"{source} is back" + (f" after {minutes} min" if minutes else "")
    return Draft(
        event_type=event.type,
        title=title,
        body=str(event.data.get("detail") or "")[:2000],
        link="/admin",
        data={"source": source, "minutes": minutes},
        permissions=frozenset({Permission.MANAGE_SETTINGS}),
    )


def core_rules() -> dict[str, Rule]:
    """Core's rules by the event type (or ``prefix.*``) they handle."""
    return {
        "request.*": request_rule,
        SYNC_FAILED: sync_failed_rule,
        SOURCE_DOWN: source_rule,
        SOURCE_BACK: source_rule,
    }


def rule_for(rules: dict[str, Rule], event_type: str) -> Rule | None:
    """The rule for ``event_type``: an exact one, else the longest matching ``prefix.*``."""
    if event_type in rules:
        return rules[event_type]
    best = None
    for pattern in rules:
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            if best is None or len(pattern) > len(best):
                best = pattern
    return rules[best] if best is not None else None
