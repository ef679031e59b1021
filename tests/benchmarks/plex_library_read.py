"""``plex_library_read``: the Plex plugin reading a whole 100,000-leaf library.

The simulator serves the world in one process; :mod:`tests.benchmarks.plex_reader` walks it
through ``PlexMediaSource.list_library`` in another, once per read shape, each in a fresh
process so its peak memory is its own. The shapes are pages of 200 and of the plugin's default
(and maximum) 1,000, each with ``limit`` equal to the page size (how the library sync engine
reads: it asks for pages of the source's own size), and pages of 200 with ``limit=1000`` (the
plugin then asks the server for several pages per call, one after the other). Reported: total
seconds, items per second, per-call latency, the reader's peak RSS, and the CPU each process
used (the one near 100% of a core is the bottleneck).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medianest_plex.const import DEFAULT_PAGE_SIZE
from tests.benchmarks.plex_sim import Simulator, plex_simulator
from tests.benchmarks.procs import cpu_seconds, run_json_child
from tests.benchmarks.results import BenchmarkError, Result

SYNC_LIMIT = 1000
"""A ``limit`` above the page size: the ``[sync] page_size`` default."""

SMALL_PAGE = 200
"""A page size well below the default, as a client reading a few items at a time uses."""

READS: tuple[tuple[int, int], ...] = (
    (SMALL_PAGE, SMALL_PAGE),
    (DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    (SMALL_PAGE, SYNC_LIMIT),
)
"""``(page_size, limit)`` of each read."""


@dataclass(frozen=True)
class Params:
    """World size, reads as ``(page_size, limit)``, time allowed per read."""

    items: int
    reads: tuple[tuple[int, int], ...]
    time_limit: float


FULL = Params(items=100_000, reads=READS, time_limit=300.0)
QUICK = Params(items=10_000, reads=READS, time_limit=60.0)


def read_label(page_size: int, limit: int) -> tuple[str, str]:
    """The figure key prefix and the human label of a read."""
    if limit == page_size:
        return f"page_size_{page_size}", f"{page_size}/page"
    return f"page_size_{page_size}_limit_{limit}", f"{page_size}/page, {limit}/call"


async def read_once(
    sim: Simulator, page_size: int, limit: int, workdir: Path, time_limit: float
) -> dict[str, Any]:
    """One full read in a fresh reader process, with the simulator's CPU seconds added."""
    key, label = read_label(page_size, limit)
    before = cpu_seconds(sim.child.pid)
    figures = await run_json_child(
        "tests.benchmarks.plex_reader",
        {"url": sim.url, "token": sim.token, "page_size": page_size, "limit": limit},
        name=f"plex reader ({label})",
        log_path=workdir / f"reader-{key}.log",
        time_limit=time_limit,
    )
    after = cpu_seconds(sim.child.pid)
    figures["simulator_cpu_seconds"] = (
        after - before if before is not None and after is not None else None
    )
    if figures["items"] != figures["total"]:
        raise BenchmarkError(
            f"the read with {label} returned {figures['items']} items, "
            f"but the library reports {figures['total']}"
        )
    return figures


def add_read(result: Result, figures: dict[str, Any]) -> None:
    """Record the figures of one read."""
    key, label = read_label(figures["page_size"], figures["limit"])
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
    """Read the whole library once per read shape."""
    params = QUICK if quick else FULL
    result = Result(
        name="plex_library_read",
        title=f"PlexMediaSource.list_library over the whole library ({params.items:,} leaves)",
        params={
            "items": params.items,
            "reads": [{"page_size": size, "limit": limit} for size, limit in params.reads],
            "reader_process": "separate (python -m tests.benchmarks.plex_reader)",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with plex_simulator(params.items, workdir) as sim:
            for size, limit in params.reads:
                figures = await read_once(sim, size, limit, workdir, params.time_limit)
                result.params["library_items"] = figures["total"]
                add_read(result, figures)
    return result
