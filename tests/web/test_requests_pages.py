"""The request pages in a real browser: the request button on search hits and media details
(in place, without reloading, and without JavaScript), the season picker, every refusal shown
where the person asked, My requests (filters, paging, deleting, live status) and Manage
requests (bulk approve and decline with a reason, seen live by the person who asked), in
both languages, accessible, with screenshots.

The hub's request backend is the hello plugin's (in memory); the titles to request come from
a live source that holds no library (:mod:`tests.web.wishlist`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from medianest.core.auth.principals import principal_for
from medianest.core.db.models import User
from medianest.core.requests import RequestAsk
from medianest.sdk.errors import AccountNotLinkedError, UpstreamUnreachableError
from tests.served_hub import served_hub
from tests.web.browser import Person, WebHub, check_accessibility, screenshot
from tests.web.wishlist import SOURCE, WishlistPlugin

BACKEND = "hello:requests"


@pytest.fixture(scope="module")
def web(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHub]:
    """A served hub whose search also finds titles no library holds (the wishlist)."""
    data_dir: Path = tmp_path_factory.mktemp("requests-hub")
    with served_hub(data_dir, items=8, plugins={SOURCE: WishlistPlugin()}) as served:
        yield WebHub(served, browser)


@pytest.fixture(autouse=True)
def close_pages(web: WebHub) -> Iterator[None]:
    """Each test's browser contexts end with it (their live sockets with them)."""
    yield
    for context in web.browser.contexts:
        context.close()


def ask(web: WebHub, person: Person, kind: str, item_id: str, seasons: Any = None) -> int:
    """File a request for ``person`` through the service (the pages' own), its id."""

    async def filed() -> int:
        user = await User.get(id=person.user_id)
        made = await web.served.hub.requests.create(
            principal_for(user),
            RequestAsk(kind=kind, media=(SOURCE, item_id), seasons=seasons),  # type: ignore[arg-type]
        )
        return int(made.request.id)

    return web.served.run(filed())


def shows_status(page: Page, request_id: int, status: str) -> None:
    """The row of ``request_id`` says ``status`` without the page being loaded again."""
    expect(page.locator(f"#request-{request_id} [data-field=status]")).to_have_text(status)


def request_button(page: Page, title: str) -> Any:
    """The request button of the hit or details of ``title``."""
    return page.get_by_role("button", name=re.compile(rf"^Request( all seasons)? {title}$"))


def test_a_friend_requests_a_film_from_search_without_leaving_it(web: WebHub) -> None:
    friend = web.person("user", name="friend-film")
    page = web.page_as(friend)
    page.goto("/search?q=Wanted+Film+1")
    hit = page.locator(".hit", has_text="Wanted Film 11")
    expect(hit.locator(".pill")).to_have_text("Requestable")
    check_accessibility(page, "search-requestable")
    page.evaluate("window.stayed = true")
    request_button(hit, "Wanted Film 11").click()
    expect(hit.get_by_role("status")).to_contain_text("Requested: pending")
    expect(hit.locator("[data-field=status]")).to_have_text("pending")
    expect(request_button(hit, "Wanted Film 11")).to_have_count(0)
    assert page.evaluate("window.stayed") is True  # no reload
    check_accessibility(page, "search-requested")
    screenshot(page, "search-requested")
    page.reload()  # the hub itself now says it is requested, and by whom
    hit = page.locator(".hit", has_text="Wanted Film 11")
    expect(hit.locator("[data-field=status]")).to_have_text("pending")
    expect(request_button(hit, "Wanted Film 11")).to_have_count(0)


def test_asking_for_what_someone_asked_for_joins_their_request(web: WebHub) -> None:
    second = web.page_as(web.person("user", name="second-asker"))
    second.goto(f"/media/{SOURCE}/movie-12")  # the page is made before the first asks
    first = web.person("user", name="first-asker")
    first_id = ask(web, first, "movie", "movie-12")
    request_button(second, "Wanted Film 12").click()
    expect(second.get_by_role("alert")).to_contain_text("requested already")
    expect(second.locator("[data-field=status]")).to_have_text("pending")
    expect(second.locator(".request-state")).not_to_contain_text("first-asker")  # not theirs
    second.reload()  # the hub says so too, and the second person now follows the request
    expect(second.locator("[data-field=status]")).to_have_text("pending")
    expect(request_button(second, "Wanted Film 12")).to_have_count(0)

    async def followers() -> list[str]:
        view = await web.served.hub.requests.get(
            principal_for(await User.get(username="first-asker")), first_id
        )
        return [person.username for person in view.interested]

    assert "second-asker" in web.served.run(followers())
    manager = web.page_as(web.person("user", permissions=["search", "manage_requests"]))
    manager.goto(f"/media/{SOURCE}/movie-12")
    expect(manager.locator(".request-state")).to_contain_text("by first-asker")


