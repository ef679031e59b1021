"""Finding the PostgreSQL and Redis servers tests run against.

Set ``MEDIANEST_TEST_DATABASE_URL`` / ``MEDIANEST_TEST_REDIS_URL`` to point elsewhere. Under
pytest-xdist each test process gets a Redis of its own: a redis-server it starts when one is
installed (pub/sub channels are server-wide), else a database of its own on the configured
server (see ``REDIS_URL``). Tests on database 15 (``redis_database(15)``) keep apart by key
prefix. A missing
server skips the tests that need it, with the reason, except under ``CI``: there it fails them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _own_server(url: str) -> str | None:
    """Under pytest-xdist: the URL of a redis-server for this test process alone (same
    database number as ``url``), or ``None`` when none can be started here.

    Redis databases keep keys apart, not pub/sub channels: hubs in two test processes on one
    server would hear each other's flag, cache and catalogue messages. The server lives as
    long as this process (stopped at exit).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return None
    started = start_redis_server(url)
    if started is None:
        return None
    atexit.register(stop_redis_server, started[1])
    return started[0]


def start_redis_server(url: str) -> tuple[str, subprocess.Popen] | None:
    """Start a redis-server on a free loopback port: its URL (``url``'s database number) and
    process, or ``None`` when redis-server is not installed or does not come up."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    for _ in range(3):  # a port taken between choosing and binding it: choose again
        port = _free_port()
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(
            [binary, "--port", str(port), *options, "--dir", tempfile.gettempdir()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                with redis.Redis(port=port, socket_connect_timeout=1) as client:
                    client.ping()
            except (redis.RedisError, OSError):
                time.sleep(0.05)
                continue
            return f"redis://127.0.0.1:{port}/{url.rpartition('/')[2] or 0}", process
        stop_redis_server(process)
    return None


def stop_redis_server(process: subprocess.Popen) -> None:
    """Stop a server from :func:`start_redis_server`."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _test_redis(url: str) -> str:
    """One process: ``url``. Parallel processes: a server of each one's own when redis-server
    is installed, else a database of each one's own on ``url``'s server."""
    return _own_server(url) or _per_worker(url)


REDIS_URL = _test_redis(os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
"""The Redis database this test process may flush (see ``_test_redis``)."""
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
