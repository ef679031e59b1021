"""Routing and request filing through an outage: an event whose routing failed is routed once
the outage is over, and a request filed while Redis went away is answered as filed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from medianest.core.notifications import center
from medianest.core.requests.locks import Locks
from medianest.sdk.models import DomainEvent


class FlakyCenter:
    """Routes like the center, failing the first ``failures`` times (an outage)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.routed: list[str] = []

    async def route(self, event: DomainEvent) -> int:
        if self.failures:
            self.failures -= 1
            raise RedisConnectionError("Redis is away")
        self.routed.append(event.type)
        return 1


async def test_an_event_whose_routing_failed_is_routed_after_the_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(center, "ROUTING_RETRY_PAUSES", (0.01, 0.01, 0.01))
    flaky = FlakyCenter(failures=2)
    sink = center.RoutingSink(flaky)  # type: ignore[arg-type]
    created = DomainEvent(type="request.created", source="core", user_id=1)
    approved = DomainEvent(type="request.approved", source="core", user_id=1)
    await sink.record([created, approved])
    for _ in range(200):
        if len(flaky.routed) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(flaky.routed) == ["request.approved", "request.created"]
    await sink.record([created, approved])  # the buffer giving the batch again tells nobody twice
    await asyncio.sleep(0.05)
    assert len(flaky.routed) == 2
    await sink.drain()


async def test_routing_gives_up_after_its_tries_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(center, "ROUTING_RETRY_PAUSES", (0.01, 0.01))
    flaky = FlakyCenter(failures=10)
    sink = center.RoutingSink(flaky)  # type: ignore[arg-type]
    await sink.record([DomainEvent(type="sync.failed", source="core")])
    await asyncio.sleep(0.2)
    assert flaky.routed == [] and flaky.failures == 7  # the first try, then two more
    await sink.drain()


class AwayOnRelease:
    """A Redis that grants the lock and is gone when it is released."""

    async def set(self, *args: Any, **kwargs: Any) -> bool:
        return True

    async def eval(self, *args: Any) -> Any:
        raise RedisConnectionError("Redis is away")


async def test_a_lock_redis_lost_meanwhile_does_not_fail_the_work_done_under_it() -> None:
    locks = Locks(lambda: AwayOnRelease())  # type: ignore[arg-type, return-value]
    done = False
    async with locks.hold("request:1", ttl=5, wait=1):
        done = True
    assert done
