"""The sign-in API and page, with the hello plugin's password sign-in and a scripted
interactive sign-in method, in both runtime modes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Literal

import pytest

from medianest.core.db.models import AuditEvent, ExternalIdentity, Session, User
from medianest.core.web import signin
from medianest.sdk import (
    AuthChallenge,
    AuthenticationError,
    Identity,
    UpstreamError,
    hookimpl,
    utcnow,
)

PROBLEM = "application/problem+json"
KEY = "signin-test-secret-key-0123456789abcdef"
BASE = "/api/v1/auth/providers"
ACCOUNTS = {"hello": {"accounts": {"ann": "pw-ann", "bob": "pw-bob"}}}


class ScriptedSignIn:
    """An interactive sign-in method whose outcome each test decides."""

    id = "door"
    name = "Door <b>&</b> Key"
    flow: Literal["interactive"] = "interactive"

    def __init__(self) -> None:
        self.forward_urls: list[str | None] = []
        self.pending_polls = 1
        self.outcome: Identity | BaseException = Identity(
            provider="door",
            external_id="42",
            username="olga",
            display_name="Olga",
            is_admin=True,
            credentials={"door_token": "door-secret-token"},
        )
        self.delay = 0.0

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        self.forward_urls.append(forward_url)
        await asyncio.sleep(self.delay)
        return AuthChallenge(
            url=f"https://door.example/approve#?forward={forward_url}",
            handle="handle-0123456789",
            expires_at=utcnow() + timedelta(minutes=5),
            poll_interval_seconds=0.5,
            code="ABCD",
        )

    async def poll(self, handle: str) -> Identity | None:
        if handle != "handle-0123456789":
            raise AuthenticationError("this sign-in is not valid; start again")
        if self.pending_polls > 0:
            self.pending_polls -= 1
            return None
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        raise AuthenticationError("use the door")


class DoorPlugin:
    """A plugin offering :class:`ScriptedSignIn` (key ``door``)."""

    def __init__(self) -> None:
        self.provider = ScriptedSignIn()

    @hookimpl
    def register_auth_providers(self) -> list[ScriptedSignIn]:
        return [self.provider]


@pytest.fixture
def door() -> DoorPlugin:
    return DoorPlugin()


@pytest.fixture
async def running(medianest_hub, mode, door) -> AsyncIterator:
    async with medianest_hub.run(
        {"door": door},
        autoload=True,
        features={"hello": True},
        plugins=ACCOUNTS,
        **mode | {"secret_key": KEY},
    ) as hub:
        yield hub


async def post(client, path: str, body: dict):
    response = await client.post(f"{BASE}/{path}", json=body)
    return response, await response.get_json()


async def test_providers_are_listed_with_their_flow(running) -> None:
    response = await running.client.get(BASE)
    body = await response.get_json()
    assert response.status_code == 200
    by_id = {p["id"]: p for p in body["items"]}
    assert by_id["hello"] == {"id": "hello", "name": "Hello accounts", "flow": "credentials"}
    assert by_id["door"]["flow"] == "interactive"
    assert body["total"] == len(body["items"])
    assert response.headers["Cache-Control"] == "no-store"


async def test_credentials_sign_in_answers_the_user(running) -> None:
    response, body = await post(
        running.client, "hello/sign-in", {"credentials": {"username": "ann", "password": "pw-ann"}}
    )
    assert response.status_code == 200, body
    assert body["status"] == "signed_in" and body["provider"] == "hello"
    user = body["user"]
    assert (user["username"], user["role"]) == ("ann", "user")
    assert set(user) >= {"id", "display_name", "email", "created_at", "last_sign_in_at"}
    with running.hub.database.activate():
        assert await User.filter(id=user["id"]).exists()


async def test_wrong_password_is_refused_with_the_reason(running) -> None:
    response, body = await post(
        running.client, "hello/sign-in", {"credentials": {"username": "ann", "password": "no"}}
    )
    assert response.status_code == 403 and response.content_type == PROBLEM
    assert body["code"] == "sign_in_refused"
    assert body["detail"] == "wrong username or password"


async def test_interactive_sign_in_is_pending_then_signed_in(running, door) -> None:
    response, challenge = await post(running.client, "door/start", {"forward_url": "/sign-in"})
    assert response.status_code == 200, challenge
    assert challenge["handle"] == "handle-0123456789" and challenge["code"] == "ABCD"
    assert challenge["poll_interval_seconds"] == 0.5 and challenge["expires_at"]
    assert door.provider.forward_urls == ["http://localhost/sign-in"]

    response, body = await post(running.client, "door/poll", {"handle": challenge["handle"]})
    assert (response.status_code, body) == (202, {"status": "pending"})
    response, body = await post(running.client, "door/poll", {"handle": challenge["handle"]})
    assert response.status_code == 200, body
    assert body["user"]["username"] == "olga" and body["user"]["role"] == "admin"
    with running.hub.database.activate():
        link = await ExternalIdentity.get(provider="door", external_id="42")
    assert "door-secret-token" not in (link.credentials_encrypted or "")


async def test_a_refusal_is_403_saying_why(running, door) -> None:
    door.provider.pending_polls = 0
    door.provider.outcome = AuthenticationError(
        "your account has no access to this hub's servers", plugin="door"
    )
    response, body = await post(running.client, "door/poll", {"handle": "handle-0123456789"})
    assert response.status_code == 403
    assert body["detail"] == "your account has no access to this hub's servers"


async def test_a_deactivated_user_is_refused(running) -> None:
    credentials = {"credentials": {"username": "bob", "password": "pw-bob"}}
    response, body = await post(running.client, "hello/sign-in", credentials)
    with running.hub.database.activate():
        await User.filter(id=body["user"]["id"]).update(is_active=False)
    response, body = await post(running.client, "hello/sign-in", credentials)
    assert response.status_code == 403 and "deactivated" in body["detail"]


async def test_upstream_trouble_is_502_naming_the_source(running, door) -> None:
    door.provider.pending_polls = 0
    door.provider.outcome = UpstreamError("door.example failed with HTTP 503", source="door")
    response, body = await post(running.client, "door/poll", {"handle": "handle-0123456789"})
    assert response.status_code == 502 and body["source"] == "door"


async def test_a_provider_that_hangs_is_504(running, door, monkeypatch) -> None:
    monkeypatch.setattr(signin, "PROVIDER_TIMEOUT_SECONDS", 0.05)
    door.provider.delay = 5
    response, body = await post(running.client, "door/start", {})
    assert response.status_code == 504 and body["source"] == "door"
    assert "did not answer" in body["detail"]


async def test_an_unknown_provider_is_404_naming_the_known_ones(running) -> None:
    response, body = await post(running.client, "nope/start", {})
    assert response.status_code == 404
    assert "'nope'" in body["detail"] and "door" in body["detail"] and "hello" in body["detail"]


@pytest.mark.parametrize(
    ("path", "body", "hint"),
    [
        ("hello/start", {}, "/api/v1/auth/providers/hello/sign-in"),
        ("hello/poll", {"handle": "x"}, "/api/v1/auth/providers/hello/sign-in"),
        ("door/sign-in", {"credentials": {}}, "/api/v1/auth/providers/door/start"),
    ],
)
async def test_the_wrong_flow_is_400_saying_which_to_use(running, path, body, hint) -> None:
    response, problem = await post(running.client, path, body)
    assert response.status_code == 400 and hint in problem["detail"]


@pytest.mark.parametrize(
    "forward_url",
    [
        "https://evil.example/sign-in",
        "//evil.example/sign-in",
        "/\\evil.example",
        "http://localhost@evil.example/",
        "javascript:alert(1)",
        "http://localhost:8081/sign-in",
        "https://localhost/sign-in",
        "http://localhost:99999/",
    ],
)
async def test_forward_urls_of_other_origins_are_refused(running, door, forward_url) -> None:
    response, body = await post(running.client, "door/start", {"forward_url": forward_url})
    assert response.status_code == 400, body
    assert body["errors"][0]["field"] == "forward_url"
    assert door.provider.forward_urls == []


async def test_forward_urls_of_the_hub_are_accepted(running, door) -> None:
    for given in ("http://localhost/sign-in?x=1", "http://LOCALHOST:80/a", "/b"):
        response, _ = await post(running.client, "door/start", {"forward_url": given})
        assert response.status_code == 200
    assert door.provider.forward_urls == [
        "http://localhost/sign-in?x=1",
        "http://LOCALHOST:80/a",
        "http://localhost/b",
    ]


async def test_the_public_url_defines_the_hub_origin(medianest_hub, door) -> None:
    async with medianest_hub.run(
        {"door": door}, secret_key=KEY, server={"public_url": "https://media.example.org"}
    ) as hub:
        ok, _ = await post(hub.client, "door/start", {"forward_url": "/sign-in"})
        refused, _ = await post(hub.client, "door/start", {"forward_url": "http://localhost/"})
    assert ok.status_code == 200 and refused.status_code == 400
    assert door.provider.forward_urls == ["https://media.example.org/sign-in"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("hello/sign-in", {}),
        ("hello/sign-in", {"credentials": {"username": 1}}),
        ("hello/sign-in", {"credentials": {}, "extra": True}),
        ("door/poll", {"handle": ""}),
        ("door/start", {"forward_url": "/" + "a" * 3000}),
    ],
)
async def test_malformed_bodies_are_422(running, path, body) -> None:
    response, problem = await post(running.client, path, body)
    assert response.status_code == 422, problem
    assert problem["code"] == "validation_failed"


async def test_a_scaled_hub_without_a_secret_key_refuses_to_start(
    medianest_hub, migrated_postgres_url, redis_url, door
) -> None:
    with pytest.raises(Exception, match=r"secret_key \[MEDIANEST_SECRET_KEY\] must be set"):
        async with medianest_hub.run(
            {"door": door}, database_url=migrated_postgres_url, redis_url=redis_url
        ):
            pass
    assert door.provider.forward_urls == []


async def test_the_openapi_document_describes_sign_in(running) -> None:
    document = await (await running.client.get("/api/v1/openapi.json")).get_json()
    paths = document["paths"]
    assert set(paths[BASE]) == {"get"}
    poll = paths[f"{BASE}/{{provider_id}}/poll"]["post"]
    assert {"200", "202", "default"} <= set(poll["responses"])
    assert poll["requestBody"]["required"] is True
    for action in ("start", "sign-in"):
        assert "requestBody" in paths[f"{BASE}/{{provider_id}}/{action}"]["post"]


async def test_home_leads_to_the_sign_in_page(running) -> None:
    response = await running.client.get("/")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"


async def test_the_sign_in_page_lists_methods_with_escaped_names(running) -> None:
    response = await running.client.get("/sign-in")
    page = await response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Door &lt;b&gt;&amp;&lt;/b&gt; Key" in page and "<b>&</b>" not in page
    assert 'data-provider="door"' in page and 'data-provider="hello"' in page
    module = r'<script type="module" src="/assets/signin\.[0-9a-f]{12}\.js"></script>'
    assert re.search(module, page)
    assert "<script>" not in page, "no inline script: the CSP forbids it"


async def test_the_page_assets_are_served(running) -> None:
    script = await running.client.get("/assets/signin.js")
    assert script.status_code == 200 and "javascript" in script.mimetype
    text = await script.get_data(as_text=True)
    assert "innerHTML" not in text and "/api/v1/auth/providers/" in text
    style = await running.client.get("/assets/app.css")
    assert style.status_code == 200 and style.mimetype == "text/css"
    for outside in ("/assets/../pages.py", "/assets/%2e%2e/pages.py", "/assets/nothing.js"):
        assert (await running.client.get(outside)).status_code == 404


async def test_pages_stay_out_of_the_openapi_document(running) -> None:
    document = await (await running.client.get("/api/v1/openapi.json")).get_json()
    assert not {"/", "/sign-in", "/assets/{filename}"} & set(document["paths"])


async def test_an_interactive_sign_in_completes_once(running, door) -> None:
    door.provider.pending_polls = 0
    first, body = await post(running.client, "door/poll", {"handle": "handle-0123456789"})
    assert first.status_code == 200 and body["access_token"] and body["refresh_token"]
    again, problem = await post(running.client, "door/poll", {"handle": "handle-0123456789"})
    assert again.status_code == 403 and problem["code"] == "sign_in_refused"
    assert problem["detail"] == "this sign-in was already completed; start again"
    with running.hub.database.activate():
        assert await Session.filter(user_id=body["user"]["id"]).count() == 1


async def test_sign_ins_and_refusals_are_audited(running) -> None:
    ok, body = await post(
        running.client, "hello/sign-in", {"credentials": {"username": "ann", "password": "pw-ann"}}
    )
    refused, _ = await post(
        running.client, "hello/sign-in", {"credentials": {"username": "bob", "password": "guess"}}
    )
    assert (ok.status_code, refused.status_code) == (200, 403)
    with running.hub.database.activate():
        events = await AuditEvent.all().order_by("id")
    succeeded, failed = events[-2:]
    assert (succeeded.action, succeeded.actor, succeeded.outcome) == (
        "sign_in.succeeded",
        "ann",
        "success",
    )
    assert succeeded.target == f"session:{body['session_id']}"
    assert (failed.action, failed.actor, failed.outcome) == ("sign_in.failed", "bob", "failure")
    assert failed.details == {"provider": "hello", "reason": "wrong username or password"}
    assert "guess" not in str([e.details for e in events])
