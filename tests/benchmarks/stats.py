"""Small statistics over samples: percentiles and min/median/max."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100) by nearest rank.

    :raises ValueError: ``samples`` is empty.
    """
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def spread(samples: Sequence[float]) -> dict[str, float]:
    """``min``, ``median`` and ``max`` of ``samples``.

    :raises ValueError: ``samples`` is empty.
    """
    if not samples:
        raise ValueError("no samples")
    return {"min": min(samples), "median": statistics.median(samples), "max": max(samples)}
