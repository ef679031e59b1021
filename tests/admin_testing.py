"""A running hub with the account and admin endpoints, and callers with real credentials.

Callers authenticate as clients do: ``Authorization: Bearer`` with an API key or with the
access token of a real session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from medianest.core.auth import api_keys
from medianest.core.auth.principals import effective_permissions
from medianest.core.db.models import User
from medianest.core.web import api_keys_api, audit_api, flags_api, users_api
from medianest.sdk.access import USER_PERMISSIONS

KEY = "admin-endpoints-test-secret-key-0123456789"
BLUEPRINTS = (users_api.blueprint, api_keys_api.blueprint, audit_api.blueprint, flags_api.blueprint)


@asynccontextmanager
async def admin_hub(medianest_hub: Any, mode: dict, **settings: Any) -> AsyncIterator[Any]:
    """A started hub serving the endpoints under test, its database current in the test."""
    async with medianest_hub.run(**mode | {"secret_key": KEY} | settings) as running:
        for blueprint in BLUEPRINTS:
            if blueprint.name not in running.app.blueprints:
                running.app.register_blueprint(blueprint)
        with running.hub.database.activate():
            yield running


async def make_user(
    username: str,
    *,
    role: str = "user",
    permissions: Iterable[str] = USER_PERMISSIONS,
    active: bool = True,
    email: str | None = None,
) -> User:
    """A stored user, as a sign-in would have made it."""
    return await User.create(
        username=username,
        role=role,
        permissions=sorted(str(p) for p in permissions),
        is_active=active,
        email=email,
    )


class Caller:
    """Calls the API with one set of credentials; answers ``(status, JSON body)``."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        options: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            options["json"] = body
        response = await getattr(self.client, method)(path, **options)
        return response.status_code, await response.get_json()

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.call("get", path)

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.call("post", path, body)

    async def patch(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.call("patch", path, body)

    async def put(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.call("put", path, body)

    async def delete(self, path: str) -> tuple[int, Any]:
        return await self.call("delete", path)


async def with_key(running: Any, user: User, permissions: Iterable[str] | None = None) -> Caller:
    """A caller using a new API key of ``user`` (by default holding all the user may do)."""
    granted = effective_permissions(user) if permissions is None else permissions
    issued = await api_keys.issue(user, name="test", permissions=sorted(str(p) for p in granted))
    return Caller(running.client, issued.key)


async def with_session(running: Any, user: User) -> tuple[Caller, str]:
    """A caller using the access token of a new session of ``user``, and the session id."""
    issued = await running.hub.sessions.start(user, ip="127.0.0.1", user_agent="tests")
    return Caller(running.client, issued.access_token), issued.session.id
