"""The fixed-window rate limiter behaves the same in-process and on Redis."""

from __future__ import annotations

import asyncio

import pytest

from medianest.core.state import StateBackends
from medianest.sdk.services import RateLimiter


async def test_hits_count_down_then_are_refused(state: StateBackends) -> None:
    results = [await state.rate_limiter.hit("user:1", limit=3, window=5) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert all(r.limit == 3 for r in results)
    assert all(0 < r.reset_after <= 5 for r in results)


async def test_window_resets_after_it_ends(state: StateBackends) -> None:
    first = await state.rate_limiter.hit("burst", limit=1, window=0.3)
    refused = await state.rate_limiter.hit("burst", limit=1, window=0.3)
    assert first.allowed and not refused.allowed
    assert 0 < refused.reset_after <= 0.3
    await asyncio.sleep(refused.reset_after + 0.05)
    again = await state.rate_limiter.hit("burst", limit=1, window=0.3)
    assert again.allowed
    assert again.remaining == 0


async def test_refused_hits_are_not_counted(state: StateBackends) -> None:
    await state.rate_limiter.hit("cost", limit=5, window=5, cost=4)
    big = await state.rate_limiter.hit("cost", limit=5, window=5, cost=2)
    small = await state.rate_limiter.hit("cost", limit=5, window=5, cost=1)
    assert not big.allowed and big.remaining == 1
    assert small.allowed and small.remaining == 0


async def test_cost_above_the_limit_never_fits(state: StateBackends) -> None:
    result = await state.rate_limiter.hit("huge", limit=2, window=5, cost=3)
    assert not result.allowed
    assert result.remaining == 2
    assert (await state.rate_limiter.hit("huge", limit=2, window=5)).remaining == 1


async def test_keys_are_counted_separately(state: StateBackends) -> None:
    await state.rate_limiter.hit("a", limit=1, window=5)
    assert (await state.rate_limiter.hit("b", limit=1, window=5)).allowed


async def test_reset_clears_the_counter(state: StateBackends) -> None:
    await state.rate_limiter.hit("r", limit=1, window=5)
    await state.rate_limiter.reset("r")
    assert (await state.rate_limiter.hit("r", limit=1, window=5)).allowed


async def test_concurrent_hits_never_exceed_the_limit(state: StateBackends) -> None:
    results = await asyncio.gather(
        *(state.rate_limiter.hit("race", limit=7, window=5) for _ in range(30))
    )
    assert sum(r.allowed for r in results) == 7


@pytest.mark.parametrize(
    ("limit", "window", "cost"), [(-1, 1.0, 1), (1, 0.0, 1), (1, 1.0, 0), (1, float("nan"), 1)]
)
async def test_bad_arguments_are_refused(
    state: StateBackends, limit: int, window: float, cost: int
) -> None:
    with pytest.raises(ValueError):
        await state.rate_limiter.hit("k", limit=limit, window=window, cost=cost)


async def test_implementations_satisfy_the_sdk_protocol(state: StateBackends) -> None:
    assert isinstance(state.rate_limiter, RateLimiter)
