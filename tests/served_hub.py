"""A hub served by hypercorn on a free loopback port, in a thread with its own event loop, for
clients that speak real HTTP from synchronous code (the schemathesis contract run).

The hub runs in embedded mode with demo-like data: the ``hello`` sign-in plugin, the Plex
plugin (its webhook), and a fake media source whose library is synced into the catalogue.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.auth import api_keys
from medianest.core.db.models import User
from medianest.core.serving import bind_socket, serve_until
from medianest.sdk.access import Permission
from tests.sync.fake_source import FakeLibrary, FakePlugin
from tests.sync.sync_testing import sync

T = TypeVar("T")

SOURCE = "shelf"
"""The fake media source synced into the catalogue."""
WEBHOOK_SECRET = "contract-webhook-secret-0123"
START_TIMEOUT = 30


class ServedHub:
    """The served hub: its ``url``, and :meth:`run` to run a coroutine in its event loop
    (with the hub's database active), e.g. to make callers."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop, app: Any) -> None:
        self.url = url
        self.loop = loop
        self.app = app
        self.hub = hub_of(app)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        """Run ``coroutine`` in the server's loop and wait for its result (``timeout`` s)."""

        async def active() -> T:
            with self.hub.database.activate():
                return await coroutine

        return asyncio.run_coroutine_threadsafe(active(), self.loop).result(timeout)

    def caller(
        self, role: Literal["admin", "user"], *, permissions: list[str] | None = None
    ) -> dict[str, str]:
        """Headers of a new user of ``role`` signed in through a new session."""
        return self.run(_session_headers(self.hub, role, permissions))

    def api_key(self, permissions: list[str]) -> dict[str, str]:
        """Headers of a new API key holding ``permissions``, of a new user."""
        return self.run(_key_headers(permissions))


async def _session_headers(hub: Any, role: str, permissions: list[str] | None) -> dict[str, str]:
    user = await User.create(
        username=f"contract-{role}-{secrets.token_hex(4)}", role=role, permissions=permissions
    )
    issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="contract tests")
    return {"Authorization": f"Bearer {issued.access_token}"}


async def _key_headers(permissions: list[str]) -> dict[str, str]:
    user = await User.create(
        username=f"contract-key-{secrets.token_hex(4)}",
        role="user",
        permissions=sorted(str(p) for p in Permission),
    )
    issued = await api_keys.issue(user, name="contract", permissions=permissions)
    return {"Authorization": f"Bearer {issued.key}"}


async def _demo_data(hub: Any) -> None:
    """Users, one with an API key, and the fake library synced into the catalogue."""
    for number in range(1, 6):
        user = await User.create(username=f"member-{number}", role="user")
    await api_keys.issue(user, name="demo", permissions=["request"])
    await sync(hub, SOURCE)


def contract_settings(data_dir: Path) -> dict[str, Any]:
    """Settings of the served hub: embedded, rate limits out of the way of a generated run."""
    return {
        "data_dir": data_dir,
        "features": {"hello": True},
        "plugins": {
            "hello": {"accounts": {"ann": "pw-ann", "bob": "pw-bob"}},
            "plex": {"webhook_secret": WEBHOOK_SECRET},
        },
        "rate_limits": {"enabled": False},
        "sync": {"incremental_minutes": 0, "full_daily_at": None, "retry_base_seconds": 0.01},
    }


@contextmanager
def served_hub(
    data_dir: Path,
    *,
    items: int = 30,
    hello: dict[str, Any] | None = None,
    plugins: dict[str, Any] | None = None,
) -> Iterator[ServedHub]:
    """Serve a hub until the block ends, its fake library of ``items`` films synced
    (``hello``: more settings of the hello plugin; ``plugins``: more plugins by key)."""
    ready: dict[str, Any] = {}
    started = threading.Event()
    settings = contract_settings(data_dir)
    settings["plugins"]["hello"].update(hello or {})
    app = create_app(
        load_settings(**settings),
        plugins={SOURCE: FakePlugin(FakeLibrary(SOURCE, items)), **(plugins or {})},
        autoload=True,
        migrate=True,
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    sock = bind_socket("127.0.0.1", 0)

    def on_ready(url: str) -> None:
        ready["url"] = url
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve_until(app, sock, stop, on_ready=on_ready))
        except BaseException as exc:  # reported to the waiting test
            ready["error"] = exc
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=serve, name="contract-hub", daemon=True)
    thread.start()
    try:
        if not started.wait(START_TIMEOUT) or "error" in ready:
            raise RuntimeError(f"the hub did not start: {ready.get('error')!r}")
        served = ServedHub(ready["url"], loop, app)
        served.run(_demo_data(served.hub))
        yield served
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(START_TIMEOUT)
        sock.close()
