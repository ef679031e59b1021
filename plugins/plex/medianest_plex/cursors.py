"""The opaque cursors and checkpoints of a Plex media source.

A walk over a server is a *plan*: the ordered list of ``(filter field, section key, Plex
type)`` segments to read (movies; then shows, seasons, episodes of each show section), and a
position in it (segment index, offset inside the segment). The whole plan travels in the
cursor, so a walk started on one replica continues on another and is not thrown off by a
section added meanwhile. Everything is packed with the SDK's ``encode_cursor``.

A changes checkpoint holds the newest ``addedAt``/``updatedAt`` (server clock, epoch
seconds) seen by the walk that produced it, so clock skew between hub and server does not
lose changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medianest.sdk import InvalidInputError, decode_cursor, encode_cursor
from medianest_plex.const import PLUGIN_KEY

FORMAT_VERSION = 1
LIBRARY = "lib"
CHANGES = "chg"
ALL = ""
"""The filter field of a segment that lists everything (no ``>>=`` filter)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One list request series: items of ``plex_type`` in ``section``, filtered on ``field``."""

    field: str
    section: str
    plex_type: int


@dataclass(slots=True)
class Walk:
    """Where a library or changes walk stands.

    :param kind: ``lib`` or ``chg``; a cursor of one kind is refused by the other.
    :param since: the ``>>=`` threshold (epoch seconds) of filtered segments.
    :param newest: the newest ``addedAt``/``updatedAt`` seen so far (changes walks).
    :param total: the size of the whole walk when known (library walks).
    """

    kind: str
    plan: list[Segment]
    index: int = 0
    offset: int = 0
    since: int | None = None
    newest: int = 0
    total: int | None = None

    @property
    def done(self) -> bool:
        """True once every segment has been read."""
        return self.index >= len(self.plan)

    def current(self) -> Segment:
        """The segment being read."""
        return self.plan[self.index]

    def advance(self, read: int, *, exhausted: bool) -> None:
        """Record ``read`` more items of the current segment; move on when ``exhausted``."""
        if exhausted:
            self.index += 1
            self.offset = 0
        else:
            self.offset += read

    def encode(self) -> str | None:
        """The cursor for the rest of the walk, or ``None`` when it is finished."""
        if self.done:
            return None
        return encode_cursor(
            {
                "v": FORMAT_VERSION,
                "k": self.kind,
                "p": [[s.field, s.section, s.plex_type] for s in self.plan],
                "i": self.index,
                "o": self.offset,
                "s": self.since,
                "m": self.newest,
                "n": self.total,
            }
        )

    @classmethod
    def decode(cls, cursor: str, kind: str) -> Walk:
        """The walk a cursor from :meth:`encode` describes.

        :raises InvalidInputError: the cursor is not one of ours, or of the other kind.
        """
        state = decode_cursor(cursor, field="cursor")
        try:
            if state["v"] != FORMAT_VERSION or state["k"] != kind:
                raise ValueError("wrong version or kind")
            plan = [Segment(str(f), str(s), int(t)) for f, s, t in state["p"]]
            walk = cls(
                kind=kind,
                plan=plan,
                index=_non_negative(state["i"]),
                offset=_non_negative(state["o"]),
                since=None if state["s"] is None else _non_negative(state["s"]),
                newest=_non_negative(state["m"]),
                total=None if state["n"] is None else _non_negative(state["n"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid("cursor") from exc
        if walk.index > len(plan):
            raise _invalid("cursor")
        return walk


def encode_checkpoint(newest: int) -> str:
    """A changes checkpoint meaning "changes after epoch second ``newest``"."""
    return encode_cursor({"v": FORMAT_VERSION, "k": "cp", "t": newest})


def decode_checkpoint(checkpoint: str) -> int:
    """The epoch second a checkpoint from :func:`encode_checkpoint` holds.

    :raises InvalidInputError: naming ``since`` when it is not one of ours.
    """
    state = decode_cursor(checkpoint, field="since")
    try:
        if state["v"] != FORMAT_VERSION or state["k"] != "cp":
            raise ValueError("wrong version or kind")
        return _non_negative(state["t"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _invalid("since") from exc


def _non_negative(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not a non-negative integer")
    return value


def _invalid(field_name: str) -> InvalidInputError:
    return InvalidInputError(
        f"the {field_name} is not valid for this Plex source", field=field_name, plugin=PLUGIN_KEY
    )
