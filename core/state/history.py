"""Sequence ids and a bounded history for pub/sub channels, so a reader that was away can
catch up on exactly what it missed.

Every message published on a channel gets the next id of that channel (1, 2, 3…), counted
in one place for every replica (Redis in scaled mode, the process in embedded mode), and is
kept in the channel's history: the last ``history_size`` messages (a Redis stream trimmed
to that length, or an in-process ring buffer). :meth:`SequencedPubSub.subscribe_sequenced`
delivers ``(id, message)`` pairs, and :meth:`SequencedPubSub.history` gives what followed an
id, telling whether that is all of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

DEFAULT_HISTORY_SIZE = 500
"""Messages kept per channel unless told otherwise."""
DEFAULT_HISTORY_SECONDS = 24 * 3600
"""How long a channel's history outlives its last message in Redis (the id counter stays)."""


class Sequenced(NamedTuple):
    """One message of a channel and its sequence id."""

    id: int
    message: Any


@dataclass(frozen=True, slots=True)
class HistoryRead:
    """What a channel's history holds after an id.

    :ivar entries: the messages after that id still kept, oldest first.
    :ivar last_id: the id of the channel's latest message (0 when none was ever published).
    :ivar complete: ``entries`` are every message after that id; false when some were
        already dropped from the history, or the id is beyond ``last_id`` (the history was
        reset), so the reader must reload its state instead.
    """

    entries: list[Sequenced]
    last_id: int
    complete: bool


def read_after(after: int | None, last_id: int, kept: list[Sequenced]) -> HistoryRead:
    """The :class:`HistoryRead` of ``kept`` (the history after ``after``, oldest first)."""
    if after is None:
        return HistoryRead([], last_id, True)
    if after > last_id:
        return HistoryRead([], last_id, False)
    first = kept[0].id if kept else last_id + 1
    return HistoryRead(kept, last_id, first == after + 1)


@runtime_checkable
class SequencedPubSub(Protocol):
    """A pub/sub whose channels number their messages and keep a bounded history."""

    async def publish(self, channel: str, message: Any) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[Any]]: ...

    def subscribe_sequenced(
        self, channel: str
    ) -> AbstractAsyncContextManager[AsyncIterator[Sequenced]]:
        """Like ``subscribe``, delivering :class:`Sequenced` pairs."""
        ...

    async def history(self, channel: str, after: int | None) -> HistoryRead:
        """The messages of ``channel`` after id ``after`` still kept (none when ``after``
        is ``None``: only the latest id)."""
        ...
