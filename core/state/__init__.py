"""Shared state of the hub: cache, rate limits and pub/sub.

In embedded mode they live in the process (:mod:`medianest.core.state.memory`); in scaled
mode they live in Redis (:mod:`medianest.core.state.redis`) so every replica sees the same.
:func:`open_state` picks one from configuration alone.
"""

from medianest.core.state.backends import StateBackends, open_state
from medianest.core.state.errors import StateUnavailableError
from medianest.core.state.history import HistoryRead, Sequenced, SequencedPubSub
from medianest.core.state.memory import MemoryCache, MemoryPubSub, MemoryRateLimiter
from medianest.core.state.redis import DEFAULT_PREFIX, RedisCache, RedisPubSub, RedisRateLimiter

__all__ = [
    "DEFAULT_PREFIX",
    "HistoryRead",
    "MemoryCache",
    "MemoryPubSub",
    "MemoryRateLimiter",
    "RedisCache",
    "RedisPubSub",
    "RedisRateLimiter",
    "Sequenced",
    "SequencedPubSub",
    "StateBackends",
    "StateUnavailableError",
    "open_state",
]
