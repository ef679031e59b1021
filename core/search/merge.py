"""Merging what every source found into ranked hits: one hit per work.

Items are the same work when they share an external id: an IMDb id, a YouTube id, or a TMDB
or TheTVDB id *of the same kind* (TMDB numbers films and shows separately). Sharing is
transitive: a Plex film with an IMDb id and a discovery entry with that IMDb id and a TMDB id
join a third copy known only by the TMDB id. Items without any external id stand alone.

A hit ranks by its best member (:func:`~medianest.core.search.query.rank_key`); its
representative, the item shown, is the best member held by a library, else the best member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from medianest.core.search.catalogue import ExternalKey
from medianest.core.search.query import MatchTier, rank_key
from medianest.sdk.models import MediaItem

MatchKey = tuple[str, ...]
"""An external id as the merge compares it: ``("imdb", "tt…")``, ``("movie", "tmdb", "603")``."""


@dataclass(slots=True)
class Hit:
    """One work found by a search: every copy of it, and how well it matched."""

    tier: MatchTier
    members: list[MediaItem] = field(default_factory=list)
    """Every copy, best ranked first."""
    library: set[str] = field(default_factory=set)
    """``source/item_id`` of the members held in a library (the catalogue)."""

    @property
    def key(self) -> tuple[int, int, float, str, str, str]:
        return rank_key(self.tier, self.members[0])

    @property
    def representative(self) -> MediaItem:
        """The item shown: the best copy in a library, else the best copy."""
        for item in self.members:
            if _ref(item) in self.library:
                return item
        return self.members[0]

    @property
    def available(self) -> bool:
        """Whether some library holds it."""
        return bool(self.library)


def match_keys(item: MediaItem) -> list[MatchKey]:
    """The external ids ``item`` is matched on."""
    ids = item.ids
    keys: list[MatchKey] = []
    if ids.imdb:
        keys.append(("imdb", ids.imdb))
    if ids.youtube:
        keys.append(("youtube", ids.youtube))
    if ids.tmdb:
        keys.append((item.kind.value, "tmdb", str(ids.tmdb)))
    if ids.tvdb:
        keys.append((item.kind.value, "tvdb", str(ids.tvdb)))
    return keys


def lookup_keys(items: Iterable[MediaItem]) -> list[ExternalKey]:
    """The external ids of ``items`` as the catalogue looks them up (without kinds)."""
    found: dict[ExternalKey, None] = {}
    for item in items:
        ids = item.ids
        for scheme in ("imdb", "tmdb", "tvdb", "youtube"):
            value = getattr(ids, scheme)
            if value:
                found[(scheme, value)] = None
    return list(found)


class Merger:
    """Groups found items into hits. Feed it ranked finds, then copies, then read :meth:`hits`.

    :param library_sources: the ids of the sources whose items live in the catalogue.
    """

    def __init__(self, library_sources: Iterable[str]) -> None:
        self._library_sources = frozenset(library_sources)
        self._hits: list[Hit] = []
        self._by_key: dict[MatchKey, Hit] = {}
        self._by_ref: dict[str, Hit] = {}

    def add(self, item: MediaItem, tier: MatchTier) -> None:
        """Add an item the search found, matching with ``tier``."""
        ref = _ref(item)
        if ref in self._by_ref:
            hit = self._by_ref[ref]
            hit.tier = min(hit.tier, tier)
            return
        joined = self._joined(item)
        if joined:
            hit = joined[0]
            hit.tier = min(hit.tier, tier)
            for other in joined[1:]:
                self._absorb(hit, other)
        else:
            hit = Hit(tier=tier)
            self._hits.append(hit)
        self._attach(hit, item)

    def add_copy(self, item: MediaItem) -> None:
        """Add an item found by the external ids of a hit: joins that hit, never makes one."""
        if _ref(item) in self._by_ref:
            return
        joined = self._joined(item)
        if not joined:
            return
        hit = joined[0]
        for other in joined[1:]:
            self._absorb(hit, other)
        self._attach(hit, item)

    def hits(self) -> list[Hit]:
        """Every hit, best first; members of each best first."""
        hits = [hit for hit in self._hits if hit.members]
        for hit in hits:
            hit.members.sort(key=lambda item: rank_key(hit.tier, item))
        hits.sort(key=lambda hit: hit.key)
        return hits

    def _joined(self, item: MediaItem) -> list[Hit]:
        found: list[Hit] = []
        for key in match_keys(item):
            hit = self._by_key.get(key)
            if hit is not None and all(hit is not seen for seen in found):
                found.append(hit)
        return found

    def _attach(self, hit: Hit, item: MediaItem) -> None:
        ref = _ref(item)
        hit.members.append(item)
        self._by_ref[ref] = hit
        if item.ref.source in self._library_sources:
            hit.library.add(ref)
        for key in match_keys(item):
            self._by_key.setdefault(key, hit)

    def _absorb(self, hit: Hit, other: Hit) -> None:
        """Move ``other``'s members into ``hit`` (an item joined two hits)."""
        hit.tier = min(hit.tier, other.tier)
        for item in other.members:
            self._attach(hit, item)
        for key, owner in list(self._by_key.items()):
            if owner is other:
                self._by_key[key] = hit
        other.members = []
        other.library.clear()


def _ref(item: MediaItem) -> str:
    return f"{item.ref.source}/{item.ref.item_id}"
