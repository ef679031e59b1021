"""API keys: created by their user, shown once, stored hashed, scoped, revocable, audited.

Each test runs on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from medianest.core.db.models import ApiKey, AuditEvent
from tests.admin_testing import Caller, admin_hub, make_user, with_key, with_session

MINE = "/api/v1/me/api-keys"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with admin_hub(medianest_hub, mode) as hub:
        yield hub


async def new_key(caller: Caller, **body) -> tuple[int, dict]:
    return await caller.post(MINE, {"name": "scripts", "permissions": ["search"]} | body)


async def test_a_new_key_is_shown_once_and_stored_hashed(running) -> None:
    ann, _ = await with_session(running, await make_user("ann"))
    response = await running.client.post(
        MINE, json={"name": "  scripts ", "permissions": ["search"]}, headers=ann.headers
    )
    created = await response.get_json()
    assert response.status_code == 201, created
    assert response.headers["Cache-Control"] == "no-store"
    key = created["key"]
    assert key.startswith(created["prefix"] + "_") and created["prefix"].startswith("mnk_")
    assert (created["name"], created["permissions"], created["active"]) == (
        "scripts",
        ["search"],
        True,
    )
    secret = key.split("_", 2)[2]
    _, rows = await running.hub.database.connection.execute_query("SELECT * FROM core_api_key")
    assert secret not in json.dumps(rows, default=str)

    status, listed = await ann.get(MINE)
    assert status == 200 and listed["total"] == 1
    assert "key" not in listed["items"][0] and secret not in json.dumps(listed)


async def test_a_key_acts_as_its_user_and_records_its_use(running) -> None:
    ann = await make_user("ann")
    session, _ = await with_session(running, ann)
    _, created = await new_key(session)
    status, me = await Caller(running.client, created["key"]).get("/api/v1/me")
    assert status == 200 and me["user"]["id"] == ann.id and me["permissions"] == ["search"]
    assert (await ApiKey.get(id=created["id"])).last_used_at is not None


async def test_a_scoped_key_is_refused_beyond_its_scope_naming_the_permission(running) -> None:
    manager = await make_user("mia", permissions=["search", "manage_users"])
    narrow = await with_key(running, manager, ["search"])
    status, problem = await narrow.get("/api/v1/users")
    assert status == 403
    assert problem["permission"] == "manage_users" and "manage_users" in problem["detail"]
    wide = await with_key(running, manager, ["manage_users"])
    assert (await wide.get("/api/v1/users"))[0] == 200


async def test_an_admins_scoped_key_is_not_an_admin(running) -> None:
    admin = await make_user("root", role="admin")
    auditor = await with_key(running, admin, ["view_audit"])
    assert (await auditor.get("/api/v1/audit"))[0] == 200
    status, problem = await auditor.get("/api/v1/users")
    assert status == 403 and problem["permission"] == "manage_users"


async def test_a_revoked_key_stops_working_at_once(running) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    _, created = await new_key(session)
    key = Caller(running.client, created["key"])
    assert (await key.get("/api/v1/me"))[0] == 200
    status, revoked = await session.delete(f"{MINE}/{created['id']}")
    assert status == 200 and revoked["revoked_at"] and revoked["active"] is False
    assert (await key.get("/api/v1/me"))[0] == 401
    assert (await session.delete(f"{MINE}/{created['id']}"))[0] == 200
    assert await AuditEvent.filter(action="api_key.revoked").count() == 1


async def test_a_key_holds_no_more_than_its_creator(running) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    status, problem = await new_key(session, permissions=["search", "manage_users"])
    assert status == 403 and problem["permission"] == "manage_users"
    status, problem = await new_key(session, permissions=["search", "bogus", "nope"])
    assert status == 400 and "unknown permissions: bogus, nope" in problem["detail"]
    assert await ApiKey.all().count() == 0


async def test_an_api_key_cannot_create_keys(running) -> None:
    key = await with_key(running, await make_user("root", role="admin"))
    status, problem = await new_key(key)
    assert status == 403 and problem["code"] == "api_key_not_allowed"
    assert await ApiKey.all().count() == 1


async def test_a_key_cannot_manage_its_owners_account(running) -> None:
    owner = await make_user("root", role="admin")
    session, session_id = await with_session(running, owner)
    _, other = await new_key(session, name="backup", permissions=["search"])
    monitor = await with_key(running, owner, ["view_metrics"])
    attempts = [
        ("post", "/api/v1/auth/sign-out-everywhere", {}),
        ("get", "/api/v1/me/sessions", None),
        ("delete", f"/api/v1/me/sessions/{session_id}", None),
        ("get", MINE, None),
        ("delete", f"{MINE}/{other['id']}", None),
        ("post", MINE, {"name": "successor", "permissions": ["view_metrics"]}),
    ]
    for method, path, body in attempts:
        status, problem = await monitor.call(method, path, body)
        assert (status, problem["code"]) == (403, "api_key_not_allowed"), (method, path)
        assert "sign in" in problem["detail"]
    assert (await session.get("/api/v1/me/sessions"))[0] == 200, "the session still works"
    assert (await Caller(running.client, other["key"]).get("/api/v1/me"))[0] == 200
    assert await ApiKey.filter(revoked_at__isnull=True).count() == 2
    assert (await monitor.get("/metrics"))[0] == 200, "what the key holds still works"


async def test_expiry_is_in_the_future_and_ends_the_key(running) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    status, problem = await new_key(session, expires_at=past)
    assert status == 400 and problem["errors"][0]["field"] == "expires_at"
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, created = await new_key(session, expires_at=soon)
    assert status == 201 and created["expires_at"]
    await ApiKey.filter(id=created["id"]).update(expires_at=datetime.now(UTC) - timedelta(1))
    assert (await Caller(running.client, created["key"]).get(MINE))[0] == 401
    _, listed = await session.get(MINE)
    assert listed["items"][0]["active"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["search"]},
        {"name": "x", "permissions": []},
        {"name": "", "permissions": ["search"]},
        {"name": "x", "permissions": ["search"], "role": "admin"},
        {"name": "x", "permissions": ["search"], "expires_at": "2030-01-01T00:00:00"},
    ],
)
async def test_malformed_requests_are_422(running, body) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    status, problem = await session.post(MINE, body)
    assert status == 422, problem


@pytest.mark.parametrize(
    "name",
    ["nul\x00", "esc\x1b[31m", "line\r\nbreak", "tab\there", "\u202egnp.exe", "sep\u2028"],
    ids=["NUL", "ESC", "CRLF", "TAB", "RLO", "LINE SEPARATOR"],
)
async def test_a_name_with_hidden_characters_is_422_naming_the_field(running, name) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    status, problem = await new_key(session, name=name)
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["name"]
    # NUL is refused for every body as soon as it is read (no database can store it).
    expected = "NUL characters" if "\x00" in name else "control or bidirectional"
    assert expected in problem["errors"][0]["message"]
    assert await ApiKey.all().count() == 0


async def test_a_name_may_hold_any_visible_text(running) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    name = "Grafana \u2013 salon \U0001f4fa \U0001f468\u200d\U0001f469\u200d\U0001f467 caf\u00e9"
    status, created = await new_key(session, name=name)
    assert status == 201 and created["name"] == name, created


async def test_admins_list_and_revoke_anyones_keys(running) -> None:
    ann = await make_user("ann")
    ann_key = await with_key(running, ann, ["search"])
    admin = await with_key(running, await make_user("root", role="admin"))
    status, listed = await admin.get(f"/api/v1/users/{ann.id}/api-keys")
    assert status == 200 and listed["total"] == 1
    key_id = listed["items"][0]["id"]
    status, revoked = await admin.delete(f"/api/v1/users/{ann.id}/api-keys/{key_id}")
    assert status == 200 and revoked["active"] is False
    assert (await ann_key.get(MINE))[0] == 401
    event = await AuditEvent.get(action="api_key.revoked")
    assert (event.actor, event.target, event.details["key_id"]) == (
        "root",
        f"user:{ann.id}",
        key_id,
    )


async def test_people_reach_only_their_own_keys(running) -> None:
    ann, bob = await make_user("ann"), await make_user("bob")
    ann_session, _ = await with_session(running, ann)
    _, created = await new_key(ann_session)
    bob_key = await with_key(running, bob)
    bob_session, _ = await with_session(running, bob)
    assert (await bob_session.delete(f"{MINE}/{created['id']}"))[0] == 404
    assert (await bob_key.get(f"/api/v1/users/{ann.id}/api-keys"))[0] == 403
    admin = await with_key(running, await make_user("root", role="admin"))
    assert (await admin.get("/api/v1/users/999/api-keys"))[0] == 404
    assert (await admin.delete(f"/api/v1/users/{bob.id}/api-keys/{created['id']}"))[0] == 404


async def test_only_admins_revoke_an_admins_keys(running) -> None:
    root = await make_user("root", role="admin")
    await with_key(running, root)
    manager = await with_key(running, await make_user("mia", permissions=["manage_users"]))
    key_id = (await ApiKey.get(user_id=root.id)).id
    status, problem = await manager.delete(f"/api/v1/users/{root.id}/api-keys/{key_id}")
    assert status == 403 and "only admins" in problem["detail"]


async def test_creation_is_audited_without_the_key(running) -> None:
    ann = await make_user("ann")
    session, _ = await with_session(running, ann)
    _, created = await new_key(session, name="backup script")
    event = await AuditEvent.get(action="api_key.created")
    assert (event.actor, event.actor_user_id, event.target) == ("ann", ann.id, f"user:{ann.id}")
    assert event.details == {
        "key_id": created["id"],
        "name": "backup script",
        "permissions": ["search"],
        "expires_at": None,
    }
    assert created["key"].split("_", 2)[2] not in json.dumps(event.details)


async def test_keys_are_listed_newest_first_in_pages(running) -> None:
    session, _ = await with_session(running, await make_user("ann"))
    ids = [(await new_key(session, name=f"k{i}"))[1]["id"] for i in range(3)]
    status, first = await session.get(f"{MINE}?limit=2")
    assert status == 200 and first["total"] == 3
    assert [k["id"] for k in first["items"]] == ids[:0:-1]
    _, second = await session.get(f"{MINE}?limit=2&cursor={first['next_cursor']}")
    assert [k["id"] for k in second["items"]] == ids[:1] and second["next_cursor"] is None
    status, problem = await session.get(f"{MINE}?cursor=garbage")
    assert status == 400 and problem["errors"][0]["field"] == "cursor"
