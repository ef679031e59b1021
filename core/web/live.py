"""Live updates: one authenticated WebSocket, ``/api/v1/live``, on the hub's own origin.

A page opens the socket and subscribes to topics; every event carries its topic's sequence
id, and a client that comes back says the last id it saw of each topic (``since``)::

    → {"type": "subscribe", "topics": ["sync", "me"], "since": {"me": 41}}
    ← {"type": "subscribed", "topics": ["sync", "me"], "ids": {"sync": 7, "me": 43}}
    ← {"type": "event", "topic": "me", "id": 42, "data": {...}}     (missed, replayed)
    ← {"type": "event", "topic": "me", "id": 43, "data": {...}}
    ← {"type": "event", "topic": "sync", "id": 8, "data": {"run": {...}}}   (live)
    → {"type": "unsubscribe", "topics": ["sync"]}
    ← {"type": "unsubscribed", "topics": ["sync"]}

``ids`` in ``subscribed`` is where each topic stands: the replay brings a ``since`` topic up
to it, and live events follow with the next ids, without duplicates or gaps at the seam.
When the topic's bounded history no longer holds everything after ``since`` (or ``since``
is beyond the topic's last id: the history was reset), the replay is a single
``{"type": "gap", "topic": ..., "id": <latest>}``: the page reloads its state and goes on
from ``id``.

Topics (:data:`TOPICS`, and the plugins' ``register_live_topics``) and who may subscribe:

- ``sync``: library sync progress, after every batch and at the end of a run (``run_syncs``);
- ``health``: a live source's search circuit opening or closing (``manage_settings``);
- ``requests``: media requests changing (``manage_requests``);
- ``me``: anything published for the signed-in person (:func:`person_channel`); its
  history is the person's own.

Each topic is a channel of the shared pub/sub (in-process in embedded mode, Redis in scaled
mode) whose messages are numbered and kept in a bounded history
(:mod:`medianest.core.state.history`), so a message published by any replica or worker
reaches every subscriber on every replica, and a replica restart loses nothing. A replica
subscribes to a channel once, however many sockets follow it, and fans the messages out
itself; a jump in the ids (its subscription was cut for a while) is filled from the history.

The socket authenticates with the session cookie (browsers: the ``Origin`` must be the
hub's), a bearer token or API key, or a ticket (``?ticket=``, from ``POST
/api/v1/live/ticket``, see :mod:`medianest.core.web.live_tickets`: no ``Origin`` needed). The
answer is a close code a page can act on rather than an HTTP refusal:

- :data:`CLOSE_FORBIDDEN_ORIGIN` (4403): opened from another origin (an ``Origin`` that is
  not the hub's), or with the session cookie and no ``Origin`` at all;
- :data:`CLOSE_UNAUTHENTICATED` (4401): no valid session, API key or ticket (unknown, spent,
  expired, or its person deactivated), or the session ended (revoked, signed out, the
  person deactivated) while the socket was open;
- :data:`CLOSE_TOO_SLOW` (4408): the client did not read its messages fast enough (more than
  ``queue_size`` waiting), or this replica lost its subscription; it should reconnect.

A replica that drains before it stops (SIGTERM) closes its sockets with
:data:`CLOSE_SERVICE_RESTART` (1012): reconnect at once, another replica answers.

Bad frames get an error frame and the socket stays open: ``{"type": "error", "code":
"unknown_topic", "topic": "x", "message": ...}``, ``forbidden`` (naming the permission),
``bad_frame``. A person who loses a topic's permission while subscribed gets ``forbidden``
for it and stops receiving it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, Field
from quart import Blueprint, Quart, current_app, g, websocket
from quart_schema import hide, tag, validate_response

from medianest.core.auth.errors import InvalidCredentialsError
from medianest.core.auth.principals import principal_for
from medianest.core.db.models import ApiKey, User
from medianest.core.events import person_channel
from medianest.core.state import HistoryRead, Sequenced, SequencedPubSub
from medianest.core.web import context
from medianest.core.web.guard import websocket_origin_allowed
from medianest.core.web.live_tickets import (
    TICKET_SECONDS,
    MemoryTicketStore,
    RedisTicketStore,
    Ticket,
    TicketStore,
    issue,
    spend,
)
from medianest.core.web.session_cookies import ACCESS_COOKIE
from medianest.sdk.access import Permission, public, signed_in
from medianest.sdk.errors import PluginError
from medianest.sdk.events import (
    CORE_CHANNELS,
    HEALTH_CHANNEL,
    REQUESTS_CHANNEL,
    SYNC_PROGRESS_CHANNEL,
    LiveTopic,
)
from medianest.sdk.models import Principal
from medianest.sdk.services import PubSub
from medianest.sdk.web import current_principal

if TYPE_CHECKING:
    from medianest.core.hub import Hub

log = structlog.get_logger(__name__)

LIVE_PATH = "/api/v1/live"
TICKET_PATH = "/api/v1/live/ticket"
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012
_CLOSE_REASONS = {
    CLOSE_UNAUTHENTICATED: "session ended",
    CLOSE_TOO_SLOW: "too slow",
    CLOSE_GOING_AWAY: "the hub is stopping",
    CLOSE_SERVICE_RESTART: "this replica is restarting; reconnect",
}
EXTENSION = "medianest.live"
MAX_FRAME_BYTES = 4096
MAX_TOPICS_PER_FRAME = 16
_PLUGIN_TOPIC = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9._-]{0,63}$")
_PLUGIN_CHANNEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Topic:
    """What a page may subscribe to: the channel it reads for a person, and who may."""

    name: str
    channel: Callable[[Principal], str]
    permission: Permission | None
    description: str


TOPICS: dict[str, Topic] = {
    topic.name: topic
    for topic in (
        Topic(
            "sync", lambda _: SYNC_PROGRESS_CHANNEL, Permission.RUN_SYNCS, "library sync progress"
        ),
        Topic(
            "health",
            lambda _: HEALTH_CHANNEL,
            Permission.MANAGE_SETTINGS,
            "live sources' circuits opening and closing",
        ),
        Topic(
            "requests",
            lambda _: REQUESTS_CHANNEL,
            Permission.MANAGE_REQUESTS,
            "media requests created, decided and fulfilled",
        ),
        Topic("me", lambda p: person_channel(p.user_id), None, "what is published for you"),
    )
}
"""Core's topics; plugins add theirs with ``register_live_topics``."""


