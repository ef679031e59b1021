"""Redis through Sentinel (``redis+sentinel://``): the hub's shared state and ARQ find the
master through private sentinels, and after a failover (the master killed) the hub serves
again within 5 s, on the promoted replica."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from medianest.config import load_settings
from medianest.core.state.backends import open_state
from medianest.core.state.errors import StateUnavailableError
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.jobs import Job, JobContext
from medianest.workers.arq_queue import ArqJobQueue, redis_settings
from medianest.workers.arq_worker import build_worker_settings, run_worker
from tests.drain.servers import sentinel_set

pytestmark = pytest.mark.slow  # starts servers of its own

SERVED_AGAIN_WITHIN = 5.0


async def run_jobs_once(url: str, number: int) -> list[int]:
    """Queue ``number`` through ARQ and run it with a burst worker; what the job saw."""
    ran: list[int] = []

    async def note(ctx: JobContext, number: int) -> None:
        ran.append(number)

    jobs = [Job(name="sentinel.note", function=note)]
    queue = ArqJobQueue(redis_settings(url), jobs, queue_name="sentinel-test")
    await queue.start()
    try:
        await queue.enqueue("sentinel.note", number=number)
    finally:
        await queue.close()

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["hub"] = object()

    settings = build_worker_settings(
        jobs=jobs,
        redis_url=url,
        on_startup=startup,
        queue_name="sentinel-test",
        handle_signals=False,
    )
    await asyncio.wait_for(run_worker(settings, burst=True), 30)
    return ran


async def test_state_and_workers_follow_the_master_through_a_failover(tmp_path) -> None:
    with sentinel_set(tmp_path) as redis_set:
        state = await open_state(redis_set.url)
        try:
            await state.cache.set("before", 1, ttl=60)
            assert await state.cache.get("before") == 1
            assert await run_jobs_once(redis_set.url, 1) == [1]

            old_master = redis_set.master()
            assert old_master == redis_set.master_port
            redis_set.kill(old_master)
            killed_at = time.monotonic()
            served_at = None
            while time.monotonic() - killed_at < 20:
                try:
                    await state.cache.set("after", 2, ttl=60)
                    assert await state.cache.get("after") == 2
                except StateUnavailableError:
                    await asyncio.sleep(0.05)
                    continue
                served_at = time.monotonic()
                break
            assert served_at is not None, "the hub never reached the new master"
            assert redis_set.master() == redis_set.replica_port
            waited = served_at - killed_at
            print(f"served again {waited:.2f} s after the master was killed")
            assert waited < SERVED_AGAIN_WITHIN
            assert await state.cache.get("before") == 1, "the replica had lost the data"
            async with state.pubsub.subscribe("news") as messages:
                await state.pubsub.publish("news", {"n": 3})
                assert await asyncio.wait_for(anext(aiter(messages)), 5) == {"n": 3}
        finally:
            await state.close()
        assert await run_jobs_once(redis_set.url, 2) == [2]


def test_a_sentinel_url_names_its_sentinels_and_master() -> None:
    assert load_settings(redis_url="redis+sentinel://10.0.0.1:26379/main/0").mode == "scaled"
    settings = redis_settings("redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/main/3")
    assert settings.sentinel and settings.sentinel_master == "main"
    assert settings.host == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]
    assert settings.database == 3 and settings.password == "pw"
    with pytest.raises(ConfigurationError, match="names its sentinels and the master"):
        redis_settings("redis+sentinel://10.0.0.1:26379")
    with pytest.raises(ConfigurationError, match="no valid port"):
        redis_settings("redis+sentinel://10.0.0.1:x/main")
