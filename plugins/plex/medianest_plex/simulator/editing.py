"""Changes a running world accepts: library edits and playback (mixed into ``PlexWorld``).

Both mixins act on :class:`~medianest_plex.simulator.world.PlexWorld` state; they live here
to keep the world module about construction, time, lookups and PINs.
"""

from __future__ import annotations

from typing import Protocol

from medianest_plex.simulator import data
from medianest_plex.simulator.accounts import Account
from medianest_plex.simulator.activity import PLAYERS, Activity, HistoryRecord, Session, record_view
from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.generate import LAST_YEAR, MOVIES_SECTION, SHOWS_SECTION, movie_year
from medianest_plex.simulator.items import Agent, Item, Kind
from medianest_plex.simulator.library import make_item, release_date
from medianest_plex.simulator.servers import SimServer, local_account_id


class WorldState(Protocol):
    """What the mixins need from the world they are mixed into."""

    seed: int
    accounts: dict[str, Account]

    def now(self) -> int:
        """Current world time (epoch seconds)."""
        ...

    def server(self, ref: SimServer | str | int) -> SimServer:
        """A server by slug, machineIdentifier, name or index."""
        ...

    def item(self, server: SimServer | str | int, rating_key: int | str) -> Item:
        """An item by ratingKey."""
        ...


def new_ident(seed: int, server: SimServer, salt: int) -> int:
    """Identity for a work created after start (unique per server and ratingKey)."""
    return data.mix(seed, 51, server.index, server.library.next_rating_key, salt)


def add_season(srv: SimServer, show: Item, number: int, now: int) -> Item:
    """Add season ``number`` to ``show``."""
    season = make_item(
        srv.library,
        kind=Kind.SEASON,
        section_key=SHOWS_SECTION,
        ident=data.mix(show.ident, 3, number),
        title=f"Season {number}",
        year=min(show.year + number - 1, LAST_YEAR),
        index=number,
        parent=show,
        added_at=now,
        updated_at=now,
        agent=show.agent,
    )
    srv.library.add(season)
    return season


def add_next_episode(srv: SimServer, season: Item, title: str | None, now: int) -> Item:
    """Add the season's next episode; the season and show count as updated."""
    number = 1 + max((c.index for c in season.children or ()), default=0)
    work = data.mix(season.ident, 4, number)
    episode = make_item(
        srv.library,
        kind=Kind.EPISODE,
        section_key=SHOWS_SECTION,
        ident=work,
        title=title or data.episode_title(work),
        year=season.year,
        index=number,
        parent=season,
        added_at=now,
        updated_at=now,
        agent=season.agent,
    )
    srv.library.add(episode)
    for ancestor in (season, season.parent):
        if ancestor is not None:
            srv.library.touch(ancestor, now)
    return episode


def open_session(
    srv: SimServer, account: Account, item: Item, player: int, state: str, started_at: int
) -> Session:
    """Register a playback of ``item`` by ``account`` on ``srv``."""
    activity: Activity = srv.activity
    session = Session(
        session_key=activity.next_session_key,
        item=item,
        account_key=account.key,
        account_local_id=local_account_id(account),
        player=PLAYERS[player % len(PLAYERS)],
        state=state,
        view_offset=(item.ident >> 7) % 1_200_000,
        bandwidth=8_000 + player * 1_500,
        started_at=started_at,
    )
    activity.next_session_key += 1
    activity.sessions.append(session)
    return session


