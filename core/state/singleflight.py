"""One computation per key at a time within a process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from medianest.core.state.codec import roundtrip
from medianest.sdk.services import Cache


class SingleFlight:
    """Collapses concurrent calls for the same key into one.

    The first caller starts ``compute()`` in a task; callers arriving while it runs await the
    same task and get its result or its exception. A caller that is cancelled does not cancel
    the computation for the others. :meth:`aclose` cancels whatever is still running.
    """

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Any]] = {}

    async def do(self, key: str, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The result of the running computation for ``key``, or of a new ``compute()``."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task)

    async def get_or_set(
        self, cache: Cache, key: str, ttl: float, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        """``cache``'s value for ``key``, or ``compute()``'s stored there, one flight per key.

        Returns what a later ``get`` would return (the value after a JSON round trip).
        """

        async def fill() -> Any:
            cached = await cache.get(key)
            if cached is not None:
                return cached
            value = await compute()
            await cache.set(key, value, ttl)
            return roundtrip(value, what=f"cache value for {key!r}")

        return await self.do(key, fill)

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]

    async def aclose(self) -> None:
        """Cancel running computations and wait for them to end."""
        tasks = list(self._flights.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
