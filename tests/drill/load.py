"""The drill's load: people signed in through the Plex simulator who search, read details and
list the library, sign in again now and then, and WebSocket subscribers on ``/api/v1/live``.

The load is a list of scenarios, each one async function of a :class:`Person`; a new feature
(requests, notifications) joins the load by adding one function to :data:`SCENARIOS`.
Every HTTP answer (or failure to get one) is recorded with its time, so a phase can count its
requests, errors by status and its longest gap without a successful answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

SEARCH_WORDS = ["the", "love", "night", "man", "star", "day", "war", "home", "blue", "city"]


@dataclass(frozen=True)
class Outcome:
    """One HTTP exchange: when it ended, what it was, its status (or the transport error)."""

    at: float
    scenario: str
    status: str
    ok: bool


@dataclass
class Recorder:
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, scenario: str, status: str, ok: bool) -> None:
        self.outcomes.append(Outcome(time.monotonic(), scenario, status, ok))


class Person:
    """A signed-in person of the load, with their own HTTP client (through HAProxy)."""

    def __init__(self, drill: LoadTarget, account: str, recorder: Recorder) -> None:
        self.drill = drill
        self.account = account
        self.recorder = recorder
        self.client = httpx.AsyncClient(base_url=drill.hub_url, timeout=30)
        self.token = ""
        self.rng = random.Random(account)

    async def call(
        self, scenario: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.recorder.add(scenario, type(exc).__name__, False)
            return None
        self.recorder.add(scenario, str(response.status_code), response.status_code < 400)
        return response

    async def sign_in(self, scenario: str = "sign_in") -> bool:
        """The Plex sign-in: start, approve the PIN at the simulated plex.tv, poll."""
        api = "/api/v1/auth/providers/plex"
        started = await self.call(scenario, "POST", f"{api}/start", json={})
        if started is None or started.status_code != 200:
            return False
        challenge = started.json()
        code = parse_qs(urlsplit(challenge["url"]).fragment.lstrip("?")).get("code", [""])[0]
        control = self.drill.plex_control_url
        async with httpx.AsyncClient(timeout=10) as sim:
            pins = (await sim.get(f"{control}/pins")).json()
            [pin] = [p for p in pins if p["code"] == code]
            approved = await sim.post(
                f"{control}/pins/{pin['id']}/approve", json={"account": self.account}
            )
            approved.raise_for_status()
        for _ in range(5):
            polled = await self.call(
                scenario, "POST", f"{api}/poll", json={"handle": challenge["handle"]}
            )
            if polled is not None and polled.status_code == 200:
                self.token = polled.json()["access_token"]
                return True
            await asyncio.sleep(0.2)
        return False

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class LoadTarget:
    """What the load needs to know about the drill's hub."""

    hub_url: str
    plex_control_url: str
    source: str
    item_ids: list[str] = field(default_factory=list)


Scenario = Callable[[Person], Awaitable[None]]


async def search(person: Person) -> None:
    word = person.rng.choice(SEARCH_WORDS)
    await person.call("search", "GET", "/api/v1/search", params={"q": word})


async def details(person: Person) -> None:
    item = person.rng.choice(person.drill.item_ids)
    await person.call("details", "GET", f"/api/v1/media/{person.drill.source}/{item}")


async def library(person: Person) -> None:
    await person.call("library", "GET", "/api/v1/library", params={"limit": 20})


async def me(person: Person) -> None:
    await person.call("me", "GET", "/api/v1/me")


async def sign_in_again(person: Person) -> None:
    await person.sign_in()


SCENARIOS: list[tuple[Scenario, int]] = [
    (search, 4),
    (details, 4),
    (library, 2),
    (me, 1),
    (sign_in_again, 1),
]
"""Each scenario with its weight; requests and notifications join here, one function each."""


async def person_loop(person: Person, stop: asyncio.Event, pause: float) -> None:
    functions = [f for f, _ in SCENARIOS]
    weights = [w for _, w in SCENARIOS]
    while not stop.is_set():
        scenario = person.rng.choices(functions, weights)[0]
        try:
            await scenario(person)
        except Exception as exc:
            person.recorder.add(scenario.__name__, f"drill:{type(exc).__name__}", False)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)


# -- WebSocket subscribers ---------------------------------------------------------------


@dataclass
class SocketLog:
    """What one subscriber saw: its connections and every event frame, with its times."""

    name: str
    connects: list[float] = field(default_factory=list)
    disconnects: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    """(time, connection number, data) of every ``event`` frame."""


async def _ws_session(
    url: str, token: str, topics: list[str], log: SocketLog, stop: asyncio.Event
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    ws = WSConnection(ConnectionType.CLIENT)
    writer.write(
        ws.send(
            Request(
                host=parts.netloc,
                target="/api/v1/live",
                extra_headers=[(b"authorization", f"Bearer {token}".encode())],
            )
        )
    )
    await writer.drain()
    subscribed = False
    text: list[str] = []
    connection = len(log.connects)
    try:
        while not stop.is_set():
            read = asyncio.ensure_future(reader.read(65536))
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({read, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                break
            stopping.cancel()
            data = read.result()
            if not data:
                log.disconnects.append((time.monotonic(), "eof"))
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    log.connects.append(time.monotonic())
                    connection = len(log.connects)
                    frame = json.dumps({"type": "subscribe", "topics": topics})
                    writer.write(ws.send(Message(data=frame)))
                elif isinstance(event, RejectConnection):
                    log.disconnects.append((time.monotonic(), f"rejected {event.status_code}"))
                    return
                elif isinstance(event, TextMessage):
                    text.append(event.data)
                    if event.message_finished:
                        frame = json.loads("".join(text))
                        text.clear()
                        if frame.get("type") == "subscribed":
                            subscribed = True
                        elif frame.get("type") == "event":
                            log.events.append((time.monotonic(), connection, frame))
                elif isinstance(event, Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    log.disconnects.append((time.monotonic(), f"close {event.code}"))
                    with contextlib.suppress(Exception):
                        writer.write(ws.send(event.response()))
                    return
            await writer.drain()
    finally:
        del subscribed
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def subscriber(
    url: str, token_of: Callable[[], str], topics: list[str], log: SocketLog, stop: asyncio.Event
) -> None:
    """Stay subscribed until ``stop``: reconnect at once whenever the socket ends."""
    while not stop.is_set():
        try:
            await _ws_session(url, token_of(), topics, log, stop)
        except (OSError, ValueError) as exc:
            log.disconnects.append((time.monotonic(), type(exc).__name__))
        if not stop.is_set():
            await asyncio.sleep(0.2)
