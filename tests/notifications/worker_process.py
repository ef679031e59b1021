"""A worker process with the test webhook notifier: ``python -m
tests.notifications.worker_process``.

It runs like ``medianest worker`` (a hub of its own, jobs from Redis), with the notifier
handed to the hub directly since a test plugin has no entry point. Settings come as JSON in
``MEDIANEST_TEST_WORKER`` (``database_url``, ``redis_url``, ``secret_key``, ``admin_url``,
``notifications``). Tests kill it with SIGKILL mid-delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from medianest.config import load_settings
from medianest.core.hub import build_hub
from medianest.workers.arq_worker import build_worker_settings, run_worker
from tests.notifications.notifier import NotifierPlugin, WebhookNotifier


def main() -> None:
    options: dict[str, Any] = json.loads(os.environ["MEDIANEST_TEST_WORKER"])
    settings = load_settings(
        data_dir=options["data_dir"],
        database_url=options["database_url"],
        redis_url=options["redis_url"],
        secret_key=options["secret_key"],
        notifications=options.get("notifications", {}),
        sync={"incremental_minutes": 0, "full_daily_at": None},
    )
    plugin = NotifierPlugin(WebhookNotifier(options["admin_url"]))
    hub = build_hub(settings, plugins={"testhook": plugin}, autoload=False)

    async def on_startup(ctx: dict[str, Any]) -> None:
        await hub.start(run_jobs=False)
        ctx["hub"] = hub

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await hub.close()

    worker = build_worker_settings(
        jobs=hub.job_definitions,
        redis_url=options["redis_url"],
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        handle_signals=True,
        poll_delay=0.05,
    )
    asyncio.run(run_worker(worker))


if __name__ == "__main__":
    main()
