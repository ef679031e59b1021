"""The drill's processes: private PostgreSQL and Redis, the Plex simulators (the Overseerr
simulator is started with ``spawn_simulator``), HAProxy, the hub's replicas and workers, and
the webhook receiver the people's notifications go to. Each can be stopped (SIGTERM, SIGKILL)
and started again on the same port; everything listens on loopback only, on ports picked free
by the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.benchmarks.hub_server import medianest_command
from tests.benchmarks.procs import Child, clean_environment, module_command
from tests.benchmarks.results import REPO_ROOT

PG_BIN = Path(os.environ.get("MEDIANEST_DRILL_PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET_KEY = "drill-secret-key-shared-by-every-replica-and-worker"
DATABASE = "medianest"
START_TIMEOUT = 180.0
SERVING = re.compile(r"serving on (?:\S+ )?(http://127\.0\.0\.1:(\d+))")
WORKER_UP = re.compile(r"MediaNest worker: \d+ jobs registered")
OVERSEERR_INSTANCE = "drill"
OVERSEERR_API_KEY = "drill-overseerr-api-key"
OVERSEERR_WEBHOOK_SECRET = "drill-overseerr-webhook-secret"


class DrillError(Exception):
    """The drill could not set up or run a piece; the message says which and why."""


def free_port() -> int:
    """A loopback port nobody listens on now (the system's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Proc:
    """A restartable child: ``argv`` started with its stderr (and stdout unless read) in a log."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path = REPO_ROOT
    user: str | None = None
    child: Child | None = None
    starts: int = 0

    async def spawn(self, *, read_stdout: bool = False) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.cwd,
                env=self.env if self.env is not None else clean_environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if read_stdout else log,
                stderr=log,
                user=self.user,
                start_new_session=True,
            )
        self.starts += 1
        self.child = Child(process=process, log_path=self.log_path, name=self.name)
        return self.child

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.process.returncode is None

    def failure(self, message: str) -> DrillError:
        tail = _tail(self.log_path)
        return DrillError(f"{self.name}: {message}" + (f"\n{tail}" if tail else ""))

    def send(self, signum: int) -> None:
        if self.running:
            assert self.child is not None
            with contextlib.suppress(ProcessLookupError):
                self.child.process.send_signal(signum)

    async def wait(self, time_limit: float) -> int:
        assert self.child is not None
        try:
            return await asyncio.wait_for(self.child.process.wait(), time_limit)
        except TimeoutError:
            raise self.failure(f"still running {time_limit:g} s after being stopped") from None

    async def stop(self, signum: int = signal.SIGTERM, grace: float = 30.0) -> None:
        if self.child is None:
            return
        if self.running:
            self.send(signum)
            try:
                await asyncio.wait_for(self.child.process.wait(), grace)
            except TimeoutError:
                self.send(signal.SIGKILL)
                await self.child.process.wait()
        await self.child.stop(grace=1)


async def poll(check: Any, time_limit: float, what: str, interval: float = 0.1) -> float:
    """Call ``check()`` (async, true when done) until it is; the time it first was."""
    deadline = time.monotonic() + time_limit
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if await check():
                return time.monotonic()
        except Exception as exc:
            last = exc
        await asyncio.sleep(interval)
    raise DrillError(f"{what} not within {time_limit:g} s" + (f" (last: {last!r})" if last else ""))


class Postgres:
    """A private cluster: ``initdb`` into the drill's directory, ``postgres`` on its own port."""

    def __init__(self, workdir: Path) -> None:
        self.data = workdir / "postgres"
        self.port = free_port()
        user = "postgres" if os.geteuid() == 0 else None
        self.proc = Proc(
            "postgresql",
            [
                str(PG_BIN / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data}",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=64MB",
            ],
            workdir / "logs" / "postgresql.log",
            user=user,
        )
        self.user = user

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    async def init(self) -> None:
        initdb = PG_BIN / "initdb"
        if not initdb.exists():
            raise DrillError(f"PostgreSQL's initdb is missing at {initdb} (MEDIANEST_DRILL_PG_BIN)")
        self.data.mkdir(parents=True)
        if self.user:
            shutil.chown(self.data, self.user, self.user)
        process = await asyncio.create_subprocess_exec(
            str(initdb),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C.UTF-8",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=self.user,
        )
        out, _ = await process.communicate()
        if process.returncode:
            raise DrillError(f"initdb failed ({process.returncode}):\n{out.decode()[-2000:]}")
        await self.start()
        conn = await asyncpg.connect(f"postgres://postgres@127.0.0.1:{self.port}/postgres")
        try:
            await conn.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            await conn.close()

    async def accepting(self) -> bool:
        conn = await asyncpg.connect(self.url.rsplit("/", 1)[0] + "/postgres", timeout=1)
        await conn.close()
        return True

    async def start(self) -> float:
        await self.proc.spawn()
        return await poll(self.accepting, 60, "PostgreSQL accepting connections")

    async def stop(self) -> None:
        """A fast shutdown (SIGINT): sessions are cut, the data is kept."""
        await self.proc.stop(signal.SIGINT)


class RedisServer:
    """A private redis-server keeping its data across restarts (append-only file)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        binary = shutil.which("redis-server") or "redis-server"
        self.proc = Proc(
            "redis",
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.dir),
                "--protected-mode",
                "no",
            ],
            workdir / "logs" / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def accepting(self) -> bool:
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    async def start(self) -> float:
        if shutil.which("redis-server") is None:
            raise DrillError("redis-server is not installed (Debian package redis-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        await self.proc.spawn()
        return await poll(self.accepting, 30, "Redis answering PING")

    async def stop(self) -> None:
        await self.proc.stop(signal.SIGTERM)


@dataclass
class Simulator:
    """A Plex simulator process with one server."""

    proc: Proc
    items: int
    seed: int
    server_url: str = ""
    token: str = ""
    plextv_url: str = ""
    auth_url: str = ""
    control_url: str = ""

    async def start(self) -> None:
        child = await self.proc.spawn(read_stdout=True)
        lines = await child.read_lines_until(re.compile(r"^Accounts:"), START_TIMEOUT)
        child.drain_stdout()
        for line in lines:
            if m := re.search(r"plex\.tv\s+(http://\S+)/api/v2", line):
                self.plextv_url = m.group(1)
            elif m := re.search(r"approval page (http://[^#\s]+)", line):
                self.auth_url = m.group(1)
            elif m := re.search(r"control API\s+(http://\S+)/world", line):
                self.control_url = m.group(1)
            elif m := re.match(r"^\s+\S+\s+'.*'\s+(http://127\.0\.0\.1:\d+)\s", line):
                self.server_url = self.server_url or m.group(1)
            elif m := re.match(r"^\s+token for owner\s+(\S+)", line):
                self.token = self.token or m.group(1)
        if not (self.server_url and self.token and self.plextv_url and self.control_url):
            raise self.proc.failure("its banner lacks a server URL, owner token or plex.tv URL")


def simulator(workdir: Path, name: str, items: int, seed: int) -> Simulator:
    argv = module_command(
        "medianest_plex.simulator", "--items", str(items), "--port", "0", "--seed", str(seed)
    )
    return Simulator(
        Proc(f"plex simulator {name}", argv, workdir / "logs" / f"sim-{name}.log"),
        items=items,
        seed=seed,
    )


HAPROXY_CONFIG = """\
global
    maxconn 4096
    stats socket {socket} mode 600 level admin
    hard-stop-after 5s

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout http-request 10s
    timeout queue 10s
    timeout check 4s
    option redispatch
    retries 3
    retry-on conn-failure empty-response response-timeout

frontend hub
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server inter 500ms fastinter 250ms fall 2 rise 1 check
{servers}
"""


class HAProxy:
    """HAProxy on loopback in front of the replicas; driven through its runtime API."""

    def __init__(self, workdir: Path, replica_ports: list[int]) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise DrillError(
                "haproxy is not installed: the drill needs a real load balancer "
                "(apt-get install -y haproxy)"
            )
        self.port = free_port()
        self.socket = workdir / "haproxy.sock"
        config = workdir / "haproxy.cfg"
        servers = "\n".join(
            f"    server r{n} 127.0.0.1:{port}" for n, port in enumerate(replica_ports, 1)
        )
        config.write_text(
            HAPROXY_CONFIG.format(socket=self.socket, port=self.port, servers=servers)
        )
        self.proc = Proc(
            "haproxy", [binary, "-W", "-db", "-f", str(config)], workdir / "logs" / "haproxy.log"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.proc.spawn()
        await poll(self._listening, 15, "HAProxy listening")

    async def _listening(self) -> bool:
        _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.close()
        await self.command("show info")
        return True

    async def command(self, line: str) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.socket))
        try:
            writer.write(line.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()

    async def servers(self) -> dict[str, dict[str, str]]:
        """``show stat`` of the replicas' backend: per server, its columns."""
        text = await self.command("show stat")
        lines = [line for line in text.splitlines() if line]
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:]]
        return {r["svname"]: r for r in rows if r["pxname"] == "replicas" and r["svname"][0] == "r"}

    async def set_state(self, server: str, state: str) -> None:
        answer = await self.command(f"set server replicas/{server} state {state}")
        if answer.strip():
            raise DrillError(f"HAProxy refused `state {state}` for {server}: {answer.strip()}")

    async def stop(self) -> None:
        await self.proc.stop(signal.SIGTERM, grace=10)


