"""The per-process cache of authenticated users and their sessions: reused briefly, forgotten on
every replica when a change is announced, bounded.

Each test runs on SQLite with the in-process pub/sub (embedded) and on PostgreSQL + Redis
(scaled).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from medianest.core.auth.user_cache import USERS_CHANNEL, UserCache
from medianest.core.db.models import Session, User
from tests.admin_testing import make_user


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(**mode) as running:
        with running.hub.database.activate():
            yield running


@pytest.fixture
async def caches(running) -> AsyncIterator[Callable[..., UserCache]]:
    """Started caches on the hub's pub/sub (as other replicas would have), closed after."""
    made: list[UserCache] = []

    async def make(**options) -> UserCache:
        cache = UserCache(running.hub.pubsub, **options)
        await cache.start()
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait until the async ``condition()`` is true (five seconds at most)."""
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{condition.__name__} did not come true within five seconds")


def forgotten(cache: UserCache) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return len(cache) == 0

    return condition


async def test_a_user_is_reused_until_the_ttl_then_read_again(caches) -> None:
    clock = Clock()
    cache = await caches(ttl=2.0, clock=clock)
    ann = await make_user("ann")
    assert (await cache.get(ann.id)).role == "user"
    await User.filter(id=ann.id).update(role="admin")
    clock.now += 1.9
    assert (await cache.get(ann.id)).role == "user"
    clock.now += 0.2
    assert (await cache.get(ann.id)).role == "admin"


async def test_an_unknown_user_is_none(caches) -> None:
    cache = await caches()
    assert await cache.get(424242) is None


async def test_an_announced_change_is_read_again_by_every_replica(caches) -> None:
    here, there = await caches(ttl=3600), await caches(ttl=3600)
    ann = await make_user("ann")
    assert (await here.get(ann.id)).is_active and (await there.get(ann.id)).is_active
    await User.filter(id=ann.id).update(is_active=False)
    await here.changed(ann.id)
    assert not (await here.get(ann.id)).is_active  # forgotten here before the message arrives
    await until(forgotten(there))
    assert not (await there.get(ann.id)).is_active


async def test_a_session_is_read_with_its_user_and_an_ended_one_is_read_again_everywhere(
    caches,
) -> None:
    here, there = await caches(ttl=3600), await caches(ttl=3600)
    ann = await make_user("ann")
    now = datetime.now(UTC)
    session = await Session.create(
        id=str(uuid.uuid4()), user=ann, last_seen_at=now, expires_at=now + timedelta(days=1)
    )
    assert await here.session("no-such-session") is None
    for cache in (here, there):
        state = await cache.session(session.id)
        assert state is not None and state.user_id == ann.id and state.is_live(now)
        assert len(cache) == 1, "the user came with the session"
    await Session.filter(id=session.id).update(revoked_at=now)
    await here.session_ended(session.id)
    assert (await here.session(session.id)).revoked
    await until(lambda: _session_revoked(there, session.id))


async def _session_revoked(cache: UserCache, session_id: str) -> bool:
    state = await cache.session(session_id)
    return state is not None and state.revoked


async def test_a_change_announced_during_a_read_is_not_kept(caches, monkeypatch) -> None:
    cache = await caches(ttl=3600)
    ann = await make_user("ann")
    read = User.get_or_none

    async def read_then_change(**where):
        user = await read(**where)  # the row as it was...
        await User.filter(id=ann.id).update(role="admin")
        await cache.changed(ann.id)  # ...changed and announced before the read returns
        return user

    monkeypatch.setattr(User, "get_or_none", read_then_change)
    assert (await cache.get(ann.id)).role == "user"
    monkeypatch.undo()
    assert len(cache) == 0
    assert (await cache.get(ann.id)).role == "admin"


async def test_the_least_recently_loaded_users_are_dropped_beyond_the_bound(caches) -> None:
    cache = await caches(ttl=3600, max_users=2)
    ann, bob, cat = [await make_user(name) for name in ("ann", "bob", "cat")]
    for user in (ann, bob, cat):
        await cache.get(user.id)
    assert len(cache) == 2
    await User.filter(id__in=[ann.id, bob.id]).update(role="admin")
    assert (await cache.get(bob.id)).role == "user"  # still kept
    assert (await cache.get(ann.id)).role == "admin"  # dropped, so read again


async def test_an_unreadable_announcement_forgets_everyone(running, caches) -> None:
    cache = await caches(ttl=3600)
    ann = await make_user("ann")
    await cache.get(ann.id)
    await running.hub.pubsub.publish(USERS_CHANNEL, {"user_id": "ann"})
    await until(forgotten(cache))


async def test_closing_forgets_everyone(caches) -> None:
    cache = await caches(ttl=3600)
    ann = await make_user("ann")
    await cache.get(ann.id)
    await cache.close()
    assert len(cache) == 0
