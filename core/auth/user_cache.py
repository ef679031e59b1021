"""The users requests were authenticated as in the last moments, kept per process.

Every authenticated request needs its user (active? which role and permissions?). Reading it
from the database each time is most of what a cheap request costs, so each process keeps the
users it loaded for :data:`TTL_SECONDS`.

A change made through the hub (:meth:`UserCache.changed`: user administration, sign-in) is
announced on the pub/sub channel :data:`USERS_CHANNEL`, and every replica forgets that user at
once, so it applies from the next request on. A change written to the database by other means
(or whose announcement was lost) applies within :data:`TTL_SECONDS`. Revoked sessions do not
depend on this: their markers are checked on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog

from medianest.core.db.models import User
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)

USERS_CHANNEL = "users"
"""The pub/sub channel on which replicas announce changed users."""
TTL_SECONDS = 2.0
"""How long a loaded user is reused: the longest a change not announced takes to apply."""
MAX_USERS = 10_000
"""Users kept at most; the least recently loaded are dropped first."""
_SUBSCRIBE_WAIT_SECONDS = 5.0
_RESUBSCRIBE_SECONDS = 1.0


class UserCache:
    """Users by id, each reused for :data:`TTL_SECONDS` after it was read (``hub.sessions.users``).

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
            self._users[user_id] = (now + self._ttl, user)
            self._users.move_to_end(user_id)
            while len(self._users) > self._max_users:
                self._users.popitem(last=False)
        return user

    def forget(self, user_id: int) -> None:
        """Read ``user_id`` again on its next request, in this process."""
        self._generation += 1
        self._users.pop(user_id, None)

    async def changed(self, user_id: int) -> None:
        """``user_id`` was changed: every replica reads it again on its next request."""
        self.forget(user_id)
        try:
            await self._pubsub.publish(USERS_CHANNEL, {"user_id": user_id})
        except Exception as exc:
            log.warning(
                "user change not announced",
                user_id=user_id,
                error=str(exc),
                note=f"other replicas see it within {self._ttl:g} s",
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
        if isinstance(user_id, int):
            self.forget(user_id)
        else:
            log.warning("unreadable user change ignored", message=repr(message)[:200])
            self._clear()

    def _clear(self) -> None:
        self._generation += 1
        self._users.clear()
