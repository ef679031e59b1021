"""Finding the PostgreSQL and Redis servers tests run against.

Set ``MEDIANEST_TEST_DATABASE_URL`` / ``MEDIANEST_TEST_REDIS_URL`` to point elsewhere. Under
pytest-xdist each test process gets a Redis database of its own (see ``REDIS_URL``); tests on
database 15 (``redis_database(15)``) share it and keep apart by key prefix. A missing
server skips the tests that need it, with the reason, except under ``CI``: there it fails them.
"""

from __future__ import annotations

import os

import pytest
import redis

POSTGRES_URL = os.environ.get(
    "MEDIANEST_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"
)


def _worker_index() -> int:
    """0, or this process's number among pytest-xdist workers (``gw3`` → 3)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else 0


def _per_worker(url: str) -> str:
    """``url`` with a Redis database of this test process's own.

    Tests flush their Redis database, so parallel test processes must not share one: worker
    ``gwN`` uses the database N below the configured one (14, 13, ...).
    """
    base, _, number = url.rpartition("/")
    database = int(number or 0) - _worker_index()
    if database < 0:
        raise RuntimeError(
            f"MEDIANEST_TEST_REDIS_URL selects database {number or 0}: too low for "
            f"{_worker_index() + 1} parallel test processes (each flushes one of its own)"
        )
    return f"{base}/{database}"


REDIS_URL = _per_worker(os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
"""The Redis database this test process may flush (one per parallel test process)."""
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
