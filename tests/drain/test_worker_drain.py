"""SIGTERM on a worker: a running job finishes within the grace period, or is put back on the
queue, not counted as a try, and run again by another worker (never by two at once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from arq.connections import RedisSettings, create_pool

ROOT = Path(__file__).resolve().parents[2]
JOB = "drain.long"


@contextmanager
def worker_process(redis_url: str, queue: str, grace: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.drain.drain_worker", redis_url, queue, str(grace)],
        cwd=ROOT,
        env={**os.environ, "MEDIANEST_LOG__FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "worker ready" in line:
                break
        else:
            raise AssertionError("the worker did not start")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


async def log_of(pool, queue: str) -> list[list[str]]:
    return [entry.decode().split() for entry in await pool.lrange(f"{queue}:log", 0, -1)]


async def wait_for_log(pool, queue: str, count: int, within: float = 20) -> list[list[str]]:
    deadline = time.monotonic() + within
    while len(entries := await log_of(pool, queue)) < count:
        assert time.monotonic() < deadline, f"the job log stayed at {entries}"
        await asyncio.sleep(0.05)
    return entries


@pytest.fixture
async def queue(redis_url):
    settings = RedisSettings.from_dsn(redis_url)
    pool = await create_pool(settings)
    name = f"drain-test-{uuid.uuid4().hex[:8]}"
    try:
        yield pool, name
    finally:
        keys = [key async for key in pool.scan_iter(f"{name}*")]
        if keys:
            await pool.delete(*keys)
        await pool.aclose()


@pytest.mark.slow  # runs worker processes of their own
async def test_a_job_that_fits_the_grace_period_finishes_before_the_worker_exits(
    redis_url, queue
) -> None:
    pool, name = queue
    with worker_process(redis_url, name, grace=10) as worker:
        await pool.enqueue_job(JOB, seconds=1.5, _queue_name=name)
        await wait_for_log(pool, name, 1)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 15) == 0
    entries = await log_of(pool, name)
    assert [entry[0] for entry in entries] == ["start", "end"]
    assert entries[0][1] == entries[1][1] == str(worker.pid)
    assert await pool.zcard(name) == 0, "the finished job is still queued"


@pytest.mark.slow  # runs worker processes of their own
async def test_a_job_cut_short_is_run_again_by_another_worker_once(redis_url, queue) -> None:
    pool, name = queue
    with worker_process(redis_url, name, grace=1) as first:
        await pool.enqueue_job(JOB, seconds=60, _queue_name=name)
        await wait_for_log(pool, name, 1)
        first.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert await asyncio.to_thread(first.wait, 15) == 0
        assert time.monotonic() - started < 8, "the worker waited for the job past its grace"
    stopped_at = time.time()
    assert await pool.zcard(name) == 1, "the interrupted job is not back on the queue"
    with worker_process(redis_url, name, grace=1) as second:
        entries = await wait_for_log(pool, name, 3)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 15) == 0
    entries = await log_of(pool, name)
    assert [(e[0], e[1]) for e in entries] == [
        ("start", str(first.pid)),
        ("start", str(second.pid)),
        ("end", str(second.pid)),
    ]
    assert entries[1][2] == "1", "the cut-short try was counted against max_tries"
    assert float(entries[1][3]) >= stopped_at - 0.5, "two workers ran the job at once"
    assert await pool.zcard(name) == 0
