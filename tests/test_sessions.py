"""Sessions end to end through the API, in both runtime modes: what a sign-in hands out, the
cookies, refresh rotation and replay, sign-out, the caller's sessions, and every way a token
is refused with the same 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import redis.asyncio as aioredis

from medianest.core.auth.tokens import AccessTokens
from medianest.core.db.models import AuditEvent, RefreshToken, Session, User
from tests.auth_testing import ACCOUNTS, KEY, OTHER_KEY, bearer, forge, set_cookies, sign_in_as

PROBLEM = "application/problem+json"
REFRESH = "/api/v1/auth/refresh"
SIGN_OUT = "/api/v1/auth/sign-out"


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(
        autoload=True, features={"hello": True}, plugins=ACCOUNTS, **mode | {"secret_key": KEY}
    ) as hub:
        yield hub


def api_client(running):
    """A client that keeps no cookies, as an API client would."""
    return running.app.test_client(use_cookies=False)


async def audit_actions(running) -> list[str]:
    with running.hub.database.activate():
        return list(await AuditEvent.all().order_by("id").values_list("action", flat=True))


async def test_sign_in_answers_tokens_and_sets_the_session_cookies(running) -> None:
    response, body = await sign_in_as(api_client(running))
    assert response.status_code == 200, body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"] and body["session_id"]
    assert response.headers["Cache-Control"] == "no-store"
    cookies = set_cookies(response)
    access, refresh, csrf = (
        cookies["medianest_access"],
        cookies["medianest_refresh"],
        cookies["medianest_csrf"],
    )
    assert access == {
        "value": body["access_token"],
        "path": "/",
        "max-age": "900",
        "samesite": "Lax",
        "httponly": True,
        "secure": False,
    }
    assert refresh == {
        "value": body["refresh_token"],
        "path": "/api/v1/auth",
        "max-age": str(30 * 86400),
        "samesite": "Strict",
        "httponly": True,
        "secure": False,
    }
    assert csrf["httponly"] is False and csrf["path"] == "/" and csrf["samesite"] == "Strict"
    assert running.hub.sessions.csrf.is_valid(body["session_id"], str(csrf["value"]))
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sid"] == body["session_id"] and claims["sub"] == str(body["user"]["id"])
    assert (claims["iss"], claims["aud"]) == ("medianest", "medianest-api")


@pytest.mark.parametrize(
    ("setting", "scheme", "secure"),
    [
        ("auto", "http", False),
        ("auto", "https", True),
        ("always", "http", True),
        ("never", "https", False),
    ],
)
async def test_cookies_are_secure_as_configured(medianest_hub, setting, scheme, secure) -> None:
    async with medianest_hub.run(
        autoload=True,
        features={"hello": True},
        plugins=ACCOUNTS,
        secret_key=KEY,
        auth={"cookie_secure": setting},
    ) as running:
        response, _ = await sign_in_as(api_client(running), scheme=scheme)
        cookies = set_cookies(response)
    assert {name: c["secure"] for name, c in cookies.items()} == {
        "medianest_access": secure,
        "medianest_refresh": secure,
        "medianest_csrf": secure,
    }


async def test_the_access_token_works_as_bearer_and_as_cookie(running) -> None:
    _, body = await sign_in_as(api_client(running))
    me = await api_client(running).get("/api/v1/me", headers=bearer(body["access_token"]))
    answer = await me.get_json()
    assert me.status_code == 200, answer
    assert answer["user"]["username"] == "ann" and answer["role"] == "user"
    assert answer["permissions"] == ["request", "search"]
    assert (answer["authenticated_by"], answer["session_id"]) == ("bearer", body["session_id"])

    browser = running.app.test_client()
    await sign_in_as(browser)
    answer = await (await browser.get("/api/v1/me")).get_json()
    assert answer["authenticated_by"] == "cookie"


async def test_refresh_rotates_and_a_replay_revokes_the_family(running) -> None:
    client = api_client(running)
    _, first = await sign_in_as(client)
    response = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    second = await response.get_json()
    assert response.status_code == 200, second
    assert second["session_id"] == first["session_id"] and second["status"] == "refreshed"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert not set_cookies(response), "an API client's refresh sets no cookies"
    third = await (
        await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    ).get_json()
    assert (
        await client.get("/api/v1/me", headers=bearer(third["access_token"]))
    ).status_code == 200

    replay = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and replay.content_type == PROBLEM
    for token in (third["access_token"], second["access_token"]):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    latest = await client.post(REFRESH, json={"refresh_token": third["refresh_token"]})
    assert latest.status_code == 401
    assert "session.refresh_replayed" in await audit_actions(running)
    with running.hub.database.activate():
        session = await Session.get(id=first["session_id"])
    assert session.revoked_reason == "refresh_replayed"


async def test_unknown_and_missing_refresh_tokens_are_401(running) -> None:
    client = api_client(running)
    for body in ({"refresh_token": "made-up"}, {}):
        response = await client.post(REFRESH, json=body)
        assert response.status_code == 401, body


async def test_a_browser_refreshes_with_its_cookie_and_csrf_header(running) -> None:
    browser = running.app.test_client()
    response, body = await sign_in_as(browser)
    csrf = set_cookies(response)["medianest_csrf"]["value"]
    refused = await browser.post(REFRESH, json={})
    assert refused.status_code == 403 and (await refused.get_json())["code"] == "csrf_failed"
    refreshed = await browser.post(REFRESH, json={}, headers={"X-CSRF-Token": csrf})
    assert refreshed.status_code == 200, await refreshed.get_json()
    renewed = set_cookies(refreshed)
    assert renewed["medianest_refresh"]["value"] != body["refresh_token"]
    assert renewed["medianest_csrf"]["value"] == csrf, "the CSRF token belongs to the session"


async def test_an_expired_session_cannot_be_refreshed(running) -> None:
    client = api_client(running)
    _, body = await sign_in_as(client)
    with running.hub.database.activate():
        await Session.filter(id=body["session_id"]).update(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    response = await client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 401


async def test_sign_out_ends_the_session_and_clears_the_cookies(running) -> None:
    client = api_client(running)
    _, body = await sign_in_as(client)
    response = await client.post(SIGN_OUT, json={}, headers=bearer(body["access_token"]))
    assert response.status_code == 204
    cleared = set_cookies(response)
    assert set(cleared) == {"medianest_access", "medianest_refresh", "medianest_csrf"}
    assert all(c["value"] == "" for c in cleared.values())
    assert cleared["medianest_refresh"]["path"] == "/api/v1/auth"
    me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 401
    refresh = await client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
    assert refresh.status_code == 401
    assert "session.signed_out" in await audit_actions(running)


async def test_sign_out_with_only_the_refresh_token(running) -> None:
    client = api_client(running)
    _, body = await sign_in_as(client)
    response = await client.post(SIGN_OUT, json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 204
    me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 401


async def test_sign_out_without_a_session_is_204(running) -> None:
    response = await api_client(running).post(SIGN_OUT, json={})
    assert response.status_code == 204


async def test_sign_out_everywhere_ends_every_session_of_the_caller(running) -> None:
    client = api_client(running)
    _, phone = await sign_in_as(client)
    _, laptop = await sign_in_as(client)
    _, bob = await sign_in_as(client, "bob")
    response = await client.post(
        "/api/v1/auth/sign-out-everywhere", headers=bearer(laptop["access_token"])
    )
    assert (response.status_code, await response.get_json()) == (200, {"revoked": 2})
    for body in (phone, laptop):
        me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
        assert me.status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(bob["access_token"]))).status_code == 200
    assert "session.signed_out_everywhere" in await audit_actions(running)


async def test_people_list_their_sessions_and_end_one(running) -> None:
    client = api_client(running)
    _, phone = await sign_in_as(
        client, headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1"}
    )
    _, laptop = await sign_in_as(client)
    _, bob = await sign_in_as(client, "bob")
    listed = await client.get("/api/v1/me/sessions", headers=bearer(laptop["access_token"]))
    body = await listed.get_json()
    assert listed.status_code == 200 and body["total"] == 2
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id[laptop["session_id"]]["current"] is True
    assert by_id[phone["session_id"]]["current"] is False
    assert by_id[phone["session_id"]]["device"] == "Safari on iOS"
    assert by_id[laptop["session_id"]]["device"] == "Firefox on Linux"
    assert by_id[laptop["session_id"]]["ip"]
    assert {"created_at", "last_seen_at", "expires_at", "user_agent"} <= set(body["items"][0])

    path = f"/api/v1/me/sessions/{phone['session_id']}"
    ended = await client.delete(path, headers=bearer(laptop["access_token"]))
    assert ended.status_code == 204
    assert (
        await client.get("/api/v1/me", headers=bearer(phone["access_token"]))
    ).status_code == 401
    again = await client.delete(path, headers=bearer(laptop["access_token"]))
    assert again.status_code == 404
    others = f"/api/v1/me/sessions/{bob['session_id']}"
    assert (await client.delete(others, headers=bearer(laptop["access_token"]))).status_code == 404
    assert (await client.get("/api/v1/me", headers=bearer(bob["access_token"]))).status_code == 200


async def test_a_deactivated_user_is_refused_at_once_and_loses_every_session(running) -> None:
    client = api_client(running)
    _, one = await sign_in_as(client)
    _, two = await sign_in_as(client)
    with running.hub.database.activate():
        await User.filter(id=one["user"]["id"]).update(is_active=False)
    me = await client.get("/api/v1/me", headers=bearer(one["access_token"]))
    assert me.status_code == 401
    with running.hub.database.activate():
        ended = await running.hub.sessions.revoke_all(one["user"]["id"], reason="user_deactivated")
        again = await running.hub.sessions.revoke_all(one["user"]["id"], reason="user_deactivated")
    assert (ended, again) == (2, 0)
    with running.hub.database.activate():
        await User.filter(id=one["user"]["id"]).update(is_active=True)
    for body in (one, two):
        refused = await client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
        assert refused.status_code == 401
        me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
        assert me.status_code == 401


async def test_refresh_tokens_are_stored_as_digests(running) -> None:
    _, body = await sign_in_as(api_client(running))
    with running.hub.database.activate():
        digests = await RefreshToken.all().values_list("digest", flat=True)
    assert digests and body["refresh_token"] not in digests


async def test_every_refused_token_gets_the_same_401(running) -> None:
    client = api_client(running)
    _, body = await sign_in_as(client)
    _, signed_out = await sign_in_as(client)
    await client.post(SIGN_OUT, json={}, headers=bearer(signed_out["access_token"]))
    user_id = str(body["user"]["id"])
    sid = body["session_id"]
    tokens = running.hub.sessions.tokens
    expired = tokens.issue(int(user_id), sid, now=datetime.now(UTC) - timedelta(hours=1)).token
    header, payload, signature = body["access_token"].split(".")
    attempts = {
        "expired": bearer(expired),
        "tampered": bearer(f"{header}.{payload}x.{signature}"),
        "wrong audience": bearer(forge(KEY, sub=user_id, sid=sid, aud="other-app")),
        "wrong key": bearer(forge(OTHER_KEY, sub=user_id, sid=sid)),
        "unsigned": bearer(forge(KEY, sub=user_id, sid=sid, alg="none")),
        "revoked": bearer(signed_out["access_token"]),
        "garbage": bearer("garbage"),
        "unknown API key": bearer("mnk_0123456789abcdef_secret"),
        "basic auth": {"Authorization": "Basic YW5uOnB3LWFubg=="},
        "empty bearer": {"Authorization": "Bearer "},
        "nothing": {},
    }
    answers = {}
    for name, headers in attempts.items():
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, name
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"] == "Bearer"
        problem = await response.get_json()
        problem.pop("request_id")
        answers[name] = problem
    assert len({str(sorted(a.items())) for a in answers.values()}) == 1, answers
    assert answers["expired"]["detail"] == "authentication required or invalid"


async def test_a_signed_token_of_an_unknown_or_foreign_session_is_401(running) -> None:
    client = api_client(running)
    _, ann = await sign_in_as(client)
    _, bob = await sign_in_as(client, "bob")
    tokens = running.hub.sessions.tokens
    unknown = tokens.issue(ann["user"]["id"], "00000000-0000-4000-8000-000000000000").token
    foreign = tokens.issue(ann["user"]["id"], bob["session_id"]).token
    for token in (unknown, foreign):
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
    assert (await client.get("/api/v1/me", headers=bearer(ann["access_token"]))).status_code == 200


async def _lose_shared_cache(mode: dict, running) -> None:
    """Empty the hub's shared cache: FLUSHDB on Redis, every entry dropped when embedded."""
    if "redis_url" in mode:
        client = aioredis.from_url(mode["redis_url"])
        try:
            await client.flushdb()
        finally:
            await client.aclose()
    else:
        await running.hub.cache.aclose()


