"""The whole way of a request, in a real browser, against the Plex and Overseerr simulators
(one generated world: the same titles and external ids on both sides).

A friend finds a show only Overseerr knows, picks its seasons and requests it (filed in
Overseerr as the friend, never as its admin); an admin approves it on Manage requests;
Overseerr (its simulator) makes it available, says so by webhook, and the show arrives in
Plex with the title's own ids; the admin's "Sync changes" finds it there; the friend sees the
request available, and the show available in Plex, without having done anything since
asking."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from medianest.config import load_settings
from medianest.core.app import create_app
from medianest.core.db.models import User
from medianest.core.serving import bind_socket, serve_until, url_of
from medianest_overseerr.simulator import Notification, serve_simulator
from medianest_overseerr.simulator import Permission as OverseerrPermission
from medianest_overseerr.simulator.catalogue import Title
from medianest_plex.simulator import PlexWorld, serve_world
from tests.served_hub import ServedHub
from tests.sync.sync_testing import sync
from tests.web.browser import Person, WebHub, check_accessibility, screenshot

START_TIMEOUT = 30
INSTANCE = "home"
BACKEND = f"overseerr:{INSTANCE}"
WEBHOOK_SECRET = "walk-webhook-secret-0123456789"
FRIEND_EMAIL = "friend@walk.example"


@pytest.fixture(scope="module")
def walk(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Plex and Overseerr simulators over one world, and a hub using both, served from a
    thread of their own; Overseerr's webhook points at the hub."""
    data_dir: Path = tmp_path_factory.mktemp("walk-hub")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="request-walk", daemon=True)
    thread.start()
    stack = AsyncExitStack()
    stop = asyncio.Event()

    async def start() -> dict[str, Any]:
        world = PlexWorld(seed=11, items=30, servers=1)
        plex = await stack.enter_async_context(serve_world(world))
        overseerr = await stack.enter_async_context(serve_simulator(plex=world))
        settings = load_settings(
            data_dir=data_dir,
            rate_limits={"enabled": False},
            sync={"incremental_minutes": 0, "full_daily_at": None},
            plugins={
                "plex": {
                    "servers": [
                        {"name": slug, "url": url, "token": world.owner.token}
                        for slug, url in plex.server_urls.items()
                    ],
                    "plextv_url": plex.plextv_url,
                    "auth_app_url": plex.auth_url,
                },
                "overseerr": {
                    "instances": [
                        {
                            "name": INSTANCE,
                            "url": overseerr.url,
                            "api_key": overseerr.api_key,
                            "webhook_secret": WEBHOOK_SECRET,
                        }
                    ]
                },
            },
        )
        app = create_app(settings, migrate=True)
        sock = bind_socket("127.0.0.1", 0)
        ready = asyncio.Event()
        server = asyncio.create_task(serve_until(app, sock, stop, on_ready=lambda _: ready.set()))
        await asyncio.wait_for(ready.wait(), START_TIMEOUT)
        url = url_of(sock)
        overseerr.world.webhook.update(
            {
                "enabled": True,
                "types": int(sum(Notification)),
                "options": {
                    "webhookUrl": f"{url}/api/v1/plugins/overseerr/webhook/{INSTANCE}",
                    "authHeader": WEBHOOK_SECRET,
                },
            }
        )
        return {
            "url": url,
            "world": world,
            "plex_source": f"plex:{world.servers[0].slug}",
            "overseerr": overseerr,
            "server": server,
            "sock": sock,
            "app": app,
        }

    started = asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT)
    served = ServedHub(started["url"], loop, started["app"])
    served.run(sync(served.hub, started["plex_source"]))
    try:
        yield started | {"web": WebHub(served, browser)}
    finally:

        async def finish() -> None:
            stop.set()
            await asyncio.wait_for(started["server"], START_TIMEOUT)
            started["sock"].close()
            await stack.aclose()

        asyncio.run_coroutine_threadsafe(finish(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        loop.close()


def requestable_show(overseerr: Any) -> Title:
    """A show Overseerr knows that no Plex server holds, with at least two seasons."""
    return next(
        title
        for title in overseerr.world.catalogue.titles
        if title.media_type == "tv" and title.plex is None and len(title.season_numbers()) >= 2
    )


def test_a_friend_s_request_is_followed_until_the_show_is_in_plex(walk: dict[str, Any]) -> None:
    web: WebHub = walk["web"]
    overseerr = walk["overseerr"]
    wanted = requestable_show(overseerr)
    overseerr.control.add_user(
        email=FRIEND_EMAIL, username="walk-friend", permissions=int(OverseerrPermission.REQUEST)
    )
    friend = web.served.run(_friend(web))
    friend_page = web.page_as(friend)

    # The friend finds the show (only Overseerr knows it) and asks for two of its seasons.
    friend_page.goto("/search?" + _query(wanted.title))
    hit = friend_page.locator(".hit", has_text=wanted.title).first
    expect(hit.locator(".pill").first).to_have_text("Requestable")
    hit.locator(".hit-title a").click()
    expect(friend_page.get_by_role("heading", level=1)).to_have_text(wanted.title)
    picker = friend_page.get_by_role("group", name="Seasons to request")
    first, second = wanted.season_numbers()[:2]
    picker.get_by_label(f"Season {first}", exact=True).check()
    picker.get_by_label(f"Season {second}", exact=True).check()
    friend_page.get_by_role("button", name=f"Request {wanted.title}").click()
    expect(friend_page.get_by_role("status")).to_contain_text("Requested: pending")
    check_accessibility(friend_page, "walk-requested")

    # Filed in Overseerr as the friend, with those seasons.
    [filed] = [r for r in overseerr.world.requests.values() if r.media.title.tmdb == wanted.tmdb]
    assert filed.requested_by.email == FRIEND_EMAIL  # as the friend, not as the admin
    assert sorted(filed.seasons) == [first, second]

    friend_page.goto("/requests")
    row = friend_page.locator("tr[data-request-id]", has_text=wanted.title)
    expect(row.locator("[data-field=status]")).to_have_text("pending")
    expect(row).to_contain_text(f"Seasons {first}, {second}")

    # The admin approves it; the friend's page follows.
    admin_page = web.page_as(web.person("admin"))
    admin_page.goto("/requests/manage?status=pending")
    admin_page.get_by_label(f"Select {wanted.title}", exact=True).check()
    screenshot(admin_page, "walk-manage")
    admin_page.get_by_role("button", name="Approve").click()
    expect(admin_page.get_by_role("status")).to_contain_text("1 request approved.")
    _sees(friend_page, row, "approved")
    assert overseerr.world.requests[filed.id].status == 2  # approved there too

    # Overseerr makes it available (its webhook tells the hub); the show arrives in Plex and
    # the admin's "Sync changes" finds it there.
    web.served.run(_in_loop(lambda: overseerr.control.available(filed.id, plex=True)))
    _sees(friend_page, row, "available")
    sent = [d for d in overseerr.world.notifier.deliveries if d.kind == "MEDIA_AVAILABLE"]
    assert sent and sent[-1].status == 200, sent
    admin_page.goto("/admin/syncs")
    source = admin_page.locator(f'[data-source="{walk["plex_source"]}"]')
    source.get_by_role("button", name=re.compile("^Sync changes")).click()
    expect(admin_page.locator("#runs tbody tr").first.locator("[data-field=status]")).to_have_text(
        "succeeded", timeout=20_000
    )

    # The friend sees it available, in Plex.
    friend_page.goto("/requests?status=available")
    row = friend_page.locator("tr[data-request-id]", has_text=wanted.title)
    expect(row.locator("[data-field=status]")).to_have_text("available")
    friend_page.goto("/search?" + _query(wanted.title))
    hit = friend_page.locator(".hit", has_text=wanted.title).first
    expect(hit.locator(".pill").first).to_have_text("Available")
    expect(hit).to_contain_text(walk["plex_source"])
    hit.locator(".hit-title a").click()
    expect(friend_page).to_have_url(re.compile(rf"/media/{walk['plex_source']}/\d+$"))
    expect(friend_page.locator(".copies")).to_contain_text("in the library")
    check_accessibility(friend_page, "walk-available")
    screenshot(friend_page, "walk-available")


async def _friend(web: WebHub) -> Person:
    """The friend: a hub account with the e-mail of their Overseerr account."""
    user = await User.create(
        username=f"walk-friend-{secrets.token_hex(3)}", email=FRIEND_EMAIL, role="user"
    )
    issued = await web.served.hub.sessions.start(user, ip="127.0.0.1", user_agent="walk")
    return Person(
        user.id, user.username, issued.access_token, issued.refresh_token, issued.csrf_token
    )


async def _in_loop(action: Any) -> Any:
    """``action()`` run in the simulators' event loop (where Overseerr sends its webhooks)."""
    return action()


def _sees(page: Any, row: Any, status: str) -> None:
    """The friend's row says ``status``: at once when the hub tells pages live, else after a
    reload (a page shows the status of when it was loaded)."""
    try:
        expect(row.locator("[data-field=status]")).to_have_text(status, timeout=5_000)
    except AssertionError:
        page.reload()
        expect(row.locator("[data-field=status]")).to_have_text(status)


def _query(text: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": text})
