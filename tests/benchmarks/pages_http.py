"""``pages_http``: server time of the web pages (search results, media details, home) under
load, and the cold search page, with a catalogue of 100,000 items.

The hub (:mod:`tests.benchmarks.search_server`: the real app under hypercorn on loopback,
embedded mode, one worker) holds the catalogue of :mod:`tests.benchmarks.catalogue_search` in
three library sources, seeded before it starts; no live source. Pages are asked for with the
bearer token of an admin (the guard accepts it on pages as on the API), from a separate
process (:mod:`tests.benchmarks.loadgen`) over 50 keep-alive connections, as fast as the
server answers, each page kind on its own after one request of every target (warm caches).

"Server time" is the time the hub spent on a request, from its own request log (the
``duration_ms`` of each ``request`` line, which the hub measures from the first hook to the
answer); the generator's latencies, which add queueing at 50 connections and the client
sharing the same cores, are recorded beside it.

The cold search page: the first search pages after the hub started, each a new search (no
answer cached), one at a time.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

from medianest.sdk.models import MediaItem, MediaKind
from tests.benchmarks.catalogue_search import SOURCES, library
from tests.benchmarks.hub_server import SERVING, START_TIMEOUT_SECONDS, wait_ready
from tests.benchmarks.load import LoadReport, LoadSpec, Target, add_load, run_load
from tests.benchmarks.procs import clean_environment, module_command, running
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.search_http import TOKEN, fanout_texts, seed
from tests.benchmarks.stats import percentile

PACED_RATE = 100.0
"""Pages per second of the paced runs: a household's busiest evening, many times over."""
PAGE_ROUTES = {"search": "/search", "details": "/media/<source>/<item_id>", "home": "/"}


def server_times(log: Path, start: int, route: str) -> list[float]:
    """``duration_ms`` of the ``request`` lines for ``route`` written to ``log`` after byte
    ``start``."""
    times = []
    with log.open("rb") as stream:
        stream.seek(start)
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "request" and event.get("route") == route:
                if event.get("status") == 200:
                    times.append(float(event["duration_ms"]))
    return times


def details_paths(items: list[MediaItem], count: int, seed_value: int = 5) -> list[str]:
    rng = random.Random(seed_value)
    works = [i for i in items if i.kind in (MediaKind.MOVIE, MediaKind.SHOW)]
    return [
        f"/media/{quote(i.ref.source, safe='')}/{quote(i.ref.item_id, safe='')}"
        for i in rng.sample(works, count)
    ]