def plugin_topics(hub: Hub) -> list[Topic]:
    """The topics plugins declare (``register_live_topics``), checked.

    :raises PluginError: a topic is not a ``LiveTopic``, is not named ``<key>.<topic>``, reads
        a core channel or an invalid one, or is declared twice.
    """
    topics: dict[str, Topic] = {}
    for info, declared in hub.host.collect("register_live_topics", hub=hub):
        if not isinstance(declared, LiveTopic):
            raise PluginError(
                f"plugin {info.origin} returned {type(declared).__name__} from "
                "register_live_topics; expected medianest.sdk.LiveTopic",
                plugin=info.key,
            )
        name, channel = declared.name, declared.channel
        if not _PLUGIN_TOPIC.match(name) or not name.startswith(f"{info.key}."):
            raise PluginError(
                f"plugin {info.origin} declares a live topic {name!r}; topic names look like "
                f"'{info.key}.<topic>' (lower-case letters, digits, '.', '_', '-')",
                plugin=info.key,
            )
        if channel in CORE_CHANNELS or not _PLUGIN_CHANNEL.match(channel):
            raise PluginError(
                f"plugin {info.origin} declares live topic {name!r} on channel {channel!r}: "
                + (
                    "that channel belongs to core"
                    if channel in CORE_CHANNELS
                    else "channel names are lower-case letters, digits, '.', '_' and '-'"
                ),
                plugin=info.key,
            )
        if name in topics or name in TOPICS:
            raise PluginError(
                f"duplicate live topic {name!r} declared by plugin {info.origin}",
                plugin=info.key,
            )
        topics[name] = Topic(
            name,
            lambda _, channel=channel: channel,  # type: ignore[misc]
            declared.permission,
            declared.description,
        )
    return list(topics.values())


