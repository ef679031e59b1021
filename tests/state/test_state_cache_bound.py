"""The in-process cache keeps within its byte bound, dropping the oldest entries first."""

from __future__ import annotations

import asyncio

import pytest

from medianest.core.state import MemoryCache, open_state
from medianest.core.state.memory import DEFAULT_CACHE_MAX_BYTES, ENTRY_OVERHEAD_BYTES


def entry_size(key: str, text: str) -> int:
    return len(key) + len(text) + ENTRY_OVERHEAD_BYTES


async def test_ten_thousand_distinct_entries_stay_within_the_bound() -> None:
    cache = MemoryCache(max_bytes=256 * 1024)
    answer = {"items": [{"title": f"Film {n}", "year": 1990 + n} for n in range(20)]}
    for n in range(10_000):
        await cache.set(f"search:{n}", answer, ttl=300)
        assert cache.size_bytes <= cache.max_bytes
    assert 0 < len(cache) < 10_000
    assert cache.evicted == 10_000 - len(cache)
    assert await cache.get("search:9999") == answer
    assert await cache.get("search:0") is None
    kept = [n for n in range(10_000) if await cache.get(f"search:{n}") is not None]
    assert kept == list(range(10_000 - len(cache), 10_000))  # the newest, none missing


async def test_size_counts_keys_values_and_overhead() -> None:
    cache = MemoryCache(max_bytes=10_000)
    await cache.set("a", [1, 2], ttl=10)
    await cache.set("bb", "x", ttl=10)
    assert cache.size_bytes == entry_size("a", "[1,2]") + entry_size("bb", '"x"')
    await cache.set("a", [1, 2, 3], ttl=10)
    assert cache.size_bytes == entry_size("a", "[1,2,3]") + entry_size("bb", '"x"')
    await cache.delete("a")
    await cache.delete("bb")
    assert cache.size_bytes == 0 and len(cache) == 0


async def test_storing_a_key_again_makes_it_the_newest() -> None:
    one = entry_size("k0", '"' + "v" * 100 + '"')
    cache = MemoryCache(max_bytes=3 * one)
    for key in ("k0", "k1", "k2"):
        await cache.set(key, "v" * 100, ttl=10)
    await cache.set("k0", "v" * 100, ttl=10)
    await cache.set("k3", "v" * 100, ttl=10)
    assert [await cache.get(k) is not None for k in ("k0", "k1", "k2", "k3")] == [
        True,
        False,
        True,
        True,
    ]
    assert cache.size_bytes == 3 * one and cache.evicted == 1


async def test_a_value_larger_than_the_bound_is_not_kept() -> None:
    cache = MemoryCache(max_bytes=2048)
    await cache.set("small", "kept", ttl=10)
    await cache.set("big", "x" * 1000, ttl=10)
    await cache.set("big", "x" * 5000, ttl=10)
    assert await cache.get("big") is None  # not even the older, smaller value
    assert await cache.get("small") == "kept"
    assert cache.size_bytes == entry_size("small", '"kept"') and cache.evicted == 0


async def test_expired_entries_free_their_bytes() -> None:
    cache = MemoryCache(max_bytes=10_000)
    await cache.set("short", "lived", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await cache.get("short") is None
    assert cache.size_bytes == 0


async def test_get_or_set_keeps_within_the_bound() -> None:
    cache = MemoryCache(max_bytes=4096)

    async def compute() -> str:
        return "y" * 500

    for n in range(50):
        assert await cache.get_or_set(f"k{n}", 10, compute) == "y" * 500
    assert cache.size_bytes <= 4096 and cache.evicted > 0


async def test_close_forgets_everything() -> None:
    cache = MemoryCache()
    await cache.set("k", "v", ttl=10)
    await cache.aclose()
    assert cache.size_bytes == 0 and await cache.get("k") is None


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryCache(max_bytes=0)


async def test_open_state_passes_the_bound_to_the_embedded_cache() -> None:
    default = await open_state(None)
    bounded = await open_state(None, cache_max_bytes=4096)
    try:
        assert isinstance(default.cache, MemoryCache) and isinstance(bounded.cache, MemoryCache)
        assert default.cache.max_bytes == DEFAULT_CACHE_MAX_BYTES == 32 * 1024 * 1024
        assert bounded.cache.max_bytes == 4096
    finally:
        await default.close()
        await bounded.close()
