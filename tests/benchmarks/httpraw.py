"""A minimal keep-alive HTTP/1.1 client over asyncio streams, for load generation.

It does only what a load generator needs: GET requests built once as bytes, responses read
by ``Content-Length`` or chunked encoding, and the connection reopened when the server
closes it. Much cheaper per request than a general-purpose client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

READ_LIMIT = 1 << 20
"""Largest header block accepted (the stream reader's limit)."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    """Status, lower-cased headers and body of one response."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes


def build_get(host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    """The bytes of ``GET path`` with a ``Host`` header and ``headers``."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class RawConnection:
    """One persistent connection to ``host:port``; reopened lazily after a close."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connect (a no-op when already connected)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=READ_LIMIT
            )

    async def close(self) -> None:
        """Close the connection if open."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def request(self, raw: bytes) -> RawResponse:
        """Send a request built by :func:`build_get` and read the whole response.

        On any error the connection is closed (the next request reconnects) and the error
        propagates.
        """
        await self.open()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(raw)
            response = await self._read_response(self._reader)
        except BaseException:
            await self.close()
            raise
        if response.headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return response

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif b"content-length" in headers:
            body = await reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.read()
            headers[b"connection"] = b"close"
        return RawResponse(status=status, headers=headers, body=body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers (if any) end with an empty line.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
