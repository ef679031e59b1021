"""The admin area in a real browser: users, plugins, flags (a switch seen by another person at
once), syncs with live progress to the end, the audit log; each page needs the permission of
the API route it mirrors."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from medianest.core.auth import api_keys
from medianest.core.db.models import User
from medianest.core.web.live import CLOSE_GOING_AWAY, broker_of
from tests.served_hub import SOURCE
from tests.web.browser import WebHub, check_accessibility, screenshot


@pytest.fixture(autouse=True)
def close_pages(web: WebHub) -> Iterator[None]:
    """Each test's browser contexts end with it (their live sockets with them)."""
    yield
    for context in web.browser.contexts:
        context.close()


def test_the_admin_area_lists_what_the_person_may_open(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=["search", "view_audit"]))
    page.goto("/")
    page.get_by_role("link", name="Admin").click()
    sections = page.locator(".adminnav")
    expect(sections.get_by_role("link", name="Audit log")).to_be_visible()
    expect(sections.get_by_role("link", name="Users")).to_have_count(0)
    for path in ("/admin/users", "/admin/flags", "/admin/plugins", "/admin/syncs"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
    plain = web.page_as(web.person("user"))
    plain.goto("/")
    expect(plain.get_by_role("link", name="Admin")).to_have_count(0)
    plain.goto("/admin")
    expect(plain.locator("main")).to_contain_text("No admin page is open to you")


def test_a_flag_switched_by_an_admin_changes_what_another_person_sees(web: WebHub) -> None:
    admin = web.page_as(web.person("admin"))
    member = web.page_as(web.person("user"))
    member.goto("/search?q=river")  # found live by the hello plugin's source only
    expect(member.locator(".hit").first).to_contain_text("River")
    expect(member.locator(".source-status")).to_have_count(0)
    admin.goto("/admin/flags")
    check_accessibility(admin, "admin-flags")
    screenshot(admin, "admin-flags")
    flag = admin.locator("#flag-hello\\.search")
    expect(flag.locator(".pill")).to_have_text("on")
    flag.get_by_role("button").click()
    expect(admin.locator("#flag-hello\\.search .pill")).to_have_text("off")
    try:
        member.reload()
        expect(member.locator(".source-status[data-source='hello:main']")).to_contain_text(
            "not asked"
        )
        expect(member.locator(".hit")).to_have_count(0)
    finally:
        admin.locator("#flag-hello\\.search").get_by_role("button").click()
        expect(admin.locator("#flag-hello\\.search .pill")).to_have_text("on")
    admin.goto("/admin/audit?action=flag.*")
    expect(admin.locator("tbody tr").first).to_contain_text("flag.set")
    check_accessibility(admin, "admin-audit")
    screenshot(admin, "admin-audit")


def test_a_sync_started_from_the_admin_page_shows_live_progress_to_the_end(web: WebHub) -> None:
    library = web.served.hub.registry.get("media_sources", SOURCE)

    async def slowly(_page: int) -> None:
        await asyncio.sleep(1.5)

    library.on_page = slowly
    try:
        page = web.page_as(web.person("user", permissions=["search", "run_syncs"]))
        page.goto("/admin/syncs")
        check_accessibility(page, "admin-syncs")
        page.locator(f"li[data-source='{SOURCE}']").get_by_role("button", name="Full sync").click()
        expect(page).to_have_url(re.compile(r"/admin/syncs#run-\d+$"))
        run_id = page.url.rsplit("-", 1)[1]
        row = page.locator(f"#run-{run_id}")
        expect(page.locator("html[data-live=on]")).to_have_count(1)
        expect(row.locator("[data-field=status]")).to_have_text("running", timeout=5000)
        expect(row.locator("[data-field=status]")).to_have_text("succeeded", timeout=15000)
        expect(row.locator("[data-field=counts]")).to_have_text("24 / 24")
        screenshot(page, "admin-syncs")
    finally:
        library.on_page = None


def test_users_are_found_changed_and_their_keys_revoked(web: WebHub) -> None:
    page = web.page_as(web.person("admin"))
    page.goto("/admin/users?q=member")
    expect(page.locator("tbody tr")).to_have_count(5)
    check_accessibility(page, "admin-users")
    screenshot(page, "admin-users")
    page.get_by_role("link", name="member-3").click()
    page.get_by_label("edit_metadata").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    expect(page.get_by_label("edit_metadata")).to_be_checked()

    async def granted() -> list[str]:
        return (await User.get(username="member-3")).permissions or []

    assert "edit_metadata" in web.served.run(granted())
    check_accessibility(page, "admin-user")
    page.goto("/admin/users?q=member-5")
    page.get_by_role("link", name="member-5").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Revoke")).click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.locator(".pill", has_text="revoked")).to_be_visible()


def test_the_last_admin_cannot_be_removed_and_the_page_says_why(web: WebHub) -> None:
    only = web.person("admin", name="sole-admin")
    page = web.page_as(only)

    async def demote_the_others() -> None:
        await User.filter(role="admin").exclude(id=only.user_id).update(role="user")

    web.served.run(demote_the_others())
    page.goto(f"/admin/users/{only.user_id}")
    page.get_by_label("Role").select_option("user")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("without an active admin")


def test_plugins_show_what_they_provide_and_their_health(web: WebHub) -> None:
    page = web.page_as(web.person("admin"))
    page.goto("/admin/plugins")
    expect(page.get_by_role("heading", name=re.compile("^shelf"))).to_be_visible()
    expect(page.locator(".source-line", has_text=SOURCE).locator(".pill.ok")).to_be_visible()
    check_accessibility(page, "admin-plugins")
    screenshot(page, "admin-plugins")


def test_a_lost_connection_shows_a_quiet_banner_and_comes_back(web: WebHub) -> None:
    broker = broker_of(web.served.app)
    page = web.page_as(web.person("admin"))
    page.goto("/admin/syncs")
    expect(page.locator("html[data-live=on]")).to_have_count(1)
    banner = page.locator("#live-banner")
    expect(banner).to_be_hidden()

    async def going_away(down: bool) -> None:
        if down:
            broker.closing.set()
        else:
            broker.closing.clear()

    web.served.run(going_away(True))
    try:
        expect(banner).to_be_visible()
        expect(banner).to_have_text("Connection lost: reconnecting…")
        check_accessibility(page, "admin-syncs-offline")
    finally:
        web.served.run(going_away(False))
    expect(banner).to_be_hidden(timeout=10_000)
    expect(page.locator("html[data-live=on]")).to_have_count(1)


def test_a_draining_replica_sends_pages_to_another_at_once(web: WebHub) -> None:
    broker = broker_of(web.served.app)
    page = web.page_as(web.person("admin"))
    page.goto("/admin/syncs")
    expect(page.locator("html[data-live=on]")).to_have_count(1)
    page.evaluate(
        """() => {
          const banner = document.getElementById("live-banner");
          window.bannerShown = 0;
          window.resubscribed = 0;
          new MutationObserver(() => { if (!banner.hidden) { window.bannerShown += 1; } })
            .observe(banner, { attributes: true, childList: true });
          document.addEventListener("live:subscribed", () => { window.resubscribed += 1; });
        }"""
    )

    async def drain_briefly() -> None:
        broker.drain()  # every socket gets 1012
        await asyncio.sleep(0.05)
        broker.closing.clear()
        broker.close_code = CLOSE_GOING_AWAY

    web.served.run(drain_briefly())
    deadline = time.monotonic() + 10
    while page.evaluate("() => window.resubscribed") < 1:  # the page's CSP forbids eval
        assert time.monotonic() < deadline, "the page did not come back after 1012"
        page.wait_for_timeout(50)
    assert page.evaluate("() => window.bannerShown") == 0, "a restart hint showed the banner"
    expect(page.locator("html[data-live=on]")).to_have_count(1)


def test_everyone_s_api_keys_are_listed_and_one_is_revoked(web: WebHub) -> None:
    owner = web.person("user", name="key-owner")

    async def issue() -> None:
        user = await User.get(id=owner.user_id)
        await api_keys.issue(user, name="backup <script>", permissions=["search"])

    web.served.run(issue())
    page = web.page_as(web.person("admin"))
    page.goto("/admin")
    page.locator(".adminnav").get_by_role("link", name="API keys").click()
    rows = page.locator("#keys tbody tr")
    mine = rows.filter(has_text="key-owner")
    expect(mine).to_contain_text("backup <script>")
    check_accessibility(page, "admin-api-keys")
    screenshot(page, "admin-api-keys")
    mine.get_by_role("button", name=re.compile("Revoke")).click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(rows.filter(has_text="key-owner")).to_have_count(0)
    page.get_by_role("link", name="Revoked and expired keys too").click()
    expect(rows.filter(has_text="key-owner").locator(".pill")).to_have_text("revoked")
