"""The "test before save" check: is an instance there, and does it take the key?

:func:`verify_instance` asks ``GET /status`` (public: is Overseerr there, which version) and
``GET /auth/me`` with the key (does the key authenticate). The plugin runs it for every
instance when the hub starts and in ``medianest config check`` (a warning naming the
instance, never the key), and :func:`check_instance` backs the sources' ``health``.
"""

from __future__ import annotations

import time

from medianest.sdk import HealthStatus, MediaNestError
from medianest.sdk.errors import UpstreamAuthError
from medianest_overseerr.client import OverseerrClient
from medianest_overseerr.const import HEALTH_TIMEOUT_SECONDS


async def verify_instance(client: OverseerrClient) -> str:
    """Overseerr's version, once ``/status`` answers and ``/auth/me`` accepts the key.

    :raises UpstreamAuthError: the key is refused (the message names the instance).
    :raises UpstreamError: the instance cannot be reached or answers nonsense.
    """
    limit = min(client.timeout, HEALTH_TIMEOUT_SECONDS)
    status, _ = await client.call_json("GET", "/status", time_limit=limit)
    version = status.get("version") if isinstance(status, dict) else None
    if not isinstance(version, str):
        raise client.data_error("answered GET /status without its version: is this Overseerr?")
    try:
        me, _ = await client.call_json("GET", "/auth/me", time_limit=limit)
    except UpstreamAuthError as exc:
        raise client.error(
            UpstreamAuthError,
            f"{client.label} refused the API key (GET /auth/me answered 403): copy the key "
            "from Overseerr's Settings > General",
            exc.status,
        ) from exc
    if not isinstance(me, dict) or not isinstance(me.get("id"), int):
        raise client.data_error("answered GET /auth/me without a user")
    return version


async def check_instance(client: OverseerrClient) -> HealthStatus:
    """:func:`verify_instance` as a :class:`HealthStatus` (never raises for Overseerr's trouble)."""
    started = time.perf_counter()
    try:
        version = await verify_instance(client)
    except MediaNestError as exc:
        return HealthStatus(ok=False, detail=exc.message)
    elapsed = (time.perf_counter() - started) * 1000
    return HealthStatus(ok=True, detail=f"Overseerr {version}", latency_ms=round(elapsed, 1))
