"""The load generator process: ``python -m tests.benchmarks.loadgen``.

Reads a :class:`~tests.benchmarks.load.LoadSpec` as JSON on stdin, runs it against
127.0.0.1 and prints a :class:`~tests.benchmarks.load.LoadReport` as JSON on stdout. It runs
in its own process so that it never shares an interpreter lock with the server it measures;
it reports its own CPU time so a reader can tell whether it was the bottleneck.

Two clients: ``raw`` (keep-alive HTTP/1.1 over asyncio streams, :mod:`tests.benchmarks.httpraw`)
and ``httpx`` (an ``AsyncClient`` whose pool holds one connection per worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

from tests.benchmarks.httpraw import RawConnection, build_get
from tests.benchmarks.load import LatencySummary, LoadSpec
from tests.benchmarks.procs import cpu_seconds
from tests.benchmarks.stats import percentile

Send = Callable[[int], Awaitable[tuple[int, bytes]]]
"""Sends target ``i`` and returns the status and body."""

MAX_ERROR_SAMPLES = 5
COUNT_WINDOW = 512


class LoadRun:
    """The state of one run: samples, errors and the measured window."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.count = re.compile(spec.count_pattern.encode()) if spec.count_pattern else None
        self.samples: list[tuple[int, float, float]] = []  # target index, latency, completed at
        self.bytes = 0
        self.items = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.sent = 0
        self.capped = False
        self.measuring = False
        self.ended = asyncio.Event()
        self.window = (0.0, 0.0)
        self.cpu = (0.0, 0.0)
        self.server_cpu: tuple[float | None, float | None] = (None, None)

    def begin_window(self) -> None:
        """Start measuring: samples completed from now on count."""
        self.window = (time.perf_counter(), 0.0)
        self.cpu = (time.process_time(), 0.0)
        self.server_cpu = (self._server_cpu(), None)
        self.measuring = True

    def end_window(self) -> None:
        """Stop measuring."""
        self.window = (self.window[0], time.perf_counter())
        self.cpu = (self.cpu[0], time.process_time())
        self.server_cpu = (self.server_cpu[0], self._server_cpu())
        self.measuring = False
        self.ended.set()

    def _server_cpu(self) -> float | None:
        return cpu_seconds(self.spec.watch_pid) if self.spec.watch_pid else None

    def may_send(self) -> bool:
        """Whether a worker may send one more request (counts it)."""
        if self.ended.is_set():
            return False
        if self.sent >= self.spec.max_requests:
            self.capped = True
            if self.measuring:
                self.end_window()
            else:
                self.ended.set()
            return False
        self.sent += 1
        return True

    async def send_one(self, send: Send, index: int, due: float | None = None) -> None:
        """Send target ``index`` once and record the outcome if the window is open.

        :param due: when the request was due (paced runs): its latency counts from then.
        """
        started = time.perf_counter() if due is None else due
        try:
            status, body = await send(index)
        except Exception as exc:  # connection errors, malformed responses, httpx errors
            self._error(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(0.01)
            return
        done = time.perf_counter()
        if not self.measuring:
            return
        if status != self.spec.expect_status:
            self._error(f"status {status} for {self.spec.targets[index].path}")
            return
        self.samples.append((index, done - started, done))
        self.bytes += len(body)
        if self.count is not None:
            match = self.count.search(body[:COUNT_WINDOW])
            if match:
                self.items += int(match.group(1))

    def _error(self, message: str) -> None:
        if not self.measuring:
            return
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(message)

    def report(self) -> dict[str, Any]:
        """The run's :class:`~tests.benchmarks.load.LoadReport` as JSON."""
        start, end = self.window
        kept = [s for s in self.samples if s[2] <= end]
        by_tag: dict[str, list[float]] = defaultdict(list)
        for index, latency, _ in kept:
            by_tag["all"].append(latency)
            tag = self.spec.targets[index].tag
            if tag != "all":
                by_tag[tag].append(latency)
        before, after = self.server_cpu
        return {
            "client": self.spec.client,
            "connections": self.spec.connections,
            "requests": len(kept),
            "errors": self.errors,
            "error_samples": self.error_samples,
            "seconds": end - start,
            "bytes": self.bytes,
            "items": self.items,
            "latency_ms": {tag: asdict(_summary(v)) for tag, v in by_tag.items()},
            "client_cpu_seconds": self.cpu[1] - self.cpu[0],
            "server_cpu_seconds": (
                after - before if before is not None and after is not None else None
            ),
            "capped": self.capped,
        }


def _summary(latencies: list[float]) -> LatencySummary:
    ms = [x * 1000 for x in latencies]
    return LatencySummary(
        n=len(ms),
        p50=round(percentile(ms, 50), 3),
        p90=round(percentile(ms, 90), 3),
        p99=round(percentile(ms, 99), 3),
        max=round(max(ms), 3),
        mean=round(sum(ms) / len(ms), 3),
    )


@contextlib.asynccontextmanager
async def raw_senders(spec: LoadSpec) -> AsyncIterator[list[Send]]:
    """One sender per connection, each on its own open keep-alive connection."""
    requests = [build_get(spec.host, spec.port, t.path, t.headers) for t in spec.targets]
    connections = [RawConnection(spec.host, spec.port) for _ in range(spec.connections)]
    try:
        await asyncio.gather(*(c.open() for c in connections))

        def sender(connection: RawConnection) -> Send:
            async def send(index: int) -> tuple[int, bytes]:
                response = await connection.request(requests[index])
                return response.status, response.body

            return send

        yield [sender(c) for c in connections]
    finally:
        for connection in connections:
            await connection.close()


@contextlib.asynccontextmanager
async def httpx_senders(spec: LoadSpec) -> AsyncIterator[list[Send]]:
    """One sender per worker, all sharing an ``httpx.AsyncClient`` pool of that size."""
    import httpx

    limits = httpx.Limits(
        max_connections=spec.connections, max_keepalive_connections=spec.connections
    )
    async with httpx.AsyncClient(
        base_url=f"http://{spec.host}:{spec.port}", limits=limits, timeout=30.0
    ) as client:

        async def send(index: int) -> tuple[int, bytes]:
            target = spec.targets[index]
            response = await client.get(target.path, headers=target.headers)
            return response.status_code, response.content

        yield [send] * spec.connections


async def run_duration(run: LoadRun, senders: list[Send]) -> None:
    """Repeat the targets on every connection: warm up, then measure ``duration`` seconds."""
    spec = run.spec

    interval = spec.connections / spec.rate if spec.rate else 0.0
    begun = time.perf_counter()

    async def worker(number: int, send: Send) -> None:
        index = number % len(spec.targets)
        due = begun + interval * number / spec.connections
        while run.may_send():
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await run.send_one(send, index, due)
                due += interval
            else:
                await run.send_one(send, index)
            index = (index + 1) % len(spec.targets)

    async def clock() -> None:
        await asyncio.sleep(spec.warmup)
        if run.ended.is_set():
            return
        run.begin_window()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.ended.wait(), spec.duration)
        if run.measuring:
            run.end_window()

    await asyncio.gather(clock(), *(worker(n, s) for n, s in enumerate(senders)))