REPLAY_ROOM = 2000
"""Frames a socket may have waiting beyond ``queue_size`` because of replays; a replay that
would not fit is replaced by a gap frame (the page reloads that topic instead)."""


@dataclass(eq=False)
class _Client:
    """One open socket's outgoing queue; ``too_slow`` is set when it overflows.

    The queue holds at most ``limit`` frames, plus the replayed frames still waiting
    (``replayed``, at most :data:`REPLAY_ROOM`).
    """

    queue: asyncio.Queue[str]
    limit: int
    too_slow: asyncio.Event = field(default_factory=asyncio.Event)
    replayed: int = 0

    def offer(self, frame: str) -> None:
        if self.too_slow.is_set():
            return
        if self.queue.qsize() >= self.limit + self.replayed:
            self.too_slow.set()
            return
        self.queue.put_nowait(frame)

    def replay(self, frames: list[str]) -> bool:
        """Queue ``frames`` beyond the usual limit; false when they do not fit."""
        if self.queue.qsize() + len(frames) > self.limit + REPLAY_ROOM:
            return False
        self.replayed = min(REPLAY_ROOM, self.replayed + len(frames))
        for frame in frames:
            self.queue.put_nowait(frame)
        return True

    def sent(self) -> None:
        """One frame left the queue."""
        if self.replayed:
            self.replayed -= 1


@dataclass(eq=False)
class _Follower:
    """A socket following a channel as ``topic``: the last id it was given, and the messages
    held back while it joins (``None`` once it follows live)."""

    topic: str
    cursor: int = 0
    held: list[Sequenced] | None = field(default_factory=list)
    gap: bool = False
    """Messages were lost while it joined: it gets a gap frame after its replay."""


@dataclass(eq=False)
class _Feed:
    """One pub/sub subscription of this replica and the local sockets that follow it."""

    channel: str
    clients: dict[_Client, _Follower] = field(default_factory=dict)
    ready: asyncio.Future[None] | None = None
    task: asyncio.Task[None] | None = None
    last_id: int | None = None
    """The last id the subscription delivered (a jump means messages were missed)."""


@dataclass(frozen=True, slots=True)
class Join:
    """A socket joining a channel (:meth:`LiveBroker.attach`): where the topic stands, and
    what to send it before the live messages (the replay, or a gap)."""

    channel: str
    client: _Client
    topic: str
    last_id: int
    frames: list[str]


