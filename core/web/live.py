"""Live updates: one authenticated WebSocket, ``/api/v1/live``, on the hub's own origin.

A page opens the socket and subscribes to topics::

    → {"type": "subscribe", "topics": ["sync", "me"]}
    ← {"type": "subscribed", "topics": ["sync", "me"]}
    ← {"type": "event", "topic": "sync", "data": {"run": {...}}}
    → {"type": "unsubscribe", "topics": ["sync"]}
    ← {"type": "unsubscribed", "topics": ["sync"]}

Topics (:data:`TOPICS`) and who may subscribe:

- ``sync``: library sync progress, after every batch and at the end of a run (``run_syncs``);
- ``health``: a live source's search circuit opening or closing (``manage_settings``);
- ``me``: anything published for the signed-in person (:func:`person_channel`).

Each topic is a channel of the shared pub/sub (in-process in embedded mode, Redis in scaled
mode), so a message published by any replica or worker reaches every subscriber on every
replica. A replica subscribes to a channel once, however many sockets follow it, and fans
the messages out itself.

The handshake is checked like every route (see :mod:`medianest.core.web.guard`), but the
answer is a close code a page can act on rather than an HTTP refusal:

- :data:`CLOSE_FORBIDDEN_ORIGIN` (4403): opened from another origin (an ``Origin`` that is
  not the hub's), or with the session cookie and no ``Origin`` at all;
- :data:`CLOSE_UNAUTHENTICATED` (4401): no valid session or API key, or the session ended
  (revoked, signed out, the person deactivated) while the socket was open;
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from quart import Blueprint, Quart, current_app, g, websocket
from quart_schema import hide

from medianest.core.auth.principals import principal_for
from medianest.core.db.models import ApiKey
from medianest.core.web import context
from medianest.core.web.guard import websocket_origin_allowed
from medianest.core.web.session_cookies import ACCESS_COOKIE
from medianest.sdk.access import Permission, public
from medianest.sdk.events import HEALTH_CHANNEL, SYNC_PROGRESS_CHANNEL
from medianest.sdk.models import Principal
from medianest.sdk.services import PubSub

if TYPE_CHECKING:
    from medianest.core.hub import Hub

log = structlog.get_logger(__name__)

LIVE_PATH = "/api/v1/live"
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
PERSON_CHANNEL_PREFIX = "person:"
EXTENSION = "medianest.live"
MAX_FRAME_BYTES = 4096
MAX_TOPICS_PER_FRAME = 16


def person_channel(user_id: int) -> str:
    """The pub/sub channel of what is published for person ``user_id`` (topic ``me``)."""
    return f"{PERSON_CHANNEL_PREFIX}{user_id}"


async def publish_to_person(pubsub: PubSub, user_id: int, message: Any) -> None:
    """Send ``message`` to every open page of person ``user_id``, on every replica."""
    await pubsub.publish(person_channel(user_id), message)


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
        Topic("me", lambda p: person_channel(p.user_id), None, "what is published for you"),
    )
}


@dataclass(eq=False)
class _Client:
    """One open socket's outgoing queue; ``too_slow`` is set when it overflows."""

    queue: asyncio.Queue[str]
    too_slow: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, frame: str) -> None:
        if self.too_slow.is_set():
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.too_slow.set()


@dataclass(eq=False)
class _Feed:
    """One pub/sub subscription of this replica and the local sockets that follow it."""

    channel: str
    clients: dict[_Client, str] = field(default_factory=dict)
    ready: asyncio.Future[None] | None = None
    task: asyncio.Task[None] | None = None


