"""A worker whose Redis connection drops while it claims a job waits the outage out.

redis-py reports a connection lost during the WATCH of a job's claim as a ``WatchError``
raised while handling the ``ConnectionError``; ARQ lets it through ``start_jobs``. The
scale-out drill saw a worker exit on it when Redis restarted.
"""

from __future__ import annotations

from typing import Any

import pytest
from arq.connections import RedisSettings
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import WatchError

from medianest.core.state.redis import CONNECTION_ERRORS
from medianest.workers.resilient import ResilientWorker


async def nothing(ctx: dict[str, Any]) -> None:
    return None


def worker() -> ResilientWorker:
    return ResilientWorker(
        functions=[nothing], redis_settings=RedisSettings(port=1), handle_signals=False
    )


def claiming_then(error: BaseException) -> Any:
    async def start_jobs(self: Worker, job_ids: list[bytes]) -> None:
        await self.sem.acquire()
        self.job_counter += 1
        raise error

    return start_jobs


def watch_error_during(context: BaseException | None) -> WatchError:
    try:
        try:
            if context is not None:
                raise context
        finally:
            raise WatchError("A ConnectionError occurred on while watching one or more keys")
    except WatchError as exc:
        return exc


async def test_a_connection_lost_while_claiming_is_an_outage_and_frees_the_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lost = watch_error_during(RedisConnectionError("Connection closed by server."))
    monkeypatch.setattr(Worker, "start_jobs", claiming_then(lost))
    w = worker()
    free = w.sem._value

    with pytest.raises(CONNECTION_ERRORS):
        await w.start_jobs([b"job"])

    assert (w.job_counter, w.sem._value) == (0, free)


async def test_a_real_watch_race_is_not_taken_for_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Worker, "start_jobs", claiming_then(watch_error_during(None)))

    with pytest.raises(WatchError):
        await worker().start_jobs([b"job"])
