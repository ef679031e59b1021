"""A request backend's service for the request benchmark: ``python -m
tests.benchmarks.request_upstream DELAY_MS``.

A bare HTTP/1.1 server on a free loopback port (keep-alive, JSON bodies) that answers every
call after ``DELAY_MS`` milliseconds: ``POST /request`` files a request and answers its id,
any other path answers ``{}``. It prints ``listening on <port>`` and serves until SIGTERM.
Kept in a process of its own so that its work is counted neither in the hub's time nor in the
load generator's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys

_ids = itertools.count(1)


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay)
            body = json.dumps({"id": next(_ids)} if path == "/request" else {}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(delay: float) -> None:
    server = await asyncio.start_server(lambda r, w: _serve_connection(r, w, delay), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    asyncio.run(serve(float(sys.argv[1]) / 1000))


if __name__ == "__main__":
    main()