def test_a_show_s_seasons_are_picked_on_its_details(web: WebHub) -> None:
    friend = web.person("user", name="friend-show")
    page = web.page_as(friend)
    page.goto(f"/media/{SOURCE}/show-1")
    picker = page.get_by_role("group", name="Seasons to request")
    every = picker.get_by_label("All seasons")
    expect(every).to_be_checked()
    seasons = picker.get_by_role("checkbox", name=re.compile(r"Season \d"))
    expect(seasons).to_have_count(3)  # no specials
    check_accessibility(page, "details-requestable-show")
    screenshot(page, "details-season-picker")
    picker.get_by_label("Season 2").check()
    expect(every).not_to_be_checked()
    picker.get_by_label("Season 3").check()
    request_button(page, "Wanted Show 1").click()
    expect(page.get_by_role("status")).to_contain_text("Requested: pending")
    page.goto("/requests")
    row = page.locator("tr", has_text="Wanted Show 1")
    expect(row).to_contain_text("Seasons 2, 3")


def test_requesting_works_without_javascript(web: WebHub) -> None:
    context = web.context(person=web.person("user", name="no-script"))
    context.route(re.compile(r".*\.js$"), lambda route: route.abort())
    page = context.new_page()
    page.goto(f"/media/{SOURCE}/movie-13")
    request_button(page, "Wanted Film 13").click()
    expect(page).to_have_url(re.compile(r"/requests\?made=\d+$"))
    expect(page.get_by_role("status")).to_contain_text("Requested Wanted Film 13: pending.")
    page.goto(f"/media/{SOURCE}/show-2")
    page.get_by_label("Season 1").check()  # "All seasons" stays checked: all wins
    request_button(page, "Wanted Show 2").click()
    expect(page.locator("tr", has_text="Wanted Show 2")).to_contain_text("All seasons")
    response = page.goto(f"/media/{SOURCE}/movie-13")
    assert response is not None and response.status == 200
    expect(request_button(page, "Wanted Film 13")).to_have_count(0)


def test_refusals_are_shown_where_the_person_asked(web: WebHub) -> None:
    friend = web.person("user", name="refused")
    backend = web.served.hub.registry.get("request_backends", BACKEND)
    original = backend.create_request
    page = web.page_as(friend)

    async def down(*_args: Any, **_kwargs: Any) -> Any:
        raise UpstreamUnreachableError("Overseerr is not answering")

    async def stranger(*_args: Any, **_kwargs: Any) -> Any:
        raise AccountNotLinkedError("refused has no account in Overseerr: ask an admin")

    try:
        backend.create_request = down
        page.goto(f"/media/{SOURCE}/movie-14")
        request_button(page, "Wanted Film 14").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "The request backend hello:requests did not answer properly: Overseerr is not answering"
        )
        expect(request_button(page, "Wanted Film 14")).to_be_enabled()  # try again later
        backend.create_request = stranger
        request_button(page, "Wanted Film 14").click()
        expect(page.get_by_role("alert")).to_contain_text("no account in Overseerr")
        check_accessibility(page, "details-refused")
    finally:
        backend.create_request = original

    async def one_film_a_week() -> None:
        admin = principal_for(await User.create(username="quota-admin", role="admin"))
        await web.served.hub.requests.set_quota(admin, friend.user_id, "movie", 1, 7)

    web.served.run(one_film_a_week())
    request_button(page, "Wanted Film 14").click()
    expect(page.get_by_role("status")).to_contain_text("Requested: pending")
    page.goto(f"/media/{SOURCE}/movie-15")
    request_button(page, "Wanted Film 15").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "You have used your requests: 1 every 7 days."
    )
    expect(page.get_by_role("alert")).to_contain_text("You can ask again from")
    screenshot(page, "details-quota")


def test_my_requests_filter_page_and_delete(web: WebHub) -> None:
    me = web.person("user", name="many-asks")
    for number in range(16, 30):
        ask(web, me, "movie", f"movie-{number}")
    ask(web, me, "show", "show-3", seasons="all")
    other = web.person("user", name="not-me")
    ask(web, other, "movie", "movie-30")
    page = web.page_as(me)
    page.goto("/")
    page.get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    expect(page.locator("#requests-total")).to_have_text("15 requests")
    expect(page.locator("tr[data-request-id]")).to_have_count(15)
    expect(page.locator("main")).not_to_contain_text("Wanted Film 30")
    check_accessibility(page, "my-requests")
    screenshot(page, "my-requests")
    page.get_by_label("Kind").select_option("show")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("tr[data-request-id]")).to_have_count(1)
    expect(page.locator("tr[data-request-id]")).to_contain_text("All seasons")
    page.goto("/requests?kind=movie")
    page.get_by_role("button", name="Delete Wanted Film 29").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(page.get_by_role("status")).to_contain_text("Request deleted.")
    expect(page.locator("main")).not_to_contain_text("Wanted Film 29")
    page.goto("/requests?status=deleted")
    expect(page.locator("tr[data-request-id]")).to_contain_text("Wanted Film 29")
    response = page.goto("/requests?status=lost")
    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("status")


