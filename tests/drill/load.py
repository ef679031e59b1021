"""The drill's load: people signed in through the Plex simulator who search, read details,
list the library, sign in again now and then and request titles from Overseerr (an admin
approves pending requests, the simulated Overseerr makes some available), and WebSocket
subscribers on ``/api/v1/live``.

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
        self,
        scenario: str,
        method: str,
        path: str,
        *,
        fine: Callable[[httpx.Response], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """One exchange, recorded; ``fine`` says which 4xx answers are expected outcomes."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.recorder.add(scenario, type(exc).__name__, False)
            return None
        ok = response.status_code < 400 or (fine is not None and fine(response))
        self.recorder.add(scenario, str(response.status_code), ok)
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
class FiledRequest:
    """A request the load filed (201): the hub's id, Overseerr's id, who asked."""

    hub_id: int
    remote_id: str
    account: str
    kind: str
    tmdb_id: int


@dataclass
class RequestLedger:
    """What the load did with requests, to check against the hub and Overseerr at the end."""

    filed: dict[int, FiledRequest] = field(default_factory=dict)
    already: int = 0
    """409 already_requested / already_available: nothing new filed."""
    approved: set[int] = field(default_factory=set)
    made_available: set[str] = field(default_factory=set)
    """Overseerr ids the simulator's control marked available."""
    control_errors: int = 0
    open: bool = True
    """False once the closing checks start: no more requests, approvals or arrivals."""


@dataclass
class LoadTarget:
    """What the load needs to know about the drill's hub."""

    hub_url: str
    plex_control_url: str
    source: str
    item_ids: list[str] = field(default_factory=list)
    overseerr_control_url: str = ""
    requestable: list[tuple[str, int]] = field(default_factory=list)
    """(kind, TMDB id) of titles only Overseerr has: ``movie``/``show``."""
    requests: RequestLedger = field(default_factory=RequestLedger)


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


REQUESTERS = ("owner", "friend1", "friend2")
"""Accounts that request: the Plex owner (Overseerr's admin: approved at once), friend1
(an Overseerr user: pending) and friend2 (no Overseerr user: one is created the first time).
The managed user has no email, so Overseerr cannot have an account for them."""
ALREADY = ("already_requested", "already_available", "conflict")
"""409s that file nothing new: an open request on the hub, a title in a library, or one
Overseerr already has (a title it made available: the hub's request for it is closed)."""


def _code(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("code", ""))
    return ""


async def request(person: Person) -> None:
    """Request a title only Overseerr has; a 409 already requested/available files nothing."""
    ledger = person.drill.requests
    if person.account not in REQUESTERS or not ledger.open or not person.drill.requestable:
        return
    kind, tmdb_id = person.rng.choice(person.drill.requestable)
    response = await person.call(
        "request",
        "POST",
        "/api/v1/requests",
        json={"kind": kind, "tmdb_id": tmdb_id},
        fine=lambda r: r.status_code == 409 and _code(r) in ALREADY,
    )
    if response is None:
        return
    if response.status_code == 201:
        body = response.json()
        ledger.filed[body["id"]] = FiledRequest(
            body["id"], str(body["remote_id"]), person.account, kind, tmdb_id
        )
    elif response.status_code == 409 and _code(response) in ALREADY:
        ledger.already += 1


async def approve_pending(person: Person) -> None:
    """The owner approves a pending request now and then; Overseerr (its control) makes one
    approved title available, which it announces by webhook through HAProxy."""
    ledger = person.drill.requests
    if person.account != "owner" or not ledger.open:
        return
    listed = await person.call(
        "approve",
        "GET",
        "/api/v1/requests",
        params={"everyone": "true", "status": "pending", "limit": 5},
    )
    if listed is not None and listed.status_code == 200 and listed.json()["items"]:
        pending = person.rng.choice(listed.json()["items"])
        approved = await person.call(
            "approve",
            "POST",
            f"/api/v1/requests/{pending['id']}/approve",
            # Another replica's approval or a webhook may have got there first.
            fine=lambda r: r.status_code == 409 and _code(r) == "invalid_transition",
        )
        if approved is not None and approved.status_code == 200:
            ledger.approved.add(pending["id"])
    if person.rng.random() < 0.5 or not person.drill.overseerr_control_url:
        return
    processing = await person.call(
        "approve",
        "GET",
        "/api/v1/requests",
        params={"everyone": "true", "status": "processing", "limit": 5},
    )
    if processing is None or processing.status_code != 200 or not processing.json()["items"]:
        return
    chosen = person.rng.choice(processing.json()["items"])
    async with httpx.AsyncClient(timeout=10) as sim:
        try:
            made = await sim.post(
                f"{person.drill.overseerr_control_url}/requests/{chosen['remote_id']}/available"
            )
        except httpx.HTTPError:
            ledger.control_errors += 1
            return
    if made.status_code == 200:
        ledger.made_available.add(str(chosen["remote_id"]))
    else:
        ledger.control_errors += 1


SCENARIOS: list[tuple[Scenario, int]] = [
    (search, 4),
    (details, 4),
    (library, 2),
    (me, 1),
    (sign_in_again, 1),
    (request, 1),
    (approve_pending, 1),
]
"""Each scenario with its weight; a new feature's load is one more function here."""


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
