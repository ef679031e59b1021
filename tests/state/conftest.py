"""Fixtures running each shared-state test against the in-process and the Redis backends.

Redis is found through ``MEDIANEST_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``).
Without it the Redis half is skipped, except when ``CI`` is set: there it fails. Every test
gets its own random key prefix and deletes only keys under it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from state_testing import OpenReplica, TcpProxy, delete_prefixed

from medianest.core.state import StateBackends, open_state
from tests.services import redis_database, require_redis


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Database 15 of the test Redis; tests keep apart by key prefix, not by flushing."""
    return require_redis(redis_database(15))


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