async def run(quick: bool) -> Result:
    """Seed a catalogue, serve it, load each page kind; then the cold search page."""
    size = 10_000 if quick else 100_000
    connections = 20 if quick else 50
    duration = 3.0 if quick else 10.0
    items = library(size)
    result = Result(
        name="pages_http",
        title=f"Web pages over HTTP, {len(items):,} catalogue items, {connections} clients",
        params={
            "items": len(items),
            "library_sources": list(SOURCES),
            "connections": connections,
            "duration_seconds": duration,
            "mode": "embedded (SQLite, in-process cache), 1 hypercorn worker",
            "server_time": "duration_ms of the hub's own request log lines",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'pages.db'}"
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
            },
            "library": library_ids,
            "live": [],
            "live_items": [],
        }
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        log = workdir / "server.log"
        env = clean_environment(MEDIANEST_SECRETS_DIR=str(workdir / "no-secrets"))
        async with running(
            module_command("tests.benchmarks.search_server", str(spec_path)),
            name="pages server",
            log_path=log,
            env=env,
        ) as child:
            match = await child.line_matching(SERVING, START_TIMEOUT_SECONDS)
            token = (await child.line_matching(TOKEN, START_TIMEOUT_SECONDS)).group(1)
            child.drain_stdout()
            base, port = match.group(1), int(match.group(2))
            auth = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
            texts = fanout_texts(items, 140)
            async with httpx.AsyncClient(timeout=30.0, base_url=base, headers=auth) as client:
                await wait_ready(client, base)
                cold_ms = []
                offset = log.stat().st_size
                for text in texts[:20]:
                    started = time.perf_counter()
                    response = await client.get("/search?" + urlencode({"q": text}))
                    cold_ms.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200 or "hit" not in response.text:
                        raise BenchmarkError(
                            f"cold search page for {text!r}: {response.status_code}"
                        )
                cold_server = server_times(log, offset, PAGE_ROUTES["search"])
            result.add(
                "cold_search.first_ms",
                "cold search page, the first after start: server time",
                round(cold_server[0], 2),
                "ms",
                target="< 100",
            )
            result.add(
                "cold_search.median_server_ms",
                "cold search pages (20 new searches, one at a time): server time p50",
                round(statistics.median(cold_server), 2),
                "ms",
                target="< 100",
            )
            result.add(
                "cold_search.max_server_ms",
                "cold search pages: server time max",
                round(max(cold_server), 2),
                "ms",
            )
            result.add(
                "cold_search.median_client_ms",
                "cold search pages: seen by the client, p50",
                round(statistics.median(cold_ms), 2),
                "ms",
            )
            targets = {
                "search": [
                    Target("/search?" + urlencode({"q": text}), auth, "search")
                    for text in texts[20:120]
                ],
                "details": [Target(path, auth, "details") for path in details_paths(items, 100)],
                "home": [Target("/", auth, "home")],
            }
            for name, page_targets in targets.items():
                # Every target once (caches warm), then as fast as the server answers.
                warm = LoadSpec(
                    port=port,
                    targets=page_targets,
                    mode="walk",
                    connections=connections,
                    time_limit=120.0,
                    watch_pid=child.pid,
                )
                await run_load(warm, workdir / f"loadgen-{name}-warm.log")
                offset = log.stat().st_size
                spec_load = LoadSpec(
                    port=port,
                    targets=page_targets,
                    connections=connections,
                    warmup=1.0,
                    duration=duration,
                    watch_pid=child.pid,
                )
                report: LoadReport = await run_load(spec_load, workdir / f"loadgen-{name}.log")
                if child.process.returncode is not None:
                    raise child.failure("the hub exited during the load")
                if report.errors:
                    raise BenchmarkError(f"{name} pages: {report.error_samples[:3]}")
                times = sorted(server_times(log, offset, PAGE_ROUTES[name]))
                if not times:
                    raise BenchmarkError(f"no request lines for {name} pages in the server log")
                result.add(
                    f"{name}.server_p50_ms",
                    f"{name} page: server time p50",
                    round(percentile(times, 50), 2),
                    "ms",
                )
                result.add(
                    f"{name}.server_p99_ms",
                    f"{name} page: server time p99",
                    round(percentile(times, 99), 2),
                    "ms",
                    target="< 30",
                )
                add_load(result, name, f"{name} page, {connections} clients", report)
                if report.server_cpu_seconds is not None and report.requests:
                    result.add(
                        f"{name}.server_cpu_per_request_ms",
                        f"{name} page: server CPU time per page",
                        round(report.server_cpu_seconds / report.requests * 1000, 2),
                        "ms",
                    )
                offset = log.stat().st_size
                paced_spec = LoadSpec(
                    port=port,
                    targets=page_targets,
                    connections=connections,
                    rate=PACED_RATE,
                    warmup=1.0,
                    duration=duration,
                    watch_pid=child.pid,
                )
                paced = await run_load(paced_spec, workdir / f"loadgen-{name}-paced.log")
                times = sorted(server_times(log, offset, PAGE_ROUTES[name]))
                result.add(
                    f"{name}_paced.server_p99_ms",
                    f"{name} page at {PACED_RATE:g} req/s over {connections} clients: "
                    "server time p99",
                    round(percentile(times, 99), 2),
                    "ms",
                    target="< 30",
                )
                add_load(result, f"{name}_paced", f"{name} page, {PACED_RATE:g} req/s paced", paced)
    return result
