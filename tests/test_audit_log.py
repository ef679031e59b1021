"""Reading the audit log: newest first, filtered by action, actor, target and time, paged.

Each test runs on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from medianest.core.auth import audit
from medianest.core.db.models import AuditEvent
from tests.admin_testing import admin_hub, make_user, with_key

AUDIT = "/api/v1/audit"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with admin_hub(medianest_hub, mode) as hub:
        yield hub


@pytest.fixture
async def auditor(running):
    return await with_key(running, await make_user("olga", permissions=["view_audit"]))


@pytest.fixture
async def events(running) -> list[AuditEvent]:
    """Five events, oldest first, an hour apart, ending now."""
    now = datetime.now(UTC)
    specs = [
        ("user.created", "cli", "user:1", "success"),
        ("sign_in.failed", "ann", None, "failure"),
        ("user.role_changed", "root", "user:2", "success"),
        ("api_key.created", "ann", "user:2", "success"),
        ("user.deactivated", "root", "user:3", "success"),
    ]
    rows = []
    for hours_ago, (action, actor, target, outcome) in zip(range(4, -1, -1), specs, strict=True):
        event = await audit.record(action, actor_label=actor, target=target, outcome=outcome)
        await AuditEvent.filter(id=event.id).update(at=now - timedelta(hours=hours_ago))
        rows.append(await AuditEvent.get(id=event.id))
    return rows


async def actions(auditor, query: str = "") -> list[str]:
    status, body = await auditor.get(f"{AUDIT}?{query}")
    assert status == 200, body
    assert body["total"] == len(body["items"])
    return [item["action"] for item in body["items"]]


async def test_events_come_newest_first_with_everything_recorded(auditor, events) -> None:
    status, body = await auditor.get(AUDIT)
    assert status == 200 and body["total"] == 5 and body["next_cursor"] is None
    newest = body["items"][0]
    assert newest["action"] == "user.deactivated" and newest["actor"] == "root"
    assert set(newest) == {
        "id",
        "at",
        "action",
        "outcome",
        "actor",
        "actor_user_id",
        "target",
        "ip",
        "details",
    }
    assert [i["id"] for i in body["items"]] == sorted((e.id for e in events), reverse=True)


async def test_events_are_filtered(auditor, events) -> None:
    assert await actions(auditor, "action=user.role_changed") == ["user.role_changed"]
    assert await actions(auditor, "action=user.*") == [
        "user.deactivated",
        "user.role_changed",
        "user.created",
    ]
    assert await actions(auditor, "actor=ann") == ["api_key.created", "sign_in.failed"]
    assert await actions(auditor, "target=user:2") == ["api_key.created", "user.role_changed"]
    assert await actions(auditor, "outcome=failure") == ["sign_in.failed"]
    assert await actions(auditor, "actor=nobody") == []


async def test_events_are_filtered_by_time(auditor, events) -> None:
    since = quote(events[1].at.isoformat())
    until = quote(events[3].at.isoformat())
    assert await actions(auditor, f"since={since}&until={until}") == [
        "user.role_changed",
        "sign_in.failed",
    ]
    status, problem = await auditor.get(f"{AUDIT}?since={until}&until={since}")
    assert status == 400 and "since must be before until" in problem["detail"]
    status, problem = await auditor.get(f"{AUDIT}?since=2024-01-01T00:00:00")
    assert status == 422, "times need a timezone"


async def test_events_are_paged_with_the_total_on_every_page(auditor, events) -> None:
    status, first = await auditor.get(f"{AUDIT}?limit=2&action=user.*")
    assert status == 200 and first["total"] == 3 and len(first["items"]) == 2
    _, second = await auditor.get(f"{AUDIT}?limit=2&action=user.*&cursor={first['next_cursor']}")
    assert [i["action"] for i in second["items"]] == ["user.created"]
    assert second["total"] == 3 and second["next_cursor"] is None
    assert (await auditor.get(f"{AUDIT}?limit=0"))[0] == 422
    assert (await auditor.get(f"{AUDIT}?limit=201"))[0] == 422


async def test_admin_actions_through_the_api_show_up(running, auditor) -> None:
    root = await make_user("root", role="admin")
    admin = await with_key(running, root)
    ann = await make_user("ann")
    await admin.patch(f"/api/v1/users/{ann.id}", {"permissions": ["search"]})
    status, body = await auditor.get(f"{AUDIT}?actor=root")
    assert status == 200
    [event] = body["items"]
    assert event["action"] == "user.permissions_changed"
    assert event["actor_user_id"] == root.id and event["ip"]


async def test_reading_the_log_needs_view_audit(running, events) -> None:
    assert (await running.client.get(AUDIT)).status_code == 401
    plain = await with_key(running, await make_user("ann"))
    status, problem = await plain.get(AUDIT)
    assert status == 403 and problem["permission"] == "view_audit"
