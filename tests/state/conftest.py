"""Fixtures running each shared-state test against the in-process and the Redis backends.

Redis is found through ``MEDIANEST_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``).
Without it the Redis half is skipped, except when ``CI`` is set: there it fails. Every test
gets its own random key prefix and deletes only keys under it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis
from state_testing import OpenReplica, TcpProxy, delete_prefixed

from medianest.core.state import StateBackends, open_state

REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL, once it answers a ping (skip, or fail under CI, when it does not)."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        reason = f"Redis not reachable at {REDIS_URL} (MEDIANEST_TEST_REDIS_URL): {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI. {reason}")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"medianest-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def open_replica(redis_url: str, prefix: str) -> AsyncIterator[OpenReplica]:
    """Opens Redis-backed state sharing one prefix, like separate replicas of the hub."""
    opened: list[StateBackends] = []

    async def open_one() -> StateBackends:
        backends = await open_state(redis_url, prefix=prefix, client_name=prefix.rstrip(":"))
        opened.append(backends)
        return backends

    yield open_one
    for backends in opened:
        await backends.close()
    await delete_prefixed(redis_url, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def state_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` for the in-process backends, the test Redis URL for the Redis ones."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
async def state(state_url: str | None, prefix: str) -> AsyncIterator[StateBackends]:
    """The hub's shared state, once in-process and once on Redis."""
    backends = await open_state(state_url, prefix=prefix, client_name=prefix.rstrip(":"))
    yield backends
    await backends.close()
    if state_url is not None:
        await delete_prefixed(state_url, prefix)


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A started :class:`TcpProxy` in front of the test Redis and the URL through it."""
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    credentials, _, _ = target.netloc.rpartition("@")
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    via_proxy = target._replace(netloc=netloc).geturl()
    yield proxy, via_proxy
    await proxy.stop()
