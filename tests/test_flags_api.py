"""Switching runtime flags over the API: every replica follows, each change is audited.

Each test runs on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from medianest.core.db.models import AuditEvent, RuntimeFlagValue
from tests.admin_testing import admin_hub, make_user, with_key

FLAG = "/api/v1/flags/hello.greetings"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with admin_hub(medianest_hub, mode, autoload=True, features={"hello": True}) as hub:
        yield hub


@pytest.fixture
async def operator(running):
    return await with_key(running, await make_user("olga", permissions=["manage_settings"]))


async def test_a_flag_is_switched_for_everyone_and_audited(running, operator) -> None:
    status, body = await operator.put(FLAG, {"enabled": False})
    assert status == 200, body
    assert body["key"] == "hello.greetings" and body["enabled"] is False
    assert body["overridden"] is True and body["updated_by"] == "olga"
    assert running.hub.flags.is_enabled("hello.greetings") is False
    stored = await RuntimeFlagValue.get(key="hello.greetings")
    assert (stored.enabled, stored.updated_by) == (False, "olga")
    _, listed = await operator.get("/api/v1/flags")
    assert {"key": "hello.greetings", "enabled": False}.items() <= listed["items"][0].items()
    event = await AuditEvent.get(action="flag.set")
    assert (event.actor, event.target) == ("olga", "flag:hello.greetings")
    assert event.details == {"before": True, "after": False}


async def test_an_unknown_flag_is_404_naming_the_known_ones(running, operator) -> None:
    status, problem = await operator.put("/api/v1/flags/hello.nope", {"enabled": True})
    assert status == 404
    assert "hello.nope" in problem["detail"] and "hello.greetings" in problem["detail"]
    assert await AuditEvent.filter(action="flag.set").count() == 0


@pytest.mark.parametrize(
    "body", [{}, {"enabled": "yes"}, {"enabled": 1}, {"enabled": True, "x": 1}]
)
async def test_malformed_bodies_are_422(running, operator, body) -> None:
    status, problem = await operator.put(FLAG, body)
    assert status == 422, problem
    assert running.hub.flags.is_enabled("hello.greetings") is True


async def test_switching_flags_needs_manage_settings(running) -> None:
    assert (await running.client.put(FLAG, json={"enabled": False})).status_code == 401
    plain = await with_key(running, await make_user("ann"))
    status, problem = await plain.put(FLAG, {"enabled": False})
    assert status == 403 and problem["permission"] == "manage_settings"
    assert running.hub.flags.is_enabled("hello.greetings") is True
