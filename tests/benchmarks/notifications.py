"""``notifications``: from an event to the receiver, and a large fan-out.

1. Latency: a ``request.available`` event emitted for a person with a webhook channel, until
   the local HTTP receiver has the delivery; one at a time (200, quick: 50), p50 and p99, in
   embedded mode (SQLite, jobs in-process) and scaled mode (PostgreSQL, Redis, an ARQ worker
   in the same process).
2. Fan-out: 10,000 notifications (quick: 1,000) to 100 people with 3 channels each (three
   webhook notifiers of different address kinds), i.e. 30,000 deliveries: total time until the
   receiver has them all, and the process's peak RSS (the API side and the worker share the
   process here, so it is an upper bound of the worker's).

The event buffer flushes every 50 ms (its default waits up to 1 s for a partial batch) and
the per-destination rate limit is raised out of the way; both are in the params.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from medianest.config import load_settings
from medianest.core.db.models import User
from medianest.core.hub import Hub, build_hub
from medianest.core.notifications import channels
from medianest.sdk.events import REQUEST_AVAILABLE
from medianest.sdk.models import DomainEvent, Notification, Recipient
from medianest.workers.arq_worker import build_worker_settings, run_worker
from tests.benchmarks.results import Result
from tests.benchmarks.stats import percentile
from tests.notifications.notifier import NotifierPlugin, WebhookNotifier
from tests.notifications.receiver import Receiver
from tests.services import POSTGRES_URL, REDIS_URL, SECRET_KEY

KINDS = ("hook0", "hook1", "hook2")
BENCH_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/13"
"""A Redis database of its own: the tests empty theirs (14) before and after each test."""
PEOPLE = 100


@contextlib.asynccontextmanager
async def running_hub(mode: str, receiver: Receiver) -> AsyncIterator[Hub]:
    """A started hub of ``mode`` with three webhook notifiers (and its worker when scaled)."""
    tmp = Path(tempfile.mkdtemp(prefix="medianest-bench-notify-"))
    overrides: dict[str, Any] = {
        "data_dir": tmp,
        "secret_key": SECRET_KEY,
        "events": {"flush_seconds": 0.05},
        "notifications": {"destination_limit": 100_000, "group_window_seconds": 0},
        "sync": {"incremental_minutes": 0, "full_daily_at": None},
        "jobs": {"concurrency": 50},
    }
    database = None
    admin = None
    if mode == "scaled":
        admin = await asyncpg.connect(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres")
        database = f"medianest_bench_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE DATABASE "{database}"')
        overrides["database_url"] = POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"
        overrides["redis_url"] = BENCH_REDIS_URL
        await _empty_redis()
    plugins = {
        f"bench{n}": NotifierPlugin(
            WebhookNotifier(receiver.url("/admin"), notifier_id=f"bench{n}:hook", kind=kind)
        )
        for n, kind in enumerate(KINDS)
    }
    hub = build_hub(load_settings(**overrides), plugins=plugins, autoload=False)
    worker: asyncio.Task[Any] | None = None
    try:
        await hub.start(migrate=True)
        hub.database.enter()
        if mode == "scaled":

            async def startup(ctx: dict[str, Any]) -> None:
                ctx["hub"] = hub

            settings = build_worker_settings(
                jobs=hub.job_definitions,
                redis_url=BENCH_REDIS_URL,
                on_startup=startup,
                handle_signals=False,
                max_jobs=50,
                poll_delay=0.01,
            )
            worker = asyncio.create_task(run_worker(settings))
        yield hub
    finally:
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker
        await hub.close()
        if admin is not None:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


async def _empty_redis() -> None:
    client = aioredis.from_url(BENCH_REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def people(hub: Hub, receiver: Receiver, count: int) -> list[int]:
    ids = []
    for n in range(count):
        user = await User.create(username=f"bench-{n}", role="user", permissions=[])
        for kind in KINDS:
            await channels.save(hub.secrets, user.id, kind, receiver.url(f"/{kind}/{user.id}"))
        ids.append(user.id)
    return ids


async def latency(mode: str, samples: int) -> list[float]:
    receiver = await Receiver().start()
    try:
        async with running_hub(mode, receiver) as hub:
            [user_id] = await people(hub, receiver, 1)
            timings = []
            for n in range(samples + 5):
                before = len(receiver.received)
                started = time.monotonic()
                await hub.emit(
                    DomainEvent(
                        type=REQUEST_AVAILABLE,
                        source="core",
                        user_id=user_id,
                        data={"request_id": n, "title": f"Film {n}", "interested": [user_id]},
                    )
                )
                await receiver.wait_for(before + len(KINDS), within=30)
                first = min(r.at for r in receiver.received[before:])
                if n >= 5:  # warm-up
                    timings.append(first - started)
            return timings
    finally:
        await receiver.close()


async def fan_out(mode: str, notifications: int) -> tuple[float, float]:
    receiver = await Receiver().start()
    try:
        async with running_hub(mode, receiver) as hub:
            ids = await people(hub, receiver, PEOPLE)
            started = time.monotonic()
            chunk = 50
            for start in range(0, notifications, chunk):
                await asyncio.gather(
                    *(
                        hub.notifications.notify(
                            Notification(
                                event_type="bench.note",
                                title=f"Note {n}",
                                recipients=(Recipient.user(ids[n % len(ids)]),),
                            )
                        )
                        for n in range(start, min(notifications, start + chunk))
                    )
                )
            await receiver.wait_for(notifications * len(KINDS), within=3600)
            elapsed = time.monotonic() - started
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return elapsed, rss
    finally:
        await receiver.close()


async def run(quick: bool) -> Result:
    samples = 50 if quick else 200
    total = 1_000 if quick else 10_000
    result = Result(
        "notifications",
        "Notifications: event to receiver, and fan-out",
        params={
            "latency_samples": samples,
            "fan_out_notifications": total,
            "channels_per_person": len(KINDS),
            "people": PEOPLE,
            "events.flush_seconds": 0.05,
            "jobs.concurrency (embedded) / worker max_jobs (scaled)": 50,
        },
    )
    for mode, target in (("embedded", "< 1000 ms"), ("scaled", "< 2000 ms")):
        timings = await latency(mode, samples)
        result.add(
            f"{mode}.latency_p50_ms",
            f"{mode}: event → receiver p50",
            round(percentile(timings, 50) * 1000, 1),
            "ms",
        )
        result.add(
            f"{mode}.latency_p99_ms",
            f"{mode}: event → receiver p99",
            round(percentile(timings, 99) * 1000, 1),
            "ms",
            target=target,
        )
    for mode in ("embedded", "scaled"):
        elapsed, rss = await fan_out(mode, total)
        result.add(
            f"{mode}.fan_out_s",
            f"{mode}: {total} notifications x 3 channels",
            round(elapsed, 2),
            "s",
        )
        result.add(
            f"{mode}.fan_out_per_s",
            f"{mode}: deliveries per second",
            round(total * len(KINDS) / elapsed, 1),
            "deliveries/s",
        )
        result.add(
            f"{mode}.peak_rss_mib",
            f"{mode}: peak RSS of the process (API + worker)",
            round(rss, 1),
            "MiB",
        )
    return result
