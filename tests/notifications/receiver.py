"""A local HTTP receiver for notification tests: records every POST, answers as told.

It counts deliveries the way a careful receiver does: by ``Idempotency-Key``, so a delivery
sent again after a worker died counts once (:attr:`Receiver.unique`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


class Receiver:
    """``await receiver.start()``; ``receiver.url(path)``; ``receiver.statuses`` are answered
    in turn (then 200); while ``hold`` is set a request is recorded, then left hanging."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.hold: asyncio.Event | None = None
        self.arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def unique(self, path: str | None = None) -> list[Received]:
        seen: dict[str | None, Received] = {}
        for r in self.received:
            if path is None or r.path == path:
                seen.setdefault(r.key, r)
        return list(seen.values())

    async def wait_for(self, count: int, path: str | None = None, within: float = 10) -> None:
        async with asyncio.timeout(within):
            async with self.arrived:
                await self.arrived.wait_for(
                    lambda: len(self.received if path is None else self.at(path)) >= count
                )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            hold = self.hold
            async with self.arrived:
                self.received.append(Received(path, headers, json.loads(body or b"null")))
                self.arrived.notify_all()
            if hold is not None:
                await hold.wait()
            status = self.statuses.pop(0) if self.statuses else 200
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
