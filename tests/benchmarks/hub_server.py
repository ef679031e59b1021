"""``medianest serve --port 0`` as a child process, the way a person starts the hub."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.procs import Child, clean_environment, running
from tests.benchmarks.results import BenchmarkError

SERVING = re.compile(r"serving on (http://127\.0\.0\.1:(\d+)) \((\w+) mode\)")
START_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.005


def medianest_command(*args: str) -> list[str]:
    """The ``medianest`` console script of this environment (or the module, without it)."""
    script = Path(sys.executable).with_name("medianest")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from medianest.core.cli import main; main()", *args]


def hub_environment(workdir: Path, **extra: str) -> dict[str, str]:
    """Settings for a hub in ``workdir``: its own data dir, no secrets, nothing inherited."""
    return clean_environment(
        MEDIANEST_DATA_DIR=str(workdir / "data"),
        MEDIANEST_SECRETS_DIR=str(workdir / "no-secrets"),
        **extra,
    )


@dataclass(frozen=True)
class ServedHub:
    """A hub serving on loopback; ``serving_seconds`` is launch → "serving on" line."""

    child: Child
    url: str
    port: int
    mode: str
    serving_seconds: float


@contextlib.asynccontextmanager
async def serve_hub(
    workdir: Path, *, log_name: str = "serve.log", **extra_env: str
) -> AsyncIterator[ServedHub]:
    """Run ``medianest serve --port 0`` in ``workdir`` until the block exits."""
    async with running(
        medianest_command("serve", "--port", "0"),
        name="medianest serve",
        log_path=workdir / log_name,
        cwd=workdir,
        env=hub_environment(workdir, **extra_env),
    ) as child:
        match = await child.line_matching(SERVING, START_TIMEOUT_SECONDS)
        serving = time.perf_counter() - child.started
        child.drain_stdout()
        yield ServedHub(
            child=child,
            url=match.group(1),
            port=int(match.group(2)),
            mode=match.group(3),
            serving_seconds=serving,
        )


async def wait_ready(client: httpx.AsyncClient, url: str, time_limit: float = 30.0) -> float:
    """Poll ``/health/ready`` until it answers 200; returns the ``perf_counter`` of that answer.

    :raises BenchmarkError: not ready within ``time_limit`` seconds.
    """
    deadline = time.perf_counter() + time_limit
    last = "no answer"
    while time.perf_counter() < deadline:
        try:
            response = await client.get(f"{url}/health/ready")
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return time.perf_counter()
            last = f"status {response.status_code}: {response.text[:200]}"
        await asyncio.sleep(READY_POLL_SECONDS)
    raise BenchmarkError(f"{url}/health/ready did not answer 200 within {time_limit:g} s ({last})")
