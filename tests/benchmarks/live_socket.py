"""``live_socket``: the live WebSocket under load, on one API process.

The hub (``tests/benchmarks/live_hub.py``: the served hub of the tests, embedded mode, one
hypercorn process) publishes on the ``sync`` topic from its own event loop; the clients are
light ``websockets`` connections in this process, authenticated with an API key.

1. **Broadcast**: ``clients`` sockets follow ``sync``; each of ``broadcasts`` messages
   carries the wall-clock time it was published, and every socket records how long it took
   to arrive. Figures: p50/p99/max delivery, and the time until the last socket had it.
2. **Memory per socket**: the hub's RSS with a few sockets open and with all of them.
3. **Sustained rate**: ``rate_clients`` reading sockets and ``slow_clients`` that never read
   follow ``sync`` while the hub publishes ``rate`` messages/s for ``rate_seconds``; the
   hub's RSS and the frames waiting in its queues are sampled throughout. A reader must get
   every message; a socket that never reads is dropped (4408) once its queue is full rather
   than growing the hub.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.benchmarks.procs import Child, cpu_seconds, module_command, running
from tests.benchmarks.results import BenchmarkError, Result
from tests.benchmarks.stats import percentile

MiB = 1024 * 1024
CONNECT_BATCH = 50
DELIVERY_TIME_LIMIT = 15.0
P99_TARGET_MS = 250.0


@dataclass(frozen=True)
class Params:
    clients: int
    broadcasts: int
    rate: int
    rate_seconds: float
    rate_clients: int
    slow_clients: int
    baseline_clients: int = 20


FULL = Params(
    clients=1000, broadcasts=30, rate=200, rate_seconds=30, rate_clients=50, slow_clients=10
)
QUICK = Params(clients=100, broadcasts=5, rate=200, rate_seconds=5, rate_clients=10, slow_clients=3)


class Hub:
    """The hub child: one JSON command per line, one JSON answer per line."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self._lock = asyncio.Lock()

    async def ask(self, command: dict[str, Any], time_limit: float = 60.0) -> dict[str, Any]:
        process = self.child.process
        assert process.stdin is not None and process.stdout is not None
        async with self._lock:
            process.stdin.write((json.dumps(command) + "\n").encode())
            await process.stdin.drain()
            try:
                line = await asyncio.wait_for(process.stdout.readline(), time_limit)
            except TimeoutError:
                raise self.child.failure(f"no answer to {command} in {time_limit:g} s") from None
        if not line:
            raise self.child.failure(f"exited while answering {command}")
        answer: dict[str, Any] = json.loads(line)
        return answer


@dataclass(eq=False)
class Follower:
    """One client socket following ``sync``; records each event's delivery time."""

    socket: ClientConnection
    reads: bool = True
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    ids: list[int] = field(default_factory=list)
    closed_with: int | None = None
    task: asyncio.Task[None] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        try:
            async for raw in self.socket:
                arrived = time.time()
                frame = json.loads(raw)
                if frame.get("type") != "event":
                    continue
                self.latencies.append(arrived - frame["data"]["t"])
                self.received += 1
                self.ids.append(frame["id"])
                self.arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed_with = self.socket.close_code


async def open_follower(url: str, headers: dict[str, str], *, reads: bool = True) -> Follower:
    sock = None
    if not reads:  # a small receive buffer: the hub's writes back up quickly
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
        sock.connect((host, int(port)))
        sock.setblocking(False)
    ws = await connect(
        url,
        additional_headers=headers,
        compression=None,
        ping_interval=None,
        max_queue=1 if not reads else None,
        sock=sock,
        open_timeout=60,
    )
    await ws.send(json.dumps({"type": "subscribe", "topics": ["sync"]}))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if answer.get("type") != "subscribed":
        raise BenchmarkError(f"subscribing to sync failed: {answer}")
    follower = Follower(ws, reads=reads)
    if reads:
        follower.task = asyncio.create_task(follower.read())
    return follower


async def open_many(
    url: str, headers: dict[str, str], count: int, *, reads: bool = True
) -> list[Follower]:
    followers: list[Follower] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - start)
        followers += await asyncio.gather(
            *(open_follower(url, headers, reads=reads) for _ in range(batch))
        )
    return followers


