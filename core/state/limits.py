"""Argument checks and validation shared by the cache and rate limiter implementations."""

from __future__ import annotations

import math


def check_ttl(ttl: float) -> int:
    """``ttl`` seconds as whole milliseconds (rounded up).

    :raises ValueError: ``ttl`` is not a positive finite number.
    """
    if not (isinstance(ttl, int | float) and math.isfinite(ttl) and ttl > 0):
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return max(1, math.ceil(ttl * 1000))


def check_hit(limit: int, window: float, cost: int) -> int:
    """Validate one rate-limit hit; the window in whole milliseconds (rounded up).

    :raises ValueError: ``limit`` is negative, ``cost`` is below 1 or ``window`` is not a
        positive finite number.
    """
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit!r}")
    if cost < 1:
        raise ValueError(f"cost must be 1 or more, got {cost!r}")
    if not (math.isfinite(window) and window > 0):
        raise ValueError(f"window must be a positive number of seconds, got {window!r}")
    return max(1, math.ceil(window * 1000))
