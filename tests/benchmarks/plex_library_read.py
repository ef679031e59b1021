"""``plex_library_read``: the Plex plugin reading a whole 100,000-leaf library.

The simulator serves the world in one process; :mod:`tests.benchmarks.plex_reader` walks it
through ``PlexMediaSource.list_library`` in another, once per page size (the plugin's
default, and its maximum), each in a fresh process so its peak memory is its own. Reported:
total seconds, items per second, per-page latency, the reader's peak RSS, and the CPU each
process used (the one near 100% of a core is the bottleneck).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medianest_plex.const import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from tests.benchmarks.plex_sim import Simulator, plex_simulator
from tests.benchmarks.procs import cpu_seconds, run_json_child
from tests.benchmarks.results import BenchmarkError, Result


@dataclass(frozen=True)
class Params:
    """World size, page sizes read, time allowed per read."""

    items: int
    page_sizes: tuple[int, ...]
    time_limit: float


FULL = Params(items=100_000, page_sizes=(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), time_limit=300.0)
QUICK = Params(items=10_000, page_sizes=(DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE), time_limit=60.0)


async def read_once(
    sim: Simulator, page_size: int, workdir: Path, time_limit: float
) -> dict[str, Any]:
    """One full read in a fresh reader process, with the simulator's CPU seconds added."""
    before = cpu_seconds(sim.child.pid)
    figures = await run_json_child(
        "tests.benchmarks.plex_reader",
        {"url": sim.url, "token": sim.token, "page_size": page_size},
        name=f"plex reader ({page_size}/page)",
        log_path=workdir / f"reader-{page_size}.log",
        time_limit=time_limit,
    )
    after = cpu_seconds(sim.child.pid)
    figures["simulator_cpu_seconds"] = (
        after - before if before is not None and after is not None else None
    )
    if figures["items"] != figures["total"]:
        raise BenchmarkError(
            f"the read with {page_size}/page returned {figures['items']} items, "
            f"but the library reports {figures['total']}"
        )
    return figures


def add_read(result: Result, figures: dict[str, Any]) -> None:
    """Record the figures of one read."""
    size = figures["page_size"]
    key = f"page_size_{size}"
    label = f"{size}/page"
    seconds = figures["seconds"]
    result.add(f"{key}.seconds", f"{label}: whole library", round(seconds, 2), "s")
    result.add(
        f"{key}.items_per_second", f"{label}: items/s", round(figures["items"] / seconds), "items/s"
    )
    result.add(f"{key}.pages", f"{label}: list_library calls", figures["pages"], "pages")
    result.add(
        f"{key}.page_p50_ms", f"{label}: page latency p50", round(figures["page_p50_ms"], 2), "ms"
    )
    result.add(
        f"{key}.page_p99_ms", f"{label}: page latency p99", round(figures["page_p99_ms"], 2), "ms"
    )
    result.add(
        f"{key}.peak_rss_mib", f"{label}: reader peak RSS", round(figures["peak_rss_mib"], 1), "MiB"
    )
    result.add(
        f"{key}.rss_growth_mib",
        f"{label}: reader RSS growth while reading",
        round(figures["peak_rss_mib"] - figures["rss_before_mib"], 1),
        "MiB",
    )
    result.add(
        f"{key}.reader_cpu_pct",
        f"{label}: reader CPU",
        round(figures["cpu_seconds"] / seconds * 100, 1),
        "% core",
    )
    if figures["simulator_cpu_seconds"] is not None:
        result.add(
            f"{key}.simulator_cpu_pct",
            f"{label}: simulator CPU",
            round(figures["simulator_cpu_seconds"] / seconds * 100, 1),
            "% core",
        )


async def run(quick: bool) -> Result:
    """Read the whole library once per page size."""
    params = QUICK if quick else FULL
    result = Result(
        name="plex_library_read",
        title=f"PlexMediaSource.list_library over the whole library ({params.items:,} leaves)",
        params={
            "items": params.items,
            "page_sizes": list(params.page_sizes),
            "limit": "equal to the page size",
            "reader_process": "separate (python -m tests.benchmarks.plex_reader)",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with plex_simulator(params.items, workdir) as sim:
            for size in params.page_sizes:
                figures = await read_once(sim, size, workdir, params.time_limit)
                result.params["library_items"] = figures["total"]
                add_read(result, figures)
    return result
