"""The users and sessions requests were authenticated as in the last moments, kept per process.

Every request with an access token needs its session (does it exist, is it live, whose is
it?) and its user (active? which role and permissions?), both as the database has them: the
database is the source of truth. Reading them each time is most of what a cheap request
costs, so each process keeps what it read for :data:`TTL_SECONDS`; a session not kept is read
together with its user in one indexed query (:meth:`UserCache.session`).

A change made through the hub (:meth:`UserCache.changed`: user administration, sign-in;
:meth:`UserCache.session_ended`: a revoked session) is announced on the pub/sub channel
:data:`USERS_CHANNEL`, and every replica forgets that user (with their sessions) or that
session at once, so it applies from the next request on. A change written to the database by
other means (or whose announcement was lost) applies within :data:`TTL_SECONDS`. Nothing kept
here outlives the process, so a restart or a lost shared cache reads every session again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from medianest.core.auth.linked import linked_identities
from medianest.core.db.models import Session, User
from medianest.sdk import events
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SessionState:
    """What access-token verification needs of a stored session."""

    user_id: int
    expires_at: datetime
    revoked: bool

    def is_live(self, now: datetime) -> bool:
        """Neither revoked nor past its end at ``now``."""
        return not self.revoked and self.expires_at > now


USERS_CHANNEL = events.USERS_CHANNEL
"""The pub/sub channel on which replicas announce changed users."""
TTL_SECONDS = 2.0
"""How long a loaded user or session is reused: the longest a change not announced takes to
apply."""
MAX_USERS = 10_000
"""Users (and, separately, sessions) kept at most; the least recently loaded are dropped first."""
_SUBSCRIBE_WAIT_SECONDS = 5.0
_RESUBSCRIBE_SECONDS = 1.0


class UserCache:
    """Users by id and sessions by id, each reused for :data:`TTL_SECONDS` after it was read
    (``hub.sessions.users``).

    The users handed out are shared between requests: read them, never change and save them.
    The hub's database must be current in the calling task.
    """

    def __init__(
        self,
        pubsub: PubSub,
        *,
        ttl: float = TTL_SECONDS,
        max_users: int = MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pubsub = pubsub
        self._ttl = ttl
        self._max_users = max_users
        self._clock = clock
        self._users: OrderedDict[int, tuple[float, User | None]] = OrderedDict()
        self._sessions: OrderedDict[str, tuple[float, SessionState | None]] = OrderedDict()
        self._identities: OrderedDict[int, tuple[float, dict[str, str]]] = OrderedDict()
        self._generation = 0
        self._listener: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._users)

    async def get(self, user_id: int) -> User | None:
        """The user ``user_id`` as read at most :data:`TTL_SECONDS` ago; ``None``: no such user."""
        now = self._clock()
        kept = self._users.get(user_id)
        if kept is not None and kept[0] > now:
            return kept[1]
        generation = self._generation
        user = await User.get_or_none(id=user_id)
        if generation == self._generation:  # no change was announced while we read
            self._keep(self._users, user_id, (now + self._ttl, user))
        return user

    async def session(self, session_id: str) -> SessionState | None:
        """The session ``session_id`` as read at most :data:`TTL_SECONDS` ago; ``None``: no
        such session. A session not kept is read with its user (kept too) in one query."""
        now = self._clock()
        kept = self._sessions.get(session_id)
        if kept is not None and kept[0] > now:
            return kept[1]
        generation = self._generation
        row = await Session.filter(id=session_id).select_related("user").first()
        state = None
        if row is not None:
            state = SessionState(row.user_id, row.expires_at, row.revoked_at is not None)
        if generation == self._generation:  # no change was announced while we read
            self._keep(self._sessions, session_id, (now + self._ttl, state))
            if row is not None:
                self._keep(self._users, row.user_id, (now + self._ttl, row.user))
        return state

    async def identities(self, user_id: int) -> dict[str, str]:
        """The linked identities of ``user_id`` (provider → account id), as read at most
        :data:`TTL_SECONDS` ago; what goes into the principal providers see."""
        now = self._clock()
        kept = self._identities.get(user_id)
        if kept is not None and kept[0] > now:
            return kept[1]
        generation = self._generation
        found = (await linked_identities([user_id])).get(user_id, {})
        if generation == self._generation:  # no change was announced while we read
            self._keep(self._identities, user_id, (now + self._ttl, found))
        return found

    def _keep(self, kept: OrderedDict[Any, Any], key: Any, entry: tuple[float, Any]) -> None:
        kept[key] = entry
        kept.move_to_end(key)
        while len(kept) > self._max_users:
            kept.popitem(last=False)

    def forget(self, user_id: int) -> None:
        """Read ``user_id`` and their sessions again on their next request, in this process."""
        self._generation += 1
        self._users.pop(user_id, None)
        self._identities.pop(user_id, None)
        for session_id in [k for k, (_, s) in self._sessions.items() if s and s.user_id == user_id]:
            del self._sessions[session_id]

    def forget_session(self, session_id: str) -> None:
        """Read ``session_id`` again on its next request, in this process."""
        self._generation += 1
        self._sessions.pop(session_id, None)

    async def changed(self, user_id: int) -> None:
        """``user_id`` was changed (or all their sessions ended): every replica reads the user
        and their sessions again on their next request."""
        self.forget(user_id)
        await self._announce({"user_id": user_id})

    async def session_ended(self, session_id: str) -> None:
        """``session_id`` was revoked: every replica reads it again on its next request."""
        self.forget_session(session_id)
        await self._announce({"session_id": session_id})

    async def _announce(self, message: dict[str, Any]) -> None:
        try:
            await self._pubsub.publish(USERS_CHANNEL, message)
        except Exception as exc:
            log.warning(
                "user or session change not announced",
                error=str(exc),
                note=f"other replicas see it within {self._ttl:g} s",
                **message,
            )

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen for changes announced by other replicas."""
        if self._listener is None:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready), name="user-cache")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), _SUBSCRIBE_WAIT_SECONDS)

    async def close(self) -> None:
        """Stop listening and forget every user; safe to call twice."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        self._clear()

    async def _listen(self, ready: asyncio.Event) -> None:
        failing = False
        while True:
            try:
                async with self._pubsub.subscribe(USERS_CHANNEL) as messages:
                    ready.set()
                    if failing:
                        log.info("user change listener recovered")
                        failing = False
                    async for message in messages:
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("user change listener failed", error=str(exc))
                    failing = True
            # Announcements may have been missed meanwhile.
            self._clear()
            ready.set()
            await asyncio.sleep(_RESUBSCRIBE_SECONDS)

    def _on_message(self, message: Any) -> None:
        user_id = message.get("user_id") if isinstance(message, dict) else None
        session_id = message.get("session_id") if isinstance(message, dict) else None
        if isinstance(user_id, int):
            self.forget(user_id)
        elif isinstance(session_id, str):
            self.forget_session(session_id)
        else:
            log.warning("unreadable user change ignored", message=repr(message)[:200])
            self._clear()

    def _clear(self) -> None:
        self._generation += 1
        self._users.clear()
        self._sessions.clear()
        self._identities.clear()