def test_my_requests_pages_through_many(web: WebHub) -> None:
    me = web.person("user", name="pager")
    for number in range(1, 30):
        ask_any(web, me, number)
    page = web.page_as(me)
    page.goto("/requests")
    expect(page.locator("tr[data-request-id]")).to_have_count(25)
    first = page.locator("tr[data-request-id]").evaluate_all("rows => rows.map(r => r.id)")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("tr[data-request-id]")).to_have_count(4)
    second = page.locator("tr[data-request-id]").evaluate_all("rows => rows.map(r => r.id)")
    assert not set(first) & set(second)
    page.get_by_role("link", name="First page").click()
    expect(page.locator("tr[data-request-id]")).to_have_count(25)


def ask_any(web: WebHub, person: Person, number: int) -> None:
    """A request of ``person`` for a film only TMDB knows (``number`` apart)."""

    async def filed() -> None:
        user = await User.get(id=person.user_id)
        await web.served.hub.requests.create(
            principal_for(user), RequestAsk(kind="movie", tmdb_id=90_000 + number)
        )

    web.served.run(filed())


def test_managers_decide_in_bulk_and_the_friend_sees_it_live(web: WebHub) -> None:
    friend = web.person("user", name="waiting-friend")
    approve_me = ask(web, friend, "movie", "movie-1")
    decline_me = ask(web, friend, "movie", "movie-2")
    friend_page = web.page_as(friend)
    friend_page.goto("/requests")
    expect(friend_page.locator("html[data-live=on]")).to_have_count(1)
    manager = web.page_as(web.person("user", permissions=["search", "manage_requests"]))
    manager.goto("/requests")
    manager.get_by_role("link", name="Manage everyone's requests").click()
    expect(manager.get_by_role("heading", name="Manage requests")).to_be_visible()
    manager.get_by_label("Asked by").select_option(label="waiting-friend")
    manager.get_by_role("button", name="Show", exact=True).click()
    expect(manager.locator("tr[data-request-id]")).to_have_count(2)
    check_accessibility(manager, "manage-requests")
    screenshot(manager, "manage-requests")
    manager.get_by_label("Select Wanted Film 1", exact=True).check()
    manager.get_by_role("button", name="Approve").click()
    expect(manager.get_by_role("status")).to_contain_text("1 request approved.")
    expect(manager.locator(f"#request-{approve_me} [data-field=status]")).to_have_text("approved")
    shows_status(friend_page, approve_me, "approved")
    manager.get_by_label("Select Wanted Film 2", exact=True).check()
    manager.get_by_label(re.compile("^Reason")).fill("Not in \u202ethis house")
    manager.get_by_role("button", name="Decline").click()
    expect(manager.get_by_role("status")).to_contain_text("1 request declined.")
    shows_status(friend_page, decline_me, "declined")
    reason = friend_page.locator(f"#request-{decline_me} [data-field=reason]")
    expect(reason).to_have_text("Not in \u202ethis house")
    manager.get_by_label("Select Wanted Film 1", exact=True).check()
    manager.get_by_role("button", name="Approve").click()  # approved already
    expect(manager.get_by_role("alert")).to_contain_text("could not be changed")
    manager.get_by_role("button", name="Approve").click()
    expect(manager.get_by_role("alert")).to_contain_text("Select at least one request")


def test_manage_page_hears_of_new_requests(web: WebHub) -> None:
    manager = web.page_as(web.person("admin"))
    manager.goto("/requests/manage?status=pending")
    expect(manager.locator("html[data-live=on]")).to_have_count(1)
    ask(web, web.person("user", name="late-asker"), "show", "show-4", seasons=(1,))
    news = manager.locator("#requests-news")
    expect(news).to_be_visible()
    news.get_by_role("link").click()
    expect(manager.locator("tr", has_text="late-asker")).to_have_count(1)


def test_the_pages_speak_french(web: WebHub) -> None:
    me = web.person("user", name="francophone")
    page = web.page_as(me, locale="fr-FR")
    page.goto(f"/media/{SOURCE}/show-5")
    picker = page.get_by_role("group", name="Saisons à demander")
    picker.get_by_label("Saison 1", exact=True).check()
    expect(picker.get_by_label("Toutes les saisons")).not_to_be_checked()
    page.get_by_role("button", name="Demander Wanted Show 5").click()
    expect(page.get_by_role("status")).to_contain_text("Demandé : en attente.")
    page.goto("/requests")
    expect(page.get_by_role("heading", name="Mes demandes")).to_be_visible()
    row = page.locator("tr[data-request-id]", has_text="Wanted Show 5")
    expect(row).to_contain_text("Saison 1")
    expect(row.locator("[data-field=status]")).to_have_text("en attente")
    check_accessibility(page, "my-requests-fr")
    screenshot(page, "my-requests-fr")


def test_who_may_do_what(web: WebHub) -> None:
    looker = web.page_as(web.person("user", permissions=["search"]))
    looker.goto(f"/media/{SOURCE}/movie-3")
    expect(looker.locator("[data-request-form]")).to_have_count(0)
    looker.goto("/")
    expect(looker.get_by_role("link", name="Requests")).to_be_visible()
    response = looker.goto("/requests/manage")
    assert response is not None and response.status == 403
    expect(looker.locator("main")).to_contain_text("manage_requests")
    looker.goto("/requests")
    expect(looker.get_by_role("link", name="Manage everyone's requests")).to_have_count(0)