async def test_ended_sessions_stay_refused_after_a_lost_cache_and_a_restart(
    medianest_hub, mode, tmp_path
) -> None:
    shared = mode | {"data_dir": tmp_path / "restarted", "secret_key": KEY}
    hello = {"autoload": True, "features": {"hello": True}, "plugins": ACCOUNTS}
    async with medianest_hub.run(**hello, **shared) as before:
        client = api_client(before)
        _, live = await sign_in_as(client)
        _, signed_out = await sign_in_as(client)
        _, ended = await sign_in_as(client)
        _, replayed = await sign_in_as(client)
        await client.post(SIGN_OUT, json={}, headers=bearer(signed_out["access_token"]))
        await client.delete(
            f"/api/v1/me/sessions/{ended['session_id']}", headers=bearer(live["access_token"])
        )
        spent = {"refresh_token": replayed["refresh_token"]}
        assert (await client.post(REFRESH, json=spent)).status_code == 200
        assert (await client.post(REFRESH, json=spent)).status_code == 401
        refused = [signed_out["access_token"], ended["access_token"], replayed["access_token"]]
        await _lose_shared_cache(mode, before)
        for token in refused:
            assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
        assert (
            await client.get("/api/v1/me", headers=bearer(live["access_token"]))
        ).status_code == 200
    async with medianest_hub.run(**hello, **shared) as after:
        await _lose_shared_cache(mode, after)
        client = api_client(after)
        for token in refused:
            assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
        assert (
            await client.get("/api/v1/me", headers=bearer(live["access_token"]))
        ).status_code == 200


