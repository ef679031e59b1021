"""live.js in a real browser: the page remembers the last id of each topic, and after a lost
connection it resubscribes with them, so the events published meanwhile arrive once each, in
order, before the live ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from medianest.core.web.live import broker_of
from medianest.sdk.events import HEALTH_CHANNEL
from tests.web.browser import WebHub

FOLLOW_HEALTH = """async () => {
  const url = performance.getEntriesByType("resource").map((e) => e.name)
    .find((name) => /\\/live\\.[0-9a-f]{12}\\.js$/.test(name));
  const live = await import(url);
  window.seen = [];
  window.gaps = [];
  document.addEventListener("live:gap", (event) => window.gaps.push(event.detail));
  live.follow(["health"], (_topic, data) => window.seen.push(data.n));
  window.lastHealthId = () => live.lastId("health");
}"""


@pytest.fixture(autouse=True)
def close_pages(web: WebHub) -> Iterator[None]:
    yield
    for context in web.browser.contexts:
        context.close()


def test_a_page_that_lost_its_connection_gets_what_it_missed_once(web: WebHub) -> None:
    broker = broker_of(web.served.app)
    pubsub = web.served.hub.pubsub

    async def publish(*numbers: int) -> None:
        for number in numbers:
            await pubsub.publish(HEALTH_CHANNEL, {"n": number})

    async def connection(up: bool) -> None:
        if up:
            broker.closing.clear()
        else:
            broker.closing.set()

    page = web.page_as(web.person("admin"))
    page.goto("/admin/syncs")  # a page with live.js
    expect(page.locator("html[data-live=on]")).to_have_count(1)
    page.evaluate(FOLLOW_HEALTH)
    page.wait_for_function("() => window.lastHealthId() !== undefined")
    web.served.run(publish(1))
    page.wait_for_function("() => window.seen.length === 1")
    web.served.run(connection(False))
    expect(page.locator("#live-banner")).to_be_visible()
    web.served.run(publish(2, 3, 4))
    web.served.run(connection(True))
    expect(page.locator("#live-banner")).to_be_hidden(timeout=10_000)
    page.wait_for_function("() => window.seen.length >= 4")
    web.served.run(publish(5))
    page.wait_for_function("() => window.seen.length >= 5")
    assert page.evaluate("window.seen") == [1, 2, 3, 4, 5]
    assert page.evaluate("window.gaps") == []
    assert page.evaluate("window.lastHealthId()") > 0
