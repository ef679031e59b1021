"""Worker heartbeats as readiness, ``GET /api/v1/system`` and ``medianest worker
--health-check`` report them.

Heartbeats are written here as a worker writes them (``write_beat``); a real worker process
writing its own is in ``tests/sync/test_worker_outages.py``.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness
from medianest.workers import DEFAULT_QUEUE_NAME
from medianest.workers.heartbeat import WorkerBeat, write_beat
from tests.cli_helpers import medianest
from tests.services import SECRET_KEY


def beat(worker_id: str, *, age_seconds: float = 0.0, host: str | None = None) -> WorkerBeat:
    now = datetime.now(UTC)
    return WorkerBeat(
        worker_id=worker_id,
        host=host or socket.gethostname(),
        pid=4242,
        queue=DEFAULT_QUEUE_NAME,
        started_at=now - timedelta(minutes=5),
        beat_at=now - timedelta(seconds=age_seconds),
        jobs_running=1,
        jobs_done=7,
        jobs_failed=1,
        jobs_retried=2,
    )


def workers_component(body: dict) -> dict:
    (component,) = [c for c in body["components"] if c["name"] == "workers"]
    return component


async def test_readiness_lists_the_workers_but_stays_ready_without_a_live_one(
    medianest_hub: HubHarness, postgres_url: str, redis_url: str, redis_client: aioredis.Redis
) -> None:
    settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with medianest_hub.run(**settings) as running:
        operator = await running.sign_in(role="admin")
        response = await running.client.get("/health/ready", headers=operator)
        body = await response.get_json()
        assert response.status_code == 200 and body["status"] == "ready", body
        assert body["workers"] == []
        component = workers_component(body)
        assert (component["ok"], component["required"]) == (False, False)
        assert component["detail"].startswith("no worker heartbeat")

        await write_beat(redis_client, beat("box:1:aaaaaa"))
        body = await (await running.client.get("/health/ready", headers=operator)).get_json()
        assert workers_component(body)["ok"] is True
        (worker,) = body["workers"]
        assert worker["worker_id"] == "box:1:aaaaaa" and worker["alive"] is True
        assert (worker["jobs_running"], worker["jobs_done"], worker["jobs_failed"]) == (1, 7, 1)

        await write_beat(redis_client, beat("box:2:bbbbbb", age_seconds=95))
        response = await running.client.get("/health/ready", headers=operator)
        body = await response.get_json()
        assert response.status_code == 200 and body["status"] == "ready"
        component = workers_component(body)
        assert component["ok"] is False
        assert "no worker heartbeat for over 30 s from 1 of 2 worker(s)" in component["detail"]
        assert [w["alive"] for w in body["workers"]] == [True, False]

        # A probe (anonymous) sees the component, never the workers' hosts and processes.
        anonymous = await (await running.client.get("/health/ready")).get_json()
        assert anonymous["workers"] is None
        assert workers_component(anonymous) == component
        assert "box" not in str(anonymous)


async def test_embedded_readiness_has_no_workers(medianest_hub: HubHarness) -> None:
    async with medianest_hub.run() as running:
        body = await (await running.client.get("/health/ready")).get_json()
        assert body["workers"] is None
        assert "workers" not in [c["name"] for c in body["components"]]


async def test_system_shows_each_worker_to_holders_of_view_metrics(
    medianest_hub: HubHarness, postgres_url: str, redis_url: str, redis_client: aioredis.Redis
) -> None:
    settings = {"database_url": postgres_url, "redis_url": redis_url, "secret_key": SECRET_KEY}
    async with medianest_hub.run(**settings) as running:
        assert (await running.client.get("/api/v1/system")).status_code == 401
        headers = await running.sign_in(permissions=[Permission.VIEW_METRICS])
        await write_beat(redis_client, beat("box:1:aaaaaa", age_seconds=2))
        response = await running.client.get("/api/v1/system", headers=headers)
        body = await response.get_json()
        assert response.status_code == 200, body
        assert body["mode"] == "scaled"
        workers = body["workers"]
        assert (workers["ok"], workers["total"], workers["silent_after_seconds"]) == (True, 1, 30)
        (worker,) = workers["items"]
        assert worker["worker_id"] == "box:1:aaaaaa"
        assert 1.5 <= worker["seconds_since_beat"] < 10
        assert worker["unreachable"] == []


async def test_system_in_embedded_mode_has_no_workers(medianest_hub: HubHarness) -> None:
    async with medianest_hub.run() as running:
        headers = await running.sign_in(permissions=[Permission.VIEW_METRICS])
        body = await (await running.client.get("/api/v1/system", headers=headers)).get_json()
        assert body == {"mode": "embedded", "workers": None}


@pytest.mark.slow  # runs a process of its own
async def test_worker_health_check_passes_only_with_a_fresh_heartbeat_on_this_host(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    def check() -> tuple[int, str]:
        done = medianest(tmp_path, "worker", "--health-check", MEDIANEST_REDIS_URL=redis_url)
        return done.returncode, done.stdout + done.stderr

    status, output = check()
    assert status == 1 and "no worker heartbeat on" in output, output

    await write_beat(redis_client, beat("elsewhere:1:aaaaaa", host="elsewhere"))
    await write_beat(redis_client, beat("here:2:bbbbbb", age_seconds=45))
    status, output = check()
    assert status == 1 and "no worker heartbeat on" in output, output
    assert "s (limit 30 s)" in output, output

    await write_beat(redis_client, beat("here:3:cccccc", age_seconds=1))
    status, output = check()
    assert status == 0 and "worker here:3:cccccc alive" in output, output


@pytest.mark.slow  # runs a process of its own
def test_worker_health_check_fails_when_redis_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    done = medianest(
        tmp_path, "worker", "--health-check", MEDIANEST_REDIS_URL=f"redis://127.0.0.1:{port}/0"
    )
    assert done.returncode == 1
    assert "Redis is unreachable" in done.stdout + done.stderr
