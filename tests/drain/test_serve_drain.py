"""SIGTERM drains ``medianest serve``: readiness fails at once, new connections are refused,
requests in flight finish, live sockets are told to reconnect (1012), and the process exits 0.
Checked against a real process, and the refusal of late requests on the app itself."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, RejectConnection, Request

from medianest.config import load_settings
from medianest.core.app import create_app
from medianest.core.web.drain import drain_of

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
SERVING = re.compile(r"serving on (http://[0-9.]+:\d+)")


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str, key: str) -> None:
        self.process = process
        self.url = url
        self.key = key
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)


@asynccontextmanager
async def served(tmp_path: Path, **server: str) -> AsyncIterator[Served]:
    """``medianest serve``'s serving path in a process of its own, on a free port."""
    key_file = tmp_path / "key"
    env = {
        **os.environ,
        "MEDIANEST_DATA_DIR": str(tmp_path / "data"),
        "MEDIANEST_SERVER__PORT": "0",
        "MEDIANEST_LOG__FORMAT": "json",
        **{f"MEDIANEST_SERVER__{name.upper()}": value for name, value in server.items()},
    }
    env.pop("MEDIANEST_REDIS_URL", None)
    env.pop("MEDIANEST_CONFIG", None)
    env.pop("MEDIANEST_DATABASE_URL", None)
    process = start_server(key_file, tmp_path, {**env, "PYTHONPATH": str(ROOT)})
    try:
        url = await asyncio.to_thread(_wait_for_url, process)
        deadline = time.monotonic() + START_TIMEOUT
        while not key_file.exists() or not key_file.read_text():
            assert time.monotonic() < deadline, "the server wrote no API key"
            await asyncio.sleep(0.05)
        yield Served(process, url, key_file.read_text())
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def start_server(key_file: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.drain.drain_server", str(key_file)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        found = SERVING.search(line)
        if found:
            return found.group(1)
    raise AssertionError("the server did not start:\n" + "".join(seen))


async def open_live_socket(
    hub: Served,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, WSConnection]:
    """A live-updates socket (``/api/v1/live``) signed in with the hub's API key."""
    reader, writer = await asyncio.open_connection(hub.host, hub.port)
    ws = WSConnection(ConnectionType.CLIENT)
    auth = [(b"authorization", f"Bearer {hub.key}".encode())]
    writer.write(
        ws.send(Request(host=f"{hub.host}:{hub.port}", target="/api/v1/live", extra_headers=auth))
    )
    while True:
        data = await asyncio.wait_for(reader.read(65536), 10)
        assert data, "the hub hung up during the handshake"
        ws.receive_data(data)
        for event in ws.events():
            assert not isinstance(event, RejectConnection), "the live socket was refused"
            if isinstance(event, AcceptConnection):
                return reader, writer, ws


async def close_code(reader: asyncio.StreamReader, ws: WSConnection) -> tuple[int, str]:
    """Wait for the hub's close frame: its code and reason."""
    while True:
        data = await reader.read(65536)
        assert data, "the connection ended without a close frame"
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, CloseConnection):
                return event.code, event.reason


async def exit_code(process: subprocess.Popen[str], within: float) -> int:
    return await asyncio.to_thread(process.wait, within)


@pytest.mark.slow  # runs a process of its own
async def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(tmp_path) -> None:
    async with served(tmp_path, drain_seconds="10") as hub:
        reader, writer, ws = await open_live_socket(hub)
        async with httpx.AsyncClient(base_url=hub.url, timeout=20) as client:
            assert (await client.get("/health/ready")).status_code == 200
            in_flight = asyncio.create_task(client.get("/drain-test/slow", params={"seconds": 2}))
            await asyncio.sleep(0.5)  # the request is being answered
            started = time.monotonic()
            hub.process.send_signal(signal.SIGTERM)

            code, reason = await asyncio.wait_for(close_code(reader, ws), 5)
            assert code == 1012 and "reconnect" in reason

            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=hub.url, timeout=5) as newcomer:
                try:
                    late = await newcomer.get("/health/live")
                except httpx.ConnectError:
                    pass  # refused: the socket no longer listens
                else:
                    assert late.status_code == 503

            writer.close()
            answer = await in_flight
            assert answer.status_code == 200 and answer.json() == {"slept": 2}
        assert await exit_code(hub.process, 15) == 0
        assert time.monotonic() - started < 10, "the drain waited longer than its requests"


@pytest.mark.slow  # runs a process of its own
async def test_readiness_fails_during_the_notice_while_requests_are_still_served(
    tmp_path,
) -> None:
    async with served(tmp_path, drain_seconds="5", drain_notice_seconds="2") as hub:
        async with httpx.AsyncClient(base_url=hub.url, timeout=10) as client:
            assert (await client.get("/health/ready")).status_code == 200
            hub.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            ready = await client.get("/health/ready", headers={"Connection": "close"})
            assert ready.status_code == 503
            body = ready.json()
            assert body["status"] == "unavailable"
            assert body["components"][0]["name"] == "replica"
            still = await client.get("/drain-test/slow", params={"seconds": 0})
            assert still.status_code == 200
        assert await exit_code(hub.process, 15) == 0


async def test_requests_that_start_once_stopping_get_a_draining_problem(tmp_path) -> None:
    app = create_app(load_settings(data_dir=tmp_path), migrate=True)
    async with app.test_app() as running:
        client = running.test_client()
        assert (await client.get("/health/live")).status_code == 200
        drain_of(app).stop()
        refused = await client.get("/api/v1/system")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert (await refused.get_json())["code"] == "draining"
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert (await client.get("/health/live")).status_code == 200
