"""Finding the PostgreSQL and Redis servers tests run against.

Set ``MEDIANEST_TEST_DATABASE_URL`` / ``MEDIANEST_TEST_REDIS_URL`` to point elsewhere. A missing
server skips the tests that need it, with the reason, except under ``CI``: there it fails them.
"""

from __future__ import annotations

import os

import pytest
import redis

POSTGRES_URL = os.environ.get(
    "MEDIANEST_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "scaled-mode-test-key-shared-by-every-replica"
"""Scaled mode needs a secret key all replicas share; tests use this one."""


def service_missing(service: str, reason: str) -> None:
    """Skip (locally) or fail (in CI) because ``service`` cannot be reached."""
    message = f"{service} is not reachable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI requires it", pytrace=False)
    pytest.skip(message)


def redis_database(number: int) -> str:
    """The test Redis server's URL with database ``number`` selected."""
    return REDIS_URL.rsplit("/", 1)[0] + f"/{number}"


def require_redis(url: str) -> str:
    """``url`` once its Redis answers a ping (skip, or fail under CI, when it does not)."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        service_missing("Redis", f"{url} (MEDIANEST_TEST_REDIS_URL): {exc}")
    return url
