"""The simulator in a process of its own, for latency benchmarks.

Served in the test's own process, the simulator shares the event loop (and the CPU) with the
hub being measured, so its work shows up as the hub's. :func:`spawn_simulator` runs
``python -m medianest_overseerr.simulator --port 0`` instead, reads the URL it prints, and
yields a handle whose :class:`HttpControl` drives it over the ``/_control`` API::

    async with spawn_simulator(plex_items=100_000) as sim:
        await sim.control.slow(20)             # Overseerr answers in 20 ms
        ...                                    # point the plugin at sim.url / sim.api_key
        state = await sim.control.state()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_KEY = "overseerr-simulator-api-key"


class HttpControl:
    """The ``/_control`` API of a simulator, over HTTP (async)."""

    def __init__(self, control_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=control_url, timeout=30)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.client.request(method, path, json=body)
        answer.raise_for_status()
        return answer.json()

    async def state(self) -> dict[str, Any]:
        """Users, counts, faults and webhook settings."""
        found: dict[str, Any] = await self._call("GET", "/state")
        return found

    async def reset(self) -> None:
        """Back to the generated state."""
        await self._call("POST", "/reset")

    async def act(self, request_id: int, action: str) -> dict[str, Any]:
        """``approve``, ``decline``, ``available`` or ``failed`` a request; returns it."""
        found: dict[str, Any] = await self._call("POST", f"/requests/{request_id}/{action}")
        return found

    async def approve(self, request_id: int) -> dict[str, Any]:
        """Approve a request."""
        return await self.act(request_id, "approve")

    async def decline(self, request_id: int) -> dict[str, Any]:
        """Decline a request."""
        return await self.act(request_id, "decline")

    async def available(self, request_id: int) -> dict[str, Any]:
        """Mark a request's media available."""
        return await self.act(request_id, "available")

    async def failed(self, request_id: int) -> dict[str, Any]:
        """Mark a request failed."""
        return await self.act(request_id, "failed")

    async def slow(self, ms: int) -> None:
        """Every API answer waits ``ms`` milliseconds (0 ends it)."""
        await self._call("POST", "/slow", {"ms": ms})

    async def fail(self, status: int = 500, times: int = 1, *, garbage: bool = False) -> None:
        """The next ``times`` API answers are ``status`` (or garbage)."""
        await self._call("POST", "/fail", {"status": status, "times": times, "garbage": garbage})

    async def down(self, status: int = 503) -> None:
        """Answer ``status`` to everything until :meth:`up`."""
        await self._call("POST", "/down", {"mode": str(status)})

    async def up(self) -> None:
        """End :meth:`down`."""
        await self._call("POST", "/up")

    async def refuse(self, seconds: float) -> None:
        """Close the port for ``seconds`` (returns at once)."""
        await self._call("POST", "/down", {"mode": "refuse", "seconds": seconds})

    async def set_quota(self, user_id: int, **quota: int | None) -> dict[str, Any]:
        """``movieQuotaLimit``, ``movieQuotaDays``, ``tvQuotaLimit``, ``tvQuotaDays``."""
        found: dict[str, Any] = await self._call("PUT", f"/users/{user_id}/quota", quota)
        return found

    async def add_user(self, **fields: Any) -> dict[str, Any]:
        """A new user (``email``, ... or ``plexAccount``)."""
        found: dict[str, Any] = await self._call("POST", "/users", fields)
        return found

    async def webhooks(self) -> list[dict[str, Any]]:
        """Every webhook sent and its outcome."""
        found: list[dict[str, Any]] = await self._call("GET", "/webhooks")
        return found

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


@dataclass
class SpawnedOverseerr:
    """A simulator running in a child process."""

    url: str
    api_key: str
    control: HttpControl
    pid: int

    @property
    def api_url(self) -> str:
        """``{url}/api/v1``."""
        return f"{self.url}/api/v1"


@contextlib.asynccontextmanager
async def spawn_simulator(
    *,
    seed: int = 1,
    plex_items: int = 1000,
    requestable: int | None = None,
    api_key: str = DEFAULT_KEY,
    start_timeout: float = 120.0,
) -> AsyncIterator[SpawnedOverseerr]:
    """Run the simulator in a child process on a free loopback port until the block exits."""
    args = [
        sys.executable,
        "-m",
        "medianest_overseerr.simulator",
        "--port",
        "0",
        "--seed",
        str(seed),
        "--plex-world-size",
        str(plex_items),
        "--api-key",
        api_key,
    ]
    if requestable is not None:
        args += ["--requestable", str(requestable)]
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    control: HttpControl | None = None
    try:
        assert process.stdout is not None
        url = None
        async with asyncio.timeout(start_timeout):
            while url is None:
                line = await process.stdout.readline()
                if not line:
                    raise RuntimeError("the Overseerr simulator exited before serving")
                text = line.decode().strip()
                if text.startswith("URL"):
                    url = text.split()[-1]
        control = HttpControl(f"{url}/_control")
        yield SpawnedOverseerr(url=url, api_key=api_key, control=control, pid=process.pid)
    finally:
        if control is not None:
            await control.aclose()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        if process.stdout is not None:
            with contextlib.suppress(Exception):
                await process.stdout.read()
