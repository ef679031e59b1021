"""Search, media details and library pages in a real browser: results as you type, paging,
filters, details with copies and corrections, partial results when a source fails, and
accessibility and screenshots of each page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.web.browser import WebHub, check_accessibility, screenshot


@pytest.fixture(autouse=True)
def close_pages(web: WebHub) -> Iterator[None]:
    """Each test's browser contexts end with it."""
    yield
    for context in web.browser.contexts:
        context.close()


def test_search_as_you_type_then_page_through_results(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/search")
    check_accessibility(page, "search-empty")
    with page.expect_request(re.compile(r"/search\?.*partial=1")):
        page.get_by_label("Title").press_sequentially("film", delay=40)
    hits = page.locator(".hit")
    expect(hits).to_have_count(20)
    expect(page).to_have_url(re.compile(r"/search\?q=film$"))
    first_page = hits.locator(".hit-title").all_inner_texts()
    expect(hits.first.locator(".pill")).to_have_text("Available")
    expect(hits.first).to_contain_text("shelf")
    check_accessibility(page, "search")
    screenshot(page, "search")
    page.get_by_role("link", name="Next page").click()
    expect(hits).to_have_count(4)
    expect(page).to_have_url(re.compile(r"page=2"))
    second_page = hits.locator(".hit-title").all_inner_texts()
    assert not set(first_page) & set(second_page)
    assert len(set(first_page) | set(second_page)) == 24
    page.get_by_role("link", name="First page").click()
    expect(hits).to_have_count(20)


def test_search_works_without_javascript(web: WebHub) -> None:
    context = web.context(person=web.person("user"))
    context.route(re.compile(r".*\.js$"), lambda route: route.abort())
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Search", exact=True).fill("Film 1")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=Film\+1"))
    expect(page.locator(".hit").first).to_contain_text("Film 1")
    page.get_by_label("Year").fill("1991")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".hit")).to_have_count(1)
    response = page.goto("/search?q=film&year=1")  # the form itself refuses it
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("year")
    expect(page.get_by_label("Year")).to_have_value("1")


def test_a_hit_opens_its_details(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/search?q=Film+12")
    page.locator(".hit-title a", has_text="Film 12").first.click()
    expect(page).to_have_url(re.compile(r"/media/shelf/12$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Film 12")
    expect(page.locator(".external-ids")).to_contain_text("TMDB")
    expect(page.locator(".copies")).to_contain_text("shelf")
    expect(page.get_by_role("heading", name="Corrections")).to_have_count(0)
    check_accessibility(page, "details")
    screenshot(page, "details")


def test_an_editor_corrects_a_title_and_search_shows_it(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=["search", "edit_metadata"]))
    page.goto("/media/shelf/7")
    page.get_by_label("Title").fill("Le <script>Film</script> \u202esept")
    page.get_by_label("TMDB").fill("not a number")
    page.get_by_role("button", name="Save corrections").click()
    expect(page.get_by_role("alert")).to_contain_text("tmdb")
    page.get_by_label("TMDB").fill("")
    page.get_by_role("button", name="Save corrections").click()
    expect(page.get_by_role("status")).to_contain_text("Corrections saved")
    expect(page.get_by_role("heading", level=1)).to_have_text("Le <script>Film</script> \u202esept")
    check_accessibility(page, "details-editor")
    page.goto("/search?q=sept")
    expect(page.locator(".hit-title").first).to_contain_text("<script>Film</script>")
    page.goto("/media/shelf/7")
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Save corrections").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Film 7")


def test_the_library_sorts_filters_and_pages(web: WebHub) -> None:
    page = web.page_as(web.person("user"))
    page.goto("/")
    page.get_by_role("link", name="Library").click()
    expect(page.get_by_role("heading", name="Library")).to_be_visible()
    expect(page.locator(".poster-card")).to_have_count(24)
    page.get_by_label("Sort by").select_option("-year")
    page.get_by_role("button", name="Show").click()
    years = page.locator(".poster-meta").all_inner_texts()
    assert years == sorted(years, reverse=True)
    page.goto("/library?limit=10")
    expect(page.locator(".poster-card")).to_have_count(10)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(".poster-card")).to_have_count(10)
    check_accessibility(page, "library")
    screenshot(page, "library")
    page.goto("/library?year=3000")
    expect(page.get_by_role("alert")).to_contain_text("year")


def test_pages_need_the_search_permission(web: WebHub) -> None:
    page = web.page_as(web.person("user", permissions=[]))
    for path in ("/search?q=film", "/library", "/media/shelf/1"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator("main")).to_contain_text("search permission")
