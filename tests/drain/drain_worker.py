"""An ARQ worker process with one long job, for the drain tests:
``python -m tests.drain.drain_worker REDIS_URL QUEUE GRACE_SECONDS``.

Built like ``medianest worker`` (:func:`build_worker_settings`, :func:`run_worker`, signals
handled), but without a hub. The job ``drain.long`` records each start and end in Redis
(``<queue>:log``) and sleeps ``seconds`` on its first start only, so a rerun finishes fast.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from medianest.sdk.jobs import Job, JobContext
from medianest.workers.arq_worker import build_worker_settings, run_worker


def main(redis_url: str, queue: str, grace: int) -> None:
    log_key = f"{queue}:log"

    async def long_job(ctx: JobContext, seconds: float) -> str:
        redis = ctx.hub["redis"]
        starts = await redis.rpush(log_key, f"start {os.getpid()} {ctx.attempt} {time.time()}")
        if starts == 1:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(0.2)
        await redis.rpush(log_key, f"end {os.getpid()} {ctx.attempt} {time.time()}")
        return "done"

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["hub"] = {"redis": ctx["redis"]}
        print("worker ready", flush=True)

    settings = build_worker_settings(
        jobs=[Job(name="drain.long", function=long_job, max_tries=1, timeout_seconds=120)],
        redis_url=redis_url,
        on_startup=on_startup,
        queue_name=queue,
        handle_signals=True,
        shutdown_grace_seconds=grace,
        max_jobs=1,
        heartbeat_seconds=1,
    )
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
