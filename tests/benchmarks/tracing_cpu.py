"""``python -m tests.benchmarks.tracing_cpu off|otlp|memory [REQUESTS]``: what tracing costs.

Process CPU time per request through the real app (the Quart test client, embedded mode,
SQLite, rate limits off), best of three runs of ``REQUESTS`` (default 300) after a warm-up,
for a route without database access, one answered from caches and one with SQL statements.
``otlp`` turns tracing on through the standard variables with an endpoint that refuses
connections (every span made, batched and its export tried, on the same process's CPU);
``memory`` keeps spans in memory and prints how many each request made. Run each mode in its
own process (tracing is set up once per process); docs/operations.md has the figures.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROUTES = ("/health/live", "/api/v1/me", "/api/v1/users")


async def measure(mode: str, requests: int) -> None:
    from medianest.core import tracing
    from medianest.sdk.testing import HubHarness

    memory = None
    if mode == "memory":
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        tracing.configure_tracing({}, span_processors=[SimpleSpanProcessor(memory)])
    with tempfile.TemporaryDirectory() as tmp:
        async with HubHarness(Path(tmp)).run(rate_limits={"enabled": False}) as running:
            logging.disable(logging.CRITICAL)
            assert tracing.enabled() == (mode != "off")
            headers = await running.sign_in(role="admin")
            for path in ROUTES:
                for _ in range(50):
                    response = await running.client.get(path, headers=headers)
                    assert response.status_code == 200, (path, response.status_code)
                best = float("inf")
                for _ in range(3):
                    if memory is not None:
                        memory.clear()
                    start = time.process_time()
                    for _ in range(requests):
                        await running.client.get(path, headers=headers)
                    best = min(best, (time.process_time() - start) / requests * 1000)
                spans = (
                    f", {len(memory.get_finished_spans()) / requests:.1f} spans/request"
                    if memory is not None
                    else ""
                )
                print(f"{mode:6} {path:14} {best:.3f} ms CPU/request{spans}")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "off"
    if mode not in {"off", "otlp", "memory"}:
        print("usage: python -m tests.benchmarks.tracing_cpu off|otlp|memory [REQUESTS]")
        return 2
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        del os.environ[name]
    if mode == "otlp":
        os.environ["OTEL_TRACES_EXPORTER"] = "otlp"
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    asyncio.run(measure(mode, int(sys.argv[2]) if len(sys.argv) > 2 else 300))
    return 0


if __name__ == "__main__":
    sys.exit(main())