async def run_walk(run: LoadRun, senders: list[Send]) -> None:
    """Send every target exactly once, shared between the connections, all measured."""
    spec = run.spec
    pending = iter(range(len(spec.targets)))

    interval = spec.connections / spec.rate if spec.rate else 0.0
    begun = time.perf_counter()

    async def worker(number: int, send: Send) -> None:
        due = begun + interval * number / spec.connections
        for index in pending:
            if not run.may_send():
                return
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                await run.send_one(send, index, due)
                due += interval
            else:
                await run.send_one(send, index)

    run.begin_window()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker(n, s) for n, s in enumerate(senders))), spec.time_limit
        )
    except TimeoutError:
        run.errors += 1
        run.error_samples.append(f"the walk did not finish within {spec.time_limit:g} s")
    run.end_window()


async def generate(spec: LoadSpec) -> dict[str, Any]:
    """Run ``spec`` and return the report as JSON."""
    run = LoadRun(spec)
    senders = raw_senders(spec) if spec.client == "raw" else httpx_senders(spec)
    async with senders as send_list:
        if spec.mode == "duration":
            await run_duration(run, send_list)
        else:
            await run_walk(run, send_list)
    return run.report()


def main() -> int:
    """Read the spec from stdin, print the report on stdout."""
    spec = LoadSpec.from_json(json.load(sys.stdin))
    report = asyncio.run(generate(spec))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
