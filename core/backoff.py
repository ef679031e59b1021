"""The one back-off policy of the hub: job retries, notification rounds, sync page retries,
reconnection to Redis and the wait for a dependency to come back all use it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off between tries.

    The wait after try ``n`` is ``base_seconds * 2 ** (n - 1)``, at most ``max_seconds``.
    A job raising :class:`~medianest.sdk.jobs.RetryJob` chooses its own wait instead.
    """

    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try ``attempt`` (1-based)."""
        return min(self.max_seconds, self.base_seconds * float(2 ** (attempt - 1)))
