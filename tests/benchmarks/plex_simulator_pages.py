"""``plex_simulator_pages``: how fast the Plex simulator serves library pages.

The simulator serves a world of 100,000 leaves (40% movies, 60% episodes, plus their shows
and seasons) in its own process. A load generator in another process walks every segment the
plugin walks (each section's types, sorted by ``addedAt``, ``includeGuids=1``, JSON) page by
page with ``X-Plex-Container-Size`` 200 and 1000, over a few concurrent connections, covering
every offset from the beginning to the end. Then a single client reads full pages at the
beginning, in the middle and at the end of the largest segment, one at a time, to show
whether deep offsets cost more (latency without queueing).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from medianest_plex.const import SECTION_TYPES
from tests.benchmarks.load import LoadReport, LoadSpec, Target, add_cpu, run_load
from tests.benchmarks.plex_sim import Simulator, plex_simulator
from tests.benchmarks.results import BenchmarkError, Result

ITEMS_COUNT = r'"size":(\d+)'
"""``MediaContainer.size`` is the first field of every JSON page: the items it holds."""
POSITIONS = ("beginning", "middle", "end")
MIB = 1 << 20


@dataclass(frozen=True)
class Params:
    """World size, page sizes walked, concurrent connections, pages probed per position."""

    items: int
    page_sizes: tuple[int, ...]
    connections: int
    probe_pages: int
    time_limit: float


FULL = Params(
    items=100_000, page_sizes=(200, 1000), connections=4, probe_pages=10, time_limit=240.0
)
QUICK = Params(items=10_000, page_sizes=(200, 1000), connections=4, probe_pages=3, time_limit=60.0)


@dataclass(frozen=True)
class Segment:
    """One section's items of one Plex type, and how many there are."""

    section: str
    plex_type: int
    total: int

    def path(self) -> str:
        """The list URL path, with the query the plugin sends."""
        return (
            f"/library/sections/{self.section}/all"
            f"?type={self.plex_type}&sort=addedAt&includeGuids=1"
        )


def plex_headers(token: str, **extra: str) -> dict[str, str]:
    """Headers of a JSON request with the owner's token."""
    return {"Accept": "application/json", "X-Plex-Token": token, **extra}


async def discover(sim: Simulator) -> tuple[list[Segment], float]:
    """Every segment with its size, and the slowest first request of a segment (seconds).

    The first request of a segment has the simulator sort it; later ones reuse the order.
    """
    segments: list[Segment] = []
    slowest = 0.0
    async with httpx.AsyncClient(base_url=sim.url, timeout=60.0) as client:
        response = await client.get("/library/sections", headers=plex_headers(sim.token))
        response.raise_for_status()
        for section in response.json()["MediaContainer"].get("Directory", []):
            for plex_type in SECTION_TYPES.get(section["type"], ()):
                probe = Segment(str(section["key"]), plex_type, 0)
                started = time.perf_counter()
                counted = await client.get(
                    probe.path(), headers=plex_headers(sim.token, **{"X-Plex-Container-Size": "0"})
                )
                slowest = max(slowest, time.perf_counter() - started)
                counted.raise_for_status()
                total = int(counted.headers["X-Plex-Container-Total-Size"])
                segments.append(Segment(probe.section, plex_type, total))
    if not segments:
        raise BenchmarkError("the simulator lists no movie or show section")
    return segments, slowest