class LiveBroker:
    """This replica's subscriptions to live channels, shared by its sockets.

    :param pubsub: gives the shared pub/sub when the first socket subscribes (the hub's
        exists only once it started).
    :param queue_size: frames a socket may have waiting before it is dropped as too slow.
    :param recheck_seconds: how often an open socket checks that its session or API key is
        still valid (and what it may still follow).
    """

    def __init__(
        self,
        pubsub: Callable[[], PubSub],
        *,
        queue_size: int = 256,
        recheck_seconds: float = 30.0,
    ) -> None:
        self._pubsub = pubsub
        self.queue_size = queue_size
        self.recheck_seconds = recheck_seconds
        self._feeds: dict[str, _Feed] = {}
        self.closing = asyncio.Event()
        """Set when the app stops: open sockets close with :attr:`close_code`."""
        self.close_code = CLOSE_GOING_AWAY
        """1001 (going away) when the app stops, 1012 (service restart) when it drains."""

    def client(self) -> _Client:
        """A new socket's outgoing queue."""
        return _Client(asyncio.Queue(maxsize=self.queue_size))

    def channels(self) -> list[str]:
        """The channels this replica follows now (for tests and diagnostics)."""
        return sorted(self._feeds)

    async def attach(self, channel: str, client: _Client, topic: str) -> None:
        """Deliver ``channel``'s messages to ``client`` as events of ``topic``; returns once
        the pub/sub confirmed the subscription.

        :raises StateUnavailableError: the pub/sub cannot be reached.
        """
        feed = self._feeds.get(channel)
        if feed is None:
            feed = self._feeds[channel] = _Feed(channel)
            feed.ready = asyncio.get_running_loop().create_future()
            feed.task = asyncio.create_task(self._follow(feed), name=f"live:{channel}")
        feed.clients[client] = topic
        try:
            assert feed.ready is not None
            await asyncio.shield(feed.ready)
        except BaseException:
            self.detach(channel, client)
            raise

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
            async with self._pubsub().subscribe(feed.channel) as messages:
                feed.ready.set_result(None)
                async for message in messages:
                    for client, topic in list(feed.clients.items()):
                        client.offer(_frame("event", topic=topic, data=message))
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


def _frame(kind: str, **members: Any) -> str:
    return json.dumps({"type": kind, **members}, separators=(",", ":"))


def broker_of(app: Quart) -> LiveBroker:
    """The live broker of ``app`` (see :func:`install_live`)."""
    broker: LiveBroker = app.extensions[EXTENSION]
    return broker


def install_live(app: Quart, hub: Hub, *, queue_size: int = 256) -> None:
    """Serve ``/api/v1/live`` on ``app`` from a broker over ``hub``'s pub/sub."""
    broker = LiveBroker(lambda: hub.pubsub, queue_size=queue_size)
    app.extensions[EXTENSION] = broker
    app.register_blueprint(blueprint)

    @app.after_serving
    async def close_live() -> None:
        await broker.close()


blueprint = Blueprint("live", __name__)


@blueprint.websocket(LIVE_PATH)
@hide
@public
async def live_updates() -> None:
    """The live-updates socket (see the module's docstring for the protocol)."""
    hub = context.hub()
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
    await websocket.accept()
    session = _Session(hub, principal, recheck=_rechecker(hub))
    await session.run()


async def _refuse(code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason)


def _rechecker(hub: Hub) -> Callable[[], Any]:
    """A coroutine function giving the caller's principal as it stands now, or ``None`` when
    its session or API key is no longer valid."""
    session_id = g.get("session_id")
    key_id = g.get("api_key_id") if g.get("authenticated_by") == "api_key" else None
    user_id = g.principal.user_id

    async def recheck() -> Principal | None:
        if key_id is not None:
            key = await ApiKey.get_or_none(id=key_id).prefetch_related("user")
            now = datetime.now(UTC)
            if key is None or key.revoked_at is not None or not key.user.is_active:
                return None
            if key.expires_at is not None and key.expires_at <= now:
                return None
            return principal_for(key.user, scopes=key.permissions)
        if session_id is None or await hub.sessions.is_revoked(session_id):
            return None
        state = await hub.sessions.users.session(session_id)
        if state is None or state.user_id != user_id or not state.is_live(datetime.now(UTC)):
            return None
        user = await hub.sessions.users.get(user_id)
        if user is None or not user.is_active:
            return None
        return principal_for(user)

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
                permission = TOPICS[name].permission
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
        if kind == "subscribe":
            await self._subscribe(topics)
        else:
            self._unsubscribe(topics)

    async def _subscribe(self, names: list[str]) -> None:
        done: list[str] = []
        for name in dict.fromkeys(names):
            topic = TOPICS.get(name)
            if topic is None:
                shown = name[:100]
                self._send(
                    _error(
                        "unknown_topic",
                        f"unknown topic {shown!r} (known: {', '.join(TOPICS)})",
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
                    await self.broker.attach(channel, self.client, name)
                except Exception as exc:
                    log.warning("live subscription failed", topic=name, error=str(exc))
                    self._send(
                        _error("unavailable", f"topic {name} cannot be followed now", topic=name)
                    )
                    continue
                self.topics[name] = channel
            done.append(name)
        if done:
            self._send(_frame("subscribed", topics=done))

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


def _error(code: str, message: str, **members: Any) -> str:
    return _frame("error", code=code, message=message, **members)


def _forbidden(topic: str, permission: Permission) -> str:
    return _error(
        "forbidden",
        f"topic {topic} needs the {permission} permission",
        topic=topic,
        permission=str(permission),
    )
