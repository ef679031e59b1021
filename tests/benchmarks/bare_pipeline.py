"""The bare pipeline of ``library_sync``: ``python -m tests.benchmarks.bare_pipeline``.

The least any full sync of a Plex library into PostgreSQL has to do, as the yardstick the
sync is compared with: fetch every page of the library from the server with httpx (the
sections, Plex types, sort, ``includeGuids=1`` and page size the Plex plugin uses, JSON),
parse the JSON, and COPY four columns per item (ratingKey, type, title, addedAt) into a
temporary table with asyncpg. Nothing else: no mapping, no digests, no merge. As in the
sync, the next page is fetched while the current one is copied.

Reads ``{"url", "token", "database_url", "page_size"}`` as JSON on stdin and prints its
figures as JSON on stdout: seconds, items, pages, rows copied, its CPU seconds and the
seconds spent fetching and parsing, and copying.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx

from medianest_plex.const import (
    HEADER_CONTAINER_SIZE,
    HEADER_CONTAINER_START,
    HEADER_CONTAINER_TOTAL_SIZE,
    HEADER_TOKEN,
    SECTION_TYPES,
)

READ_TIMEOUT_SECONDS = 60.0
TABLE = "bare_library_item"
COLUMNS = ("rating_key", "type", "title", "added_at")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def segments(client: httpx.AsyncClient) -> list[tuple[str, int]]:
    """``(section key, Plex type)`` of every list the plugin walks, in its order."""
    response = await client.get("/library/sections")
    response.raise_for_status()
    found = []
    for section in json.loads(response.content)["MediaContainer"].get("Directory", []):
        for plex_type in SECTION_TYPES.get(section.get("type"), ()):
            found.append((str(section["key"]), plex_type))
    return found


async def pages(
    client: httpx.AsyncClient, size: int, timings: dict[str, float]
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Every page of the library as the rows to copy, fetched and parsed one at a time."""
    for section, plex_type in await segments(client):
        start = 0
        while True:
            started = time.perf_counter()
            response = await client.get(
                f"/library/sections/{section}/all",
                params=[("type", plex_type), ("sort", "addedAt"), ("includeGuids", 1)],
                headers={HEADER_CONTAINER_START: str(start), HEADER_CONTAINER_SIZE: str(size)},
            )
            response.raise_for_status()
            container = json.loads(response.content)["MediaContainer"]
            items = container.get("Metadata", [])
            rows = [
                (item["ratingKey"], item["type"], item["title"], item.get("addedAt"))
                for item in items
            ]
            timings["fetch_parse_seconds"] += time.perf_counter() - started
            yield rows
            start += len(items)
            total = container.get("totalSize", response.headers.get(HEADER_CONTAINER_TOTAL_SIZE))
            if len(items) < size or (total is not None and start >= int(total)):
                break


async def pipeline(url: str, token: str, database_url: str, page_size: int) -> dict[str, Any]:
    """Fetch, parse and COPY the whole library; returns the figures."""
    timings = {"fetch_parse_seconds": 0.0, "copy_seconds": 0.0}
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            f"CREATE TEMPORARY TABLE {TABLE} "
            "(rating_key text, type text, title text, added_at bigint)"
        )
        async with httpx.AsyncClient(
            base_url=url,
            headers={"Accept": "application/json", HEADER_TOKEN: token},
            timeout=READ_TIMEOUT_SECONDS,
        ) as client:
            fetched: asyncio.Queue[list[tuple[Any, ...]] | None] = asyncio.Queue(maxsize=2)

            async def produce() -> None:
                async for rows in pages(client, page_size, timings):
                    await fetched.put(rows)
                await fetched.put(None)

            cpu_before = cpu_seconds()
            started = time.perf_counter()
            producer = asyncio.create_task(produce())
            count = items = 0
            try:
                while (rows := await fetched.get()) is not None:
                    copy_started = time.perf_counter()
                    await connection.copy_records_to_table(TABLE, records=rows, columns=COLUMNS)
                    timings["copy_seconds"] += time.perf_counter() - copy_started
                    count += 1
                    items += len(rows)
                await producer
            finally:
                producer.cancel()
            seconds = time.perf_counter() - started
            cpu = cpu_seconds() - cpu_before
        copied = await connection.fetchval(f"SELECT count(*) FROM {TABLE}")
    finally:
        await connection.close()
    return {
        "page_size": page_size,
        "seconds": seconds,
        "items": items,
        "pages": count,
        "rows_copied": copied,
        "cpu_seconds": cpu,
        **timings,
    }


def main() -> int:
    """Read the request from stdin, print the figures on stdout."""
    request = json.load(sys.stdin)
    figures = asyncio.run(
        pipeline(
            request["url"], request["token"], request["database_url"], int(request["page_size"])
        )
    )
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