class LibraryEditing:
    """Adding, changing and removing items; every change is stamped with ``world.now()``."""

    def add_movie(
        self: WorldState,
        server: SimServer | str | int,
        *,
        title: str | None = None,
        year: int | None = None,
        agent: Agent = Agent.MODERN,
        ident: int | None = None,
    ) -> Item:
        """Add a movie now (``addedAt = updatedAt = now``). ``ident`` copies another work's
        identity (its external ids), e.g. ``world.item("home", 123).ident``."""
        srv = self.server(server)
        work = ident if ident is not None else new_ident(self.seed, srv, 1)
        now = self.now()
        item = make_item(
            srv.library,
            kind=Kind.MOVIE,
            section_key=MOVIES_SECTION,
            ident=work,
            title=title or data.movie_title(work),
            year=year or movie_year(work),
            index=0,
            parent=None,
            added_at=now,
            updated_at=now,
            agent=agent,
        )
        srv.library.add(item)
        return item

    def add_show(
        self: WorldState,
        server: SimServer | str | int,
        *,
        title: str | None = None,
        seasons: int = 1,
        episodes: int = 3,
        agent: Agent = Agent.MODERN,
    ) -> Item:
        """Add a show with ``seasons`` seasons of ``episodes`` episodes each, all added now."""
        if not 1 <= seasons <= 50 or not 1 <= episodes <= 200:
            raise ValueError("seasons must be 1-50 and episodes 1-200")
        srv = self.server(server)
        work = new_ident(self.seed, srv, 2)
        now = self.now()
        year = movie_year(work)
        show = make_item(
            srv.library,
            kind=Kind.SHOW,
            section_key=SHOWS_SECTION,
            ident=work,
            title=title or data.show_title(work),
            year=year,
            index=1,
            parent=None,
            added_at=now,
            updated_at=now,
            agent=agent,
        )
        srv.library.add(show)
        for number in range(1, seasons + 1):
            season = add_season(srv, show, number, now)
            for _ in range(episodes):
                add_next_episode(srv, season, None, now)
        return show

    def add_episode(
        self: WorldState,
        server: SimServer | str | int,
        parent: int | str,
        *,
        title: str | None = None,
        season: int | None = None,
    ) -> Item:
        """Add the next episode to a season (``parent`` is a season's ratingKey) or to a show
        (``parent`` is a show's ratingKey; ``season`` picks the season number, created if
        missing; default the last season)."""
        srv = self.server(server)
        target = self.item(srv, parent)
        now = self.now()
        if target.kind == Kind.SHOW:
            seasons = target.children or []
            number = season if season is not None else (seasons[-1].index if seasons else 1)
            found = next((s for s in seasons if s.index == number), None)
            target = found or add_season(srv, target, number, now)
        elif target.kind != Kind.SEASON:
            raise ValueError(f"item {parent} is a {target.kind.label}, not a show or season")
        return add_next_episode(srv, target, title, now)

    def update_item(
        self: WorldState,
        server: SimServer | str | int,
        rating_key: int | str,
        *,
        title: str | None = None,
        summary: str | None = None,
        year: int | None = None,
    ) -> Item:
        """Change an item's metadata (any of title, summary, year); bumps ``updatedAt`` to now
        even when nothing is given (a metadata refresh)."""
        srv = self.server(server)
        item = self.item(srv, rating_key)
        if title is not None:
            item.title = title
            item.title_sort = data.sort_title(title)
        if summary is not None:
            item.summary = summary
        if year is not None:
            item.year = year
        srv.library.touch(item, self.now())
        return item

    def remove_item(
        self: WorldState, server: SimServer | str | int, rating_key: int | str
    ) -> list[Item]:
        """Delete an item and everything below it; returns the removed items."""
        srv = self.server(server)
        item = self.item(srv, rating_key)
        removed = srv.library.remove(item)
        gone = {i.rating_key for i in removed}
        srv.activity.sessions = [s for s in srv.activity.sessions if s.item.rating_key not in gone]
        return removed


class PlaybackControl:
    """Starting and stopping playback sessions (stopping may record a history entry)."""

    def start_session(
        self: WorldState,
        server: SimServer | str | int,
        account_key: str,
        rating_key: int | str,
        *,
        player: int = 0,
        state: str = "playing",
    ) -> Session:
        """Start playing a movie or episode for an account with access to it."""
        srv = self.server(server)
        item = self.item(srv, rating_key)
        share = srv.shares.get(account_key)
        if share is None or not share.can_see(item.section_key):
            raise WorldError(f"{account_key} has no access to item {rating_key} on {srv.slug}")
        if item.kind not in (Kind.MOVIE, Kind.EPISODE):
            raise ValueError("only movies and episodes can be played")
        if state not in ("playing", "paused", "buffering"):
            raise ValueError("state must be playing, paused or buffering")
        return open_session(srv, self.accounts[account_key], item, player, state, self.now())

    def stop_session(
        self: WorldState, server: SimServer | str | int, session_key: int, *, scrobble: bool = True
    ) -> HistoryRecord | None:
        """End a session; with ``scrobble`` the view is added to history (returned)."""
        srv = self.server(server)
        activity = srv.activity
        session = next((s for s in activity.sessions if s.session_key == session_key), None)
        if session is None:
            raise WorldError(f"server {srv.slug} has no session {session_key}")
        activity.sessions.remove(session)
        if not scrobble:
            return None
        record = record_view(
            activity.next_history_id,
            session.item,
            self.now(),
            session.account_local_id,
            1 + PLAYERS.index(session.player),
            release_date(session.item),
        )
        activity.next_history_id += 1
        activity.history.append(record)
        return record