async def close_all(followers: Sequence[Follower]) -> None:
    await asyncio.gather(*(f.socket.close() for f in followers), return_exceptions=True)
    tasks = [f.task for f in followers if f.task is not None]
    await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for_all(followers: Sequence[Follower], count: int, time_limit: float) -> None:
    deadline = time.perf_counter() + time_limit
    while any(f.received < count for f in followers):
        if time.perf_counter() > deadline:
            short = [f for f in followers if f.received < count]
            codes = sorted({str(f.socket.close_code) for f in short})
            raise BenchmarkError(
                f"{len(short)} socket(s) did not get message {count} in time (got "
                f"{min(f.received for f in short)} to {max(f.received for f in short)}; "
                f"close codes: {', '.join(codes)})"
            )
        await asyncio.sleep(0.005)


async def broadcast(hub: Hub, result: Result, url: str, headers: dict[str, str], p: Params) -> None:
    base = await open_many(url, headers, p.baseline_clients)
    await asyncio.sleep(0.5)
    before = await hub.ask({"cmd": "stats"})
    rest = await open_many(url, headers, p.clients - p.baseline_clients)
    followers = base + rest
    await asyncio.sleep(1.0)
    after = await hub.ask({"cmd": "stats"})
    if after["sockets"] != p.clients:
        raise BenchmarkError(f"the hub follows {after['sockets']} sockets, not {p.clients}")
    added = (after["rss"] - before["rss"]) / max(1, p.clients - p.baseline_clients)
    result.add("memory.rss_per_socket_kib", "hub RSS added per socket", added / 1024, "KiB")
    result.add(
        "memory.rss_with_all_mib", f"hub RSS with {p.clients} sockets", after["rss"] / MiB, "MiB"
    )
    all_in: list[float] = []
    try:
        for number in range(1, p.broadcasts + 1):
            sent = time.perf_counter()
            await hub.ask({"cmd": "broadcast"})
            await wait_for_all(followers, number, DELIVERY_TIME_LIMIT)
            all_in.append(time.perf_counter() - sent)
            await asyncio.sleep(0.2)
        latencies = [ms * 1000 for f in followers for ms in f.latencies]
        result.add("broadcast.deliveries", "deliveries measured", len(latencies), "")
        result.add("broadcast.p50_ms", "delivery p50", percentile(latencies, 50), "ms")
        result.add(
            "broadcast.p99_ms",
            "delivery p99",
            percentile(latencies, 99),
            "ms",
            target=f"< {P99_TARGET_MS:g} ms",
        )
        result.add("broadcast.max_ms", "delivery max", max(latencies), "ms")
        result.add(
            "broadcast.all_in_p50_ms",
            "publish → last socket has it, median",
            percentile(all_in, 50) * 1000,
            "ms",
        )
        duplicates = sum(len(f.ids) - len(set(f.ids)) for f in followers)
        if duplicates:
            raise BenchmarkError(f"{duplicates} duplicate deliveries")
    finally:
        await close_all(followers)


