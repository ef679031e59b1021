"""``web_pages``: what a first visit downloads, and how fast Home is served.

A hub is served on loopback (embedded, the fake library synced, as the browser tests use it).
Headless Chromium (Debian's, ``MEDIANEST_TEST_CHROMIUM``) with an empty cache opens each page
as a signed-in admin and every answer is counted: bytes of HTML, CSS and JS as the browser
uses them (uncompressed; posters are not counted), and the same answers as they travel with
``Accept-Encoding: br``. Targets: under 150 KB for HTML+CSS+JS, under 40 KB of JS.

Then Home is loaded by 50 keep-alive connections from a separate process (warm caches): flat
out (the most one hub serves), then paced at 50 requests a second (50 people each opening it
every second), whose latency is the one to compare with the target (p99 under 30 ms).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import async_playwright

from tests.benchmarks.load import LoadSpec, Target, add_load, run_load
from tests.benchmarks.results import BenchmarkError, Result
from tests.served_hub import served_hub

PAGES = ("/sign-in", "/", "/account", "/account/api-keys", "/plugins/hello/")
KINDS = {"document": "html", "stylesheet": "css", "script": "js"}
KB = 1000
PACED_RATE = 50.0
"""Requests a second of the paced run: 50 people each opening Home every second."""


async def run(quick: bool) -> Result:
    """Measure the first visit of each page, then load Home."""
    chromium = os.environ.get("MEDIANEST_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.path.isfile(chromium):  # noqa: ASYNC240 - one stat before anything starts
        raise BenchmarkError(f"no Chromium at {chromium} (apt-get install chromium)")
    result = Result(
        name="web_pages",
        title="Bytes of a first visit, and Home under load (1 hub, embedded)",
        params={"pages": list(PAGES), "connections": 50, "duration_seconds": 3 if quick else 10},
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-web-") as tmp:
        with served_hub(Path(tmp), items=200) as served:
            headers = served.caller("admin")
            token = headers["Authorization"].split(" ", 1)[1]
            await _weights(result, served.url, token, chromium)
            port = urlsplit(served.url).port
            assert port is not None
            spec = LoadSpec(
                port=port,
                targets=[Target("/", headers, "home")],
                connections=50,
                warmup=1.0 if quick else 2.0,
                duration=3.0 if quick else 10.0,
                watch_pid=os.getpid(),
            )
            report = await run_load(spec, Path(tmp) / "loadgen-home.log")
            add_load(result, "home", "Home, 50 connections, flat out", report)
            paced = replace(spec, rate=PACED_RATE)
            report = await run_load(paced, Path(tmp) / "loadgen-home-paced.log")
            add_load(
                result,
                "home_paced",
                f"Home, 50 people, {PACED_RATE:g} req/s",
                report,
                p99="< 30 ms",
            )
            result.notes.append(
                "the hub runs in a thread of the benchmark process; the load comes from another"
            )
    return result


async def _weights(result: Result, url: str, token: str, chromium: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        try:
            for path in PAGES:
                counted = await _first_visit(browser, url, token, path)
                compressed = await _compressed(url, token, counted["urls"])
                name = path.strip("/").replace("/", "_") or "home"
                total = counted["html"] + counted["css"] + counted["js"]
                label = f"{path} first visit"
                result.add(
                    f"{name}.bytes_total_kb",
                    f"{label}: HTML+CSS+JS",
                    total / KB,
                    "KB",
                    target="< 150 KB",
                )
                result.add(
                    f"{name}.bytes_js_kb",
                    f"{label}: JS",
                    counted["js"] / KB,
                    "KB",
                    target="< 40 KB",
                )
                result.add(f"{name}.bytes_html_kb", f"{label}: HTML", counted["html"] / KB, "KB")
                result.add(f"{name}.bytes_css_kb", f"{label}: CSS", counted["css"] / KB, "KB")
                result.add(
                    f"{name}.bytes_brotli_kb",
                    f"{label}: as sent with brotli",
                    compressed / KB,
                    "KB",
                )
                result.add(f"{name}.requests", f"{label}: requests", counted["requests"], "req")
        finally:
            await browser.close()


async def _first_visit(browser: Any, url: str, token: str, path: str) -> dict[str, Any]:
    context = await browser.new_context(base_url=url)
    if path != "/sign-in":
        await context.add_cookies(
            [{"name": "medianest_access", "value": token, "url": url, "httpOnly": True}]
        )
    counted: dict[str, Any] = {"html": 0, "css": 0, "js": 0, "requests": 0, "urls": []}
    responses: list[Any] = []
    page = await context.new_page()
    page.on("response", lambda response: responses.append(response))
    await page.goto(path, wait_until="networkidle")
    for response in responses:
        kind = KINDS.get(response.request.resource_type)
        counted["requests"] += 1
        if kind is None or not response.url.startswith(url) or response.status != 200:
            continue
        counted[kind] += len(await response.body())
        counted["urls"].append(response.url)
    await context.close()
    if counted["html"] == 0:
        raise BenchmarkError(f"{path} answered no page")
    return counted


async def _compressed(url: str, token: str, urls: list[str]) -> int:
    """Bytes of ``urls`` as they travel with brotli."""
    total = 0
    cookies = {"medianest_access": token}
    async with httpx.AsyncClient(cookies=cookies) as client:
        for address in urls:
            async with client.stream("GET", address, headers={"Accept-Encoding": "br"}) as answer:
                total += sum([len(chunk) async for chunk in answer.aiter_raw()])
    return total
