"""Scaled mode for real: Redis going away and coming back, and jobs on a worker process."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from tests.cli_helpers import MEDIANEST, clean_environment, medianest
from tests.services import SECRET_KEY, service_missing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen]:
    """A redis-server of this test's own, so stopping it disturbs nobody else."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server", "the binary is not installed")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    pytest.fail(f"redis-server exited with {process.returncode}")
                time.sleep(0.05)
        client.close()
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _readiness(client) -> tuple[int, dict]:
    response = await client.get("/health/ready")
    return response.status_code, await response.get_json()


@pytest.mark.slow  # runs a process of its own
async def test_ready_turns_503_naming_redis_and_recovers(medianest_hub, postgres_url) -> None:
    port = _free_port()
    with private_redis(port) as server:
        async with medianest_hub.run(
            database_url=postgres_url,
            redis_url=f"redis://127.0.0.1:{port}/0",
            secret_key=SECRET_KEY,
            health={"check_timeout_seconds": 1.0},
        ) as running:
            status, body = await _readiness(running.client)
            assert status == 200, body

            server.terminate()
            server.wait(timeout=10)
            status, body = await _readiness(running.client)
            assert status == 503
            failing = [c["name"] for c in body["components"] if not c["ok"] and c["required"]]
            assert failing == ["redis"]
            assert body["status"] == "unavailable"

            with private_redis(port):
                for _ in range(50):
                    status, body = await _readiness(running.client)
                    if status == 200:
                        break
                    await asyncio.sleep(0.1)
                assert status == 200, body


@pytest.mark.slow  # runs a process of its own
async def test_worker_process_runs_jobs_queued_by_the_api(
    medianest_hub, postgres_url, redis_url, tmp_path
) -> None:
    settings = {
        "database_url": postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        "features": {"hello": True},
    }
    async with medianest_hub.run(autoload=True, **settings) as running:
        handle = await running.hub.jobs.enqueue("hello.count_visit", key="from-worker")
        assert handle.queued
        again = await running.hub.jobs.enqueue(
            "hello.count_visit", key="from-worker", job_id=handle.job_id
        )
        assert again.queued is False
        assert await running.hub.cache.get("from-worker") is None

        result = await asyncio.to_thread(
            medianest,
            tmp_path,
            "worker",
            "--burst",
            MEDIANEST_DATABASE_URL=postgres_url,
            MEDIANEST_REDIS_URL=redis_url,
            MEDIANEST_SECRET_KEY=SECRET_KEY,
            MEDIANEST_FEATURES__HELLO="true",
        )
        assert result.returncode == 0, result.stderr
        assert await running.hub.cache.get("from-worker") == 1


async def test_flag_set_on_one_replica_is_seen_by_another_within_a_second(
    medianest_hub, postgres_url, redis_url
) -> None:
    shared = {
        "database_url": postgres_url,
        "redis_url": redis_url,
        "secret_key": SECRET_KEY,
        "features": {"hello": True},
    }
    async with (
        medianest_hub.run(autoload=True, **shared) as first,
        medianest_hub.run(autoload=True, **shared) as second,
    ):
        assert second.hub.flags.is_enabled("hello.greetings") is True
        await first.hub.flag_service.set("hello.greetings", False, by="admin")
        for _ in range(50):  # one second at most
            if not second.hub.flags.is_enabled("hello.greetings"):
                break
            await asyncio.sleep(0.02)
        assert second.hub.flags.is_enabled("hello.greetings") is False
        signed_in = await first.sign_in()
        response = await second.client.post(
            "/api/v1/plugins/hello/greetings", json={"name": "A"}, headers=signed_in
        )
        assert response.status_code == 409


@pytest.mark.slow  # runs a process of its own
def test_serve_with_several_workers_in_scaled_mode(tmp_path, postgres_url, redis_url) -> None:
    env = {
        "MEDIANEST_DATABASE_URL": postgres_url,
        "MEDIANEST_REDIS_URL": redis_url,
        "MEDIANEST_SECRET_KEY": SECRET_KEY,
    }
    upgraded = medianest(tmp_path, "db", "upgrade", **env)
    assert upgraded.returncode == 0, upgraded.stderr
    log = tmp_path / "serve.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [*MEDIANEST, "serve", "--workers", "2", "--port", "0"],
            cwd=tmp_path,
            env=clean_environment(tmp_path, **env),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        ) as process,
    ):
        try:
            line = process.stdout.readline()
            match = re.search(r"serving on (http://\S+) with 2 workers \(scaled mode\)", line)
            assert match, line + log.read_text()
            for _ in range(100):
                try:
                    response = httpx.get(f"{match.group(1)}/health/ready", timeout=5)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert response.status_code == 200, response.text
            assert response.json()["mode"] == "scaled"
        finally:
            process.terminate()
            process.wait(timeout=30)
