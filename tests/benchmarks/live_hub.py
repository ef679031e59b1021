"""A hub serving the live socket for the ``live_socket`` benchmark, in a process of its own.

``python -m tests.benchmarks.live_hub WORKDIR`` serves the hub of ``tests/served_hub.py``
(embedded mode, hypercorn on a free loopback port) and prints one JSON line: its ``url`` and
the ``headers`` of an API key that may follow the ``sync`` topic. It then answers one JSON
command per stdin line with one JSON line, publishing from inside the hub's own event loop
as its sync engine does:

- ``{"cmd": "broadcast"}``: publish ``{"t": <wall clock>}`` on ``sync`` once;
- ``{"cmd": "rate", "rate": 200, "seconds": 30}``: start publishing that many messages per
  second on ``sync`` for that long; ``{"cmd": "wait"}`` answers how many once done;
- ``{"cmd": "stats"}``: the process's RSS and the live broker's channels, sockets and
  frames waiting;
- ``{"cmd": "quit"}``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from medianest.config.settings import LogSettings
from medianest.core.logging import configure_logging
from medianest.core.web.live import broker_of
from medianest.sdk.events import SYNC_PROGRESS_CHANNEL
from tests.served_hub import ServedHub, served_hub

MAX_DEBT_SECONDS = 0.25


def rss_bytes() -> int:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def publish_at(served: ServedHub, rate: float, seconds: float) -> int:
    """Publish ``rate`` messages a second on ``sync`` for ``seconds``, one at a time; when
    the process falls behind it catches up on at most :data:`MAX_DEBT_SECONDS` of them
    rather than bursting without end (the figure of the achieved rate shows the rest)."""
    pubsub = served.hub.pubsub
    interval = 1.0 / rate
    started = time.perf_counter()
    count = 0
    next_at = started
    while time.perf_counter() - started < seconds:
        await pubsub.publish(SYNC_PROGRESS_CHANNEL, {"t": time.time(), "n": count})
        count += 1
        next_at = max(next_at + interval, time.perf_counter() - MAX_DEBT_SECONDS)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return count


async def stats(served: ServedHub) -> dict[str, Any]:
    gc.collect()
    return {"rss": rss_bytes(), **broker_of(served.app).stats()}


def answer(
    served: ServedHub, command: dict[str, Any], pending: list[Future[int]]
) -> dict[str, Any]:
    kind = command.get("cmd")
    if kind == "broadcast":
        served.run(served.hub.pubsub.publish(SYNC_PROGRESS_CHANNEL, {"t": time.time()}))
        return {"ok": True}
    if kind == "rate":
        publishing = publish_at(served, float(command["rate"]), float(command["seconds"]))
        pending.append(asyncio.run_coroutine_threadsafe(publishing, served.loop))
        return {"started": True}
    if kind == "wait":
        return {"published": sum(future.result() for future in pending)}
    if kind == "stats":
        return served.run(stats(served))
    return {"error": f"unknown command {kind!r}"}


def main(workdir: str) -> None:
    configure_logging(LogSettings(level="warning"), stream=sys.stderr)  # stdout answers
    with served_hub(Path(workdir), items=1) as served:
        headers = served.api_key(["run_syncs"])
        print(json.dumps({"url": served.url, "headers": headers}), flush=True)
        pending: list[Future[int]] = []
        for line in sys.stdin:
            command = json.loads(line)
            if command.get("cmd") == "quit":
                break
            print(json.dumps(answer(served, command, pending)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
