"""Answers given before the request body was read keep the connection usable, over real HTTP
(hypercorn): the client's next request on the same keep-alive connection is answered.

A client still uploading when the hub has decided (405, 401, 404, 429) must not find its
connection dropped; a body the hub will never read (over ``server.max_body_bytes``) ends the
connection with ``Connection: close`` said in the answer, so the client opens a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from medianest.core.serving import bind_socket, serve_until
from tests.security_testing import build_app, limits

BODY = b'{"name": "' + b"x" * 30_000 + b'", "permissions": []}'


@asynccontextmanager
async def served(tmp_path, **settings) -> AsyncIterator[tuple[str, int]]:
    """The security tests' app served by hypercorn on a free loopback port: (host, port)."""
    app = build_app(tmp_path, **settings)
    sock = bind_socket("127.0.0.1", 0)
    stop, ready = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(serve_until(app, sock, stop, on_ready=lambda url: ready.set()))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield sock.getsockname()[:2]
    finally:
        stop.set()
        await asyncio.wait_for(server, 30)
        sock.close()


def head(method: str, path: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """One response from ``reader``: its status and headers (the body is read and dropped)."""
    status_line = await asyncio.wait_for(reader.readline(), 10)
    assert status_line, "the hub closed the connection instead of answering"
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers


async def slow_upload_then_next(
    address: tuple[str, int], method: str, path: str
) -> list[tuple[int, dict[str, str]]]:
    """Send half a body, pause (the hub may answer meanwhile), send the rest, then a second
    request on the same connection; both answers."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        half = len(BODY) // 2
        writer.write(head(method, path, len(BODY)) + BODY[:half])
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.write(BODY[half:])
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        return [await read_response(reader), await read_response(reader)]
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PATCH", "/api/v1/me/api-keys", 405),
        ("POST", "/api/v1/me/api-keys", 401),
        ("PUT", "/health/live", 405),
        ("POST", "/api/v1/nothing-here", 404),
    ],
)
async def test_an_answer_before_the_body_keeps_the_connection(
    tmp_path, method, path, status
) -> None:
    async with served(tmp_path) as address:
        (refused, _), (after, _) = await slow_upload_then_next(address, method, path)
        assert (refused, after) == (status, 200)


async def test_the_sign_in_limit_keeps_the_connection(tmp_path) -> None:
    async with served(tmp_path, **limits(sign_in=(1, 60))) as address:
        path = "/api/v1/auth/providers/pw/sign-in"
        await slow_upload_then_next(address, "POST", path)
        (refused, headers), (after, _) = await slow_upload_then_next(address, "POST", path)
        assert (refused, after) == (429, 200) and "retry-after" in headers


async def test_a_body_over_the_limit_closes_the_connection_saying_so(tmp_path) -> None:
    async with served(tmp_path, server={"max_body_bytes": 2048}) as (host, port):
        pool = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=pool) as client:
            for _ in range(3):
                refused = await client.post(
                    "/api/v1/auth/providers/pw/sign-in",
                    content=BODY,
                    headers={"Content-Type": "application/json"},
                )
                assert refused.status_code == 413
                assert refused.headers["connection"] == "close"
                assert (await client.get("/health/live")).status_code == 200
