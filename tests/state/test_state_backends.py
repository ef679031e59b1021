"""Choosing, checking and closing the shared-state backends."""

from __future__ import annotations

import socket

import pytest
from state_testing import TcpProxy, delete_prefixed

from medianest.core.state import (
    MemoryCache,
    MemoryPubSub,
    MemoryRateLimiter,
    RedisCache,
    RedisPubSub,
    RedisRateLimiter,
    StateBackends,
    StateUnavailableError,
    open_state,
)


async def test_without_a_redis_url_everything_is_in_process() -> None:
    state = await open_state(None)
    try:
        assert isinstance(state.cache, MemoryCache)
        assert isinstance(state.rate_limiter, MemoryRateLimiter)
        assert isinstance(state.pubsub, MemoryPubSub)
        assert state.redis is None
        await state.ping()
    finally:
        await state.close()


@pytest.mark.redis
async def test_with_a_redis_url_everything_is_on_redis(redis_url: str, prefix: str) -> None:
    state = await open_state(redis_url, prefix=prefix)
    try:
        assert isinstance(state.cache, RedisCache)
        assert isinstance(state.rate_limiter, RedisRateLimiter)
        assert isinstance(state.pubsub, RedisPubSub)
        await state.ping()
        await state.cache.set("k", 1, ttl=5)
        assert state.redis is not None
        assert await state.redis.exists(f"{prefix}cache:k") == 1
    finally:
        await state.close()
        await delete_prefixed(redis_url, prefix)


async def test_close_can_be_called_twice(state: StateBackends) -> None:
    await state.close()
    await state.close()


async def test_unreachable_redis_fails_at_open_without_showing_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StateUnavailableError) as raised:
        await open_state(f"redis://medianest:s3cret@127.0.0.1:{port}/0")
    assert f"redis://127.0.0.1:{port}/0" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    assert raised.value.code == "state_unavailable"


@pytest.mark.redis
async def test_ping_raises_while_redis_is_unreachable(
    redis_proxy: tuple[TcpProxy, str], prefix: str
) -> None:
    proxy, via_proxy = redis_proxy
    state = await open_state(via_proxy, prefix=prefix)
    try:
        await state.ping()
        await proxy.stop()
        with pytest.raises(StateUnavailableError, match="unreachable"):
            await state.ping()
        with pytest.raises(StateUnavailableError, match="cache get"):
            await state.cache.get("anything")
        await proxy.start()
        await state.ping()
    finally:
        await state.close()
