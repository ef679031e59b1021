"""Playback activity of a simulated server: players, live sessions and watch history.

Account ids here are the *server-local* ones PMS uses: the owner is account ``1`` on their
own server, everybody else appears under their plex.tv id.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from medianest_plex.simulator import data
from medianest_plex.simulator.items import Item, Kind


@dataclass(frozen=True)
class Player:
    """A playback client as PMS reports it in sessions and webhooks."""

    title: str
    product: str
    platform: str
    platform_version: str
    device: str
    model: str
    vendor: str
    version: str
    address: str
    machine_identifier: str
    local: bool


PLAYERS: tuple[Player, ...] = (
    Player(
        "Living Room TV",
        "Plex for Android (TV)",
        "Android",
        "12",
        "SHIELD Android TV",
        "mdarcy",
        "NVIDIA",
        "10.12.0.2000",
        "192.168.1.40",
        "a1f0c3d2e5b64c8f",
        True,
    ),
    Player(
        "Chrome",
        "Plex Web",
        "Chrome",
        "126.0",
        "Linux",
        "hosted",
        "",
        "4.132.0",
        "203.0.113.25",
        "k7m2p9q4r1s8t5v3",
        False,
    ),
    Player(
        "Wren's iPhone",
        "Plex for iOS",
        "iOS",
        "17.5",
        "iPhone",
        "iPhone15,2",
        "Apple",
        "8.40",
        "192.168.1.61",
        "f3e2d1c0b9a84756",
        True,
    ),
)


@dataclass
class Session:
    """A playback in progress (an entry of ``/status/sessions``)."""

    session_key: int
    item: Item
    account_key: str
    account_local_id: int
    player: Player
    state: str
    view_offset: int
    bandwidth: int
    started_at: int


@dataclass(frozen=True)
class HistoryRecord:
    """One completed view (an entry of ``/status/sessions/history/all``).

    Item fields are copied when the view is recorded, so history survives the item's
    later removal, as in PMS.
    """

    history_id: int
    rating_key: int
    kind: Kind
    title: str
    thumb: str
    section_key: int
    originally_available_at: str
    viewed_at: int
    account_local_id: int
    device_id: int
    parent_rating_key: int | None = None
    grandparent_rating_key: int | None = None
    parent_title: str | None = None
    grandparent_title: str | None = None
    index: int | None = None
    parent_index: int | None = None

    def field(self, name: str) -> int | None:
        """Value of a filterable history field (``accountID``, ``viewedAt``, ...)."""
        if name == "accountID":
            return self.account_local_id
        if name == "viewedAt":
            return self.viewed_at
        if name == "librarySectionID":
            return self.section_key
        if name == "deviceID":
            return self.device_id
        if name == "metadataItemID":
            return self.rating_key
        return None

    def involves(self, rating_key: int) -> bool:
        """Whether the view was of ``rating_key`` or of an episode below it."""
        return rating_key in (self.rating_key, self.parent_rating_key, self.grandparent_rating_key)


def thumb_of(item: Item) -> str:
    """The ``thumb`` path PMS gives an item."""
    return f"/library/metadata/{item.rating_key}/thumb/{item.updated_at}"


def record_view(
    history_id: int, item: Item, viewed_at: int, account_local_id: int, device_id: int, release: str
) -> HistoryRecord:
    """Snapshot ``item`` into a history record."""
    season = item.parent if item.kind == Kind.EPISODE else None
    show = season.parent if season is not None else None
    return HistoryRecord(
        history_id=history_id,
        rating_key=item.rating_key,
        kind=item.kind,
        title=item.title,
        thumb=thumb_of(item),
        section_key=item.section_key,
        originally_available_at=release,
        viewed_at=viewed_at,
        account_local_id=account_local_id,
        device_id=device_id,
        parent_rating_key=season.rating_key if season else None,
        grandparent_rating_key=show.rating_key if show else None,
        parent_title=season.title if season else None,
        grandparent_title=show.title if show else None,
        index=item.index if season else None,
        parent_index=season.index if season else None,
    )


@dataclass
class Activity:
    """Sessions and history of one server."""

    sessions: list[Session] = field(default_factory=list)
    history: list[HistoryRecord] = field(default_factory=list)
    next_session_key: int = 1
    next_history_id: int = 1


def history_size(items: int) -> int:
    """How many history records a server with ``items`` leaves starts with."""
    return min(400, max(40, items // 250))


def pick_views(
    seed: int,
    server_index: int,
    leaves: list[Item],
    count: int,
    viewers: list[tuple[int, frozenset[int] | None]],
    anchor: int,
) -> list[tuple[Item, int, int, int]]:
    """Choose ``count`` past views as ``(item, viewed_at, account_local_id, device_id)``.

    ``viewers`` lists ``(account_local_id, visible_sections)`` of everybody with access.
    """
    if not leaves or not viewers:
        return []
    rng = random.Random(data.mix(seed, 31, server_index))  # noqa: S311 - test data
    views = []
    for _ in range(count):
        item = leaves[int(rng.random() * len(leaves))]
        allowed = [v for v in viewers if v[1] is None or item.section_key in v[1]]
        if not allowed:
            continue
        local_id = allowed[int(rng.random() * len(allowed))][0]
        viewed_at = anchor - int(rng.random() * 90 * 86400)
        views.append(
            (item, max(viewed_at, item.added_at + 60), local_id, 1 + int(rng.random() * 5))
        )
    return views
