"""Helpers of the Overseerr simulator tests: the spec checker and a webhook receiver."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

from medianest_overseerr.simulator import Exchange, load_spec

SERVER = "http://localhost:5055"


class SpecChecker:
    """Validates simulator answers with openapi-core against the spec's response schemas.

    Answers whose status the spec does not declare for the operation (most error answers)
    are counted but not validated; every declared one must validate.
    """

    def __init__(self) -> None:
        self.api = OpenAPI.from_dict(load_spec())
        self.checked = 0
        self.undeclared = 0
        self.failures: list[str] = []

    def start(self) -> None:
        self.checked = 0
        self.undeclared = 0
        self.failures = []

    def check(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        body: bytes,
        content_type: str = "application/json",
    ) -> None:
        args: dict[str, Any] = {}
        request = MockRequest(SERVER, method.lower(), path, args=args)
        response = MockResponse(
            body, status_code=status, content_type=content_type or "application/json"
        )
        try:
            self.api.validate_response(request, response)
        except (ResponseNotFound, PathNotFound):
            self.undeclared += 1
            return
        except Exception as exc:
            cause = exc.__cause__ or exc
            self.failures.append(f"{method} {path}?{query} -> {status}: {exc} ({cause})")
            return
        self.checked += 1

    def observe(self, exchange: Exchange) -> None:
        if exchange.status == 204 or not exchange.content_type.startswith("application/json"):
            self.undeclared += 1
            return
        self.check(
            exchange.method,
            exchange.path,
            exchange.query,
            exchange.status,
            exchange.body,
            exchange.content_type.split(";")[0],
        )

    def assert_clean(self) -> None:
        assert not self.failures, "answers that break the spec:\n" + "\n".join(self.failures)


@dataclass
class Received:
    """One webhook POST."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookReceiver:
    """A tiny HTTP/1.1 server on a loopback port recording each POST it gets."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    server: asyncio.Server | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/overseerr"

    async def __aenter__(self) -> WebhookReceiver:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _method, path, _version = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    header = await reader.readline()
                    if header in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                self.received.append(Received(path, headers, json.loads(raw) if raw else None))
                self.arrived.set()
                writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            writer.close()

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received
