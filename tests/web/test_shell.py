"""The shell in a real browser: signed-out visits go to sign-in and back, Home, the person's
pages and menu, sign-out, accessibility of every page, and screenshots."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, Playwright, expect

from tests.web.browser import WebHub, check_accessibility, chromium_path, screenshot


def sign_in_as_ann(page: Page) -> None:
    form = page.get_by_role("group", name="Hello accounts")
    form.get_by_label("Username").fill("ann")
    form.get_by_label("Password").fill("pw-ann")
    form.get_by_role("button", name="Sign in", exact=True).click()


def test_a_signed_out_visit_signs_in_and_comes_back(web: WebHub) -> None:
    page = web.page_as(None)
    page.goto("/account/sessions?x=1")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/account/sessions%3Fx%3D1$"))
    check_accessibility(page, "sign-in")
    screenshot(page, "sign-in")
    sign_in_as_ann(page)
    expect(page).to_have_url(re.compile(r"/account/sessions\?x=1$"))
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()


def test_a_foreign_next_goes_home(web: WebHub) -> None:
    page = web.page_as(None)
    page.goto("/sign-in?next=//evil.example/steal")
    sign_in_as_ann(page)
    expect(page).to_have_url(f"{web.url}/")


def test_home_shows_recently_added_and_the_sources(web: WebHub) -> None:
    person = web.person("admin", display_name="Ann Admin")
    page = web.page_as(person)
    page.goto("/")
    expect(page.get_by_role("heading", name="Recently added")).to_be_visible()
    expect(page.locator(".poster-card")).to_have_count(18)
    expect(page.locator(".health")).to_contain_text("shelf: up")
    check_accessibility(page, "home")
    screenshot(page, "home")
    dark = web.page_as(person, color_scheme="dark")
    dark.goto("/")
    background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 20, 28)", "the dark theme follows the system"
    check_accessibility(dark, "home, dark")
    screenshot(dark, "home-dark")


def test_the_menu_leads_to_the_person_s_pages(web: WebHub) -> None:
    person = web.person("user")
    page = web.page_as(person)
    page.goto("/")
    page.locator("details.menu summary").click()
    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    expect(page.get_by_text(person.username).first).to_be_visible()
    check_accessibility(page, "profile")
    screenshot(page, "profile")
    for path, name in (("/account/sessions", "sessions"), ("/account/api-keys", "api-keys")):
        page.goto(path)
        check_accessibility(page, name)
        screenshot(page, name)


def test_an_api_key_is_made_shown_once_and_revoked(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/account/api-keys")
    page.get_by_label("What it is for").fill("my <script>alert(1)</script> tool")
    page.get_by_label("search", exact=True).check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("code.secret")
    expect(secret).to_contain_text("mnk_")
    expect(page.locator(".rows")).to_contain_text("my <script>alert(1)</script> tool")
    page.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="OK", exact=True).click()
    expect(page.locator(".rows")).to_contain_text("revoked")
    expect(page.locator("code.secret")).to_have_count(0)


def test_signing_out_ends_the_session(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/account")
    page.locator("details.menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{web.url}/sign-in")
    page.goto("/account")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/account$"))


def test_pages_speak_french_when_the_browser_asks(web: WebHub) -> None:
    page = web.page_as(web.person("admin"), locale="fr-FR")
    page.goto("/")
    expect(page.get_by_role("heading", name="Ajouts récents")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    check_accessibility(page, "home in French")
    screenshot(page, "home-fr")


def test_error_pages_stay_inside_the_shell(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=[]))
    response = page.goto("/plugins/hello/audit-only")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("view_audit")
    check_accessibility(page, "error page")
    screenshot(page, "error-403")
    missing = page.goto("/account/nothing-here")
    assert missing is not None and missing.status == 404


def test_the_shell_works_from_the_keyboard(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/account")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    menu = page.locator("details.menu")
    page.locator("details.menu summary").focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Profile")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(page.locator("details.menu summary")).to_be_focused()


def test_an_expired_access_token_is_renewed_on_the_way(web: WebHub) -> None:
    person = web.person("user")
    context = web.context(person=person)
    context.add_cookies(
        [{"name": "medianest_access", "value": "expired.or.tampered", "url": web.url}]
    )
    page = context.new_page()
    page.goto("/account/api-keys")
    expect(page).to_have_url(f"{web.url}/account/api-keys")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()


def test_the_hub_is_installable_as_an_app(
    web: WebHub, playwright: Playwright, tmp_path: Path
) -> None:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=chromium_path(),
        headless=True,
        args=["--no-sandbox"],
    )
    try:
        page = context.new_page()
        page.goto(f"{web.url}/sign-in")
        expect(page.locator('link[rel="manifest"]')).to_have_count(1)
        page.wait_for_load_state("networkidle")
        session = context.new_cdp_session(page)
        manifest = session.send("Page.getAppManifest")
        assert manifest.get("errors") == [], manifest.get("errors")
        assert session.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()
