"""Pub/sub behaves the same in-process and on Redis; on Redis it spans replicas and
survives lost connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from state_testing import OpenReplica, TcpProxy
from structlog.testing import capture_logs

from medianest.core.state import StateBackends, open_state
from medianest.sdk.services import PubSub


async def receive(messages: AsyncIterator[Any], within: float = 3.0) -> Any:
    return await asyncio.wait_for(anext(messages), within)


@contextlib.asynccontextmanager
async def publishing(pubsub: PubSub, channel: str, message: Any) -> AsyncIterator[None]:
    """Publish ``message`` every 50 ms while the block runs (for a subscriber reconnecting)."""

    async def repeat() -> None:
        while True:
            await pubsub.publish(channel, message)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(repeat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_every_subscriber_gets_each_message_in_order(state: StateBackends) -> None:
    async with (
        state.pubsub.subscribe("news") as first,
        state.pubsub.subscribe("news") as second,
    ):
        await state.pubsub.publish("news", {"n": 1})
        await state.pubsub.publish("news", {"n": 2})
        assert [await receive(first), await receive(first)] == [{"n": 1}, {"n": 2}]
        assert [await receive(second), await receive(second)] == [{"n": 1}, {"n": 2}]


async def test_messages_arrive_as_json(state: StateBackends) -> None:
    async with state.pubsub.subscribe("json") as messages:
        await state.pubsub.publish("json", {"ids": (1, 2), 3: "three"})
        assert await receive(messages) == {"ids": [1, 2], "3": "three"}


async def test_channels_are_separate(state: StateBackends) -> None:
    async with state.pubsub.subscribe("mine") as messages:
        await state.pubsub.publish("other", "not for me")
        await state.pubsub.publish("mine", "for me")
        assert await receive(messages) == "for me"


async def test_non_json_message_is_refused(state: StateBackends) -> None:
    with pytest.raises(TypeError, match="not JSON-able"):
        await state.pubsub.publish("bad", {1, 2})


async def test_leaving_the_subscription_leaves_no_task_behind(state: StateBackends) -> None:
    before = asyncio.all_tasks()
    async with state.pubsub.subscribe("quiet") as messages:
        await state.pubsub.publish("quiet", "hello")
        assert await receive(messages) == "hello"

    async def consume_forever() -> None:
        async with state.pubsub.subscribe("quiet") as messages:
            async for _ in messages:
                pass

    consumer = asyncio.create_task(consume_forever())
    await asyncio.sleep(0.1)
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    assert asyncio.all_tasks() == before


async def test_closing_ends_iteration_and_refuses_new_subscriptions(
    state: StateBackends,
) -> None:
    async def consume() -> list[Any]:
        async with state.pubsub.subscribe("end") as messages:
            return [m async for m in messages]

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.1)
    await state.pubsub.publish("end", "last")
    await asyncio.sleep(0.1)
    await state.close()
    assert await asyncio.wait_for(consumer, 3) == ["last"]
    with pytest.raises(RuntimeError, match="closed"):
        async with state.pubsub.subscribe("end"):
            pass


async def test_implementations_satisfy_the_sdk_protocol(state: StateBackends) -> None:
    assert isinstance(state.pubsub, PubSub)


@pytest.mark.redis
async def test_messages_cross_replicas(open_replica: OpenReplica) -> None:
    api_one, api_two = await open_replica(), await open_replica()
    async with (
        api_one.pubsub.subscribe("requests") as on_one,
        api_two.pubsub.subscribe("requests") as on_two,
    ):
        await api_two.pubsub.publish("requests", {"id": 7, "status": "approved"})
        assert await receive(on_one) == {"id": 7, "status": "approved"}
        assert await receive(on_two) == {"id": 7, "status": "approved"}


async def _our_pubsub_clients(raw: Redis, name: str) -> list[dict[str, Any]]:
    return [c for c in await raw.client_list(_type="pubsub") if c.get("name") == name]


@pytest.mark.redis
async def test_subscriber_recovers_when_its_connection_is_killed(
    open_replica: OpenReplica, redis_url: str, prefix: str
) -> None:
    subscriber, publisher = await open_replica(), await open_replica()
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with subscriber.pubsub.subscribe("live") as messages:
            await publisher.pubsub.publish("live", "before")
            assert await receive(messages) == "before"
            clients = await _our_pubsub_clients(raw, prefix.rstrip(":"))
            assert clients, "the subscription should hold a named pub/sub connection"
            for client in clients:  # CLIENT KILL TYPE pubsub, limited to this test's clients
                await raw.client_kill_filter(_id=client["id"])
            async with publishing(publisher.pubsub, "live", "after"):
                assert await receive(messages, within=10) == "after"
        assert await _our_pubsub_clients(raw, prefix.rstrip(":")) == []
    finally:
        await raw.aclose()


@pytest.mark.redis
async def test_subscriber_survives_a_redis_outage(
    open_replica: OpenReplica, redis_proxy: tuple[TcpProxy, str], prefix: str
) -> None:
    proxy, via_proxy = redis_proxy
    publisher = await open_replica()
    subscriber = await open_state(via_proxy, prefix=prefix)
    try:
        with capture_logs() as logs:
            async with subscriber.pubsub.subscribe("live") as messages:
                await publisher.pubsub.publish("live", "before")
                assert await receive(messages) == "before"
                await proxy.stop()
                waiting: asyncio.Future[Any] = asyncio.ensure_future(anext(messages))
                await asyncio.sleep(0.5)
                assert not waiting.done()
                await proxy.start()
                async with publishing(publisher.pubsub, "live", "after"):
                    assert await asyncio.wait_for(waiting, 10) == "after"
    finally:
        await subscriber.close()
    events = [entry["event"] for entry in logs]
    assert "pubsub connection lost, reconnecting" in events
    assert "pubsub connection restored" in events
