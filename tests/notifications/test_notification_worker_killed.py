"""Exactly once across a worker process killed mid-delivery (scaled mode, real processes):
the first worker is SIGKILLed while the receiver holds its request; a second worker, once the
lease lapsed, sends the delivery again with the same key, and the receiver counts it once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from medianest.core.db.models import NotificationDelivery
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent
from tests.notifications.conftest import KEY, eventually, person
from tests.notifications.notifier import NotifierPlugin, WebhookNotifier

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # starts worker processes


def start_worker(tmp_path: Path, settings: dict) -> subprocess.Popen:
    environment = dict(os.environ, MEDIANEST_TEST_WORKER=json.dumps(settings))
    log = tmp_path / f"worker-{len(list(tmp_path.glob('worker-*')))}.log"
    with log.open("w") as output:  # the process keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.notifications.worker_process"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_worker_killed_mid_delivery_delivers_once_after_restart(
    medianest_hub, migrated_postgres_url, redis_url, receiver, tmp_path
) -> None:
    notifications = {"lease_seconds": 2.0, "retry_base_seconds": 0.1}
    settings = {
        "database_url": migrated_postgres_url,
        "redis_url": redis_url,
        "secret_key": KEY,
        "notifications": notifications,
    }
    worker_settings = settings | {"admin_url": receiver.url("/admin"), "data_dir": str(tmp_path)}
    plugin = NotifierPlugin(WebhookNotifier(receiver.url("/admin")))
    async with medianest_hub.run({"testhook": plugin}, **settings) as running:
        hub = running.hub
        with hub.database.activate():
            ann = await person("ann", hub=hub, webhook=receiver.url("/ann"))
            receiver.hold = asyncio.Event()
            await hub.emit(
                DomainEvent(
                    type=REQUEST_AVAILABLE,
                    source="core",
                    user_id=ann.id,
                    data={"request_id": 1, "title": "Dune", "interested": [ann.id]},
                )
            )
            await hub.events.flush()
            first = start_worker(tmp_path, worker_settings)
            second = None
            try:
                await receiver.wait_for(1, "/ann", within=60)
                [row] = await NotificationDelivery.filter(user_id=ann.id)
                assert row.status == "sending"
                first.send_signal(signal.SIGKILL)  # killed mid-send
                first.wait(timeout=10)
                receiver.hold.set()
                receiver.hold = None
                await asyncio.sleep(0.3)
                assert await NotificationDelivery.filter(id=row.id, status="sending").exists()
                second = start_worker(tmp_path, worker_settings)
                await asyncio.sleep(2.2)  # the dead worker's lease lapses
                await hub.notifications.sweep()  # what the workers' sweep does every 30 s

                async def sent() -> bool:
                    return await NotificationDelivery.filter(id=row.id, status="sent").exists()

                await eventually(sent, within=60)
            finally:
                stop(first)
                if second is not None:
                    stop(second)
        calls = receiver.at("/ann")
        assert len(calls) == 2, "the killed worker's try and the one after the restart"
        assert {c.key for c in calls} == {row.key}
        assert len(receiver.unique("/ann")) == 1, "the receiver counts one delivery"
