"""Two replicas sharing PostgreSQL and Redis: a session ended on one is refused by the other
on its very next request, and refresh tokens are spent once across both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from medianest.core.app import hub_of
from medianest.core.auth.user_cache import UserCache
from medianest.core.db.models import User
from tests.auth_testing import ACCOUNTS, bearer, sign_in_as
from tests.services import SECRET_KEY
from tests.test_signin import DoorPlugin
from tests.test_user_cache import until

ME = "/api/v1/me"
REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
async def replicas(medianest_hub, migrated_postgres_url, redis_url) -> AsyncIterator[tuple]:
    shared = {
        "database_url": migrated_postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        "features": {"hello": True},
        "plugins": ACCOUNTS,
    }
    async with (
        medianest_hub.run({"door": DoorPlugin()}, autoload=True, **shared) as first,
        medianest_hub.run({"door": DoorPlugin()}, autoload=True, **shared) as second,
    ):
        for replica in (first, second):  # the person approved already: polls complete
            replica.hub.registry.get("auth_providers", "door").pending_polls = 0
        yield (
            first.app.test_client(use_cookies=False),
            second.app.test_client(use_cookies=False),
            first,
        )


async def status(client, path: str, token: str) -> int:
    return (await client.get(path, headers=bearer(token))).status_code


async def test_a_token_from_one_replica_works_on_the_other(replicas) -> None:
    one, two, _ = replicas
    _, body = await sign_in_as(one)
    assert await status(two, ME, body["access_token"]) == 200


async def test_sign_out_on_one_replica_is_refused_by_the_other_at_once(replicas) -> None:
    one, two, _ = replicas
    _, body = await sign_in_as(one)
    assert await status(two, ME, body["access_token"]) == 200
    signed_out = await one.post(
        "/api/v1/auth/sign-out", json={}, headers=bearer(body["access_token"])
    )
    assert signed_out.status_code == 204
    assert await status(two, ME, body["access_token"]) == 401


async def test_sign_out_everywhere_on_one_replica_ends_sessions_on_both(replicas) -> None:
    one, two, _ = replicas
    _, phone = await sign_in_as(one)
    _, laptop = await sign_in_as(two)
    everywhere = await two.post(
        "/api/v1/auth/sign-out-everywhere", headers=bearer(laptop["access_token"])
    )
    assert (await everywhere.get_json()) == {"revoked": 2}
    assert await status(one, ME, phone["access_token"]) == 401
    assert await status(one, ME, laptop["access_token"]) == 401


async def test_ending_a_session_from_the_list_is_seen_by_the_other_replica(replicas) -> None:
    one, two, _ = replicas
    _, phone = await sign_in_as(one)
    _, laptop = await sign_in_as(one)
    ended = await one.delete(
        f"/api/v1/me/sessions/{phone['session_id']}", headers=bearer(laptop["access_token"])
    )
    assert ended.status_code == 204
    assert await status(two, ME, phone["access_token"]) == 401
    assert await status(two, ME, laptop["access_token"]) == 200


async def test_a_refresh_token_replayed_on_the_other_replica_revokes_the_family(replicas) -> None:
    one, two, _ = replicas
    _, first = await sign_in_as(one)
    rotated = await one.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    latest = await rotated.get_json()
    replay = await two.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert await status(one, ME, latest["access_token"]) == 401
    again = await one.post(REFRESH, json={"refresh_token": latest["refresh_token"]})
    assert again.status_code == 401


async def test_a_deactivated_user_is_refused_by_every_replica(replicas) -> None:
    one, two, first = replicas
    _, body = await sign_in_as(one)
    with first.hub.database.activate():
        await User.filter(id=body["user"]["id"]).update(is_active=False)
    assert await status(one, ME, body["access_token"]) == 401
    assert await status(two, ME, body["access_token"]) == 401


async def test_a_user_changed_on_one_replica_is_read_again_by_the_other(
    replicas, monkeypatch
) -> None:
    one, two, first = replicas
    _, body = await sign_in_as(one)
    token, user_id = body["access_token"], body["user"]["id"]
    second = hub_of(two.app)
    patient = UserCache(second.pubsub, ttl=3600)  # only the announcement can make it read again
    await patient.start()
    monkeypatch.setattr(second.sessions, "users", patient)
    try:
        assert await status(two, ME, token) == 200
        with first.hub.database.activate():
            await User.filter(id=user_id).update(is_active=False)
            await first.hub.sessions.users.changed(user_id)

        async def refused() -> bool:
            return await status(two, ME, token) == 401

        await until(refused)
    finally:
        await patient.close()


async def test_an_interactive_sign_in_completes_once_across_replicas(replicas) -> None:
    one, two, _ = replicas
    handle = {"handle": "handle-0123456789"}
    poll = "/api/v1/auth/providers/door/poll"
    assert (await one.post(poll, json=handle)).status_code == 200
    refused = await two.post(poll, json=handle)
    assert refused.status_code == 403
    assert "already completed" in (await refused.get_json())["detail"]
