"""The permission matrix: every operation in the served OpenAPI document, called as anonymous,
as a user without permissions, as a user holding exactly the declared permission, as an
admin, and with API keys (one holding an unrelated permission, one holding exactly the
declared one), in both runtime modes, is refused or let through as its ``x-medianest-access``
says.

Operations are collected from the document of an app built like the served one, so a route
added anywhere (core, another endpoint module, a bundled or test plugin) is walked without
touching this file; :func:`test_the_walk_covers_the_served_document` proves the two agree.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from medianest.config import load_settings
from medianest.core.app import create_app
from medianest.core.auth import api_keys
from medianest.core.db.models import User

SETTINGS: dict[str, Any] = {
    "features": {"hello": True},
    "plugins": {
        "hello": {"accounts": {"ann": "pw-ann"}},
        "plex": {"webhook_secret": "matrix-webhook-secret-0123"},
    },
}
PLAUSIBLE: dict[str, str] = {
    "provider_id": "hello",
    "secret": "not-the-webhook-secret",
    "session_id": "00000000-0000-4000-8000-000000000000",
    "key": "hello.greetings",
    "filename": "signin.js",
}
"""Path and query parameter values by name; others get one by schema type."""
REFUSALS = {"permission_denied", "csrf_failed", "api_key_not_allowed"}

Operation = tuple[str, str, dict[str, Any]]


def _document() -> dict[str, Any]:
    data_dir = Path(tempfile.gettempdir()) / "medianest-matrix-unused"  # building writes nothing
    app = create_app(load_settings(data_dir=data_dir, **SETTINGS), autoload=True)
    return app.extensions["QUART_SCHEMA"].openapi_provider.schema()


def _operations(document: dict[str, Any]) -> list[Operation]:
    return [
        (method.upper(), path, operation)
        for path, operations in sorted(document["paths"].items())
        for method, operation in sorted(operations.items())
        if isinstance(operation, dict) and "responses" in operation
    ]


OPERATIONS = _operations(_document())


def _value(parameter: dict[str, Any]) -> str:
    if parameter["name"] in PLAUSIBLE:
        return PLAUSIBLE[parameter["name"]]
    schema = parameter.get("schema", {})
    if schema.get("enum"):
        return str(schema["enum"][0])
    return "1" if schema.get("type") in ("integer", "number") else "x1"


def request_of(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL to call (path parameters filled in, required query parameters given) and the
    keyword arguments of the call (an empty JSON object when the operation takes a body)."""
    query = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", _value(parameter))
        elif parameter["in"] == "query" and parameter.get("required"):
            query[parameter["name"]] = _value(parameter)
    return path, ({"json": {}} if "requestBody" in operation else {}) | (
        {"query_string": query} if query else {}
    )


async def refusal(response) -> str | None:
    """``unauthenticated``, the refusal code of a 403, or ``None`` when let through."""
    if response.status_code == 401:
        return "unauthenticated"
    if response.status_code == 403:
        body = await response.get_json(silent=True) or {}
        if body.get("code") in REFUSALS:
            return body["code"]
    return None


def unrelated_to(permission: str | None) -> str:
    """A permission other than ``permission``."""
    return "search" if permission == "view_metrics" else "view_metrics"


async def key_holding(running, permission: str) -> dict[str, str]:
    """Headers with a new API key holding only ``permission`` (its user holds only that too)."""
    with running.hub.database.activate():
        user = await User.create(
            username=f"key-{secrets.token_hex(4)}", role="user", permissions=[permission]
        )
        issued = await api_keys.issue(user, name="matrix", permissions=[permission])
    return {"Authorization": f"Bearer {issued.key}"}


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(autoload=True, **SETTINGS, **mode) as hub:
        yield hub


def test_every_operation_declares_its_access() -> None:
    undeclared = [f"{m} {p}" for m, p, op in OPERATIONS if "x-medianest-access" not in op]
    assert not undeclared
    assert len(OPERATIONS) >= 15


async def test_the_walk_covers_the_served_document(running) -> None:
    served = await (await running.client.get("/api/v1/openapi.json")).get_json()
    walked = {(m, p, op["x-medianest-access"]["description"]) for m, p, op in OPERATIONS}
    assert {
        (m, p, op["x-medianest-access"]["description"]) for m, p, op in _operations(served)
    } == walked


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in OPERATIONS],
)
async def test_the_declared_access_is_enforced(running, method, path, operation) -> None:
    access = operation["x-medianest-access"]
    url, kwargs = request_of(path, operation)
    client = running.app.test_client(use_cookies=False)

    async def call(headers: dict[str, str] | None) -> str | None:
        response = await client.open(url, method=method, headers=headers or {}, **kwargs)
        assert response.status_code < 500, (method, url, await response.get_data(as_text=True))
        return await refusal(response)

    anonymous = await call(None)
    bare = await call(await running.sign_in(permissions=[]))
    exact = exact_key = None
    if access["kind"] == "permission":
        exact = await call(await running.sign_in(permissions=[access["permission"]]))
        exact_key = await call(await key_holding(running, access["permission"]))
    admin = await call(await running.sign_in(role="admin"))
    unrelated_key = await call(await key_holding(running, unrelated_to(access["permission"])))

    if access["kind"] == "public":
        # Who calls makes no difference. Refresh takes a credential of its own (a refresh
        # token), which none of these callers send: it answers them all alike, with a 401.
        assert anonymous in (None, "unauthenticated")
        assert anonymous == bare == admin == unrelated_key, (
            "a public operation treats callers differently"
        )
        return
    assert anonymous == "unauthenticated"
    if access["kind"] == "permission":
        assert bare == "permission_denied", f"a user without {access['permission']} got in"
        assert exact is None, f"a user holding {access['permission']} was refused: {exact}"
        assert unrelated_key == "permission_denied", "a key got in beyond its permission"
        assert exact_key is None, f"a key holding {access['permission']} was refused"
    else:
        assert bare is None, f"a signed-in user without permissions was refused: {bare}"
        expected = None if access["api_keys"] else "api_key_not_allowed"
        assert unrelated_key == expected, f"an API key was answered {unrelated_key}"
    assert admin is None, f"an admin was refused: {admin}"
