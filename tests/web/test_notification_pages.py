"""Notifications in a real browser: the bell counts unread ones live, the inbox marks them
read, a person sets a channel and their preferences and sends a test, an admin retries a
dead letter. Each page is checked with axe and photographed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from medianest.core.db.models import NotificationDelivery
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent
from tests.web.browser import WebHub, check_accessibility, screenshot


@pytest.fixture(autouse=True)
def close_pages(web: WebHub) -> Iterator[None]:
    yield
    for context in web.browser.contexts:
        context.close()


def tell(web: WebHub, user_id: int, request_id: int, title: str) -> None:
    hub = web.served.hub

    async def emit() -> None:
        await hub.emit(
            DomainEvent(
                type=REQUEST_AVAILABLE,
                source="core",
                user_id=user_id,
                data={"request_id": request_id, "title": title, "interested": [user_id]},
            )
        )
        await hub.events.flush()

    web.served.run(emit())


def test_the_bell_counts_live_and_the_inbox_marks_read(web: WebHub) -> None:
    ann = web.person("user", name="ann-bell")
    tell(web, ann.user_id, 1, "Dune")
    page = web.page_as(ann)
    page.goto("/")
    bell = page.locator("[data-bell]")
    expect(bell.locator("[data-bell-count]")).to_have_text("1")
    page.wait_for_function("document.documentElement.dataset.live !== undefined")
    tell(web, ann.user_id, 2, "Arrival")
    expect(bell.locator("[data-bell-count]")).to_have_text("2")
    bell.click()
    expect(page).to_have_url(f"{web.url}/notifications")
    rows = page.locator("#inbox .row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Arrival is available")
    check_accessibility(page, "notifications-inbox")
    screenshot(page, "notifications-inbox")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#inbox .row.unread")).to_have_count(0)
    expect(bell.locator("[data-bell-count]")).to_be_hidden()
    page.get_by_role("button", name="Delete Dune is available").click()
    expect(rows).to_have_count(1)


def test_a_person_sets_a_channel_preferences_and_sends_a_test(web: WebHub) -> None:
    bob = web.person("user", name="bob-settings")
    page = web.page_as(bob)
    page.goto("/account/notifications")
    page.get_by_label("Kind").select_option("email")
    page.get_by_label("Address").fill("bob@example.org")
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("main")).to_contain_text("b…@example.org")
    page.get_by_label("From").fill("22:00")
    page.get_by_label("To", exact=True).fill("07:00")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    page.get_by_label("Time zone").fill("Mars/Base")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("p.error")).to_contain_text("Mars/Base")
    page.goto("/account/notifications")
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator("#test-results")).to_contain_text("sent")
    check_accessibility(page, "notifications-settings")
    screenshot(page, "notifications-settings")
    french = web.page_as(bob, locale="fr-FR")
    french.goto("/account/notifications")
    expect(french.locator("h1")).to_have_text("Réglages des notifications")


def test_an_admin_retries_a_dead_letter(web: WebHub) -> None:
    async def dead_letter() -> int:
        now = datetime.now(UTC)
        row = await NotificationDelivery.create(
            key=f"n:web:{now.timestamp()}",
            notifier="hello:notifier",
            role="admin",
            event_type="sync.failed",
            destination="x",
            payload={
                "event_type": "sync.failed",
                "title": "Library sync of plex:home failed",
                "recipients": [{"role": "admin"}],
            },
            status="dead",
            attempts=5,
            last_error="UpstreamError: receiver answered 500",
            created_at=now,
            updated_at=now,
        )
        return row.id

    web.served.run(dead_letter())
    page = web.page_as(web.person("admin"))
    page.goto("/admin/notifications")
    letters = page.locator("#dead-letters .row")
    expect(letters).to_have_count(1)
    expect(letters.first).to_contain_text("receiver answered 500")
    check_accessibility(page, "admin-notifications")
    screenshot(page, "admin-notifications")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator("#dead-letters")).to_contain_text("No dead letter")
    plain = web.page_as(web.person("user"))
    response = plain.goto("/admin/notifications")
    assert response is not None and response.status == 403
