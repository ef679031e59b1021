"""Sequence ids and the bounded history of pub/sub channels, the same in-process and on
Redis: ids count per channel across replicas, and a reader catches up on exactly what it
missed, or learns that part of it is gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from state_testing import OpenReplica

from medianest.core.state import (
    HistoryRead,
    MemoryPubSub,
    Sequenced,
    SequencedPubSub,
    StateBackends,
    open_state,
)
from medianest.core.state.redis import RedisPubSub


async def receive(messages: AsyncIterator[Any], within: float = 3.0) -> Any:
    return await asyncio.wait_for(anext(messages), within)


def sequenced(state: StateBackends) -> SequencedPubSub:
    assert isinstance(state.pubsub, SequencedPubSub)
    return state.pubsub


async def test_each_channel_numbers_its_messages_from_one(state: StateBackends) -> None:
    pubsub = sequenced(state)
    async with (
        pubsub.subscribe_sequenced("a") as numbered,
        pubsub.subscribe("a") as plain,
    ):
        await pubsub.publish("a", {"n": "first"})
        await pubsub.publish("b", {"n": "elsewhere"})
        await pubsub.publish("a", {"n": "second"})
        assert await receive(numbered) == Sequenced(1, {"n": "first"})
        assert await receive(numbered) == Sequenced(2, {"n": "second"})
        assert await receive(plain) == {"n": "first"}
    assert (await pubsub.history("b", None)) == HistoryRead([], 1, True)


async def test_history_gives_exactly_what_followed_an_id(state: StateBackends) -> None:
    pubsub = sequenced(state)
    assert await pubsub.history("h", None) == HistoryRead([], 0, True)
    assert await pubsub.history("h", 0) == HistoryRead([], 0, True)
    for number in range(1, 6):
        await pubsub.publish("h", number)
    read = await pubsub.history("h", 2)
    assert read == HistoryRead([Sequenced(3, 3), Sequenced(4, 4), Sequenced(5, 5)], 5, True)
    assert await pubsub.history("h", 5) == HistoryRead([], 5, True)
    assert await pubsub.history("h", None) == HistoryRead([], 5, True)


async def test_an_id_beyond_the_last_one_means_the_history_was_reset(
    state: StateBackends,
) -> None:
    pubsub = sequenced(state)
    await pubsub.publish("r", "x")
    assert await pubsub.history("r", 7) == HistoryRead([], 1, False)


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_the_history_is_bounded_and_says_when_it_no_longer_holds_enough(
    backend: str, redis_url: str, prefix: str
) -> None:
    if backend == "memory":
        pubsub: Any = MemoryPubSub(history_size=3)
        client = None
    else:
        state = await open_state(redis_url, prefix=prefix)
        client = state.redis
        pubsub = RedisPubSub(state.redis, prefix=prefix, history_size=3)  # type: ignore[arg-type]
    try:
        for number in range(1, 11):
            await pubsub.publish("b", number)
        assert await pubsub.history("b", 7) == HistoryRead(
            [Sequenced(8, 8), Sequenced(9, 9), Sequenced(10, 10)], 10, True
        )
        gone = await pubsub.history("b", 6)
        assert not gone.complete and gone.last_id == 10
        assert [entry.id for entry in gone.entries] == [8, 9, 10]
        if client is not None:
            assert await client.xlen(f"{prefix}pubsub-history:b") == 3
    finally:
        if client is not None:
            await state.close()


@pytest.mark.redis
async def test_ids_are_shared_by_every_replica_and_survive_a_restart(
    open_replica: OpenReplica,
) -> None:
    first, second = await open_replica(), await open_replica()
    async with sequenced(second).subscribe_sequenced("shared") as on_second:
        await first.pubsub.publish("shared", "one")
        await second.pubsub.publish("shared", "two")
        assert [await receive(on_second), await receive(on_second)] == [
            Sequenced(1, "one"),
            Sequenced(2, "two"),
        ]
    await first.close()
    restarted = await open_replica()
    assert await sequenced(restarted).history("shared", 0) == HistoryRead(
        [Sequenced(1, "one"), Sequenced(2, "two")], 2, True
    )
    await restarted.pubsub.publish("shared", "three")
    assert (await sequenced(restarted).history("shared", 2)).entries == [Sequenced(3, "three")]


@pytest.mark.redis
async def test_a_history_lost_with_its_counter_starts_again(
    open_replica: OpenReplica, prefix: str
) -> None:
    state = await open_replica()
    await state.pubsub.publish("lost", 1)
    await state.pubsub.publish("lost", 2)
    assert state.redis is not None
    await state.redis.delete(f"{prefix}pubsub-seq:lost")  # e.g. evicted
    await state.pubsub.publish("lost", 3)
    read = await sequenced(state).history("lost", 0)
    assert read == HistoryRead([Sequenced(1, 3)], 1, True)
