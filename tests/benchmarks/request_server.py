"""The hub the request benchmark loads: ``python -m tests.benchmarks.request_server SPEC.json``.

The real app under hypercorn on loopback (as ``medianest serve``), with one request backend
that files requests over HTTP with the benchmark's upstream service
(:mod:`tests.benchmarks.request_upstream`). Once serving it prints ``serving on <url> (<mode>
mode)`` and one ``token <access token>`` line per person it signed in (each holds ``request``
only). For every ``POST /api/v1/requests`` it notes the time the app spent on it and the time
spent waiting for the backend; at SIGTERM it writes them to the spec's ``timings`` file.

The spec (JSON): ``settings`` (keyword overrides of the hub's settings), ``upstream_port``,
``people``, ``timings`` (a path).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from quart import Response, g, request

from medianest.config import load_settings
from medianest.core.app import create_app, hub_of
from medianest.core.db.models import User
from medianest.core.logging import configure_logging
from medianest.core.serving import bind_socket, serve_until, stop_on_signals
from medianest.sdk import (
    ExternalIds,
    MediaRequest,
    MediaRequestCreate,
    NotFoundError,
    Page,
    Principal,
    RequestAction,
    RequestStatus,
    hookimpl,
    utcnow,
)
from medianest.sdk.access import Permission

BACKEND_ID = "benchhttp:requests"


class HttpBackend:
    """A request backend filing requests with an HTTP service (one call per request)."""

    id = BACKEND_ID
    name = "Requests over HTTP"

    def __init__(self, port: int) -> None:
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
            timeout=10.0,
        )

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            answer = await self._client.post(path, json=body)
            answer.raise_for_status()
            data: dict[str, Any] = answer.json()
            return data
        finally:
            g.upstream = g.get("upstream", 0.0) + time.perf_counter() - started

    async def create_request(
        self, principal: Principal, request: MediaRequestCreate
    ) -> MediaRequest:
        answer = await self._call(
            "/request",
            {"tmdb": request.ids.tmdb, "kind": request.kind.value, "user": principal.email},
        )
        return MediaRequest(
            backend=self.id,
            request_id=str(answer["id"]),
            kind=request.kind,
            ids=request.ids,
            title=f"Title {request.ids.tmdb}",
            year=2001,
            status=RequestStatus.PENDING,
            requested_by=principal.username,
            created_at=utcnow(),
        )

    async def get_request(self, principal: Principal, request_id: str) -> MediaRequest:
        raise NotFoundError(f"requests are not read back in this benchmark ({request_id})")

    async def list_requests(
        self, principal: Principal, cursor: str | None, limit: int, *, everyone: bool = False
    ) -> Page[MediaRequest]:
        return Page(items=[])

    async def request_status(
        self, principal: Principal, ids: Sequence[ExternalIds]
    ) -> dict[ExternalIds, MediaRequest]:
        await self._call("/status", {})
        return {}

    async def act(
        self, principal: Principal, request_id: str, action: RequestAction
    ) -> MediaRequest | None:
        await self._call("/act", {"id": request_id, "action": action})
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


class HttpBackendPlugin:
    def __init__(self, port: int) -> None:
        self.backend = HttpBackend(port)

    @hookimpl
    def register_request_backends(self) -> list[HttpBackend]:
        return [self.backend]


async def people_tokens(app: Any, count: int) -> list[str]:
    """Access tokens of ``count`` new people who may request."""
    hub = hub_of(app)
    tokens = []
    with hub.database.activate():
        for n in range(count):
            user = await User.create(
                username=f"bench-{n}",
                email=f"bench-{n}@example.org",
                permissions=[str(Permission.REQUEST)],
            )
            issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="bench")
            tokens.append(issued.access_token)
    return tokens


async def serve(spec: dict[str, Any]) -> list[tuple[float, float, int]]:
    plugin = HttpBackendPlugin(spec["upstream_port"])
    settings = load_settings(**spec["settings"])
    configure_logging(settings.log, stream=sys.stderr)
    app = create_app(settings, plugins={"benchhttp": plugin}, autoload=False)
    timings: list[tuple[float, float, int]] = []

    @app.before_request
    async def started() -> None:
        g.bench_started = time.perf_counter()

    @app.after_request
    async def finished(response: Response) -> Response:
        if request.method == "POST" and request.path == "/api/v1/requests":
            total = time.perf_counter() - g.bench_started
            timings.append((total * 1000, g.get("upstream", 0.0) * 1000, response.status_code))
        return response

    sock = bind_socket("127.0.0.1", 0)
    stop = asyncio.Event()
    stop_on_signals(stop)

    async def ready(url: str) -> None:
        tokens = await people_tokens(app, spec["people"])
        print(f"serving on {url} ({settings.mode} mode)", flush=True)
        for token in tokens:
            print(f"token {token}", flush=True)

    with sock:
        await serve_until(app, sock, stop, on_ready=ready)
    return timings


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    timings = asyncio.run(serve(spec))
    Path(spec["timings"]).write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