class LiveBroker:
    """This replica's subscriptions to live channels, shared by its sockets.

    :param pubsub: gives the shared pub/sub when the first socket subscribes (the hub's
        exists only once it started); it must number its messages and keep a history
        (:class:`~medianest.core.state.history.SequencedPubSub`).
    :param queue_size: frames a socket may have waiting before it is dropped as too slow.
    :param recheck_seconds: how often an open socket checks that its session or API key is
        still valid (and what it may still follow).
    :param topics: the topics sockets may follow (core's :data:`TOPICS` by default).
    :param tickets: gives where tickets wait to be spent.
    """

    def __init__(
        self,
        pubsub: Callable[[], PubSub],
        *,
        queue_size: int = 256,
        recheck_seconds: float = 30.0,
        topics: Iterable[Topic] | None = None,
        tickets: Callable[[], TicketStore] | None = None,
    ) -> None:
        self._pubsub = pubsub
        self.queue_size = queue_size
        self.recheck_seconds = recheck_seconds
        self.topics: dict[str, Topic] = {t.name: t for t in (topics or TOPICS.values())}
        memory_tickets = MemoryTicketStore()
        self.tickets: Callable[[], TicketStore] = tickets or (lambda: memory_tickets)
        self._feeds: dict[str, _Feed] = {}
        self.closing = asyncio.Event()
        """Set when the app stops: open sockets close with :attr:`close_code`."""
        self.close_code = CLOSE_GOING_AWAY
        """1001 (going away) when the app stops, 1012 (service restart) when it drains."""

    def client(self) -> _Client:
        """A new socket's outgoing queue."""
        return _Client(asyncio.Queue(), self.queue_size)

    def channels(self) -> list[str]:
        """The channels this replica follows now (for tests and diagnostics)."""
        return sorted(self._feeds)

    def stats(self) -> dict[str, int]:
        """How much this replica holds now: channels followed, sockets following them, and
        frames waiting in their queues (for diagnostics and benchmarks)."""
        clients = {client for feed in self._feeds.values() for client in feed.clients}
        return {
            "channels": len(self._feeds),
            "sockets": len(clients),
            "queued": sum(client.queue.qsize() for client in clients),
            "held": sum(
                len(f.held or ()) for feed in self._feeds.values() for f in feed.clients.values()
            ),
        }

    def cursor(self, channel: str, client: _Client) -> int | None:
        """The last id ``client`` was given on ``channel``; ``None`` when not following it."""
        feed = self._feeds.get(channel)
        follower = None if feed is None else feed.clients.get(client)
        return None if follower is None else follower.cursor

    def _history(self) -> SequencedPubSub:
        pubsub = self._pubsub()
        if not isinstance(pubsub, SequencedPubSub):
            raise TypeError(f"live updates need a pub/sub with sequence ids, not {pubsub!r}")
        return pubsub

    async def attach(
        self, channel: str, client: _Client, topic: str, *, since: int | None = None
    ) -> Join:
        """Follow ``channel`` for ``client`` as events of ``topic``, once the pub/sub
        confirmed the subscription; live messages are held back until :meth:`start`.

        :param since: the last id the client saw: what followed it is in the join's frames
            (or a gap frame when the history no longer holds all of it).
        :raises StateUnavailableError: the pub/sub cannot be reached.
        """
        history = self._history()
        feed = self._feeds.get(channel)
        if feed is None:
            feed = self._feeds[channel] = _Feed(channel)
            feed.ready = asyncio.get_running_loop().create_future()
            feed.task = asyncio.create_task(self._follow(feed), name=f"live:{channel}")
        follower = feed.clients[client] = _Follower(topic)
        try:
            assert feed.ready is not None
            await asyncio.shield(feed.ready)
            read = await history.history(channel, since)
        except BaseException:
            self.detach(channel, client)
            raise
        follower.cursor = read.last_id
        return Join(channel, client, topic, read.last_id, _replay(topic, since, read))

    def start(self, join: Join) -> None:
        """Send ``join``'s replay, then what arrived meanwhile, then live messages (a gap
        frame instead of a replay that does not fit in the socket's queue)."""
        if not join.client.replay(join.frames):
            join.client.offer(_frame("gap", topic=join.topic, id=join.last_id))
        feed = self._feeds.get(join.channel)
        follower = None if feed is None else feed.clients.get(join.client)
        if follower is None or follower.held is None:
            return
        held, follower.held = follower.held, None
        if follower.gap:
            join.client.offer(_frame("gap", topic=join.topic, id=follower.cursor))
        for entry in held:
            self._deliver_one(join.client, follower, entry, {})

    def detach(self, channel: str, client: _Client) -> None:
        """Stop delivering ``channel`` to ``client``; the last one out ends the subscription."""
        feed = self._feeds.get(channel)
        if feed is None:
            return
        feed.clients.pop(client, None)
        if not feed.clients:
            del self._feeds[channel]
            if feed.task is not None:
                feed.task.cancel()

    def drain(self) -> None:
        """Close every open socket with 1012 (service restart): their pages reconnect at once
        and reach another replica. Later sockets are closed the same way."""
        self.close_code = CLOSE_SERVICE_RESTART
        self.closing.set()

    async def close(self) -> None:
        """Close every open socket (1001) and end every subscription of this replica."""
        self.closing.set()
        feeds, self._feeds = list(self._feeds.values()), {}
        tasks = [feed.task for feed in feeds if feed.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, feed: _Feed) -> None:
        assert feed.ready is not None
        try:
            history = self._history()
            async with history.subscribe_sequenced(feed.channel) as messages:
                feed.ready.set_result(None)
                async for entry in messages:
                    await self._received(history, feed, entry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live channel lost", channel=feed.channel, error=str(exc))
            if not feed.ready.done():
                feed.ready.set_exception(exc)
                feed.ready.exception()  # retrieved here; attach() re-raises it
        finally:
            if not feed.ready.done():
                feed.ready.cancel()
            if self._feeds.get(feed.channel) is feed:  # ended on its own: followers re-attach
                del self._feeds[feed.channel]
                for client in feed.clients:
                    client.too_slow.set()

    async def _received(self, history: SequencedPubSub, feed: _Feed, entry: Sequenced) -> None:
        previous, feed.last_id = feed.last_id, entry.id or feed.last_id
        if entry.id and previous is not None:
            if entry.id <= previous:  # the ids started again: the history was reset
                log.warning("live channel history reset", channel=feed.channel)
                self._gap(feed, entry.id - 1)
            elif entry.id > previous + 1:  # this replica missed some: fill them in
                await self._fill(history, feed, previous)
        self._deliver(feed, entry)

    async def _fill(self, history: SequencedPubSub, feed: _Feed, after: int) -> None:
        try:
            read = await history.history(feed.channel, after)
        except Exception as exc:
            log.warning("live channel history unreadable", channel=feed.channel, error=str(exc))
            read = HistoryRead([], after, False)
        log.info("live channel caught up", channel=feed.channel, missed=len(read.entries))
        if not read.complete:
            self._gap(feed, read.last_id)
        for missed in read.entries:
            self._deliver(feed, missed)

    def _gap(self, feed: _Feed, last_id: int) -> None:
        for client, follower in list(feed.clients.items()):
            if follower.held is not None:
                follower.held.clear()
                follower.cursor, follower.gap = last_id, True
                continue
            follower.cursor = last_id
            client.offer(_frame("gap", topic=follower.topic, id=last_id))

    def _deliver(self, feed: _Feed, entry: Sequenced) -> None:
        frames: dict[str, str] = {}
        for client, follower in list(feed.clients.items()):
            if follower.held is not None:
                follower.held.append(entry)
                if len(follower.held) > self.queue_size:
                    client.too_slow.set()
                continue
            self._deliver_one(client, follower, entry, frames)

    @staticmethod
    def _deliver_one(
        client: _Client, follower: _Follower, entry: Sequenced, frames: dict[str, str]
    ) -> None:
        if entry.id:
            if entry.id <= follower.cursor:
                return  # given already (replayed, or filled in)
            follower.cursor = entry.id
        frame = frames.get(follower.topic)
        if frame is None:
            frame = frames[follower.topic] = _event(follower.topic, entry)
        client.offer(frame)


def _replay(topic: str, since: int | None, read: HistoryRead) -> list[str]:
    if since is None:
        return []
    if not read.complete:
        return [_frame("gap", topic=topic, id=read.last_id)]
    return [_event(topic, entry) for entry in read.entries]


def _event(topic: str, entry: Sequenced) -> str:
    if not entry.id:
        return _frame("event", topic=topic, data=entry.message)
    return _frame("event", topic=topic, id=entry.id, data=entry.message)


def _frame(kind: str, **members: Any) -> str:
    return json.dumps({"type": kind, **members}, separators=(",", ":"))


def broker_of(app: Quart) -> LiveBroker:
    """The live broker of ``app`` (see :func:`install_live`)."""
    broker: LiveBroker = app.extensions[EXTENSION]
    return broker


def install_live(app: Quart, hub: Hub, *, queue_size: int = 256) -> None:
    """Serve ``/api/v1/live`` (and its tickets) on ``app`` from a broker over ``hub``'s
    pub/sub, with core's topics and the plugins'.

    :raises PluginError: a plugin declared a live topic wrongly.
    """
    memory_tickets = MemoryTicketStore()
    redis_tickets: list[RedisTicketStore] = []

    def tickets() -> TicketStore:
        client = hub.state.redis
        if client is None:
            return memory_tickets
        if not redis_tickets:
            redis_tickets.append(RedisTicketStore(client))
        return redis_tickets[0]

    broker = LiveBroker(
        lambda: hub.pubsub,
        queue_size=queue_size,
        topics=[*TOPICS.values(), *plugin_topics(hub)],
        tickets=tickets,
    )
    app.extensions[EXTENSION] = broker
    app.register_blueprint(blueprint)

    @app.after_serving
    async def close_live() -> None:
        await broker.close()


blueprint = Blueprint("live", __name__)


class LiveTicket(BaseModel):
    """A ticket opening the live socket once."""

    ticket: str = Field(description="pass as the `ticket` query parameter of the socket")
    expires_in: int = Field(description="seconds left to open the socket with it")
    url: str = Field(description="the socket's path with the ticket, e.g. /api/v1/live?ticket=…")


@blueprint.post(TICKET_PATH)
@signed_in(api_keys=True)
@tag(["live"])
@validate_response(LiveTicket, 201)
async def live_ticket() -> tuple[LiveTicket, int, dict[str, str]]:
    """A single-use ticket, valid for 30 s, to open the live socket (`/api/v1/live?ticket=…`)
    without headers or cookies, e.g. from a program; it carries the caller's permissions and
    is checked again against the person when the socket opens."""
    principal = current_principal()
    if principal is None:  # the guard lets only signed-in callers through
        raise InvalidCredentialsError("no credentials")
    broker = broker_of(current_app)
    by_key = g.get("authenticated_by") == "api_key"
    ticket = Ticket(
        user_id=principal.user_id,
        permissions=sorted(principal.permissions),
        session_id=None if by_key else g.get("session_id"),
        api_key_id=g.get("api_key_id") if by_key else None,
    )
    value = await issue(broker.tickets(), ticket)
    body = LiveTicket(ticket=value, expires_in=TICKET_SECONDS, url=f"{LIVE_PATH}?ticket={value}")
    return body, 201, {"Cache-Control": "no-store"}


@blueprint.websocket(LIVE_PATH)
@hide
@public
async def live_updates() -> None:
    """The live-updates socket (see the module's docstring for the protocol)."""
    hub = context.hub()
    if "ticket" in websocket.args:
        await _by_ticket(hub, websocket.args.get("ticket", ""))
        return
    origin_given = "Origin" in websocket.headers
    by_cookie = websocket.headers.get("Authorization") is None and bool(
        websocket.cookies.get(ACCESS_COOKIE)
    )
    if (origin_given or by_cookie) and not websocket_origin_allowed(hub, websocket):
        await _refuse(CLOSE_FORBIDDEN_ORIGIN, "open this socket from the hub's own pages")
        return
    principal: Principal | None = g.get("principal")
    if principal is None:
        await _refuse(CLOSE_UNAUTHENTICATED, "sign in first")
        return
    session_id = g.get("session_id")
    key_id = g.get("api_key_id") if g.get("authenticated_by") == "api_key" else None
    await websocket.accept()
    recheck = _rechecker(hub, principal.user_id, session_id=session_id, key_id=key_id)
    await _Session(hub, principal, recheck=recheck).run()


async def _by_ticket(hub: Hub, value: str) -> None:
    """Open the socket for the ticket ``value`` (spent now), or close it 4401."""
    broker = broker_of(current_app)
    try:
        ticket = await spend(broker.tickets(), value)
    except Exception as exc:
        log.warning("live ticket unreadable", error=str(exc))
        ticket = None
    if ticket is None:
        await _refuse(CLOSE_UNAUTHENTICATED, "unknown, used or expired ticket")
        return
    recheck = _rechecker(
        hub,
        ticket.user_id,
        session_id=ticket.session_id,
        key_id=ticket.api_key_id,
        scopes=ticket.permissions,
    )
    principal = await recheck()
    if principal is None:
        await _refuse(CLOSE_UNAUTHENTICATED, "the ticket's session or person is no longer valid")
        return
    await websocket.accept()
    await _Session(hub, principal, recheck=recheck).run()


async def _refuse(code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason)


def _rechecker(
    hub: Hub,
    user_id: int,
    *,
    session_id: str | None,
    key_id: int | None,
    scopes: list[str] | None = None,
) -> Callable[[], Any]:
    """A coroutine function giving the caller's principal as it stands now (never holding
    more than ``scopes`` when given), or ``None`` when its session or API key is no longer
    valid or its person was deactivated."""

    def limited(principal: Principal) -> Principal:
        if scopes is None:
            return principal
        allowed = principal.permissions & frozenset(scopes)
        role = principal.role if allowed == principal.permissions else "user"
        return Principal(
            user_id=principal.user_id,
            username=principal.username,
            role=role,
            permissions=allowed,
            email=principal.email,
            identities=principal.identities,
        )

    async def recheck() -> Principal | None:
        if key_id is not None:
            key = await ApiKey.get_or_none(id=key_id).prefetch_related("user")
            now = datetime.now(UTC)
            if key is None or key.revoked_at is not None or not key.user.is_active:
                return None
            if key.user.id != user_id:
                return None
            if key.expires_at is not None and key.expires_at <= now:
                return None
            return limited(principal_for(key.user, scopes=key.permissions))
        if session_id is None:
            user = await User.get_or_none(id=user_id)
            if user is None or not user.is_active:
                return None
            return limited(principal_for(user))
        if await hub.sessions.is_revoked(session_id):
            return None
        state = await hub.sessions.users.session(session_id)
        if state is None or state.user_id != user_id or not state.is_live(datetime.now(UTC)):
            return None
        cached = await hub.sessions.users.get(user_id)
        if cached is None or not cached.is_active:
            return None
        return limited(principal_for(cached))

    return recheck


class _Session:
    """One open socket: reads frames, follows topics, writes events."""

    def __init__(self, hub: Hub, principal: Principal, *, recheck: Callable[[], Any]) -> None:
        self.hub = hub
        self.principal = principal
        self.broker = broker_of(current_app)
        self.client = self.broker.client()
        self.topics: dict[str, str] = {}  # topic → channel
        self._recheck = recheck

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._watch_slow()),
            asyncio.create_task(self._watch_session()),
            asyncio.create_task(self._watch_closing()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                code = task.result()
                if code is not None:
                    with contextlib.suppress(Exception):
                        await websocket.close(code, _CLOSE_REASONS.get(code, ""))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for channel in self.topics.values():
                self.broker.detach(channel, self.client)
            self.topics.clear()

    async def _write(self) -> None:
        while True:
            await websocket.send(await self.client.queue.get())
            self.client.sent()

    async def _watch_slow(self) -> int:
        await self.client.too_slow.wait()
        log.info("live socket dropped: too slow", user_id=self.principal.user_id)
        return CLOSE_TOO_SLOW

    async def _watch_closing(self) -> int:
        await self.broker.closing.wait()
        return self.broker.close_code

    async def _watch_session(self) -> int:
        while True:
            await asyncio.sleep(self.broker.recheck_seconds)
            principal = await self._recheck()
            if principal is None:
                return CLOSE_UNAUTHENTICATED
            self.principal = principal
            for name in list(self.topics):
                permission = self.broker.topics[name].permission
                if permission is not None and not principal.has(permission):
                    self.broker.detach(self.topics.pop(name), self.client)
                    self._send(_forbidden(name, permission))

    async def _read(self) -> None:
        while True:
            raw = await websocket.receive()
            await self._handle(raw)

    async def _handle(self, raw: str | bytes) -> None:
        if len(raw) > MAX_FRAME_BYTES:
            self._send(_error("bad_frame", f"a frame may be at most {MAX_FRAME_BYTES} bytes"))
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            self._send(_error("bad_frame", "a frame must be a JSON object"))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        topics = frame.get("topics") if isinstance(frame, dict) else None
        if kind not in ("subscribe", "unsubscribe"):
            self._send(_error("bad_frame", 'type must be "subscribe" or "unsubscribe"'))
            return
        if (
            not isinstance(topics, list)
            or not topics
            or len(topics) > MAX_TOPICS_PER_FRAME
            or not all(isinstance(t, str) for t in topics)
        ):
            self._send(
                _error(
                    "bad_frame",
                    f"topics must be a list of 1 to {MAX_TOPICS_PER_FRAME} topic names",
                )
            )
            return
        if kind == "unsubscribe":
            self._unsubscribe(topics)
            return
        since = _since(frame.get("since"), topics)
        if isinstance(since, str):
            self._send(_error("bad_frame", since))
            return
        await self._subscribe(topics, since)

    async def _subscribe(self, names: list[str], since: dict[str, int]) -> None:
        done: list[str] = []
        joins: list[Join] = []
        for name in dict.fromkeys(names):
            topic = self.broker.topics.get(name)
            if topic is None:
                shown = name[:100]
                self._send(
                    _error(
                        "unknown_topic",
                        f"unknown topic {shown!r} (known: {', '.join(self.broker.topics)})",
                        topic=shown,
                    )
                )
                continue
            if topic.permission is not None and not self.principal.has(topic.permission):
                self._send(_forbidden(name, topic.permission))
                continue
            if name not in self.topics:
                channel = topic.channel(self.principal)
                try:
                    join = await self.broker.attach(
                        channel, self.client, name, since=since.get(name)
                    )
                except Exception as exc:
                    log.warning("live subscription failed", topic=name, error=str(exc))
                    self._send(
                        _error("unavailable", f"topic {name} cannot be followed now", topic=name)
                    )
                    continue
                self.topics[name] = channel
                joins.append(join)
            done.append(name)
        if done:
            ids = {name: self.broker.cursor(self.topics[name], self.client) or 0 for name in done}
            self._send(_frame("subscribed", topics=done, ids=ids))
        for join in joins:  # replays and held messages after "subscribed", in one go
            self.broker.start(join)

    def _unsubscribe(self, names: list[str]) -> None:
        done = []
        for name in dict.fromkeys(names):
            channel = self.topics.pop(name, None)
            if channel is not None:
                self.broker.detach(channel, self.client)
                done.append(name)
        self._send(_frame("unsubscribed", topics=done))

    def _send(self, frame: str) -> None:
        self.client.offer(frame)


def _since(raw: Any, topics: list[str]) -> dict[str, int] | str:
    """The ``since`` member of a subscribe frame, or what is wrong with it."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return "since must be an object mapping topic names to the last id seen"
    since: dict[str, int] = {}
    for name, value in raw.items():
        shown = str(name)[:100]
        if name not in topics:
            return f"since names {shown!r}, which is not one of the topics subscribed to"
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            return f"since[{shown!r}] must be the last id seen, a whole number of 0 or more"
        since[name] = value
    return since


def _error(code: str, message: str, **members: Any) -> str:
    return _frame("error", code=code, message=message, **members)


def _forbidden(topic: str, permission: Permission) -> str:
    return _error(
        "forbidden",
        f"topic {topic} needs the {permission} permission",
        topic=topic,
        permission=str(permission),
    )
