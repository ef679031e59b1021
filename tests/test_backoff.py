"""One back-off policy for every retry core makes."""

from __future__ import annotations

from redis.asyncio import Redis

from medianest.core.backoff import RetryPolicy
from medianest.core.core_jobs import NOTIFY_BACKOFF
from medianest.core.state.redis import RedisPubSub
from medianest.workers import RetryPolicy as WorkerRetryPolicy


def test_the_wait_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=0.5, max_seconds=3.0)
    assert [policy.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_job_retries_use_the_same_policy() -> None:
    assert WorkerRetryPolicy is RetryPolicy


def test_notification_rounds_wait_five_seconds_doubling_up_to_five_minutes() -> None:
    waits = [NOTIFY_BACKOFF.delay(round_) for round_ in range(1, 9)]
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]


async def test_pubsub_reconnection_backs_off_with_the_policy() -> None:
    client = Redis.from_url("redis://127.0.0.1:1")  # never connected
    try:
        pubsub = RedisPubSub(client, reconnect_initial=0.05, reconnect_max=0.3)
        assert pubsub.reconnect == RetryPolicy(base_seconds=0.05, max_seconds=0.3)
        assert [pubsub.reconnect.delay(n) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.2, 0.3]
    finally:
        await client.aclose()
