"""What a search asks and how well a title answers it: shared by the catalogue, the live
fan-out and the merge, so all three rank the same way.

Search text is data, never syntax. It is cut into *words* (runs of letters and digits, any
script); everything else (quotes, ``%``, ``_``, ``*``, FTS operators, SQL fragments) only
separates words. Every word must match the start of a word of the title, so ``star wa``
finds *Star Wars*. A text with no word at all finds nothing in the catalogue.

Match quality, best first (:func:`match_tier`):

0. the title is the text (ignoring case and surrounding space);
1. the title starts with the text;
2. every word of the text starts a word of the title;
3. a live source found it by its own rules (its description matched, say).

Within a tier, newer first: the later year, then the later time added, then the title.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from medianest.sdk.models import MediaItem, MediaKind

MAX_TEXT_LENGTH = 200
"""The longest search text accepted (characters, after trimming)."""

MAX_OFFSET = 1000
"""How deep paging goes: a search is a way to find, not to list everything."""

MAX_WORDS = 16
"""Words beyond this are ignored (a pasted paragraph must not cost a huge query)."""

DEFAULT_KINDS: frozenset[MediaKind] = frozenset(MediaKind) - {
    MediaKind.SEASON,
    MediaKind.EPISODE,
    MediaKind.TRACK,
}
"""What a search without ``kind`` looks for: works, not their parts. Seasons, episodes and
tracks are found when asked for by kind."""

_WORD = re.compile(r"[^\W_]+")


class MatchTier(IntEnum):
    """How well a title matches the search text; lower is better."""

    EXACT = 0
    PREFIX = 1
    WORDS = 2
    SOURCE = 3
    """A live source found it by its own rules (a description, a translated title)."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One validated search: the text, its filters and which page.

    :param text: trimmed, 1 to :data:`MAX_TEXT_LENGTH` characters.
    :param kinds: what to look for; :data:`DEFAULT_KINDS` when the caller named none.
    :param sources: the source ids to ask; ``None``: every source.
    :param offset: how many ranked hits the previous pages showed.
    """

    text: str
    kinds: frozenset[MediaKind] = DEFAULT_KINDS
    year: int | None = None
    sources: frozenset[str] | None = None
    limit: int = 20
    offset: int = 0

    @property
    def words(self) -> list[str]:
        """The words of the text, lower case, in order (at most :data:`MAX_WORDS`)."""
        return words_of(self.text)

    @property
    def folded(self) -> str:
        """The text as titles are compared with it: lower case, single spaces."""
        return fold(self.text)

    def fingerprint(self) -> str:
        """A digest of what decides the results (not the page): cursors carry it, so a cursor
        cannot be replayed against another search."""
        shape = {
            "t": self.folded,
            "k": sorted(self.kinds),
            "y": self.year,
            "s": sorted(self.sources) if self.sources is not None else None,
        }
        raw = json.dumps(shape, separators=(",", ":"), sort_keys=True).encode()
        return hashlib.blake2b(raw, digest_size=8).hexdigest()

    def wants(self, item: MediaItem) -> bool:
        """Whether ``item`` passes the filters (kind, year, source); the text aside."""
        if item.kind not in self.kinds:
            return False
        if self.year is not None and item.year != self.year:
            return False
        return self.sources is None or item.ref.source in self.sources


def fold(text: str) -> str:
    """``text`` lower case, trimmed, inner whitespace collapsed to one space."""
    return " ".join(text.lower().split())


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower case, at most :data:`MAX_WORDS`."""
    return _WORD.findall(text.lower())[:MAX_WORDS]


def match_tier(request: SearchRequest, title: str) -> MatchTier | None:
    """How well ``title`` matches the request's text; ``None``: it does not match."""
    folded = fold(title)
    wanted = request.folded
    if folded == wanted:
        return MatchTier.EXACT
    if folded.startswith(wanted):
        return MatchTier.PREFIX
    words = request.words
    if not words:
        return None
    title_words = _WORD.findall(folded)
    if all(any(t.startswith(w) for t in title_words) for w in words):
        return MatchTier.WORDS
    return None


def rank_key(tier: int, item: MediaItem) -> tuple[int, int, float, str, str, str]:
    """The sort key of ``item`` found with ``tier``: tier, then newer first, then by title.

    The catalogue orders its SQL the same way, so pages of a search never overlap.
    """
    added = item.added_at.timestamp() if isinstance(item.added_at, datetime) else 0.0
    return (tier, -(item.year or 0), -added, fold(item.title), item.ref.source, item.ref.item_id)
