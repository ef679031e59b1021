"""Helpers of the shared-state tests (a module name of its own, so that it never clashes
with another directory's ``conftest``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from medianest.core.state import StateBackends
from tests.tcp_proxy import TcpProxy

__all__ = ["OpenReplica", "TcpProxy", "delete_prefixed"]

OpenReplica = Callable[[], Awaitable[StateBackends]]
"""Opens one more Redis-backed replica of the hub's state (see the ``open_replica`` fixture)."""


async def delete_prefixed(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (and nothing else)."""
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
