"""``health_live_rate``: requests per second and latency of ``GET /health/live``.

The hub runs as ``medianest serve`` (one hypercorn worker, embedded mode, default settings,
so every request is also logged); the load comes from a separate process with 50 keep-alive
connections, after a warm-up. It runs twice, once with each generator (raw asyncio streams
and httpx), and reports the CPU each side used: the side near 100% of a core is the
bottleneck, and a generator that is not tells the server's real rate.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.hub_server import serve_hub, wait_ready
from tests.benchmarks.load import Client, LoadReport, LoadSpec, Target, add_load, run_load
from tests.benchmarks.results import BenchmarkError, Result

PATH = "/health/live"
SATURATED = 0.8
"""A process using at least this share of one core is taken as the bottleneck."""


@dataclass(frozen=True)
class Params:
    """Load shape: connections, seconds discarded, seconds measured, generators to use."""

    connections: int
    warmup: float
    duration: float
    clients: tuple[Client, ...]


FULL = Params(connections=50, warmup=2.0, duration=10.0, clients=("raw", "httpx"))
QUICK = Params(connections=50, warmup=1.0, duration=3.0, clients=("raw", "httpx"))


def verdict(report: LoadReport) -> str:
    """Which side limited the rate, from the CPU shares."""
    client = report.client_cpu_share
    server = report.server_cpu_share
    shares = (
        f"generator {client:.0%} of a core, server {server:.0%}"
        if server is not None
        else (f"generator {client:.0%} of a core")
    )
    if client >= SATURATED:
        return f"{report.client} generator saturated ({shares}): its rate is a floor"
    if server is not None and server >= SATURATED:
        return f"{report.client} generator: the server is the bottleneck ({shares})"
    return f"{report.client} generator: neither side saturated a core ({shares})"


def add_report(result: Result, report: LoadReport) -> None:
    """Record one generator's figures."""
    key = report.client
    add_load(result, key, key, report)
    result.notes.append(verdict(report))
    if report.capped:
        result.notes.append(f"{key}: stopped at the request cap before the measured time ended")


async def run(quick: bool) -> Result:
    """Load ``/health/live`` with each generator in turn."""
    params = QUICK if quick else FULL
    result = Result(
        name="health_live_rate",
        title=f"GET {PATH} against medianest serve (1 worker, embedded)",
        params={
            "connections": params.connections,
            "warmup_seconds": params.warmup,
            "duration_seconds": params.duration,
            "generators": list(params.clients),
            "generator_process": "separate (python -m tests.benchmarks.loadgen)",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with serve_hub(workdir) as hub:
            async with httpx.AsyncClient(timeout=10.0) as client:
                await wait_ready(client, hub.url)
            result.params["mode"] = hub.mode
            for generator in params.clients:
                spec = LoadSpec(
                    port=hub.port,
                    targets=[Target(PATH)],
                    client=generator,
                    connections=params.connections,
                    warmup=params.warmup,
                    duration=params.duration,
                    watch_pid=hub.child.pid,
                )
                report = await run_load(spec, workdir / f"loadgen-{generator}.log")
                if hub.child.process.returncode is not None:
                    raise hub.child.failure("the hub exited during the load")
                add_report(result, report)
    if not result.figures:
        raise BenchmarkError("no generator produced figures")
    return result
