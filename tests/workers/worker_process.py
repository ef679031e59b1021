"""A MediaNest ARQ worker in a process of its own, as ``medianest worker`` runs one.

Used by ``test_jobs_arq.py``: ``python worker_process.py REDIS_URL QUEUE PREFIX JOB_NAME``.
The job stores its arguments in the shared cache, where the test reads them back.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from medianest.core.state import StateBackends, open_state
from medianest.sdk.jobs import Job, JobContext
from medianest.workers import build_worker_settings, run_worker


@dataclass
class WorkerHub:
    state: StateBackends

    @property
    def cache(self) -> Any:
        return self.state.cache


async def store(ctx: JobContext, key: str, value: Any) -> None:
    record = {"value": value, "job_id": ctx.job_id, "attempt": ctx.attempt}
    await ctx.hub.cache.set(key, record, ttl=60)


async def main(redis_url: str, queue_name: str, prefix: str, job_name: str) -> None:
    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["hub"] = WorkerHub(await open_state(redis_url, prefix=prefix))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if "hub" in ctx:
            await ctx["hub"].state.close()

    settings = build_worker_settings(
        jobs=[Job(job_name, store)],
        redis_url=redis_url,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        queue_name=queue_name,
        shutdown_grace_seconds=0,
    )
    worker = await run_worker(settings)
    print(f"worker stopped cleanly after {worker.jobs_complete} job(s)", flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
