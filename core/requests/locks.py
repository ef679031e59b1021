"""Short locks shared by every replica: one Redis key in scaled mode, an asyncio lock when
embedded (one process). They keep one person's request checks and writes in order (the quota
count, the backend call, the local row), so two replicas cannot both let a last request in."""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from redis.asyncio import Redis

from medianest.core.state.redis import CONNECTION_ERRORS
from medianest.sdk.errors import ConflictError

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

_PREFIX = "medianest:lock:"


class Locks:
    """Named locks; ``redis()`` gives the shared client, or ``None`` when embedded."""

    def __init__(self, redis: Callable[[], Redis | None]) -> None:
        self._redis = redis
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str, *, ttl: float, wait: float) -> AsyncIterator[None]:
        """Hold lock ``name`` for the block (at most ``ttl`` seconds, should its holder die).

        :raises ConflictError: it was not free within ``wait`` seconds.
        """
        client = self._redis()
        if client is None:
            lock = self._local.get(name)
            if lock is None:
                lock = self._local[name] = asyncio.Lock()
            try:
                await asyncio.wait_for(lock.acquire(), wait)
            except TimeoutError:
                raise _busy() from None
            try:
                yield
            finally:
                lock.release()
            return
        key = _PREFIX + name
        token = secrets.token_hex(16)
        deadline = time.monotonic() + wait
        while not await client.set(key, token, nx=True, px=max(1, int(ttl * 1000))):
            if time.monotonic() >= deadline:
                raise _busy()
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            try:
                await client.eval(_RELEASE, 1, key, token)  # type: ignore[misc]
            except CONNECTION_ERRORS as exc:  # the work is done; the lock lapses with its ttl
                log.warning("lock not released: Redis is away", lock=name, error=str(exc))


log = structlog.get_logger(__name__)


def _busy() -> ConflictError:
    return ConflictError("another request of yours is being filed right now; try again")
