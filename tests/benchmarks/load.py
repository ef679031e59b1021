"""Describing a load run and running it in a separate process (:mod:`tests.benchmarks.loadgen`).

Two modes:

- ``duration``: every connection repeats the request list (each starting at a different
  entry) for ``warmup`` seconds, which are discarded, then for ``duration`` seconds, which are
  measured; a run also stops after ``max_requests`` requests.
- ``walk``: the connections share the request list and send each entry exactly once; the
  whole walk is measured and must finish within ``time_limit`` seconds.

A run with a ``rate`` is paced: the connections together send ``rate`` requests a
second on a fixed schedule (each its share, evenly spread), as that many people would, and a
latency is counted from when its request was due, so a server falling behind shows it in full.
Without ``rate`` each connection sends its next request as soon as the last one is answered
(the most the server can do).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.benchmarks.procs import run_json_child
from tests.benchmarks.results import BenchmarkError, Result

Client = Literal["raw", "httpx"]
Mode = Literal["duration", "walk"]
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Target:
    """One request to send: a path, its headers and a tag to group latencies by."""

    path: str
    headers: dict[str, str] = field(default_factory=dict)
    tag: str = "all"


@dataclass(frozen=True)
class LoadSpec:
    """What the load generator does; sent to it as JSON.

    :param port: the server's port on 127.0.0.1 (the generator talks to nothing else).
    :param count_pattern: a regex with one group, searched in the first 512 bytes of each
        body; the integers it captures are summed as ``items``.
    :param watch_pid: a process whose CPU time is measured over the measured window.
    """

    port: int
    targets: list[Target]
    client: Client = "raw"
    mode: Mode = "duration"
    connections: int = 50
    duration: float = 10.0
    warmup: float = 2.0
    max_requests: int = 2_000_000
    time_limit: float = 120.0
    expect_status: int = 200
    rate: float | None = None
    count_pattern: str | None = None
    watch_pid: int | None = None
    host: str = LOOPBACK

    def as_json(self) -> dict[str, Any]:
        """The spec as a JSON object."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadSpec:
        """Rebuild a spec sent by :meth:`as_json`.

        :raises ValueError: the host is not loopback or a value is out of range.
        """
        targets = [Target(**t) for t in data.pop("targets")]
        spec = cls(targets=targets, **data)
        if spec.host != LOOPBACK:
            raise ValueError(f"the load generator only talks to {LOOPBACK}, not {spec.host}")
        if not spec.targets or spec.connections < 1 or spec.max_requests < 1:
            raise ValueError("need targets, at least one connection and max_requests >= 1")
        return spec

    @property
    def expected_seconds(self) -> float:
        """How long the run should take at most (before its safety margin)."""
        if self.mode == "duration":
            return self.warmup + self.duration
        return self.time_limit


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles in milliseconds over ``n`` requests."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float


@dataclass(frozen=True)
class LoadReport:
    """What a load run measured (see :mod:`tests.benchmarks.loadgen`)."""

    client: str
    connections: int
    requests: int
    errors: int
    error_samples: list[str]
    seconds: float
    bytes: int
    items: int
    latency_ms: dict[str, LatencySummary]
    client_cpu_seconds: float
    server_cpu_seconds: float | None
    capped: bool

    @property
    def rate(self) -> float:
        """Requests per second over the measured window."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu_share(self) -> float:
        """The generator's CPU time as a share of one core over the window (0-1)."""
        return self.client_cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu_share(self) -> float | None:
        """The watched process's CPU time as a share of one core over the window (0-1)."""
        if self.server_cpu_seconds is None or self.seconds <= 0:
            return None
        return self.server_cpu_seconds / self.seconds

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LoadReport:
        """Rebuild a report printed by the generator."""
        latency = {tag: LatencySummary(**s) for tag, s in data.pop("latency_ms").items()}
        return cls(latency_ms=latency, **data)


async def run_load(spec: LoadSpec, log_path: Path, *, margin: float = 30.0) -> LoadReport:
    """Run ``spec`` in a separate generator process and return its report.

    :raises BenchmarkError: the generator failed, or any request failed or answered a status
        other than ``spec.expect_status``.
    """
    answer = await run_json_child(
        "tests.benchmarks.loadgen",
        spec.as_json(),
        name=f"load generator ({spec.client})",
        log_path=log_path,
        time_limit=spec.expected_seconds + margin,
    )
    report = LoadReport.from_json(answer)
    if report.errors:
        samples = "; ".join(report.error_samples)
        raise BenchmarkError(
            f"{report.errors} of {report.requests + report.errors} requests failed "
            f"({spec.client} generator): {samples}"
        )
    if report.requests == 0:
        raise BenchmarkError(f"the {spec.client} generator completed no request")
    return report


def add_load(result: Result, key: str, label: str, report: LoadReport, **targets: str) -> None:
    """Record a load's rate, latency (p50, p90, p99; ``targets`` for ``p50``/``p99``), request
    count and CPU shares under ``key``."""
    latency = report.latency_ms["all"]
    result.add(f"{key}.requests_per_second", f"{label}: requests/s", round(report.rate, 1), "req/s")
    result.add(
        f"{key}.latency_p50_ms", f"{label}: p50", latency.p50, "ms", target=targets.get("p50")
    )
    result.add(f"{key}.latency_p90_ms", f"{label}: p90", latency.p90, "ms")
    result.add(
        f"{key}.latency_p99_ms", f"{label}: p99", latency.p99, "ms", target=targets.get("p99")
    )
    result.add(f"{key}.requests", f"{label}: requests measured", report.requests, "req")
    add_cpu(result, key, label, report)


def add_cpu(
    result: Result, key: str, label: str, report: LoadReport, *, watched: str = "server"
) -> None:
    """Record the CPU shares of the ``watched`` process (when it was) and of the generator."""
    if report.server_cpu_share is not None:
        result.add(
            f"{key}.{watched}_cpu_pct",
            f"{label}: {watched} CPU",
            round(report.server_cpu_share * 100, 1),
            "% core",
        )
    result.add(
        f"{key}.generator_cpu_pct",
        f"{label}: generator CPU",
        round(report.client_cpu_share * 100, 1),
        "% core",
    )
