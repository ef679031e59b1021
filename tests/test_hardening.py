"""Hardening, checked from outside: security headers on API and HTML answers, HSTS only over
HTTPS, body size limits, malformed sign-in bodies, and no CORS unless configured."""

from __future__ import annotations

import pytest

from tests.security_testing import PROBLEM, SIGN_IN, running_app

SIGN_IN_ROUTES = (f"{SIGN_IN}/pw/sign-in", f"{SIGN_IN}/door/start", f"{SIGN_IN}/door/poll")
JSON = {"Content-Type": "application/json"}


def assert_common_security_headers(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_api_answers_carry_a_locked_down_policy(tmp_path, mode) -> None:
    async with running_app(tmp_path, **mode) as hub:
        for path in ("/api/v1/test/ping", SIGN_IN, "/api/v1/nothing-here", "/health/live"):
            response = await hub.call("GET", path)
            assert_common_security_headers(response)
            assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert "Strict-Transport-Security" not in response.headers
            assert response.headers["X-Request-ID"]


async def test_pages_get_a_policy_without_inline_script(tmp_path) -> None:
    async with running_app(tmp_path) as hub:
        page = await hub.call("GET", "/sign-in")
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert_common_security_headers(page)
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
        assert "'unsafe-eval'" not in policy


async def test_hsts_is_sent_over_https_only(tmp_path) -> None:
    async with running_app(tmp_path) as hub:
        for path in ("/api/v1/test/ping", "/sign-in"):
            plain = await hub.client.get(path)
            assert "Strict-Transport-Security" not in plain.headers
            secure = await hub.client.get(path, scheme="https")
            hsts = secure.headers["Strict-Transport-Security"]
            assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


async def test_refusals_carry_the_security_headers_too(tmp_path) -> None:
    async with running_app(tmp_path, server={"max_body_bytes": 2048}) as hub:
        for response in (
            await hub.call("POST", SIGN_IN_ROUTES[0], data=b"{" + b" " * 4096 + b"}", headers=JSON),
            await hub.call("DELETE", "/health/live"),
            await hub.call("GET", "/api/v1/plugins"),
        ):
            assert response.status_code in (401, 405, 413)
            assert response.content_type == PROBLEM
            assert_common_security_headers(response)


@pytest.mark.parametrize("path", [*SIGN_IN_ROUTES, "/api/v1/test/requests"])
async def test_bodies_over_the_limit_are_413(tmp_path, mode, path) -> None:
    async with running_app(tmp_path, **mode, server={"max_body_bytes": 2048}) as hub:
        big = b'{"handle": "' + b"x" * 3000 + b'"}'
        response = await hub.call("POST", path, data=big, headers=JSON)
        assert response.status_code == 413 and response.content_type == PROBLEM
        assert (await response.get_json())["code"] == "request_entity_too_large"
        fits = await hub.call("POST", path, data=b'{"handle": "' + b"x" * 100 + b'"}', headers=JSON)
        assert fits.status_code != 413


async def test_a_declared_length_over_the_limit_is_refused_before_reading(tmp_path) -> None:
    async with running_app(tmp_path, server={"max_body_bytes": 2048}) as hub:
        headers = {**JSON, "Content-Length": "10000000"}
        response = await hub.call("POST", SIGN_IN_ROUTES[0], data=b"{}", headers=headers)
        assert response.status_code == 413


@pytest.mark.parametrize("path", SIGN_IN_ROUTES)
@pytest.mark.parametrize(
    ("body", "headers", "detail"),
    [
        (b"{not json", JSON, "not valid JSON"),
        (b"\xff\xfe{}", JSON, "not UTF-8"),
        (b"", JSON, "empty"),
        (b"handle=x", {"Content-Type": "application/x-www-form-urlencoded"}, "expected a JSON"),
        (b"[1, 2]", JSON, ""),
        (b'"text"', JSON, ""),
        (b"null", JSON, ""),
    ],
)
async def test_malformed_sign_in_bodies_are_refused_saying_why(
    tmp_path, path, body, headers, detail
) -> None:
    async with running_app(tmp_path) as hub:
        response = await hub.call("POST", path, data=body, headers=headers)
        assert response.status_code in (400, 422), await response.get_data()
        assert response.content_type == PROBLEM
        assert detail in (await response.get_json())["detail"]


async def test_malformed_sign_ins_never_count_towards_a_lockout(tmp_path) -> None:
    settings = {"auth": {"lockout_attempts": 1, "lockout_minutes": 1}}
    async with running_app(tmp_path, **settings) as hub:
        for body in (b"{not json", b"\xff", b"[]", b'{"credentials": 5}'):
            await hub.call("POST", SIGN_IN_ROUTES[0], data=body, headers=JSON)
        signed_in = await hub.sign_in({"credentials": {"username": "ann", "password": "pw-ann"}})
        assert signed_in.status_code == 200


async def test_there_is_no_cors_unless_configured(tmp_path) -> None:
    async with running_app(tmp_path) as hub:
        origin = {"Origin": "https://elsewhere.example"}
        response = await hub.call("GET", SIGN_IN, headers=origin)
        assert "Access-Control-Allow-Origin" not in response.headers
        preflight = await hub.call(
            "OPTIONS", SIGN_IN, headers={**origin, "Access-Control-Request-Method": "GET"}
        )
        assert preflight.status_code == 403
        assert "Access-Control-Allow-Origin" not in preflight.headers
