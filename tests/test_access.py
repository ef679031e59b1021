"""Every route declares who may call it: checked at boot, enforced on each request, described in
the OpenAPI document."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from quart import Blueprint, websocket
from quart.testing import WebsocketResponseError

from medianest.config import load_settings
from medianest.core.app import create_app
from medianest.core.auth import api_keys
from medianest.core.db.models import User
from medianest.core.web.guard import check_declared
from medianest.sdk import (
    ConfigurationError,
    Permission,
    PluginError,
    current_principal,
    hookimpl,
    public,
    requires,
    signed_in,
)
from medianest.sdk.access import Access, access_of
from tests.auth_testing import bearer

PROBLEM = "application/problem+json"


class SloppyPlugin:
    """A plugin whose blueprint forgets to declare the access of one route."""

    @hookimpl
    def register_blueprints(self) -> list[Blueprint]:
        blueprint = Blueprint("sloppy", __name__)

        @blueprint.get("/fine")
        @public
        async def fine() -> dict:
            return {}

        @blueprint.post("/things")
        async def things() -> dict:
            return {}

        return [blueprint]


class WhoAmIPlugin:
    """Routes that say who is calling, one per kind of access."""

    @hookimpl
    def register_blueprints(self) -> list[Blueprint]:
        blueprint = Blueprint("whoami", __name__)

        def who() -> dict:
            principal = current_principal()
            return {"user": principal.username if principal else None}

        @blueprint.get("/anyone")
        @public
        async def anyone() -> dict:
            return who()

        @blueprint.post("/anyone")
        @public
        async def anyone_post() -> dict:
            return who()

        @blueprint.get("/member")
        @signed_in
        async def member() -> dict:
            return who()

        @blueprint.get("/self")
        @signed_in(api_keys=True)
        async def myself() -> dict:
            return who()

        @blueprint.get("/syncer")
        @requires(Permission.RUN_SYNCS)
        async def syncer() -> dict:
            return who()

        @blueprint.websocket("/feed")
        @signed_in
        async def feed() -> None:
            await websocket.send(who()["user"])

        return [blueprint]


def test_a_plugin_route_without_declared_access_stops_the_boot(tmp_path) -> None:
    with pytest.raises(PluginError) as raised:
        create_app(
            load_settings(data_dir=tmp_path), plugins={"sloppy": SloppyPlugin()}, autoload=False
        )
    message = str(raised.value)
    assert raised.value.plugin == "sloppy"
    assert "plugin sloppy: POST /api/v1/plugins/sloppy/things" in message
    assert "/fine" not in message
    assert "public, signed_in or requires" in message


def test_a_core_route_without_declared_access_is_named(tmp_path) -> None:
    app = create_app(load_settings(data_dir=tmp_path), autoload=False)

    @app.get("/late")
    async def late() -> dict:
        return {}

    with pytest.raises(ConfigurationError, match=r"core: GET /late") as raised:
        check_declared(app, {})
    assert not isinstance(raised.value, PluginError)


async def test_an_undeclared_route_added_late_is_refused_not_served(medianest_hub) -> None:
    async with medianest_hub.run() as running:

        @running.app.get("/late")
        async def late() -> dict:
            return {"secret": "data"}

        response = await running.client.get("/late")
        assert response.status_code == 500
        assert "secret" not in str(await response.get_json())


@pytest.fixture
async def running(medianest_hub, mode):
    async with medianest_hub.run({"whoami": WhoAmIPlugin()}, **mode) as hub:
        yield hub


async def test_anonymous_callers_get_a_401_problem(running) -> None:
    response = await running.client.get("/api/v1/plugins/whoami/member")
    assert response.status_code == 401 and response.content_type == PROBLEM
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = await response.get_json()
    assert body["detail"] == "authentication required or invalid"


async def test_a_missing_permission_is_a_403_naming_it(running) -> None:
    user = await running.sign_in(permissions=[Permission.SEARCH])
    response = await running.client.get("/api/v1/plugins/whoami/syncer", headers=user)
    body = await response.get_json()
    assert response.status_code == 403 and response.content_type == PROBLEM
    assert body["code"] == "permission_denied" and body["permission"] == "run_syncs"
    assert "run_syncs" in body["detail"]
    syncer = await running.sign_in(permissions=[Permission.RUN_SYNCS])
    allowed = await running.client.get("/api/v1/plugins/whoami/syncer", headers=syncer)
    assert allowed.status_code == 200


async def test_an_api_key_calls_only_routes_of_its_permissions_and_those_open_to_keys(
    running,
) -> None:
    await running.sign_in(role="admin", username="root")
    with running.hub.database.activate():
        owner = await User.get(username="root")
        issued = await api_keys.issue(owner, name="syncing", permissions=["run_syncs"])
    answers = {}
    for path in ("anyone", "self", "syncer", "member"):
        response = await running.client.get(
            f"/api/v1/plugins/whoami/{path}", headers=bearer(issued.key)
        )
        answers[path] = (response.status_code, await response.get_json())
    assert answers["anyone"] == answers["self"] == answers["syncer"] == (200, {"user": "root"})
    status, problem = answers["member"]
    assert (status, problem["code"]) == (403, "api_key_not_allowed")
    assert "permission" not in problem, "no permission would let a key in"
    session = await running.sign_in(permissions=[])
    member = await running.client.get("/api/v1/plugins/whoami/member", headers=session)
    assert member.status_code == 200


def test_signed_in_says_whether_api_keys_may_call_the_route() -> None:
    async def view() -> None: ...

    assert access_of(signed_in(view)) == Access("signed_in", api_keys=False)

    async def other() -> None: ...

    assert access_of(signed_in(api_keys=True)(other)) == Access("signed_in", api_keys=True)
    assert Access("signed_in", api_keys=False).describe() == "signed in, no API keys"


async def test_views_see_the_principal(running) -> None:
    admin = await running.sign_in(role="admin", username="root")
    for path in ("member", "syncer", "anyone"):
        response = await running.client.get(f"/api/v1/plugins/whoami/{path}", headers=admin)
        assert await response.get_json() == {"user": "root"}, path


async def test_public_routes_ignore_bad_credentials(running) -> None:
    anyone = "/api/v1/plugins/whoami/anyone"
    for headers in (bearer("garbage"), {"Authorization": "Basic eA=="}, bearer("mnk_x_y")):
        response = await running.client.get(anyone, headers=headers)
        assert (response.status_code, await response.get_json()) == (200, {"user": None})
    live = await running.client.get("/health/live", headers=bearer("expired-or-whatever"))
    assert live.status_code == 200


async def test_preflight_requests_are_not_refused(running) -> None:
    response = await running.client.options("/api/v1/plugins/whoami/syncer")
    assert response.status_code == 200
    assert "GET" in response.headers["Allow"]


async def test_core_routes_declare_what_the_hub_needs(running) -> None:
    client = running.client
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/health/ready")).status_code == 200
    assert (await client.get("/api/v1/openapi.json")).status_code == 200
    assert (await client.get("/sign-in")).status_code == 200
    assert (await client.get("/api/v1/auth/providers")).status_code == 200
    for path in ("/metrics", "/api/v1/plugins", "/api/v1/flags"):
        assert (await client.get(path)).status_code == 401, path
    user = await running.sign_in()
    for path, permission in (
        ("/metrics", "view_metrics"),
        ("/api/v1/plugins", "manage_settings"),
        ("/api/v1/flags", "manage_settings"),
    ):
        response = await client.get(path, headers=user)
        assert (await response.get_json())["permission"] == permission, path


async def test_a_monitoring_key_with_only_view_metrics_scrapes_metrics(running) -> None:
    await running.sign_in(role="admin", username="owner")
    with running.hub.database.activate():
        owner = await User.get(username="owner")
        issued = await api_keys.issue(owner, name="prometheus", permissions=["view_metrics"])
    scrape = await running.client.get("/metrics", headers=bearer(issued.key))
    assert scrape.status_code == 200
    assert "medianest_http_request_duration_seconds" in await scrape.get_data(as_text=True)
    other = await running.client.get("/api/v1/flags", headers=bearer(issued.key))
    assert other.status_code == 403, "a key holds only its scopes, even an admin's"


async def test_the_openapi_document_describes_access(medianest_hub) -> None:
    async with medianest_hub.run(
        {"whoami": WhoAmIPlugin()}, autoload=True, features={"hello": True}
    ) as running:
        document = await (await running.client.get("/api/v1/openapi.json")).get_json()
    validate(document)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert (schemes["cookie"]["in"], schemes["cookie"]["name"]) == ("cookie", "medianest_access")
    paths = document["paths"]
    metrics = paths["/metrics"]["get"]
    assert metrics["x-medianest-access"] == {
        "kind": "permission",
        "permission": "view_metrics",
        "api_keys": True,
        "description": "permission: view_metrics",
    }
    assert metrics["security"] == [{"bearer": []}, {"cookie": []}]
    assert {"401", "403"} <= set(metrics["responses"])
    live = paths["/health/live"]["get"]
    assert live["x-medianest-access"]["kind"] == "public" and live["security"] == []
    assert "401" not in live["responses"]
    greet = paths["/api/v1/plugins/hello/greetings"]["post"]
    assert greet["x-medianest-access"] == {
        "kind": "signed_in",
        "permission": None,
        "api_keys": False,
        "description": "signed in, no API keys",
    }
    assert paths["/api/v1/me"]["get"]["x-medianest-access"]["api_keys"] is True
    assert paths["/api/v1/me/sessions"]["get"]["x-medianest-access"]["api_keys"] is False
    assert paths["/api/v1/plugins/plex/webhook/{secret}"]["post"]["x-medianest-access"] == {
        "kind": "public",
        "permission": None,
        "api_keys": True,
        "description": "public",
    }
    overseerr = paths["/api/v1/plugins/overseerr/webhook/{instance}"]["post"]
    assert overseerr["x-medianest-access"]["kind"] == "public"
    assert {"200", "202", "400", "401", "404"} <= set(overseerr["responses"])
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "x-medianest-access" in operation, f"{method.upper()} {path}"


async def test_public_unsafe_routes_take_no_ambient_authority(running) -> None:
    with running.hub.database.activate():
        user = await User.create(username="cookie-user")
        issued = await running.hub.sessions.start(user, ip=None, user_agent=None)
    browser = running.app.test_client()
    browser.set_cookie("localhost", "medianest_access", issued.access_token)
    browser.set_cookie("localhost", "medianest_csrf", issued.csrf_token)
    path = "/api/v1/plugins/whoami/anyone"
    assert await (await browser.get(path)).get_json() == {"user": "cookie-user"}
    assert await (await browser.post(path)).get_json() == {"user": None}
    with_header = await browser.post(path, headers={"X-CSRF-Token": issued.csrf_token})
    assert await with_header.get_json() == {"user": "cookie-user"}


async def open_feed(client, **headers: str) -> str | int:
    """What the feed WebSocket sends, or the status it was refused with."""
    try:
        async with client.websocket("/api/v1/plugins/whoami/feed", headers=headers) as socket:
            return await socket.receive()
    except WebsocketResponseError as refused:
        return refused.response.status_code


async def test_websockets_are_guarded_like_requests(running) -> None:
    client = running.app.test_client(use_cookies=False)
    assert await open_feed(client) == 401
    user = await running.sign_in(username="socket-user")
    assert await open_feed(client, **user) == "socket-user"


async def test_a_cookie_websocket_must_come_from_the_hubs_own_pages(running) -> None:
    with running.hub.database.activate():
        user = await User.create(username="cookie-socket")
        issued = await running.hub.sessions.start(user, ip=None, user_agent=None)
    browser = running.app.test_client()
    browser.set_cookie("localhost", "medianest_access", issued.access_token)
    assert await open_feed(browser) == 403
    assert await open_feed(browser, Origin="https://evil.example") == 403
    assert await open_feed(browser, Origin="http://localhost") == "cookie-socket"
