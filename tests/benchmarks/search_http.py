"""``search_http``: ``GET /api/v1/search`` over HTTP against one hub, under load.

The hub (:mod:`tests.benchmarks.search_server`: the real app under hypercorn on loopback,
embedded mode, one worker, every request logged) holds a catalogue of 100,000 items in three
library sources, seeded before it starts, and three live sources answering from memory: one
after 30 ms, one after 80 ms, and one that never answers (its timeout is 250 ms). The load
comes from a separate process (:mod:`tests.benchmarks.loadgen`) over 50 keep-alive
connections, signed in with a bearer token. In order:

1. Cached searches (a hundred searches of the healthy sources, each asked once beforehand,
   so every measured one is answered from the cache: their answers fit the default cache
   sizes), paced at a steady rate spread over the 50 connections, as people typing: the
   latency people see.
2. The same as fast as the server answers, between two runs of ``/health/live`` as fast as
   the server answers (the ceiling of this server): the cached rate is compared with the mean
   of the two, so the machine's speed drifting during the run does not skew the ratio.
3. Uncached fan-out: every search new (catalogue query and both healthy live sources asked
   each time), paced, without the hanging source: its latency against the slowest source's
   80 ms.
4. The same with the hanging source: its latency against the 250 ms timeout.

Last, the server's resident memory after at least 10,000 searches (distinct searches top the
count up when the runs above served fewer).
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from medianest.core.db import Database
from medianest.core.search.query import words_of
from medianest.sdk.models import MediaItem, MediaKind
from tests.benchmarks.catalogue_search import SOURCES, library, searches, seed_catalogue
from tests.benchmarks.hub_server import SERVING, START_TIMEOUT_SECONDS, wait_ready
from tests.benchmarks.load import LoadReport, LoadSpec, Target, add_load, run_load
from tests.benchmarks.procs import clean_environment, module_command, running
from tests.benchmarks.results import BenchmarkError, Result

TOKEN = re.compile(r"token (\S+)")
LIVE = [
    {"id": "benchlive:fast", "latency": 0.030},
    {"id": "benchlive:slow", "latency": 0.080},
    {"id": "benchlive:stuck", "hang": True},
]
STUCK_TIMEOUT = 0.25
SLOWEST_HEALTHY_MS = 80.0
RSS_LIMIT_MIB = 150.0


@dataclass(frozen=True)
class Params:
    """Sizes and durations."""

    items: int
    live_items: int
    cached_queries: int
    connections: int
    warmup: float
    duration: float
    paced_rate: float
    fanout_rate: float
    fanout_searches: int
    rss_searches: int


FULL = Params(
    items=100_000,
    live_items=3_000,
    cached_queries=100,
    connections=50,
    warmup=3.0,
    duration=10.0,
    paced_rate=200.0,
    fanout_rate=25.0,
    fanout_searches=600,
    rss_searches=10_000,
)
QUICK = Params(
    items=10_000,
    live_items=500,
    cached_queries=60,
    connections=20,
    warmup=1.0,
    duration=2.0,
    paced_rate=100.0,
    fanout_rate=40.0,
    fanout_searches=80,
    rss_searches=500,
)


def live_templates(items: list[MediaItem], count: int, seed: int = 3) -> list[dict[str, Any]]:
    """What the live sources hold: films and shows of the library (same external ids, so
    they merge with the catalogue's copies) and as many it does not have."""
    rng = random.Random(seed)
    works = [i for i in items if i.kind in (MediaKind.MOVIE, MediaKind.SHOW)]
    chosen = rng.sample(works, min(len(works), count // 2))
    out = []
    for n, item in enumerate(chosen):
        out.append(
            {
                "kind": item.kind.value,
                "title": item.title,
                "year": item.year,
                "ids": item.ids.model_dump(exclude_none=True),
                "ref": {"source": "benchlive:x", "item_id": f"c{n}"},
            }
        )
    for n in range(count - len(chosen)):
        base = rng.choice(works)
        out.append(
            {
                "kind": base.kind.value,
                "title": f"{base.title} {rng.choice(('Returns', 'Rising', 'Origins', 'Legacy'))}",
                "year": 2026,
                "ids": {"tmdb": 9_000_000 + n},
                "ref": {"source": "benchlive:x", "item_id": f"n{n}"},
            }
        )
    return out


def search_path(text: str, **params: Any) -> str:
    query = {"q": text, **{k: v for k, v in params.items() if v is not None}}
    return "/api/v1/search?" + urlencode(query)


def fanout_texts(items: list[MediaItem], count: int, seed: int = 9) -> list[str]:
    """``count`` different search texts (so none is answered from a cache)."""
    rng = random.Random(seed)
    works = [i for i in items if i.kind in (MediaKind.MOVIE, MediaKind.SHOW)]
    texts: set[str] = set()
    while len(texts) < count:
        words = words_of(rng.choice(works).title)
        if not words:
            continue
        cut = rng.randint(1, len(words))
        last = words[cut - 1][: rng.randint(2, max(2, len(words[cut - 1])))]
        texts.add(" ".join([*words[: cut - 1], last]))
    return sorted(texts)


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of ``pid`` in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return round(fields["VmRSS"], 1), round(fields["VmHWM"], 1)


async def seed(url: str, items: list[MediaItem]) -> float:
    started = time.perf_counter()
    database = Database(url)
    await database.open()
    try:
        await database.migrate()
        await seed_catalogue(database, items)
    finally:
        await database.close()
    return time.perf_counter() - started


async def run(quick: bool) -> Result:
    """Seed a catalogue, serve it with live sources, load the search endpoint."""
    params = QUICK if quick else FULL
    items = library(params.items)
    result = Result(
        name="search_http",
        title=f"GET /api/v1/search over HTTP, {len(items):,} catalogue items + 3 live sources",
        params={
            "items": len(items),
            "library_sources": list(SOURCES),
            "live_sources": LIVE,
            "stuck_timeout_seconds": STUCK_TIMEOUT,
            "live_items": params.live_items,
            "connections": params.connections,
            "warmup_seconds": params.warmup,
            "duration_seconds": params.duration,
            "paced_rate": params.paced_rate,
            "fanout_rate": params.fanout_rate,
            "mode": "embedded (SQLite, in-process cache), 1 hypercorn worker",
            "generator_process": "separate (python -m tests.benchmarks.loadgen), raw client",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'search.db'}"
        result.add("seed_seconds", "catalogue seeded", round(await seed(url, items), 2), "s")
        library_ids: dict[str, list[str]] = {}
        for source in SOURCES:
            library_ids.setdefault(source.split(":", 1)[0], []).append(source)
        spec = {
            "settings": {
                "data_dir": str(workdir / "data"),
                "database_url": url,
                "sync": {"incremental_minutes": 0, "full_daily_at": ""},
                "rate_limits": {"api": {"limit": 1_000_000_000, "window_seconds": 60}},
                "auth": {"access_token_minutes": 60},
                "search": {
                    "breaker_failures": 1000,
                    "sources": {"benchlive:stuck": {"timeout_seconds": STUCK_TIMEOUT}},
                },
            },
            "library": library_ids,
            "live": LIVE,
            "live_items": live_templates(items, params.live_items),
        }
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = clean_environment(MEDIANEST_SECRETS_DIR=str(workdir / "no-secrets"))
        async with running(
            module_command("tests.benchmarks.search_server", str(spec_path)),
            name="search server",
            log_path=workdir / "server.log",
            env=env,
        ) as child:
            match = await child.line_matching(SERVING, START_TIMEOUT_SECONDS)
            token = (await child.line_matching(TOKEN, START_TIMEOUT_SECONDS)).group(1)
            child.drain_stdout()
            base, port = match.group(1), int(match.group(2))
            async with httpx.AsyncClient(timeout=30.0) as client:
                await wait_ready(client, base)
            auth = {"Authorization": f"Bearer {token}"}
            served = 0
            started_rss, _ = rss_mib(child.pid)
            result.add(
                "rss_ready_mib", "server RSS once ready, before any search", started_rss, "MiB"
            )

            def spec_for(targets: list[Target], **extra: Any) -> LoadSpec:
                return LoadSpec(
                    port=port,
                    targets=targets,
                    connections=params.connections,
                    warmup=params.warmup,
                    duration=params.duration,
                    watch_pid=child.pid,
                    **extra,
                )

            async def load(name: str, spec: LoadSpec) -> LoadReport:
                report = await run_load(spec, workdir / f"loadgen-{name}.log")
                if child.process.returncode is not None:
                    raise child.failure("the hub exited during the load")
                return report

            async def uncached(name: str, targets: list[Target]) -> LoadReport:
                """Each of ``targets`` once, at the fan-out rate."""
                walk = spec_for(
                    targets,
                    mode="walk",
                    rate=params.fanout_rate,
                    time_limit=len(targets) / params.fanout_rate + 60,
                )
                return await load(name, walk)

            healthy = ",".join([*SOURCES, "benchlive:fast", "benchlive:slow"])
            plan = searches(items, params.cached_queries, seed=21)
            cached_targets = [
                Target(
                    search_path(
                        s.request.text,
                        kind="episode" if MediaKind.EPISODE in s.request.kinds else None,
                        year=s.request.year,
                        sources=healthy,
                    ),
                    auth,
                    s.cls,
                )
                for s in plan
            ]
            # Fill the cache: every search once.
            await load("fill", spec_for(cached_targets, mode="walk", time_limit=300.0))
            served += len(cached_targets)
            paced = await load("cached-paced", spec_for(cached_targets, rate=params.paced_rate))
            served += paced.requests
            add_load(
                result,
                "cached_paced",
                f"cached search, {params.paced_rate:g} req/s over {params.connections} clients",
                paced,
                p50="< 5",
                p99="< 25",
            )
            live = spec_for([Target("/health/live")])
            before = await load("live-before", live)
            add_load(result, "health_live", "/health/live, as fast as it answers", before)
            saturated = await load("cached", spec_for(cached_targets))
            served += saturated.requests
            add_load(result, "cached", "cached search, as fast as it answers", saturated)
            after = await load("live-after", live)
            result.add(
                "health_live_after.requests_per_second",
                "/health/live again, after the cached searches: requests/s",
                round(after.rate, 1),
                "req/s",
            )
            ceiling = (before.rate + after.rate) / 2
            share = saturated.rate / ceiling if ceiling else 0.0
            result.add(
                "cached.share_of_health_live_pct",
                "cached search rate / mean /health/live rate",
                round(share * 100, 1),
                "%",
                target=">= 40",
            )

            texts = fanout_texts(items, 2 * params.fanout_searches)
            fan_targets = [
                Target(search_path(text, sources=healthy), auth, "fanout")
                for text in texts[: params.fanout_searches]
            ]
            fan = await uncached("fanout", fan_targets)
            served += fan.requests
            add_load(
                result,
                "fanout",
                f"uncached fan-out (30 + 80 ms sources), {params.fanout_rate:g} req/s",
                fan,
                p50=f"< {SLOWEST_HEALTHY_MS + 15:g}",
            )
            result.add(
                "fanout.p50_over_slowest_ms",
                "uncached fan-out: p50 - slowest source's 80 ms",
                round(fan.latency_ms["all"].p50 - SLOWEST_HEALTHY_MS, 2),
                "ms",
                target="<= 15",
            )
            hang_targets = [
                Target(search_path(text), auth, "hanging")
                for text in texts[params.fanout_searches :]
            ]
            hang = await uncached("hanging", hang_targets)
            served += hang.requests
            add_load(
                result,
                "hanging",
                f"uncached, with a hanging source (timeout {STUCK_TIMEOUT * 1000:g} ms)",
                hang,
            )
            result.add(
                "hanging.p50_over_timeout_ms",
                "with a hanging source: p50 - its timeout",
                round(hang.latency_ms["all"].p50 - STUCK_TIMEOUT * 1000, 2),
                "ms",
            )
            # Top up to the searches the memory figure is stated for.
            missing = params.rss_searches - served
            if missing > 0:
                more = searches(items, missing, seed=77)
                await load(
                    "more",
                    spec_for(
                        [Target(search_path(s.request.text), auth) for s in more],
                        mode="walk",
                        time_limit=600.0,
                    ),
                )
                served += missing
            rss, peak = rss_mib(child.pid)
            result.add("searches_served", "searches served before the memory reading", served, "")
            result.add(
                "rss_mib",
                "server RSS after the searches",
                rss,
                "MiB",
                target=f"< {RSS_LIMIT_MIB:g}",
            )
            result.add("peak_rss_mib", "server peak RSS", peak, "MiB")
    if not saturated.items and not saturated.requests:
        raise BenchmarkError("no cached search was measured")
    return result