async def sustained(hub: Hub, result: Result, url: str, headers: dict[str, str], p: Params) -> None:
    readers = await open_many(url, headers, p.rate_clients)
    slow = await open_many(url, headers, p.slow_clients, reads=False)
    await asyncio.sleep(1.0)
    samples = [await hub.ask({"cmd": "stats"})]
    hub_cpu, own_cpu = cpu_seconds(hub.child.pid) or 0.0, time.process_time()
    await hub.ask({"cmd": "rate", "rate": p.rate, "seconds": p.rate_seconds})
    started = time.perf_counter()
    while time.perf_counter() - started < p.rate_seconds:
        await asyncio.sleep(min(5.0, p.rate_seconds / 5))
        samples.append(await hub.ask({"cmd": "stats"}))
    published = (await hub.ask({"cmd": "wait"}, p.rate_seconds + 60))["published"]
    hub_cpu = ((cpu_seconds(hub.child.pid) or 0.0) - hub_cpu) / p.rate_seconds
    own_cpu = (time.process_time() - own_cpu) / p.rate_seconds
    result.add("rate.hub_cpu_share", "hub CPU while publishing", hub_cpu * 100, "% of a core")
    result.add("rate.client_cpu_share", "clients' CPU", own_cpu * 100, "% of a core")
    await wait_for_all(readers, published, DELIVERY_TIME_LIMIT)
    samples.append(await hub.ask({"cmd": "stats"}))
    try:
        first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
        latencies = [ms * 1000 for f in readers for ms in f.latencies]
        result.add("rate.published", "messages published", published, "")
        result.add("rate.achieved_per_s", "publish rate achieved", published / p.rate_seconds, "/s")
        result.add("rate.p99_ms", "delivery p99 at that rate", percentile(latencies, 99), "ms")
        result.add("rate.rss_before_mib", "hub RSS before", first["rss"] / MiB, "MiB")
        result.add("rate.rss_middle_mib", "hub RSS half-way", middle["rss"] / MiB, "MiB")
        result.add("rate.rss_after_mib", "hub RSS after", last["rss"] / MiB, "MiB")
        result.add(
            "rate.rss_growth_second_half_mib",
            "hub RSS growth, second half",
            (last["rss"] - middle["rss"]) / MiB,
            "MiB",
            target="≈ 0",
        )
        result.add(
            "rate.queued_max", "frames waiting, most sampled", max(s["queued"] for s in samples), ""
        )
        result.add("rate.queued_after", "frames waiting after", last["queued"], "")
        gaps = sum(1 for f in readers if f.ids != list(range(f.ids[0], f.ids[0] + len(f.ids))))
        if gaps:
            raise BenchmarkError(f"{gaps} reader(s) missed or repeated messages")
        for follower in slow:
            try:
                await asyncio.wait_for(follower.socket.wait_closed(), 0.01)
            except TimeoutError:
                pass
        dropped = sum(1 for f in slow if f.socket.close_code == 4408)
        result.add(
            "rate.slow_dropped",
            f"never-reading sockets dropped 4408 (of {p.slow_clients})",
            dropped,
            "",
        )
        result.notes.append(
            f"sockets the hub followed: {first['sockets']} before, {last['sockets']} after "
            "(never-reading ones are dropped once their queue of 256 frames is full)"
        )
    finally:
        await close_all(readers + slow)


async def run(quick: bool) -> Result:
    p = QUICK if quick else FULL
    result = Result(
        name="live_socket",
        title=f"live WebSocket: {p.clients} sockets on one API process, {p.rate} messages/s",
        params={
            "clients": p.clients,
            "broadcasts": p.broadcasts,
            "rate_per_s": p.rate,
            "rate_seconds": p.rate_seconds,
            "rate_readers": p.rate_clients,
            "rate_never_reading": p.slow_clients,
            "mode": "embedded (one process: hypercorn + hub)",
            "client": "websockets (asyncio), in the benchmark process",
        },
    )
    with tempfile.TemporaryDirectory(prefix="medianest-bench-live-") as tmp:
        workdir = Path(tmp)
        async with running(
            module_command("tests.benchmarks.live_hub", str(workdir)),
            name="live hub",
            log_path=workdir / "live-hub.log",
            stdin=asyncio.subprocess.PIPE,
        ) as child:
            assert child.process.stdout is not None
            try:
                line = await asyncio.wait_for(child.process.stdout.readline(), 120)
            except TimeoutError:
                raise child.failure("did not start in 120 s") from None
            if not line:
                raise child.failure("exited while starting")
            ready = json.loads(line)
            url = ready["url"].replace("http://", "ws://") + "/api/v1/live"
            hub = Hub(child)
            await broadcast(hub, result, url, ready["headers"], p)
            await asyncio.sleep(1.0)
            await sustained(hub, result, url, ready["headers"], p)
            await hub.ask({"cmd": "stats"})
    result.notes.append(
        "load average at the end (1, 5, 15 min): "
        + ", ".join(f"{load:.1f}" for load in os.getloadavg())
        + f" on {os.cpu_count()} CPUs; the clients share them with the hub"
    )
    return result
