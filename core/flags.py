"""Runtime feature flags: declared by plugins, stored in the database, seen by every replica.

Values live in ``core_runtime_flag_value``; a flag without a stored value has its declared
default. Each replica reads flags from an in-memory snapshot (:meth:`FlagService.is_enabled`
never touches the database). A change is published on the pub/sub channel ``flags`` so every
replica reloads at once, and each replica also reloads every ``refresh_seconds``, so a lost
message delays a change by at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from medianest.core.db import Database
from medianest.core.db.models import RuntimeFlagValue
from medianest.sdk import events
from medianest.sdk.errors import InvalidInputError, NotFoundError, PluginError
from medianest.sdk.flags import FLAG_KEY_PATTERN, Flag
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)

FLAGS_CHANNEL = events.FLAGS_CHANNEL
"""The pub/sub channel on which replicas announce flag changes."""

_MAX_BY_LENGTH = 200
_SUBSCRIBE_WAIT_SECONDS = 5.0
_KEY = re.compile(FLAG_KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class FlagState:
    """A flag as admins see it.

    :param overridden: an admin has stored a value (which may equal the default).
    :param updated_at: when the stored value was last set (UTC); ``None`` when not overridden.
    :param updated_by: who set it, as given to :meth:`FlagService.set`.
    """

    key: str
    description: str
    default: bool
    enabled: bool
    overridden: bool
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class _Stored:
    enabled: bool
    updated_at: datetime
    updated_by: str | None


class FlagService:
    """The hub's runtime flags (implements :class:`medianest.sdk.services.FlagReader`).

    :param definitions: every flag the loaded plugins (and core) declare.
    :param database: where values are stored; must be open and migrated before :meth:`start`.
    :param pubsub: shared with every replica; changes are announced on :data:`FLAGS_CHANNEL`.
    :param refresh_seconds: how often each replica reloads all values regardless of messages.
    :raises PluginError: a key that does not match ``<plugin>.<feature>`` (see
        ``medianest.sdk.flags.FLAG_KEY_PATTERN``), or a key declared twice.
    """

    def __init__(
        self,
        definitions: list[Flag],
        database: Database,
        pubsub: PubSub,
        *,
        refresh_seconds: float = 1.0,
        channel: str = FLAGS_CHANNEL,
    ) -> None:
        if refresh_seconds <= 0:
            raise ValueError("refresh_seconds must be positive")
        self._definitions = _validated(definitions)
        self._database = database
        self._pubsub = pubsub
        self._refresh_seconds = refresh_seconds
        self._channel = channel
        self._stored: Mapping[str, _Stored] = {}
        self._writes = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed: asyncio.Event | None = None

    async def start(self) -> None:
        """Load the stored values, subscribe to changes and start the periodic reload.

        Returns once subscribed (or after a few seconds if the pub/sub is unreachable: the
        periodic reload still keeps values current, and subscribing is retried).

        :raises Exception: whatever the database raises on the first load.
        """
        if self._tasks:
            return
        await self.reload()
        self._subscribed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(), name="flags-listen"),
            asyncio.create_task(self._poll(), name="flags-poll"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), _SUBSCRIBE_WAIT_SECONDS)

    async def close(self) -> None:
        """Stop listening and reloading; safe to call twice. Values stay readable."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def is_enabled(self, key: str) -> bool:
        """The flag's current value on this replica (at most ``refresh_seconds`` old).

        :raises NotFoundError: no flag ``key`` is declared; the message lists the known keys.
        """
        definition = self._definition(key)
        stored = self._stored.get(key)
        return definition.default if stored is None else stored.enabled

    async def set(self, key: str, enabled: bool, *, by: str | None) -> None:
        """Store the flag's value and tell every replica.

        :param by: who made the change (a user id, ``cli``), shown to admins.
        :raises NotFoundError: no flag ``key`` is declared.
        :raises InvalidInputError: ``by`` is longer than 200 characters.
        """
        self._definition(key)
        if by is not None and len(by) > _MAX_BY_LENGTH:
            raise InvalidInputError(f"'by' is longer than {_MAX_BY_LENGTH} characters", field="by")
        now = datetime.now(UTC)
        row = RuntimeFlagValue(key=key, enabled=bool(enabled), updated_at=now, updated_by=by)
        with self._database.activate():
            await RuntimeFlagValue.bulk_create(
                [row],
                on_conflict=["key"],
                update_fields=["enabled", "updated_at", "updated_by"],
            )
        self._writes += 1
        self._stored = {**self._stored, key: _Stored(bool(enabled), now, by)}
        log.info("flag_set", flag=key, enabled=bool(enabled), by=by)
        try:
            await self._pubsub.publish(self._channel, {"key": key})
        except Exception as exc:
            log.warning(
                "flag_change_not_announced",
                flag=key,
                error=str(exc),
                note=f"other replicas see it within {self._refresh_seconds:g} s",
            )

    def list(self) -> list[FlagState]:
        """Every declared flag with its current value on this replica, sorted by key."""
        states = []
        for key in sorted(self._definitions):
            definition = self._definitions[key]
            stored = self._stored.get(key)
            states.append(
                FlagState(
                    key=key,
                    description=definition.description,
                    default=definition.default,
                    enabled=definition.default if stored is None else stored.enabled,
                    overridden=stored is not None,
                    updated_at=None if stored is None else stored.updated_at,
                    updated_by=None if stored is None else stored.updated_by,
                )
            )
        return states

    async def reload(self) -> None:
        """Read every stored value from the database into this replica's snapshot.

        A value set on this replica while the read was under way is kept (the next reload
        brings the database's view).

        :raises Exception: whatever the database raises.
        """
        writes_before = self._writes
        with self._database.activate():
            rows = await RuntimeFlagValue.all()
        snapshot = {
            row.key: _Stored(row.enabled, row.updated_at, row.updated_by)
            for row in rows
            if row.key in self._definitions
        }
        if self._writes == writes_before:
            self._stored = snapshot

    def _definition(self, key: str) -> Flag:
        try:
            return self._definitions[key]
        except KeyError:
            known = ", ".join(sorted(self._definitions)) or "none"
            raise NotFoundError(f"no runtime flag {key!r} (known flags: {known})") from None

    async def _listen(self) -> None:
        failing = False
        while True:
            try:
                async with self._pubsub.subscribe(self._channel) as messages:
                    self._mark_subscribed()
                    if failing:
                        log.info("flag_subscription_recovered", channel=self._channel)
                        failing = False
                    async for message in messages:
                        await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    log.warning("flag_subscription_failed", channel=self._channel, error=str(exc))
                    failing = True
            self._mark_subscribed()
            await asyncio.sleep(self._refresh_seconds)

    async def _on_message(self, message: Any) -> None:
        try:
            await self.reload()
        except Exception as exc:
            log.warning("flag_reload_failed", error=str(exc), trigger="message")

    async def _poll(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.reload()
            except Exception as exc:
                if not failing:
                    log.warning("flag_reload_failed", error=str(exc), trigger="periodic")
                    failing = True
            else:
                if failing:
                    log.info("flag_reload_recovered")
                    failing = False

    def _mark_subscribed(self) -> None:
        if self._subscribed is not None:
            self._subscribed.set()


def _validated(definitions: list[Flag]) -> dict[str, Flag]:
    by_key: dict[str, Flag] = {}
    for flag in definitions:
        if not isinstance(flag.key, str) or not _KEY.match(flag.key):
            raise PluginError(
                f"runtime flag key {flag.key!r} must look like '<plugin>.<feature>' "
                f"(pattern {FLAG_KEY_PATTERN})",
                plugin=_plugin_of(flag.key),
            )
        if flag.key in by_key:
            raise PluginError(
                f"runtime flag {flag.key!r} is declared twice", plugin=_plugin_of(flag.key)
            )
        by_key[flag.key] = flag
    return by_key


def _plugin_of(key: object) -> str | None:
    return (key.split(".", 1)[0] or None) if isinstance(key, str) else None
