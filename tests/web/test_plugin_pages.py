"""A plugin's page and widgets in a real browser: medianest-hello's Greetings page, reached
from the navigation, greets through the plugin's own API with its own script; its failing page
and widget show their errors in their own areas while the shell works."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.browser import WebHub, check_accessibility, screenshot


def test_a_plugin_page_from_the_navigation_works_with_its_script(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=["search"]))
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Greetings").click()
    expect(page).to_have_url(f"{web.url}/plugins/hello/")
    expect(page.get_by_role("heading", name="Greetings", level=1)).to_be_visible()
    page.get_by_label("Name").fill("Zoë <b>")
    page.get_by_role("button", name="Greet").click()
    expect(page.locator("#hello-status")).to_have_text("hello, Zoë <b>")
    expect(page.locator("#hello-greetings li").first).to_have_text("Zoë <b>")
    check_accessibility(page, "plugin page")
    screenshot(page, "plugin-page")
    page.reload()
    expect(page.locator(".plugin-area")).to_contain_text("1 greeting so far.")


def test_a_failing_plugin_page_and_widget_stay_in_their_areas(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=["search"]))
    page.goto("/plugins/hello/broken")
    expect(page.locator(".plugin-area .plugin-error")).to_contain_text("could not be shown")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.goto("/")
    expect(page.locator("section.widget").filter(has_text="Broken widget")).to_contain_text(
        "could not be shown"
    )
    expect(page.locator("section.widget").filter(has_text="Greetings")).to_contain_text("so far")
    expect(page.get_by_role("heading", name="Recently added")).to_be_visible()


def test_a_plugin_page_needing_a_permission_refuses_others(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=["search"]))
    response = page.goto("/plugins/hello/audit-only")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Greetings")
    ).to_be_visible()