async def test_signing_keys_rotate_without_signing_anyone_out(medianest_hub, mode, tmp_path):
    shared = mode | {"data_dir": tmp_path / "rotating"}
    hello = {"autoload": True, "features": {"hello": True}, "plugins": ACCOUNTS}
    async with medianest_hub.run(**hello, **shared | {"secret_key": KEY}) as before:
        _, body = await sign_in_as(api_client(before))
    rotated = {"secret_key": OTHER_KEY, "previous_secret_keys": [KEY]}
    async with medianest_hub.run(**hello, **shared | rotated) as after:
        client = api_client(after)
        me = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
        assert me.status_code == 200
        refreshed = await client.post(REFRESH, json={"refresh_token": body["refresh_token"]})
        assert refreshed.status_code == 200
        new_token = (await refreshed.get_json())["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == (
            AccessTokens([OTHER_KEY], lifetime=timedelta(minutes=1)).current_key_id
        )
    async with medianest_hub.run(**hello, **shared | {"secret_key": OTHER_KEY}) as dropped:
        client = api_client(dropped)
        old = await client.get("/api/v1/me", headers=bearer(body["access_token"]))
        assert old.status_code == 401
        assert (await client.get("/api/v1/me", headers=bearer(new_token))).status_code == 200


async def test_api_keys_authenticate_with_their_scopes(running) -> None:
    from medianest.core.auth import api_keys

    client = api_client(running)
    _, body = await sign_in_as(client)
    with running.hub.database.activate():
        user = await User.get(id=body["user"]["id"])
        issued = await api_keys.issue(user, name="script", permissions=["search"])
    me = await client.get("/api/v1/me", headers=bearer(issued.key))
    answer = await me.get_json()
    assert me.status_code == 200, answer
    assert answer["authenticated_by"] == "api_key" and answer["session_id"] is None
    assert answer["permissions"] == ["search"]
    with running.hub.database.activate():
        await api_keys.revoke(issued.row)
    assert (await client.get("/api/v1/me", headers=bearer(issued.key))).status_code == 401
