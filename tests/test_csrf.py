"""CSRF protection of cookie-authenticated requests (double submit, bound to the session), in
both runtime modes; bearer tokens and API keys are not affected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.auth_testing import ACCOUNTS, KEY, bearer, set_cookies, sign_in_as

GREETINGS = "/api/v1/plugins/hello/greetings"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(
        autoload=True, features={"hello": True}, plugins=ACCOUNTS, **mode | {"secret_key": KEY}
    ) as hub:
        yield hub


async def browser_of(running, username: str = "ann"):
    """A cookie-keeping client signed in as ``username``, and its CSRF token."""
    browser = running.app.test_client()
    response, _ = await sign_in_as(browser, username)
    return browser, str(set_cookies(response)["medianest_csrf"]["value"])


async def code_of(response) -> str | None:
    return (await response.get_json() or {}).get("code")


async def test_an_unsafe_cookie_request_without_the_header_is_refused(running) -> None:
    browser, _ = await browser_of(running)
    response = await browser.post(GREETINGS, json={"name": "Ann"})
    assert response.status_code == 403
    assert await code_of(response) == "csrf_failed"
    assert "X-CSRF-Token" in (await response.get_json())["detail"]


async def test_an_unsafe_cookie_request_with_the_header_is_accepted(running) -> None:
    browser, csrf = await browser_of(running)
    response = await browser.post(GREETINGS, json={"name": "Ann"}, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 201


async def test_a_header_that_differs_from_the_cookie_is_refused(running) -> None:
    browser, csrf = await browser_of(running)
    wrong = csrf[:-2] + ("AA" if not csrf.endswith("AA") else "BB")
    response = await browser.post(GREETINGS, json={"name": "A"}, headers={"X-CSRF-Token": wrong})
    assert response.status_code == 403 and await code_of(response) == "csrf_failed"


async def test_another_sessions_token_in_both_header_and_cookie_is_refused(running) -> None:
    """A token planted from elsewhere (cookie tossing) is not this session's."""
    browser, _ = await browser_of(running, "ann")
    _, bobs = await browser_of(running, "bob")
    browser.set_cookie("localhost", "medianest_csrf", bobs)
    response = await browser.post(GREETINGS, json={"name": "A"}, headers={"X-CSRF-Token": bobs})
    assert response.status_code == 403 and await code_of(response) == "csrf_failed"


async def test_safe_requests_need_no_header(running) -> None:
    browser, _ = await browser_of(running)
    assert (await browser.get("/api/v1/me")).status_code == 200


async def test_bearer_clients_are_not_affected(running) -> None:
    client = running.app.test_client(use_cookies=False)
    _, body = await sign_in_as(client)
    response = await client.post(
        GREETINGS, json={"name": "A"}, headers=bearer(body["access_token"])
    )
    assert response.status_code == 201
    browser, _ = await browser_of(running)  # cookies present, but the header decides
    response = await browser.post(
        GREETINGS, json={"name": "A"}, headers=bearer(body["access_token"])
    )
    assert response.status_code == 201


async def test_sign_in_endpoints_are_exempt(running) -> None:
    browser, _ = await browser_of(running)
    again, body = await sign_in_as(browser, "bob")
    assert again.status_code == 200 and body["user"]["username"] == "bob"


async def test_cookies_without_the_header_cannot_sign_a_browser_out(running) -> None:
    browser, csrf = await browser_of(running)
    refused = await browser.post("/api/v1/auth/sign-out", json={})
    assert refused.status_code == 403 and await code_of(refused) == "csrf_failed"
    assert (await browser.get("/api/v1/me")).status_code == 200
    everywhere = await browser.post("/api/v1/auth/sign-out-everywhere")
    assert everywhere.status_code == 403
    assert (await browser.get("/api/v1/me")).status_code == 200
    signed_out = await browser.post(
        "/api/v1/auth/sign-out", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert signed_out.status_code == 204
    assert (await browser.get("/api/v1/me")).status_code == 401


async def test_deleting_a_session_with_cookies_needs_the_header(running) -> None:
    browser, csrf = await browser_of(running)
    sessions = await (await browser.get("/api/v1/me/sessions")).get_json()
    path = f"/api/v1/me/sessions/{sessions['items'][0]['id']}"
    assert (await browser.delete(path)).status_code == 403
    assert (await browser.delete(path, headers={"X-CSRF-Token": csrf})).status_code == 204
