"""``cold_start``: launching ``medianest serve --port 0`` until it serves and is ready.

Each run starts the hub in a fresh data dir (embedded mode, default plugins), so it applies
every migration; a second start in the same, already migrated, data dir follows. Measured
from the moment the process is launched: the "serving on" line on stdout, and the first 200
from ``/health/ready``; also how long SIGTERM takes to stop it. ``medianest --help`` is timed
as well: interpreter start plus the CLI's imports, the part of a start that is not the hub.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.hub_server import hub_environment, medianest_command, serve_hub, wait_ready
from tests.benchmarks.procs import running
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.stats import spread

TARGET_SECONDS = 1.5
TARGET = f"< {TARGET_SECONDS:g} s"


@dataclass(frozen=True)
class Params:
    """How many timed starts of each kind, after how many untimed ones."""

    runs: int
    warmup_runs: int


FULL = Params(runs=7, warmup_runs=1)
QUICK = Params(runs=2, warmup_runs=0)


@dataclass(frozen=True)
class StartTiming:
    """Seconds from launch to the "serving on" line and to ready; SIGTERM to exit."""

    serving: float
    ready: float
    stop: float


async def time_start(workdir: Path, client: httpx.AsyncClient, log_name: str) -> StartTiming:
    """Start the hub in ``workdir``, wait until ready, stop it; returns the timings."""
    async with serve_hub(workdir, log_name=log_name) as hub:
        ready_at = await wait_ready(client, hub.url)
        ready = ready_at - hub.child.started
        if hub.mode != "embedded":
            raise BenchmarkError(f"the hub started in {hub.mode} mode, expected embedded")
        stopping = time.perf_counter()
        status = await hub.child.stop()
        stopped = time.perf_counter() - stopping
        if status != 0:
            raise hub.child.failure(f"exited with status {status} after SIGTERM")
    return StartTiming(serving=hub.serving_seconds, ready=ready, stop=stopped)


async def time_help(workdir: Path) -> float:
    """Seconds for ``medianest --help`` to exit."""
    async with running(
        medianest_command("--help"),
        name="medianest --help",
        log_path=workdir / "help.log",
        cwd=workdir,
        env=hub_environment(workdir),
    ) as child:
        await child.process.communicate()
        if child.process.returncode != 0:
            raise child.failure(f"exited with status {child.process.returncode}")
        return time.perf_counter() - child.started


def _add_spread(result: Result, key: str, label: str, samples: list[float], **kw: str) -> None:
    for stat, value in spread(samples).items():
        result.add(f"{key}.{stat}", f"{label} ({stat})", round(value, 3), "s", **kw)


async def run(quick: bool) -> Result:
    """Time fresh and second starts of the hub."""
    params = QUICK if quick else FULL
    result = Result(
        name="cold_start",
        title="medianest serve: launch → serving / ready (embedded, default plugins)",
        params={
            "runs": params.runs,
            "warmup_runs": params.warmup_runs,
            "command": "medianest serve --port 0",
            "target_ready_seconds": TARGET_SECONDS,
        },
    )
    fresh: list[StartTiming] = []
    again: list[StartTiming] = []
    helps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        async with httpx.AsyncClient(timeout=10.0) as client:
            for number in range(params.warmup_runs + params.runs):
                workdir = Path(tmp) / f"run-{number}"
                workdir.mkdir()
                first = await time_start(workdir, client, "fresh.log")
                second = await time_start(workdir, client, "again.log")
                helped = await time_help(workdir)
                if number >= params.warmup_runs:
                    fresh.append(first)
                    again.append(second)
                    helps.append(helped)
    _add_spread(
        result, "fresh.serving_s", "fresh: launch → serving line", [t.serving for t in fresh]
    )
    _add_spread(
        result, "fresh.ready_s", "fresh: launch → ready", [t.ready for t in fresh], target=TARGET
    )
    _add_spread(
        result, "migrated.serving_s", "migrated: launch → serving line", [t.serving for t in again]
    )
    _add_spread(
        result,
        "migrated.ready_s",
        "migrated: launch → ready",
        [t.ready for t in again],
        target=TARGET,
    )
    _add_spread(result, "stop_s", "SIGTERM → exit", [t.stop for t in fresh + again])
    _add_spread(result, "cli_help_s", "medianest --help (imports only)", helps)
    for label, timings in (("fresh", fresh), ("migrated", again)):
        median = spread([t.ready for t in timings])["median"]
        verdict = "meets" if median < TARGET_SECONDS else "misses"
        result.notes.append(
            f"{label} data dir: median {median:.3f} s to ready {verdict} the {TARGET} target"
        )
    return result
