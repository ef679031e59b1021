"""Errors of the shared-state backends."""

from __future__ import annotations

from medianest.sdk.errors import MediaNestError


class StateUnavailableError(MediaNestError):
    """The shared-state server (Redis) cannot be reached or stopped answering.

    Raised by the Redis implementations of the cache, the rate limiter, pub/sub and the job
    queue when the connection fails after the client's own retries; core answers it with a
    503. The message names the server without its credentials.
    """

    code = "state_unavailable"
