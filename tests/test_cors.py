"""CORS: none by default; configured origins get their origin echoed, credentials and the
hub's headers; preflights are answered before authentication."""

from __future__ import annotations

import pytest

from medianest.config import Settings, SettingsError, load_settings
from medianest.core.web.cors import CorsPolicy, normalise_origin
from tests.security_testing import PROBLEM, SIGN_IN, limits, running_app

APP = "https://app.example.org"
PREFLIGHT = {
    "Origin": APP,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-csrf-token",
}


def cors_settings(*origins: str, **extra: object) -> dict:
    return {"server": {"cors_origins": list(origins)}, **extra}


async def test_no_origin_is_allowed_by_default(tmp_path) -> None:
    async with running_app(tmp_path) as hub:
        response = await hub.call("GET", "/api/v1/test/ping", headers={"Origin": APP})
        assert response.status_code == 200
        assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]
        assert "Origin" not in response.headers.get("Vary", "")

        preflight = await hub.call("OPTIONS", "/api/v1/test/ping", headers=PREFLIGHT)
        assert preflight.status_code == 403 and preflight.content_type == PROBLEM
        assert (await preflight.get_json())["code"] == "cors_origin_not_allowed"
        assert not [h for h in preflight.headers.keys() if h.lower().startswith("access-control-")]


async def test_an_allowed_origin_is_echoed_with_credentials(tmp_path, mode) -> None:
    async with running_app(tmp_path, **mode, **cors_settings(APP)) as hub:
        response = await hub.call("GET", "/api/v1/test/ping", headers={"Origin": APP})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == APP
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        exposed = response.headers["Access-Control-Expose-Headers"]
        for name in ("X-Request-ID", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"):
            assert name in exposed
        assert "Origin" in response.headers["Vary"]


async def test_a_preflight_is_answered_204_without_credentials(tmp_path) -> None:
    async with running_app(tmp_path, **cors_settings(APP)) as hub:
        for path in ("/api/v1/test/ping", "/api/v1/plugins", "/api/v1/flags"):
            preflight = await hub.call("OPTIONS", path, headers=PREFLIGHT)
            assert preflight.status_code == 204, path
            assert preflight.headers["Access-Control-Allow-Origin"] == APP
            assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
            methods = preflight.headers["Access-Control-Allow-Methods"].split(", ")
            assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(methods)
            allowed = preflight.headers["Access-Control-Allow-Headers"].split(", ")
            assert allowed == ["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID"]
            assert int(preflight.headers["Access-Control-Max-Age"]) > 0
            assert preflight.headers["Vary"] == "Origin"
            assert await preflight.get_data() == b""


async def test_other_origins_get_no_cors_headers(tmp_path) -> None:
    async with running_app(tmp_path, **cors_settings(APP)) as hub:
        for origin in ("https://evil.example", "null", "http://app.example.org", f"{APP}:8443"):
            response = await hub.call("GET", "/api/v1/test/ping", headers={"Origin": origin})
            assert response.status_code == 200
            assert "Access-Control-Allow-Origin" not in response.headers, origin
            assert "Origin" in response.headers["Vary"], "caches keep answers per origin"
            preflight = await hub.call(
                "OPTIONS", "/api/v1/test/ping", headers={**PREFLIGHT, "Origin": origin}
            )
            assert preflight.status_code == 403, origin
            assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_refusals_carry_cors_headers_so_browsers_can_read_them(tmp_path) -> None:
    async with running_app(tmp_path, **cors_settings(APP), **limits(api=(1, 60))) as hub:
        headers = {"Origin": APP}
        assert (await hub.call("GET", "/api/v1/test/ping", headers=headers)).status_code == 200
        limited = await hub.call("GET", "/api/v1/test/ping", headers=headers)
        assert limited.status_code == 429
        assert limited.headers["Access-Control-Allow-Origin"] == APP
        missing = await hub.call("GET", "/api/v1/nothing", headers=headers)
        assert missing.headers["Access-Control-Allow-Origin"] == APP


async def test_preflights_do_not_spend_rate_limits(tmp_path) -> None:
    settings = cors_settings(APP, **limits(api=(1, 60), sign_in=(1, 60)))
    async with running_app(tmp_path, **settings) as hub:
        for path in ("/api/v1/test/ping", f"{SIGN_IN}/pw/sign-in"):
            for _ in range(3):
                preflight = await hub.call("OPTIONS", path, headers=PREFLIGHT)
                assert preflight.status_code == 204
                assert "RateLimit-Limit" not in preflight.headers
        response = await hub.call("GET", "/api/v1/test/ping", headers={"Origin": APP})
        assert response.status_code == 200


def test_origins_compare_by_scheme_host_and_port() -> None:
    policy = CorsPolicy(["https://App.Example.org", "http://localhost:5173"])
    assert policy.allows("https://app.example.org")
    assert policy.allows("https://app.example.org:443")
    assert policy.allows("http://localhost:5173")
    assert not policy.allows("http://localhost")
    assert not policy.allows("https://app.example.org.evil.example")
    assert not policy.allows("null") and not policy.allows(None) and not policy.allows("")
    assert normalise_origin("HTTP://Example.org:80/") == "http://example.org"
    assert not CorsPolicy([]).enabled


def test_origins_in_settings_must_be_plain_origins() -> None:
    assert Settings(server={"cors_origins": [APP]}).server.cors_origins == [APP]
    with pytest.raises(SettingsError, match="not an origin"):
        load_settings(server={"cors_origins": ["https://app.example.org/path"]})
