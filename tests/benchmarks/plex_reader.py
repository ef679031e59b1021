"""The reading process of ``plex_library_read``: ``python -m tests.benchmarks.plex_reader``.

Reads ``{"url", "token", "page_size", "limit"?}`` as JSON on stdin, builds the Plex plugin's
runtime for that one server (as the hub would), walks ``list_library`` from the first page to
the last with ``limit`` items per call (``page_size`` when not given; a larger limit makes the
plugin ask the server for several pages per call, as the sync engine does), keeping only a
count of the items (as a sync that stores and drops each page would), and prints its figures
as JSON on stdout: seconds, items, pages, per-page latency, its CPU time and its peak resident
memory.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from medianest_plex.plugin import PlexRuntime
from medianest_plex.settings import PlexSettings
from tests.benchmarks.stats import percentile

READ_TIMEOUT_SECONDS = 60.0
MAX_PAGES = 1_000_000


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def read_library(
    url: str, token: str, page_size: int, limit: int | None = None
) -> dict[str, Any]:
    """Walk the whole library through the plugin's media source; returns the figures."""
    limit = page_size if limit is None else limit
    settings = PlexSettings(
        servers=[{"name": "bench", "url": url, "token": token, "timeout": READ_TIMEOUT_SECONDS}],
        plextv_url=url,
        page_size=page_size,
    )
    runtime = PlexRuntime.build(settings)
    source = runtime.sources[0]
    rss_before = peak_rss_mib()
    cpu_before = time.process_time()
    pages: list[float] = []
    items = 0
    total = None
    try:
        started = time.perf_counter()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page_started = time.perf_counter()
            page = await source.list_library(cursor, limit)
            pages.append(time.perf_counter() - page_started)
            items += len(page.items)
            total = page.total if total is None else total
            cursor = page.next_cursor
            if cursor is None:
                break
        seconds = time.perf_counter() - started
    finally:
        await runtime.aclose()
    if cursor is not None:
        raise RuntimeError(f"the library did not end after {MAX_PAGES} pages")
    ms = [p * 1000 for p in pages]
    return {
        "page_size": page_size,
        "limit": limit,
        "items": items,
        "total": total,
        "pages": len(pages),
        "seconds": seconds,
        "first_page_ms": ms[0],
        "page_p50_ms": percentile(ms, 50),
        "page_p99_ms": percentile(ms, 99),
        "cpu_seconds": time.process_time() - cpu_before,
        "rss_before_mib": rss_before,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> int:
    """Read the request from stdin, print the figures on stdout."""
    request = json.load(sys.stdin)
    limit = request.get("limit")
    figures = asyncio.run(
        read_library(
            request["url"],
            request["token"],
            int(request["page_size"]),
            None if limit is None else int(limit),
        )
    )
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
