"""Signing in with Plex in a real browser: a page asked for while signed out, the sign-in page,
the Plex simulator's approval page, back to the hub and on to the page asked for; then out.
Then the Plex servers' posters, loaded through the hub, on Home and an item's details."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.serving import bind_socket, serve_until, url_of
from medianest_plex.simulator import PlexWorld, serve_world
from tests.sync.sync_testing import sync
from tests.web.browser import check_accessibility, screenshot

START_TIMEOUT = 30


@pytest.fixture(scope="module")
def plex_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The Plex simulator and a hub signing in through it, served from a thread of their own."""
    data_dir: Path = tmp_path_factory.mktemp("plex-web-hub")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="plex-web", daemon=True)
    thread.start()
    stack = AsyncExitStack()
    stop = asyncio.Event()

    async def start() -> dict[str, Any]:
        sim = await stack.enter_async_context(serve_world(PlexWorld(seed=7, items=30, servers=1)))
        section = {
            "servers": [
                {"name": slug, "url": url, "token": sim.world.owner.token}
                for slug, url in sim.server_urls.items()
            ],
            "plextv_url": sim.plextv_url,
            "auth_app_url": sim.auth_url,
        }
        app = create_app(load_settings(data_dir=data_dir, plugins={"plex": section}), migrate=True)
        sock = bind_socket("127.0.0.1", 0)
        ready = asyncio.Event()
        server = asyncio.create_task(serve_until(app, sock, stop, on_ready=lambda _: ready.set()))
        await asyncio.wait_for(ready.wait(), START_TIMEOUT)
        return {
            "url": url_of(sock),
            "sim": sim,
            "server": server,
            "sock": sock,
            "app": app,
            "loop": loop,
        }

    served = asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT)
    try:
        yield served
    finally:

        async def finish() -> None:
            stop.set()
            await asyncio.wait_for(served["server"], START_TIMEOUT)
            served["sock"].close()
            await stack.aclose()

        asyncio.run_coroutine_threadsafe(finish(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_TIMEOUT)
        loop.close()


def test_signing_in_with_plex_leads_to_the_page_asked_for(
    browser: Browser, plex_hub: dict[str, Any]
) -> None:
    url = plex_hub["url"]
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/account/sessions")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/account/sessions$"))
    button = page.get_by_role("button", name="Sign in with Plex")
    expect(button).to_be_enabled()
    button.click()
    expect(page).to_have_url(re.compile(re.escape(plex_hub["sim"].auth_url)))
    page.locator('button[data-account="owner"]').click()
    expect(page).to_have_url(f"{url}/account/sessions", timeout=15_000)
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    owner = plex_hub["sim"].world.owner.username
    page.goto("/account")
    expect(page.locator(".facts")).to_contain_text(owner)
    expect(page.locator(".facts")).to_contain_text("admin")
    check_accessibility(page, "profile after Plex sign-in")
    screenshot(page, "profile-plex")
    page.locator("details.menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/sign-in")
    page.goto("/")
    expect(page).to_have_url(f"{url}/sign-in")
    context.close()


POSTERS_LOADED = """(least) => {
  const images = [...document.querySelectorAll("img.poster-img")];
  const loaded = (image) => image.complete && image.naturalWidth >= least;
  return images.length > 0 && images.every(loaded);
}"""
"""True once every poster of the page has loaded a real picture (the see-through stand-in the
hub answers when it has none is 1 pixel wide)."""


def test_plex_posters_load_through_the_hub_on_home_and_details(
    browser: Browser, plex_hub: dict[str, Any]
) -> None:
    hub = hub_of(plex_hub["app"])
    sources = [f"plex:{slug}" for slug in plex_hub["sim"].server_urls]

    async def synced() -> None:
        with hub.database.activate():
            for source in sources:
                run = await sync(hub, source)
                assert run.status == "succeeded", run.error

    asyncio.run_coroutine_threadsafe(synced(), plex_hub["loop"]).result(START_TIMEOUT * 2)
    url = plex_hub["url"]
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("button", name="Sign in with Plex").click()
    page.locator('button[data-account="owner"]').click()
    expect(page).to_have_url(f"{url}/", timeout=15_000)
    posters = page.locator(".posters img.poster-img")
    expect(posters.first).to_be_visible()
    for source in sources:
        expect(page.locator(f'img.poster-img[src^="/media/{source}/"]').first).to_be_attached()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(POSTERS_LOADED, arg=160)
    token = plex_hub["sim"].world.owner.token
    assert token not in page.content()
    check_accessibility(page, "home with posters")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "home-posters")

    page.locator(".poster-card a").first.click()
    expect(page).to_have_url(re.compile(r"/media/plex:"))
    poster = page.locator(".details-poster img.poster-img")
    expect(poster).to_have_attribute("src", re.compile(r"/image/poster\?w=480$"))
    page.wait_for_function(POSTERS_LOADED, arg=480)
    check_accessibility(page, "details with a poster")
    screenshot(page, "details-posters")
    context.close()
