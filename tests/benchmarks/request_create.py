"""``request_create``: ``POST /api/v1/requests`` over HTTP, 20 people at once, with a request
backend whose service answers in 20 ms.

The hub (:mod:`tests.benchmarks.request_server`: the real app under hypercorn, embedded
mode, one worker, every request logged) files each request with a backend that makes one HTTP
call to a service in a process of its own (:mod:`tests.benchmarks.request_upstream`), which
answers after 20 ms. First one person alone asks one film after another (the cost of a
request with nothing queued); then twenty people (each with a session of their own) ask
for distinct films one after the other, at once, for the measured window, after a warm-up.
Each request goes through the whole path: validation, the catalogue and duplicate checks,
the quota count under the person's lock, the backend call, the transaction writing the
request and its interest, the audit line, the event and the live messages.

Figures: the latency the people see (p50, p90, p99; target p99 < 50 ms) and, measured inside
the hub, its own share of each request: the time the app spent on it minus the time it waited
for the backend (target p99 < 10 ms).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.benchmarks.hub_server import SERVING, START_TIMEOUT_SECONDS, wait_ready
from tests.benchmarks.procs import clean_environment, module_command, running
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.stats import percentile

TOKEN = re.compile(r"token (\S+)")
LISTENING = re.compile(r"listening on (\d+)")
UPSTREAM_DELAY_MS = 20


@dataclass(frozen=True)
class Params:
    people: int
    warmup: float
    duration: float
    alone: float


FULL = Params(people=20, warmup=3.0, duration=15.0, alone=5.0)
QUICK = Params(people=20, warmup=1.0, duration=4.0, alone=2.0)


async def _person(
    client: httpx.AsyncClient,
    token: str,
    ids: Iterator[int],
    until: float,
    measure_from: float,
    latencies: list[float],
    warm: list[float],
    failures: list[str],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < until:
        body = {"kind": "movie", "tmdb_id": next(ids)}
        started = time.perf_counter()
        answer = await client.post("/api/v1/requests", json=body, headers=headers)
        took = (time.perf_counter() - started) * 1000
        if answer.status_code != 201:
            failures.append(f"{answer.status_code} {answer.text[:200]}")
            continue
        (latencies if started >= measure_from else warm).append(took)


async def run(quick: bool) -> Result:
    """Serve a hub with the 20 ms backend and file requests as 20 people at once."""
    params = QUICK if quick else FULL
    result = Result(
        name="request_create",
        title=f"POST /api/v1/requests over HTTP, {params.people} people at once, "
        f"backend answering in {UPSTREAM_DELAY_MS} ms",
        params={
            "people": params.people,
            "upstream_delay_ms": UPSTREAM_DELAY_MS,
            "warmup_seconds": params.warmup,
            "duration_seconds": params.duration,
            "mode": "embedded (SQLite, in-process state), 1 hypercorn worker",
            "backend": "one HTTP call per request to a service in its own process",
            "generator": "this process, httpx, one keep-alive connection per person",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-") as tmp:
        workdir = Path(tmp)
        env = clean_environment(MEDIANEST_SECRETS_DIR=str(workdir / "no-secrets"))
        async with running(
            module_command("tests.benchmarks.request_upstream", str(UPSTREAM_DELAY_MS)),
            name="request backend service",
            log_path=workdir / "upstream.log",
            env=env,
        ) as upstream:
            upstream_port = int((await upstream.line_matching(LISTENING, 30)).group(1))
            upstream.drain_stdout()
            timings_path = workdir / "timings.json"
            spec = {
                "settings": {
                    "data_dir": str(workdir / "data"),
                    "sync": {"incremental_minutes": 0, "full_daily_at": ""},
                    "rate_limits": {
                        "api": {"limit": 1_000_000_000, "window_seconds": 60},
                        "requests": {"limit": 1_000_000_000, "window_seconds": 60},
                    },
                    "auth": {"access_token_minutes": 60},
                    "requests": {"backend_timeout_seconds": 5},
                },
                "upstream_port": upstream_port,
                "people": params.people,
                "timings": str(timings_path),
            }
            spec_path = workdir / "spec.json"
            spec_path.write_text(json.dumps(spec))
            async with running(
                module_command("tests.benchmarks.request_server", str(spec_path)),
                name="request server",
                log_path=workdir / "server.log",
                env=env,
            ) as child:
                match = await child.line_matching(SERVING, START_TIMEOUT_SECONDS)
                tokens = [
                    (await child.line_matching(TOKEN, START_TIMEOUT_SECONDS)).group(1)
                    for _ in range(params.people)
                ]
                child.drain_stdout()
                base = match.group(1)
                latencies: list[float] = []
                warm: list[float] = []
                failures: list[str] = []
                ids = iter(range(100_000, 10_000_000))
                async with httpx.AsyncClient(
                    base_url=base,
                    timeout=30.0,
                    limits=httpx.Limits(max_connections=params.people + 5),
                ) as client:
                    await wait_ready(client, base)
                    # One person alone first: the cost of one request with nothing queued.
                    alone: list[float] = []
                    alone_warm: list[float] = []
                    now = time.perf_counter()
                    await _person(
                        client,
                        tokens[0],
                        ids,
                        now + params.alone,
                        now + 0.5,
                        alone,
                        alone_warm,
                        failures,
                    )
                    started = time.perf_counter()
                    measure_from = started + params.warmup
                    until = measure_from + params.duration
                    await asyncio.gather(
                        *(
                            _person(client, t, ids, until, measure_from, latencies, warm, failures)
                            for t in tokens
                        )
                    )
                    measured = time.perf_counter() - measure_from
                if failures:
                    raise BenchmarkError(f"{len(failures)} requests failed, e.g. {failures[0]}")
                if child.process.returncode is not None:
                    raise child.failure("the hub exited during the load")
            raw = json.loads(timings_path.read_text())
    served = [(total, upstream) for total, upstream, status in raw if status == 201]
    solo = served[len(alone_warm) : len(alone_warm) + len(alone)]
    # The server's timings in the order served, without the warm-up's.
    served = served[len(alone_warm) + len(alone) + len(warm) :]
    result.add("alone.requests", "one person alone: requests measured", len(alone), "req")
    result.add(
        "alone.latency_p50_ms", "one person alone: p50", round(percentile(alone, 50), 2), "ms"
    )
    result.add(
        "alone.latency_p99_ms", "one person alone: p99", round(percentile(alone, 99), 2), "ms"
    )
    result.add(
        "alone.hub_share_p50_ms",
        "one person alone: the hub's own share, p50",
        round(percentile([t - u for t, u in solo], 50), 2),
        "ms",
    )
    own = [total - upstream for total, upstream in served]
    waits = [upstream for _, upstream in served]
    result.add("requests", "requests measured", len(latencies), "req")
    result.add("requests_per_second", "requests/s", round(len(latencies) / measured, 1), "req/s")
    for pct, target in ((50, None), (90, None), (99, "< 50")):
        result.add(
            f"latency_p{pct}_ms",
            f"latency people see: p{pct}",
            round(percentile(latencies, pct), 2),
            "ms",
            target=target,
        )
    for pct, target in ((50, None), (99, "< 10")):
        result.add(
            f"hub_share_p{pct}_ms",
            f"the hub's own share (in-app time minus backend wait): p{pct}",
            round(percentile(own, pct), 2),
            "ms",
            target=target,
        )
    result.add(
        "backend_wait_p50_ms",
        "time waiting for the backend: p50",
        round(percentile(waits, 50), 2),
        "ms",
    )
    return result
