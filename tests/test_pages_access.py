"""The permission matrix of the pages, like tests/test_permission_matrix.py for the API: every
page route, as an anonymous visitor, a person without the permission it declares, and one
with it, by bearer token and by browser cookies (with and without the CSRF token)."""

from __future__ import annotations

import re
from typing import Any

from medianest.core.web.guard import route_access

SETTINGS: dict[str, Any] = {
    "features": {"hello": True},
    "plugins": {"hello": {"accounts": {"ann": "pw-ann"}, "broken_pages": True}},
}
PLAUSIBLE = {
    "filename": "app.js",
    "session_id": "00000000-0000-4000-8000-000000000000",
    "key_id": "1",
    "request_id": "1",
    "user_id": "1",
    "digest": "0" * 16,
    "name": "swagger-ui.css",
    "notification_id": "1",
    "delivery_id": "1",
    "kind": "webhook",
}


def page_routes(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path with plausible values, declared access) of every page route."""
    names = {name for name, bp in app.blueprints.items() if getattr(bp, "medianest_pages", False)}
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] not in names:
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", lambda m: PLAUSIBLE.get(m.group(1), "x"), rule.rule)
        access = route_access(app.view_functions, rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path, access))
    return routes


async def test_every_page_route_is_found_and_declared(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        routes = page_routes(running.app)
        paths = {path for _m, path, _a in routes}
        assert {"/", "/sign-in", "/account", "/account/api-keys", "/plugins/hello/"} <= paths
        assert all(access is not None for _m, _p, access in routes)


async def test_no_page_is_in_the_api_description(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        document = await (await running.client.get("/api/v1/openapi.json")).get_json()
        pages = {path for _m, path, _a in page_routes(running.app)}
        assert pages and not pages & set(document["paths"])
        assert all(p.startswith(("/api/v1/", "/health/", "/metrics")) for p in document["paths"])


async def test_anonymous_visitors_get_only_public_pages(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        for method, path, access in page_routes(running.app):
            response = await running.client.open(path, method=method, form={})
            if access.kind == "public":
                assert response.status_code < 500, (method, path)
                continue
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["Location"].startswith("/sign-in"), (method, path)


async def test_each_page_refuses_people_without_its_permission(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        nobody = await running.sign_in(permissions=[])
        admin = await running.sign_in(role="admin")
        for method, path, access in page_routes(running.app):
            if access.kind != "permission":
                continue
            refused = await running.client.open(path, method=method, headers=nobody, form={})
            assert refused.status_code == 403, (method, path)
            assert access.permission in await refused.get_data(as_text=True)
            allowed = await running.client.open(path, method=method, headers=admin, form={})
            # allowed in: what remains is the form itself (an empty one is bad input)
            assert allowed.status_code in (200, 303, 400, 404, 422), (method, path)


async def test_signed_in_pages_open_for_anyone_signed_in(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        nobody = await running.sign_in(permissions=[])
        for method, path, access in page_routes(running.app):
            if access.kind != "signed_in" or method != "GET":
                continue
            response = await running.client.get(path, headers=nobody)
            expected = 500 if path.endswith("/broken") else 200
            if "<" in path or "assets" in path:
                expected = 404  # plausible values name nothing
            assert response.status_code == expected, (path, response.status_code)


async def test_cookie_forms_need_the_csrf_token(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        from medianest.core.db.models import User

        with running.hub.database.activate():
            user = await User.create(username="cookie-person", role="admin")
            issued = await running.hub.sessions.start(user, ip="127.0.0.1", user_agent="t")
        client = running.client
        client.set_cookie("localhost", "medianest_access", issued.access_token)
        client.set_cookie("localhost", "medianest_csrf", issued.csrf_token)
        posts = [(p, a) for m, p, a in page_routes(running.app) if m == "POST"]
        assert posts
        for path, access in posts:
            if access.kind == "public":
                continue
            forged = await client.post(path, form={"name": "x"})
            assert forged.status_code == 403, path
            assert "X-CSRF-Token" in await forged.get_data(as_text=True)
            wrong = await client.post(path, form={"csrf_token": "not-the-token", "name": "x"})
            assert wrong.status_code == 403, path
        made = await client.post(
            "/account/api-keys",
            form={"csrf_token": issued.csrf_token, "name": "a script", "permissions": "search"},
        )
        assert made.status_code == 200 and "mnk_" in await made.get_data(as_text=True)
        assert made.headers["Cache-Control"] == "no-store"
        out = await client.post("/sign-out", form={"csrf_token": issued.csrf_token})
        assert out.status_code == 303
        with running.hub.database.activate():
            assert not await running.hub.sessions.active_sessions(user.id)


async def test_no_page_shows_another_person_s_sessions_or_keys(medianest_hub) -> None:
    async with medianest_hub.run(autoload=True, **SETTINGS) as running:
        from medianest.core.auth import api_keys
        from medianest.core.db.models import User

        with running.hub.database.activate():
            other = await User.create(username="other-person", role="admin")
            theirs = await running.hub.sessions.start(other, ip="10.9.8.7", user_agent="Theirs/1")
            await api_keys.issue(other, name="their-secret-tool", permissions=["search"])
        me = await running.sign_in(role="admin")
        sessions = await (await running.client.get("/account/sessions", headers=me)).get_data(
            as_text=True
        )
        assert "10.9.8.7" not in sessions and theirs.session.id not in sessions
        keys = await (await running.client.get("/account/api-keys", headers=me)).get_data(
            as_text=True
        )
        assert "their-secret-tool" not in keys
        ended = await running.client.post(f"/account/sessions/{theirs.session.id}/end", headers=me)
        assert ended.status_code == 404
        with running.hub.database.activate():
            assert await running.hub.sessions.active_sessions(other.id)
