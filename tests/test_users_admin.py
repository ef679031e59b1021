"""Managing users: search and paging, roles and permissions, deactivation, the last admin.

Each test runs on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from openapi_spec_validator import validate

from medianest.core.db.models import ApiKey, AuditEvent, ExternalIdentity, Session, User
from medianest.core.web.users_api import LAST_ADMIN
from medianest.sdk.access import Permission
from tests.admin_testing import Caller, admin_hub, make_user, with_key, with_session

USERS = "/api/v1/users"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with admin_hub(medianest_hub, mode) as hub:
        yield hub


@pytest.fixture
async def root(running) -> User:
    return await make_user("root", role="admin")


@pytest.fixture
async def admin(running, root) -> Caller:
    return await with_key(running, root)


async def test_users_are_searched_filtered_and_paged_with_a_total(running, root, admin) -> None:
    ann = await make_user("ann", email="ann@example.org")
    bob = await make_user("bob", email="bob@mail.example")
    carl = await make_user("carl", active=False)
    status, page = await admin.get(f"{USERS}?limit=2")
    assert status == 200 and page["total"] == 4
    assert [u["username"] for u in page["items"]] == ["root", "ann"]
    _, rest = await admin.get(f"{USERS}?limit=2&cursor={page['next_cursor']}")
    assert [u["id"] for u in rest["items"]] == [bob.id, carl.id] and rest["total"] == 4
    assert rest["next_cursor"] is None

    async def usernames(query: str) -> list[str]:
        status, body = await admin.get(f"{USERS}?{query}")
        assert status == 200, body
        assert body["total"] == len(body["items"])
        return [u["username"] for u in body["items"]]

    assert await usernames("q=AN") == ["ann"]
    assert await usernames("q=example") == ["ann", "bob"]
    assert await usernames("q=%25") == []
    assert await usernames("role=admin") == ["root"]
    assert await usernames("active=false") == ["carl"]
    assert await usernames("active=true&role=user") == ["ann", "bob"]
    assert ann.id < bob.id


async def test_one_user_shows_what_they_may_do_and_how_they_sign_in(running, root, admin) -> None:
    await ExternalIdentity.create(user=root, provider="plex", external_id="1")
    status, body = await admin.get(f"{USERS}/{root.id}")
    assert status == 200
    assert body["effective_permissions"] == sorted(str(p) for p in Permission)
    assert body["sign_in_methods"] == ["plex"] and body["role"] == "admin"
    assert (await admin.get(f"{USERS}/999"))[0] == 404


async def test_roles_and_permissions_change_and_are_audited(running, admin) -> None:
    ann = await make_user("ann")
    status, body = await admin.patch(f"{USERS}/{ann.id}", {"role": "admin"})
    assert status == 200 and body["role"] == "admin"
    status, body = await admin.patch(
        f"{USERS}/{ann.id}", {"role": "user", "permissions": ["search", "view_audit", "search"]}
    )
    assert status == 200
    assert body["permissions"] == ["search", "view_audit"]
    assert body["effective_permissions"] == ["search", "view_audit"]
    changed = await AuditEvent.filter(action="user.role_changed").order_by("id")
    assert [(e.details["before"], e.details["after"]) for e in changed] == [
        ("user", "admin"),
        ("admin", "user"),
    ]
    assert changed[0].actor == "root" and changed[0].target == f"user:{ann.id}"
    permissions = await AuditEvent.get(action="user.permissions_changed")
    assert permissions.details == {
        "username": "ann",
        "before": ["request", "search"],
        "after": ["search", "view_audit"],
        "added": ["view_audit"],
        "removed": ["request"],
    }


async def test_a_change_applies_to_the_next_request(running, admin) -> None:
    ann = await make_user("ann")
    session, _ = await with_session(running, ann)
    assert (await session.get("/api/v1/audit"))[0] == 403
    await admin.patch(f"{USERS}/{ann.id}", {"permissions": ["view_audit"]})
    assert (await session.get("/api/v1/audit"))[0] == 200


async def test_unknown_permissions_are_refused_naming_them(running, admin) -> None:
    ann = await make_user("ann")
    status, problem = await admin.patch(f"{USERS}/{ann.id}", {"permissions": ["search", "fly"]})
    assert status == 400 and "unknown permissions: fly" in problem["detail"]
    assert problem["errors"][0]["field"] == "permissions"
    assert (await User.get(id=ann.id)).permissions == ["request", "search"]


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"role": "owner"}, 422), ({"is_active": "nope"}, 422), ({"name": "x"}, 422)],
)
async def test_malformed_changes_are_refused(running, admin, body, status) -> None:
    ann = await make_user("ann")
    assert (await admin.patch(f"{USERS}/{ann.id}", body))[0] == status


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": False}])
async def test_the_last_admin_cannot_step_down(running, root, admin, change) -> None:
    await make_user("former", role="admin", active=False)
    status, problem = await admin.patch(f"{USERS}/{root.id}", change)
    assert status == 409 and problem["detail"] == LAST_ADMIN
    assert (await User.get(id=root.id)).role == "admin"


async def test_an_admin_steps_down_when_another_remains(running, root, admin) -> None:
    await make_user("second", role="admin")
    status, body = await admin.patch(f"{USERS}/{root.id}", {"role": "user"})
    assert status == 200 and body["role"] == "user"


async def test_two_admins_cannot_demote_each_other_at_once(running, root, admin) -> None:
    second = await make_user("second", role="admin")
    other = await with_key(running, second)
    results = await asyncio.gather(
        admin.patch(f"{USERS}/{second.id}", {"role": "user"}),
        other.patch(f"{USERS}/{root.id}", {"role": "user"}),
    )
    assert sorted(status for status, _ in results) in ([200, 403], [200, 409])
    assert await User.filter(role="admin", is_active=True).count() == 1


async def test_deactivation_ends_sessions_and_keys_for_good(running, admin) -> None:
    ann = await make_user("ann")
    session, session_id = await with_session(running, ann)
    key = await with_key(running, ann)
    assert (await session.get("/api/v1/me/api-keys"))[0] == 200
    assert (await key.get("/api/v1/me"))[0] == 200
    status, body = await admin.patch(f"{USERS}/{ann.id}", {"is_active": False})
    assert status == 200 and body["is_active"] is False
    assert (await session.get("/api/v1/me/api-keys"))[0] == 401
    assert (await key.get("/api/v1/me"))[0] == 401
    assert (await Session.get(id=session_id)).revoked_at is not None
    assert await ApiKey.filter(user_id=ann.id, revoked_at__isnull=True).count() == 0
    event = await AuditEvent.get(action="user.deactivated")
    assert event.details == {"username": "ann", "sessions_revoked": 1, "api_keys_revoked": 1}
    revoked = await AuditEvent.get(action="api_key.revoked")
    assert (revoked.target, revoked.details["reason"]) == (f"user:{ann.id}", "user_deactivated")

    await admin.patch(f"{USERS}/{ann.id}", {"is_active": True})
    assert (await key.get("/api/v1/me"))[0] == 401, "reactivation restores no old key"
    assert (await session.get("/api/v1/me/api-keys"))[0] == 401, "sessions stay ended"
    assert await AuditEvent.filter(action="user.reactivated").count() == 1
    fresh = await with_key(running, await User.get(id=ann.id))
    assert (await fresh.get("/api/v1/me"))[0] == 200, "the account itself works again"


async def test_managers_who_are_not_admins_cannot_escalate(running, root) -> None:
    mia = await make_user("mia", permissions=["search", "manage_users"])
    manager = await with_key(running, mia)
    ann = await make_user("ann")
    status, problem = await manager.patch(f"{USERS}/{mia.id}", {"role": "admin"})
    assert status == 403 and "only admins can change roles" in problem["detail"]
    status, problem = await manager.patch(f"{USERS}/{root.id}", {"is_active": False})
    assert status == 403 and "an admin's account" in problem["detail"]
    status, problem = await manager.patch(f"{USERS}/{ann.id}", {"permissions": ["view_audit"]})
    assert status == 403 and problem["permission"] == "view_audit"
    status, body = await manager.patch(f"{USERS}/{ann.id}", {"permissions": ["manage_users"]})
    assert status == 200 and body["permissions"] == ["manage_users"]


async def test_users_without_the_permission_are_refused(running, root) -> None:
    assert (await running.client.get(USERS)).status_code == 401
    plain = await with_key(running, await make_user("ann"))
    status, problem = await plain.get(USERS)
    assert status == 403 and problem["permission"] == "manage_users"
    status, _ = await plain.patch(f"{USERS}/{root.id}", {"role": "user"})
    assert status == 403


async def test_the_openapi_document_describes_the_admin_endpoints(running) -> None:
    document = await (await running.client.get("/api/v1/openapi.json")).get_json()
    validate(document)
    paths = document["paths"]
    for path, method, permission in [
        (USERS, "get", "manage_users"),
        (f"{USERS}/{{user_id}}", "patch", "manage_users"),
        ("/api/v1/me/api-keys", "post", None),
        (f"{USERS}/{{user_id}}/api-keys/{{key_id}}", "delete", "manage_users"),
        ("/api/v1/audit", "get", "view_audit"),
        ("/api/v1/flags/{key}", "put", "manage_settings"),
    ]:
        assert paths[path][method]["x-medianest-access"]["permission"] == permission
    assert {"limit", "cursor", "q", "role", "active"} <= {
        p["name"] for p in paths[USERS]["get"]["parameters"]
    }
    patch = paths[f"{USERS}/{{user_id}}"]["patch"]
    assert patch["requestBody"]["required"] is True and "200" in patch["responses"]
