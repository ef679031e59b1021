"""A hub app for the security tests: two sign-in methods, client IPs, CORS and rate limits
installed (a no-op once ``create_app`` installs them itself), and public test routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quart import Quart, g, request

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.auth.client_ip import install_client_ip
from medianest.core.auth.ratelimit import install_rate_limits
from medianest.core.hub import Hub
from medianest.core.web.cors import install_cors
from medianest.sdk import AuthChallenge, AuthenticationError, Identity, hookimpl, utcnow
from medianest.sdk.access import public
from medianest.sdk.rate_limits import rate_limited

PROBLEM = "application/problem+json"
SIGN_IN = "/api/v1/auth/providers"
ACCOUNTS = {"ann": "pw-ann", "bob": "pw-bob"}
TEST_USER_HEADER = "X-Test-User"
"""Sent by :meth:`Running.call` for ``user=``; tests that use it stand in for authentication."""
PEER = "203.0.113.10"


class Door:
    """An interactive sign-in: ``good-handle`` is approved, ``pending-handle`` stays pending,
    any other handle is refused."""

    id = "door"
    name = "Door"
    flow = "interactive"

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        return AuthChallenge(
            url="https://door.example/approve",
            handle="good-handle",
            expires_at=utcnow(),
            poll_interval_seconds=1,
        )

    async def poll(self, handle: str) -> Identity | None:
        if handle == "pending-handle":
            return None
        if handle != "good-handle":
            raise AuthenticationError("this sign-in is not valid; start again")
        return Identity(provider="door", external_id="7", username="olga")

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        raise AuthenticationError("use the door")


class Passwords:
    """A credentials sign-in with two accounts."""

    id = "pw"
    name = "Passwords"
    flow = "credentials"

    async def start(self, *, forward_url: str | None = None) -> AuthChallenge:
        raise AuthenticationError("type your password")

    async def poll(self, handle: str) -> Identity | None:
        raise AuthenticationError("type your password")

    async def authenticate(self, credentials: dict[str, str]) -> Identity:
        username = credentials.get("username", "")
        if ACCOUNTS.get(username) != credentials.get("password"):
            raise AuthenticationError("wrong username or password")
        return Identity(provider="pw", external_id=username, username=username)


class SignInPlugin:
    """A plugin offering one sign-in method (its key is the method's id)."""

    def __init__(self, provider: object) -> None:
        self.provider = provider

    @hookimpl
    def register_auth_providers(self) -> list[object]:
        return [self.provider]


@dataclass
class Running:
    """A started app, its test client and its hub."""

    app: Quart
    client: Any
    hub: Hub

    async def call(
        self, method: str, path: str, *, ip: str = PEER, user: int | None = None, **kw: Any
    ) -> Any:
        """Send a request from peer address ``ip`` (as user ``user``, see ``X-Test-User``)."""
        headers = dict(kw.pop("headers", {}))
        if user is not None:
            headers[TEST_USER_HEADER] = str(user)
        return await self.client.open(
            path, method=method, headers=headers, scope_base={"client": (ip, 40000)}, **kw
        )

    async def sign_in(self, body: dict, *, ip: str = PEER, provider: str = "pw") -> Any:
        """``POST`` a credentials sign-in."""
        return await self.call("POST", f"{SIGN_IN}/{provider}/sign-in", ip=ip, json=body)


def build_app(data_dir: Path, **settings: Any) -> Quart:
    """The app (sign-in methods ``door`` and ``pw``, public ``GET /api/v1/test/ping`` answering
    the client IP, ``POST /api/v1/test/requests`` in the ``requests`` group, reading its body)."""
    settings.setdefault("data_dir", data_dir)
    app = create_app(
        load_settings(**settings),
        plugins={"door": SignInPlugin(Door()), "pw": SignInPlugin(Passwords())},
        autoload=False,
        migrate=True,
    )
    hub = hub_of(app)
    install_client_ip(app, hub.settings)
    install_cors(app, hub.settings)
    install_rate_limits(app, hub)

    @app.get("/api/v1/test/ping")
    @public
    async def ping() -> dict:
        return {"client_ip": g.get("client_ip")}

    @app.post("/api/v1/test/requests")
    @public
    @rate_limited("requests")
    async def create_request() -> tuple[dict, int]:
        await request.get_data()
        return {"created": True}, 201

    return app


@asynccontextmanager
async def running_app(data_dir: Path, **settings: Any) -> AsyncIterator[Running]:
    """:func:`build_app` with ``settings``, started."""
    app = build_app(data_dir, **settings)
    async with app.test_app() as test_app:
        yield Running(app=app, client=test_app.test_client(), hub=hub_of(app))


def limits(api: tuple[int, float] = (300, 60), **groups: tuple[int, float]) -> dict:
    """Settings overrides: ``(limit, window seconds)`` for the api group and ``groups``."""
    rules = {"api": api, **groups}
    return {
        "rate_limits": {
            name: {"limit": limit, "window_seconds": window}
            for name, (limit, window) in rules.items()
        }
    }
