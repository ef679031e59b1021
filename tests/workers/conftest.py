"""Fixtures running each job-queue test in embedded mode (the in-process runner) and in
scaled mode (``ArqJobQueue`` plus a real ARQ worker on Redis, in this event loop).

Redis is found through ``MEDIANEST_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``).
Without it the scaled half is skipped, except when ``CI`` is set: there it fails. Each test
uses its own queue name and job names, and deletes only its own keys.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import structlog
from jobs_testing import ArqRuntime, InProcessRuntime, MakeRuntime, Runtime, delete_test_keys

from medianest.sdk.jobs import Job
from medianest.workers import arq_worker, attempt, inprocess
from tests.services import redis_database, require_redis


@pytest.fixture(autouse=True)
def _uncached_loggers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runners' loggers, new for each test: a logger used before (by any hub a test
    started) is cached with the processors of then, and would bypass ``capture_logs``."""
    for module in (attempt, inprocess, arq_worker):
        monkeypatch.setattr(module, "logger", structlog.get_logger(module.__name__))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Database 15 of the test Redis; tests keep apart by key prefix, not by flushing."""
    return require_redis(redis_database(15))


@pytest.fixture
def token() -> str:
    """A short random marker for this test's job names and queue."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def job_name(token: str) -> Callable[[str], str]:
    """``job_name("ok")`` → a valid job name no other test uses."""
    return lambda short: f"t{token}.{short}"


@pytest.fixture(params=["inprocess", pytest.param("arq", marks=pytest.mark.redis)])
def runtime_redis_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` for embedded mode (in-process runner), the test Redis for scaled mode (ARQ)."""
    if request.param == "inprocess":
        return None
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def queue_name(token: str) -> str:
    """An ARQ queue of this test's own; its keys all start with this name."""
    return f"medianest-test:{token}:jobs"


@pytest.fixture
async def make_runtime(
    runtime_redis_url: str | None, token: str, queue_name: str
) -> AsyncIterator[MakeRuntime]:
    """``async with make_runtime([jobs]) as runtime:`` in the parametrised mode."""
    redis_url = runtime_redis_url

    @contextlib.asynccontextmanager
    async def make(jobs: Sequence[Job]) -> AsyncIterator[Runtime]:
        runtime: InProcessRuntime | ArqRuntime
        if redis_url is None:
            runtime = InProcessRuntime(jobs)
        else:
            runtime = ArqRuntime(jobs, redis_url, queue_name)
        await runtime.open()
        try:
            yield runtime
        finally:
            await runtime.close()

    yield make
    if redis_url is not None:
        await delete_test_keys(redis_url, token, queue_name)
