"""The cache behaves the same in-process and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from medianest.core.state import StateBackends
from medianest.sdk.services import Cache


async def test_stored_value_comes_back_as_json(state: StateBackends) -> None:
    await state.cache.set("item", {"title": "Heat", "ids": (1, 2)}, ttl=10)
    assert await state.cache.get("item") == {"title": "Heat", "ids": [1, 2]}


async def test_missing_key_is_none(state: StateBackends) -> None:
    assert await state.cache.get("nothing-here") is None


async def test_value_expires_after_its_ttl(state: StateBackends) -> None:
    await state.cache.set("short", "lived", ttl=0.2)
    assert await state.cache.get("short") == "lived"
    await asyncio.sleep(0.3)
    assert await state.cache.get("short") is None


async def test_delete_forgets_and_tolerates_missing_keys(state: StateBackends) -> None:
    await state.cache.set("gone", 1, ttl=10)
    await state.cache.delete("gone")
    await state.cache.delete("never-was")
    assert await state.cache.get("gone") is None


async def test_non_json_value_is_refused(state: StateBackends) -> None:
    with pytest.raises(TypeError, match="not JSON-able"):
        await state.cache.set("bad", object(), ttl=10)


@pytest.mark.parametrize("ttl", [0, -1, float("inf"), float("nan")])
async def test_ttl_must_be_positive(state: StateBackends, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await state.cache.set("k", 1, ttl=ttl)


async def test_get_or_set_computes_once_for_concurrent_callers(state: StateBackends) -> None:
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return {"answer": 42}

    results = await asyncio.gather(
        *(state.cache.get_or_set("flight", 10, compute) for _ in range(10))
    )
    assert calls == 1
    assert results == [{"answer": 42}] * 10
    assert await state.cache.get("flight") == {"answer": 42}


async def test_get_or_set_uses_the_cached_value(state: StateBackends) -> None:
    await state.cache.set("warm", "cached", ttl=10)

    async def compute() -> str:
        raise AssertionError("must not compute a cached key")

    assert await state.cache.get_or_set("warm", 10, compute) == "cached"


async def test_get_or_set_error_reaches_every_caller_and_is_not_cached(
    state: StateBackends,
) -> None:
    calls = 0

    async def fail() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise LookupError("upstream down")

    results = await asyncio.gather(
        *(state.cache.get_or_set("err", 10, fail) for _ in range(3)), return_exceptions=True
    )
    assert calls == 1
    assert all(isinstance(r, LookupError) for r in results)

    async def recover() -> str:
        return "fine"

    assert await state.cache.get_or_set("err", 10, recover) == "fine"


async def test_cancelled_caller_does_not_cancel_the_others(state: StateBackends) -> None:
    async def slow() -> str:
        await asyncio.sleep(0.1)
        return "done"

    first = asyncio.create_task(state.cache.get_or_set("shared", 10, slow))
    second = asyncio.create_task(state.cache.get_or_set("shared", 10, slow))
    await asyncio.sleep(0.02)
    first.cancel()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_implementations_satisfy_the_sdk_protocol(state: StateBackends) -> None:
    assert isinstance(state.cache, Cache)
