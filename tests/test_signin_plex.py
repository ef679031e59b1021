"""Sign in with Plex end to end, over real HTTP: a served hub, the Plex simulator, a browser's
steps (start, the approval page, poll) and the simulator's control API approving the PIN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

import httpx
import pytest

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import ExternalIdentity, User
from medianest.core.hub import Hub
from medianest.core.serving import bind_socket, serve_until, url_of
from medianest_plex.simulator import PlexWorld, RunningSimulator, serve_world

KEY = "plex-e2e-secret-key-0123456789abcdefgh"
NO_ACCESS = "your Plex account has no access to this hub's Plex server(s)"


@asynccontextmanager
async def serve_hub(**settings) -> AsyncIterator[tuple[str, Hub]]:
    """A hub served by hypercorn on a free loopback port, until the block ends."""
    app = create_app(load_settings(**settings), migrate=True)
    sock = bind_socket("127.0.0.1", 0)
    stop, ready = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(serve_until(app, sock, stop, on_ready=lambda url: ready.set()))
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, server}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            server.result()
        assert ready.is_set(), "the hub did not start serving"
        yield url_of(sock), hub_of(app)
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)
        sock.close()


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_world(PlexWorld(seed=5, items=60, servers=2)) as running:
        yield running


@pytest.fixture
async def hub(sim, mode, tmp_path) -> AsyncIterator[tuple[str, Hub]]:
    section = {
        "servers": [
            {"name": slug, "url": url, "token": sim.world.owner.token}
            for slug, url in sim.server_urls.items()
        ],
        "plextv_url": sim.plextv_url,
        "auth_app_url": sim.auth_url,
    }
    async with serve_hub(
        data_dir=tmp_path / "hub", plugins={"plex": section}, **mode | {"secret_key": KEY}
    ) as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client


async def sign_in(
    browser: httpx.AsyncClient, hub_url: str, sim: RunningSimulator, account: str
) -> httpx.Response:
    """What a person does: start, open the Plex page, pick ``account``, come back, poll."""
    api = f"{hub_url}/api/v1/auth/providers/plex"
    started = await browser.post(f"{api}/start", json={"forward_url": f"{hub_url}/sign-in"})
    assert started.status_code == 200, started.text
    challenge = started.json()
    page_url, _, fragment = challenge["url"].partition("#?")
    assert page_url == sim.auth_url
    params = {k: v[0] for k, v in parse_qs(fragment).items()}
    assert params["forwardUrl"] == f"{hub_url}/sign-in"
    assert (await browser.get(page_url)).status_code == 200

    pending = await browser.post(f"{api}/poll", json={"handle": challenge["handle"]})
    assert (pending.status_code, pending.json()) == (202, {"status": "pending"})

    pins = (await browser.get(f"{sim.control_url}/pins")).json()
    [pin] = [p for p in pins if p["code"] == params["code"]]
    approved = await browser.post(
        f"{sim.control_url}/pins/{pin['id']}/approve", json={"account": account}
    )
    assert approved.status_code == 200, approved.text
    return await browser.post(f"{api}/poll", json={"handle": challenge["handle"]})


async def test_owner_is_admin_friends_and_managed_are_users_strangers_are_refused(
    hub, sim, browser
) -> None:
    hub_url, running = hub
    world = sim.world
    owner = await sign_in(browser, hub_url, sim, "owner")
    assert owner.status_code == 200, owner.text
    assert owner.json()["user"]["role"] == "admin"
    assert owner.json()["user"]["username"] == world.owner.username

    for account in ("friend1", "friend2", "managed"):
        answer = await sign_in(browser, hub_url, sim, account)
        assert answer.status_code == 200, (account, answer.text)
        user = answer.json()["user"]
        assert (user["username"], user["role"]) == (world.accounts[account].username, "user")

    stranger = await sign_in(browser, hub_url, sim, "stranger")
    assert stranger.status_code == 403
    assert stranger.headers["content-type"] == "application/problem+json"
    assert stranger.json()["detail"] == NO_ACCESS

    again = await sign_in(browser, hub_url, sim, "owner")
    assert again.json()["user"]["id"] == owner.json()["user"]["id"]
    assert again.json()["user"]["role"] == "admin"

    with running.database.activate():
        assert await User.all().count() == 4
        rows = await ExternalIdentity.all().values_list("credentials_encrypted", flat=True)
    assert len(rows) == 4
    for account in world.accounts.values():
        assert all(account.token not in row for row in rows)


async def test_the_sign_in_page_offers_plex(hub, browser) -> None:
    hub_url, _ = hub
    home = await browser.get(hub_url, follow_redirects=True)
    assert home.status_code == 200 and str(home.url) == f"{hub_url}/sign-in"
    assert "Sign in with Plex" in home.text
    script = await browser.get(f"{hub_url}/assets/signin.js")
    assert script.status_code == 200


async def test_plextv_down_is_a_502_naming_it(hub, sim, browser) -> None:
    hub_url, _ = hub
    fault = {"mode": "error", "path": "/api/v2/pins", "status": 503}
    assert (await browser.post(f"{sim.control_url}/faults", json=fault)).status_code == 201
    response = await browser.post(f"{hub_url}/api/v1/auth/providers/plex/start", json={})
    assert response.status_code == 502
    assert response.json()["source"] == "plex.tv"


async def test_a_browser_signed_in_with_plex_uses_its_cookies(hub, sim, browser) -> None:
    hub_url, _ = hub
    signed_in = await sign_in(browser, hub_url, sim, "friend1")
    assert signed_in.status_code == 200, signed_in.text
    assert set(browser.cookies) == {"medianest_access", "medianest_refresh", "medianest_csrf"}
    me = await browser.get(f"{hub_url}/api/v1/me")
    assert me.status_code == 200 and me.json()["authenticated_by"] == "cookie"
    assert me.json()["user"]["username"] == sim.world.accounts["friend1"].username

    sign_out = f"{hub_url}/api/v1/auth/sign-out"
    forged = await browser.post(sign_out, json={})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    csrf = {"X-CSRF-Token": browser.cookies["medianest_csrf"]}
    refreshed = await browser.post(f"{hub_url}/api/v1/auth/refresh", json={}, headers=csrf)
    assert refreshed.status_code == 200, refreshed.text
    assert (await browser.post(sign_out, json={}, headers=csrf)).status_code == 204
    assert not browser.cookies
    assert (await browser.get(f"{hub_url}/api/v1/me")).status_code == 401