def page_target(segment: Segment, token: str, start: int, size: int, tag: str) -> Target:
    """The request for the page of ``size`` items at offset ``start`` of ``segment``."""
    headers = plex_headers(
        token, **{"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
    )
    return Target(segment.path(), headers, tag)


def walk_targets(segments: list[Segment], token: str, size: int) -> list[Target]:
    """One request per page of every segment, in order."""
    return [
        page_target(segment, token, start, size, "all")
        for segment in segments
        for start in range(0, segment.total, size)
    ]


def probe_targets(segment: Segment, token: str, size: int, pages: int) -> list[Target]:
    """``pages`` full pages at the beginning, in the middle and at the end of ``segment``."""
    last = max(0, segment.total - size)
    firsts = {
        "beginning": 0,
        "middle": max(0, min(last, segment.total // 2 - pages * size // 2)),
        "end": max(0, last - (pages - 1) * size),
    }
    return [
        page_target(segment, token, min(last, first + n * size), size, position)
        for position, first in firsts.items()
        for n in range(pages)
    ]


def add_walk(result: Result, size: int, report: LoadReport, probe: LoadReport) -> None:
    """Record the figures of the walk and the probe with page size ``size``."""
    key = f"size_{size}"
    label = f"{size}/page"
    result.add(f"{key}.pages_per_second", f"{label}: pages/s", round(report.rate, 1), "pages/s")
    result.add(
        f"{key}.items_per_second",
        f"{label}: items/s",
        round(report.items / report.seconds),
        "items/s",
    )
    result.add(
        f"{key}.mib_per_second",
        f"{label}: JSON served",
        round(report.bytes / MIB / report.seconds, 1),
        "MiB/s",
    )
    result.add(f"{key}.walk_seconds", f"{label}: whole walk", round(report.seconds, 2), "s")
    overall = report.latency_ms["all"]
    result.add(f"{key}.latency_p50_ms", f"{label}: page latency p50 (loaded)", overall.p50, "ms")
    result.add(f"{key}.latency_p99_ms", f"{label}: page latency p99 (loaded)", overall.p99, "ms")
    for position in POSITIONS:
        result.add(
            f"{key}.alone_p50_ms.{position}",
            f"{label}: one client, p50 at the {position}",
            probe.latency_ms[position].p50,
            "ms",
        )
    add_cpu(result, key, label, report, watched="simulator")


async def measure(
    sim: Simulator, segments: list[Segment], size: int, params: Params, workdir: Path
) -> tuple[LoadReport, LoadReport]:
    """The concurrent walk of every page, then the one-client probe of the largest segment.

    :raises BenchmarkError: the walk did not read every page and every item.
    """
    targets = walk_targets(segments, sim.token, size)
    walk = LoadSpec(
        port=sim.port,
        targets=targets,
        mode="walk",
        connections=params.connections,
        time_limit=params.time_limit,
        count_pattern=ITEMS_COUNT,
        watch_pid=sim.child.pid,
    )
    report = await run_load(walk, workdir / f"walk-{size}.log")
    total = sum(s.total for s in segments)
    if report.requests != len(targets) or report.items != total:
        raise BenchmarkError(
            f"the walk with {size}/page read {report.requests} of {len(targets)} "
            f"pages and {report.items} of {total} items"
        )
    largest = max(segments, key=lambda s: s.total)
    probe = LoadSpec(
        port=sim.port,
        targets=probe_targets(largest, sim.token, size, params.probe_pages),
        mode="walk",
        connections=1,
        time_limit=params.time_limit,
    )
    return report, await run_load(probe, workdir / f"probe-{size}.log")


async def run(quick: bool) -> Result:
    """Walk the whole library with each page size."""
    params = QUICK if quick else FULL
    result = Result(
        name="plex_simulator_pages",
        title=f"Plex simulator: /library/sections/{{key}}/all pages ({params.items:,} leaves)",
        params={
            "items": params.items,
            "page_sizes": list(params.page_sizes),
            "connections": params.connections,
            "query": "type=<t>&sort=addedAt&includeGuids=1, Accept: application/json",
            "generator_process": "separate (python -m tests.benchmarks.loadgen, raw client)",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        async with plex_simulator(params.items, workdir) as sim:
            result.add(
                "world_build_s", "world build (reported by the simulator)", sim.build_seconds, "s"
            )
            result.add(
                "simulator_start_s",
                "simulator launch → serving",
                round(sim.started_seconds, 3),
                "s",
            )
            segments, first = await discover(sim)
            total = sum(s.total for s in segments)
            result.params["segments"] = {
                f"{s.section}/type={s.plex_type}": s.total for s in segments
            }
            largest = max(segments, key=lambda s: s.total)
            result.params["probed_segment"] = f"{largest.section}/type={largest.plex_type}"
            result.add("library_items", "items in all segments", total, "items")
            result.add(
                "first_segment_request_ms",
                "slowest first request of a segment (sorts)",
                round(first * 1000, 1),
                "ms",
            )
            for size in params.page_sizes:
                walk, probe = await measure(sim, segments, size, params, workdir)
                add_walk(result, size, walk, probe)
    return result
