"""Rate limits per client IP and per user, sign-in lockout, and both shared across replicas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import request

from medianest.config.settings import RateLimitSettings
from medianest.core.auth import ratelimit
from medianest.core.auth.ratelimit import (
    SignInLockout,
    client_key,
    limits_for,
    lockout_scope,
    username_scope,
)
from medianest.core.db.models import AuditEvent
from medianest.core.state.errors import StateUnavailableError
from medianest.core.state.memory import MemoryCache, MemoryRateLimiter
from medianest.sdk.models import Principal
from medianest.sdk.rate_limits import ROUTE_GROUPS, rate_limit_groups_of, rate_limited
from tests.security_testing import PROBLEM, SIGN_IN, TEST_USER_HEADER, limits, running_app
from tests.services import SECRET_KEY

ANN = {"credentials": {"username": "ann", "password": "pw-ann"}}
ANN_WRONG = {"credentials": {"username": "ann", "password": "wrong"}}
UNLIMITED_PATHS = ("/health/live", "/health/ready", "/metrics", "/sign-in", "/assets/signin.js")


@pytest.fixture
def test_principal(monkeypatch) -> None:
    """Stands in for authentication: ``X-Test-User: <id>`` makes the caller that user."""
    signed_in = ratelimit.current_principal

    def principal() -> Principal | None:
        given = request.headers.get(TEST_USER_HEADER)
        if given:
            return Principal(user_id=int(given), username=f"user{given}")
        return signed_in()

    monkeypatch.setattr(ratelimit, "current_principal", principal)


# headers, refusals and windows -------------------------------------------------------------


async def test_api_responses_carry_ratelimit_headers_then_429(tmp_path, mode) -> None:
    async with running_app(tmp_path, **mode, **limits(api=(3, 60))) as hub:
        seen = []
        for _ in range(3):
            response = await hub.call("GET", "/api/v1/test/ping")
            assert response.status_code == 200
            seen.append(response.headers["RateLimit-Remaining"])
            assert response.headers["RateLimit-Limit"] == "3"
            assert response.headers["RateLimit-Policy"] == "3;w=60"
            assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
        assert seen == ["2", "1", "0"]

        refused = await hub.call("GET", SIGN_IN)
        assert refused.status_code == 429 and refused.content_type == PROBLEM
        body = await refused.get_json()
        assert body["code"] == "rate_limited" and "api" in body["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["RateLimit-Remaining"] == "0"
        assert refused.headers["RateLimit-Limit"] == "3"
        assert refused.headers["X-Request-ID"] == body["request_id"]


async def test_the_limit_resets_when_the_window_ends(tmp_path, mode) -> None:
    async with running_app(tmp_path, **mode, **limits(api=(1, 0.4))) as hub:
        assert (await hub.call("GET", "/api/v1/test/ping")).status_code == 200
        refused = await hub.call("GET", "/api/v1/test/ping")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1" and refused.headers["RateLimit-Reset"] == "1"
        await asyncio.sleep(0.5)
        again = await hub.call("GET", "/api/v1/test/ping")
        assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "0"


async def test_health_metrics_and_pages_are_never_limited(tmp_path) -> None:
    async with running_app(tmp_path, **limits(api=(1, 60))) as hub:
        for _ in range(3):
            for path in (
                "/health/live",
                "/health/ready",
                "/metrics",
                "/sign-in",
                "/assets/signin.js",
            ):
                response = await hub.call("GET", path)
                assert response.status_code in (200, 401), path
                assert "RateLimit-Limit" not in response.headers, path


async def test_disabled_limits_let_everything_through_without_headers(tmp_path) -> None:
    settings = limits(api=(1, 60), sign_in=(1, 60))
    settings["rate_limits"]["enabled"] = False
    async with running_app(tmp_path, **settings) as hub:
        for _ in range(3):
            response = await hub.call("GET", "/api/v1/test/ping")
            assert response.status_code == 200 and "RateLimit-Limit" not in response.headers
            response = await hub.sign_in(ANN)
            assert response.status_code == 200


async def test_unknown_api_paths_count_too(tmp_path) -> None:
    async with running_app(tmp_path, **limits(api=(1, 60))) as hub:
        assert (await hub.call("GET", "/api/v1/nothing-here")).status_code == 404
        assert (await hub.call("GET", "/api/v1/nothing-here")).status_code == 429


# groups and keys ---------------------------------------------------------------------------


async def test_sign_in_is_its_own_group_counted_per_client_ip(tmp_path, mode) -> None:
    settings = {**mode, **limits(api=(100, 60), sign_in=(2, 60))}
    async with running_app(tmp_path, **settings) as hub:
        first = await hub.sign_in(ANN)
        assert first.status_code == 200
        assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == (
            "2",
            "1",
        )
        start = await hub.call("POST", f"{SIGN_IN}/door/start", json={})
        assert start.status_code == 200 and start.headers["RateLimit-Remaining"] == "0"
        refused = await hub.sign_in(ANN)
        assert refused.status_code == 429 and refused.headers["RateLimit-Policy"] == "2;w=60"

        assert (await hub.sign_in(ANN, ip="198.51.100.20")).status_code == 200
        api = await hub.call("GET", "/api/v1/test/ping")
        assert api.status_code == 200 and api.headers["RateLimit-Limit"] == "100"
        listing = await hub.call("GET", SIGN_IN)
        assert listing.status_code == 200 and listing.headers["RateLimit-Limit"] == "100"


async def test_polling_a_pending_sign_in_spends_no_sign_in_attempts(tmp_path) -> None:
    async with running_app(tmp_path, **limits(api=(100, 60), sign_in=(1, 60))) as hub:
        for _ in range(5):
            pending = await hub.call(
                "POST", f"{SIGN_IN}/door/poll", json={"handle": "pending-handle"}
            )
            assert pending.status_code == 202 and pending.headers["RateLimit-Limit"] == "100"
        assert (await hub.call("POST", f"{SIGN_IN}/door/start", json={})).status_code == 200
        assert (await hub.call("POST", f"{SIGN_IN}/door/start", json={})).status_code == 429


async def test_the_api_is_limited_per_user_once_signed_in(tmp_path, mode, test_principal) -> None:
    async with running_app(tmp_path, **mode, **limits(api=(2, 60))) as hub:
        for _ in range(2):
            assert (await hub.call("GET", "/api/v1/test/ping", user=1)).status_code == 200
        assert (await hub.call("GET", "/api/v1/test/ping", user=1)).status_code == 429
        elsewhere = await hub.call("GET", "/api/v1/test/ping", user=1, ip="198.51.100.1")
        assert elsewhere.status_code == 429, "a user's budget follows them across addresses"
        other_user = await hub.call("GET", "/api/v1/test/ping", user=2)
        assert other_user.status_code == 200, "people behind one address each get their own"
        anonymous = await hub.call("GET", "/api/v1/test/ping")
        assert anonymous.status_code == 200 and anonymous.headers["RateLimit-Remaining"] == "1"


async def test_signed_in_callers_are_counted_by_their_session_user(tmp_path, mode) -> None:
    async with running_app(tmp_path, **mode, **limits(api=(2, 60))) as hub:
        tokens = {}
        for name in ("ann", "bob"):
            signed_in = await hub.sign_in(
                {"credentials": {"username": name, "password": f"pw-{name}"}}
            )
            assert signed_in.status_code == 200
            tokens[name] = {
                "Authorization": f"Bearer {(await signed_in.get_json())['access_token']}"
            }
        ping = "/api/v1/test/ping"
        assert (await hub.call("GET", ping, headers=tokens["ann"])).status_code == 200
        roaming = await hub.call("GET", ping, headers=tokens["ann"], ip="198.51.100.77")
        assert roaming.status_code == 200 and roaming.headers["RateLimit-Remaining"] == "0"
        assert (await hub.call("GET", ping, headers=tokens["ann"])).status_code == 429
        assert (await hub.call("GET", ping, headers=tokens["bob"])).status_code == 200


async def test_a_declared_group_limits_its_route_on_top_of_the_api(
    tmp_path, mode, test_principal
) -> None:
    settings = {**mode, **limits(api=(100, 60), requests=(2, 3600))}
    async with running_app(tmp_path, **settings) as hub:
        made = [await hub.call("POST", "/api/v1/test/requests", user=5) for _ in range(2)]
        assert [r.status_code for r in made] == [201, 201]
        assert made[1].headers["RateLimit-Limit"] == "2", "the tightest group is reported"
        assert made[1].headers["RateLimit-Policy"] == "100;w=60, 2;w=3600"
        refused = await hub.call("POST", "/api/v1/test/requests", user=5)
        assert refused.status_code == 429 and "requests" in (await refused.get_json())["detail"]
        assert 3500 < int(refused.headers["Retry-After"]) <= 3600
        assert (await hub.call("POST", "/api/v1/test/requests", user=6)).status_code == 201
        other = await hub.call("GET", "/api/v1/test/ping", user=5)
        assert other.status_code == 200 and other.headers["RateLimit-Limit"] == "100"


def test_route_groups_are_declared_once_and_checked() -> None:
    @rate_limited("requests")
    @rate_limited("requests")
    def view() -> None: ...

    assert rate_limit_groups_of(view) == ("requests",)
    assert rate_limit_groups_of(lambda: None) == ()
    with pytest.raises(ValueError, match="not a rate-limit group"):
        rate_limited("downloads")  # type: ignore[arg-type]


def test_every_route_group_has_its_setting() -> None:
    assert ROUTE_GROUPS <= set(RateLimitSettings.model_fields)


def test_limits_are_keyed_by_user_or_client_address() -> None:
    settings = RateLimitSettings()
    ann = Principal(user_id=9, username="ann")
    keys = lambda *args: [limit.key for limit in limits_for(*args, settings)]  # noqa: E731
    assert keys("/api/v1/flags", (), ann, "192.0.2.1") == ["api:user:9"]
    assert keys("/api/v1/flags", (), None, "192.0.2.1") == ["api:ip:192.0.2.1"]
    assert keys(f"{SIGN_IN}/plex/start", (), ann, "192.0.2.1") == ["sign_in:ip:192.0.2.1"]
    assert keys(f"{SIGN_IN}/plex/poll", (), None, "192.0.2.1") == ["api:ip:192.0.2.1"]
    assert keys("/api/v1/auth/refresh", (), None, "192.0.2.1") == ["sign_in:ip:192.0.2.1"]
    assert keys("/api/v1/x", ("requests",), ann, "192.0.2.1") == ["api:user:9", "requests:user:9"]
    assert keys("/health/live", (), None, "192.0.2.1") == []
    assert keys("/api/v1/x", ("downloads",), None, "192.0.2.1") == ["api:ip:192.0.2.1"]
    assert keys("/api/v1x", (), None, "192.0.2.1") == []


def test_ipv6_clients_are_counted_by_their_64_network() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("unknown") == "unknown"


async def test_limits_follow_the_forwarded_client_behind_a_trusted_proxy(tmp_path) -> None:
    settings = {"server": {"trusted_proxies": ["10.0.0.0/8"]}, **limits(api=(1, 60))}
    async with running_app(tmp_path, **settings) as hub:

        async def via_proxy(client: str, peer: str = "10.0.0.2"):
            return await hub.call(
                "GET", "/api/v1/test/ping", ip=peer, headers={"X-Forwarded-For": client}
            )

        assert (await via_proxy("198.51.100.1")).status_code == 200
        assert (await via_proxy("198.51.100.2")).status_code == 200
        assert (await via_proxy("198.51.100.1")).status_code == 429
        spoofed = await via_proxy("198.51.100.3", peer="203.0.113.9")
        assert spoofed.status_code == 200
        again = await via_proxy("198.51.100.4", peer="203.0.113.9")
        assert again.status_code == 429, "an untrusted peer cannot pick its own address"


# lockout -----------------------------------------------------------------------------------


def lockout_settings(mode: dict, attempts: int = 3) -> dict:
    return {
        **mode,
        "auth": {"lockout_attempts": attempts, "lockout_minutes": 2},
        **limits(sign_in=(100, 60)),
    }


async def test_failed_sign_ins_lock_out_that_address_and_username(tmp_path, mode) -> None:
    async with running_app(tmp_path, **lockout_settings(mode)) as hub:
        statuses = [(await hub.sign_in(ANN_WRONG)).status_code for _ in range(3)]
        assert statuses == [403, 403, 403]
        locked = await hub.sign_in(ANN)
        assert locked.status_code == 429 and locked.content_type == PROBLEM
        body = await locked.get_json()
        assert body["code"] == "sign_in_locked"
        assert "password" not in body["detail"]
        assert 110 <= int(locked.headers["Retry-After"]) <= 120
        assert "RateLimit-Limit" in locked.headers

        assert (
            await hub.sign_in({"credentials": {"username": "ANN ", "password": "x"}})
        ).status_code == 429
        assert (
            await hub.sign_in({"credentials": {"username": "bob", "password": "pw-bob"}})
        ).status_code == 200
        assert (await hub.sign_in(ANN, ip="198.51.100.5")).status_code == 200

        with hub.hub.database.activate():
            events = await AuditEvent.filter(action="sign_in.locked_out")
        assert len(events) == 1
        event = events[0]
        assert (event.actor, event.target, event.ip, event.outcome) == (
            "ann",
            "pw",
            "203.0.113.10",
            "failure",
        )
        assert event.details == {"provider": "pw", "attempts": 3, "minutes": 2}


def username_settings(mode: dict) -> dict:
    return {
        **mode,
        "auth": {
            "lockout_attempts": 3,
            "lockout_minutes": 2,
            "username_attempts": 4,
            "username_pause_seconds": 30,
        },
        **limits(sign_in=(100, 60)),
    }


async def test_failed_sign_ins_for_one_username_from_many_addresses_are_slowed(
    tmp_path, mode
) -> None:
    async with running_app(tmp_path, **username_settings(mode)) as hub:
        for n in range(4):
            wrong = await hub.sign_in(ANN_WRONG, ip=f"198.51.100.{n + 1}")
            assert wrong.status_code == 403, "no single address reached its lockout"
        slowed = await hub.sign_in(ANN, ip="192.0.2.50")
        assert slowed.status_code == 429 and slowed.content_type == PROBLEM
        body = await slowed.get_json()
        assert body["code"] == "sign_in_slowed" and "password" not in body["detail"]
        assert 25 <= int(slowed.headers["Retry-After"]) <= 30, "a short pause, not a lockout"
        bob = {"credentials": {"username": "bob", "password": "pw-bob"}}
        assert (await hub.sign_in(bob, ip="198.51.100.1")).status_code == 200
        with hub.hub.database.activate():
            events = await AuditEvent.filter(action="sign_in.slowed")
        assert [(e.actor, e.target, e.outcome) for e in events] == [("ann", "pw", "failure")]
        assert events[0].details == {"provider": "pw", "attempts": 4, "seconds": 30}


async def test_guesses_from_elsewhere_never_pause_the_owners_own_address(tmp_path, mode) -> None:
    async with running_app(tmp_path, **username_settings(mode)) as hub:
        home = "203.0.113.9"
        assert (await hub.sign_in(ANN, ip=home)).status_code == 200
        for n in range(6):
            await hub.sign_in(ANN_WRONG, ip=f"198.51.100.{n + 1}")
        elsewhere = await hub.sign_in(ANN, ip="192.0.2.50")
        assert elsewhere.status_code == 429
        assert (await elsewhere.get_json())["code"] == "sign_in_slowed"
        # The owner's own address signs in, and their typos there do not feed the pause.
        assert (await hub.sign_in(ANN_WRONG, ip=home)).status_code == 403
        assert (await hub.sign_in(ANN, ip=home)).status_code == 200


async def test_a_username_pause_ends_after_its_seconds(monkeypatch) -> None:
    pause = SignInLockout(MemoryRateLimiter(), MemoryCache(), attempts=2, seconds=30)
    one = lockout_scope(f"{SIGN_IN}/pw/sign-in", "192.0.2.1", ANN)
    other = lockout_scope(f"{SIGN_IN}/pw/sign-in", "198.51.100.7", ANN)
    assert one is not None and other is not None
    assert username_scope(one) == username_scope(other) is not None
    assert username_scope(lockout_scope(f"{SIGN_IN}/pw/start", "192.0.2.1", None)) is None
    assert not await pause.failed(username_scope(one))
    assert await pause.failed(username_scope(other))
    left = await pause.locked_for(username_scope(one))
    assert left is not None and 29 < left <= 30
    now = time.time()
    monkeypatch.setattr(ratelimit.time, "time", lambda: now + 31)
    assert await pause.locked_for(username_scope(other)) is None


async def test_a_completed_sign_in_resets_the_count(tmp_path, mode) -> None:
    async with running_app(tmp_path, **lockout_settings(mode)) as hub:
        for _ in range(2):
            assert (await hub.sign_in(ANN_WRONG)).status_code == 403
        assert (await hub.sign_in(ANN)).status_code == 200
        for _ in range(2):
            assert (await hub.sign_in(ANN_WRONG)).status_code == 403
        assert (await hub.sign_in(ANN)).status_code == 200


async def test_interactive_sign_in_locks_out_by_address(tmp_path, mode) -> None:
    async with running_app(tmp_path, **lockout_settings(mode, attempts=2)) as hub:
        poll = f"{SIGN_IN}/door/poll"
        for _ in range(2):
            response = await hub.call("POST", poll, json={"handle": "guessed-handle"})
            assert response.status_code == 403
        refused = await hub.call("POST", f"{SIGN_IN}/door/start", json={})
        assert refused.status_code == 429
        assert (await refused.get_json())["code"] == "sign_in_locked"
        elsewhere = await hub.call("POST", poll, json={"handle": "good-handle"}, ip="192.0.2.99")
        assert elsewhere.status_code == 200


async def test_bad_requests_are_not_failed_sign_ins(tmp_path) -> None:
    async with running_app(tmp_path, **lockout_settings({}, attempts=1)) as hub:
        assert (await hub.sign_in({"credentials": "ann"})).status_code == 422
        assert (await hub.call("POST", f"{SIGN_IN}/nope/sign-in", json=ANN)).status_code == 404
        assert (await hub.call("POST", f"{SIGN_IN}/pw/start", json={})).status_code == 400
        assert (await hub.sign_in(ANN)).status_code == 200


async def test_a_lockout_ends_after_its_minutes(monkeypatch) -> None:
    lockout = SignInLockout(MemoryRateLimiter(), MemoryCache(), attempts=2, seconds=60)
    scope = lockout_scope(f"{SIGN_IN}/pw/sign-in", "192.0.2.1", ANN)
    assert scope is not None and scope.username == "ann"
    assert not await lockout.failed(scope)
    assert await lockout.failed(scope)
    left = await lockout.locked_for(scope)
    assert left is not None and 59 < left <= 60
    now = time.time()
    monkeypatch.setattr(ratelimit.time, "time", lambda: now + 61)
    assert await lockout.locked_for(scope) is None
    assert not await lockout.failed(scope), "the count started again"


async def test_sign_in_fails_closed_and_the_api_open_without_shared_state(tmp_path) -> None:
    class Unreachable:
        async def hit(self, key: str, limit: int, window: float, cost: int = 1):
            raise StateUnavailableError("Redis at redis://example failed")

        async def reset(self, key: str) -> None:
            raise StateUnavailableError("Redis at redis://example failed")

    async with running_app(tmp_path) as hub:
        hub.hub.state.rate_limiter = Unreachable()
        refused = await hub.sign_in(ANN)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert (await refused.get_json())["code"] == "state_unavailable"
        api = await hub.call("GET", "/api/v1/test/ping")
        assert api.status_code == 200 and "RateLimit-Limit" not in api.headers


# two replicas sharing Redis ----------------------------------------------------------------


@asynccontextmanager
async def two_replicas(tmp_path, database_url, redis_url, **settings) -> AsyncIterator[tuple]:
    shared = {
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        **settings,
    }
    async with (
        running_app(tmp_path / "one", **shared) as one,
        running_app(tmp_path / "two", **shared) as two,
    ):
        yield one, two


async def test_a_limit_spent_on_one_replica_counts_on_the_other(
    tmp_path, migrated_postgres_url, redis_url
) -> None:
    limited = limits(api=(3, 60))
    async with two_replicas(tmp_path, migrated_postgres_url, redis_url, **limited) as (a, b):
        assert (await a.call("GET", "/api/v1/test/ping")).status_code == 200
        assert (await a.call("GET", "/api/v1/test/ping")).status_code == 200
        last = await b.call("GET", "/api/v1/test/ping")
        assert last.status_code == 200 and last.headers["RateLimit-Remaining"] == "0"
        assert (await a.call("GET", "/api/v1/test/ping")).status_code == 429
        assert (await b.call("GET", "/api/v1/test/ping")).status_code == 429


async def test_a_lockout_on_one_replica_holds_on_the_other(
    tmp_path, migrated_postgres_url, redis_url
) -> None:
    settings: dict[str, Any] = {"auth": {"lockout_attempts": 2, "lockout_minutes": 1}}
    async with two_replicas(tmp_path, migrated_postgres_url, redis_url, **settings) as (a, b):
        assert (await a.sign_in(ANN_WRONG)).status_code == 403
        assert (await b.sign_in(ANN_WRONG)).status_code == 403, "failures add up across replicas"
        for replica in (a, b):
            locked = await replica.sign_in(ANN)
            assert locked.status_code == 429
            assert (await locked.get_json())["code"] == "sign_in_locked"