@dataclass
class HubProcesses:
    """The hub's environment and its processes: replicas (``serve``) and ``worker``s."""

    workdir: Path
    env: dict[str, str]
    replicas: list[Proc] = field(default_factory=list)
    replica_ports: list[int] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)

    @classmethod
    def plan(
        cls,
        workdir: Path,
        database_url: str,
        redis_url: str,
        plex: dict[str, Any],
        n_api: int,
        n_workers: int,
        extra: dict[str, str] | None = None,
    ) -> HubProcesses:
        env = clean_environment(
            **(extra or {}),
            MEDIANEST_DATABASE_URL=database_url,
            MEDIANEST_REDIS_URL=redis_url,
            MEDIANEST_SECRET_KEY=SECRET_KEY,
            MEDIANEST_SECRETS_DIR=str(workdir / "no-secrets"),
            MEDIANEST_LOG__FORMAT="json",
            MEDIANEST_RATE_LIMITS__ENABLED="false",
            MEDIANEST_SERVER__TRUSTED_PROXIES='["127.0.0.1/32"]',
            MEDIANEST_SYNC__INCREMENTAL_MINUTES="0",
            MEDIANEST_SYNC__FULL_DAILY_AT="",
            MEDIANEST_SYNC__LEASE_SECONDS="5",
            MEDIANEST_JOBS__HEARTBEAT_SECONDS="1",
            # HAProxy checks every 0.5 s and takes a server out after 2 failures.
            MEDIANEST_SERVER__DRAIN_NOTICE_SECONDS="1.5",
            MEDIANEST_PLUGINS__PLEX__SERVERS=json.dumps(plex["servers"]),
            MEDIANEST_PLUGINS__PLEX__PLEXTV_URL=plex["plextv_url"],
            MEDIANEST_PLUGINS__PLEX__AUTH_APP_URL=plex["auth_app_url"],
        )
        hub = cls(workdir=workdir, env=env)
        for n in range(1, n_api + 1):
            port = free_port()
            hub.replica_ports.append(port)
            hub.replicas.append(hub._proc(f"replica r{n}", f"r{n}", "serve", "--port", str(port)))
        for n in range(1, n_workers + 1):
            hub.workers.append(hub._proc(f"worker w{n}", f"w{n}", "worker"))
        return hub

    def _proc(self, name: str, short: str, *args: str) -> Proc:
        data = self.workdir / "hub" / short
        data.mkdir(parents=True, exist_ok=True)
        return Proc(
            name,
            medianest_command(*args),
            self.workdir / "logs" / f"{short}.log",
            env={**self.env, "MEDIANEST_DATA_DIR": str(data)},
            cwd=data,
        )

    async def migrate(self) -> None:
        proc = self._proc("db upgrade", "migrate", "db", "upgrade")
        child = await proc.spawn()
        if await asyncio.wait_for(child.process.wait(), 120):
            raise proc.failure("`medianest db upgrade` failed")

    def replica_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[index]}"

    async def start_replica(self, index: int, client: httpx.AsyncClient) -> float:
        """Start replica ``index``; the time it first answered ready."""
        proc = self.replicas[index]
        child = await proc.spawn(read_stdout=True)
        try:
            match = await child.line_matching(SERVING, START_TIMEOUT)
        except Exception as exc:
            raise proc.failure(str(exc).splitlines()[0]) from None
        child.drain_stdout()
        if int(match.group(2)) != self.replica_ports[index]:
            raise proc.failure(f"serves on {match.group(1)}, not its port")
        return await self.wait_ready(index, client, 60)

    async def wait_ready(self, index: int, client: httpx.AsyncClient, limit: float) -> float:
        url = self.replica_url(index) + "/health/ready"

        async def ready() -> bool:
            return (await client.get(url, timeout=1)).status_code == 200

        return await poll(ready, limit, f"{self.replicas[index].name} ready", interval=0.05)

    async def start_worker(self, index: int) -> None:
        proc = self.workers[index]
        child = await proc.spawn(read_stdout=True)
        try:
            await child.line_matching(WORKER_UP, START_TIMEOUT)
        except Exception as exc:
            raise proc.failure(str(exc).splitlines()[0]) from None
        child.drain_stdout()

    async def stop_all(self) -> None:
        await asyncio.gather(
            *(p.stop(signal.SIGTERM, grace=20) for p in [*self.replicas, *self.workers]),
            return_exceptions=True,
        )


async def worker_beats(redis_url: str) -> dict[int, dict[str, Any]]:
    """The latest heartbeat of every worker, by process id (from every queue's hash)."""
    client = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        beats: dict[int, dict[str, Any]] = {}
        async for key in client.scan_iter(match="*:workers"):
            for raw in (await client.hgetall(key)).values():
                beat = json.loads(raw)
                beats[int(beat["pid"])] = beat
        return beats
    finally:
        await client.aclose()


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got: the person's path, its Idempotency-Key and its body."""

    at: float
    path: str
    key: str
    event: str
    body: dict[str, Any]


class Receiver:
    """A webhook receiver in the drill's process (asyncio, HTTP/1.1 with keep-alive): every
    POST is kept and answered 204, so the notify plugin's webhook notifier has a destination."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.bad: int = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                self._keep(method, path, headers, raw)
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    b"HTTP/1.1 204 No Content\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                )
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def _keep(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if method != "POST" or not isinstance(body, dict):
            self.bad += 1
            return
        self.deliveries.append(
            Delivery(
                at=time.monotonic(),
                path=path,
                key=headers.get("idempotency-key", ""),
                event=headers.get("x-medianest-event", str(body.get("event", ""))),
                body=body,
            )
        )
