"""``OverseerrWorld``: the users, media and requests of one simulated Overseerr server.

Built over a :class:`~medianest_plex.simulator.PlexWorld` (the same seed and size give the
same titles and ids as the Plex simulator). The rules are the real server's
(``server/entity/MediaRequest.ts``, ``server/routes/request.ts``, ``server/lib/permissions.ts``):

* request status 1 pending, 2 approved, 3 declined, 4 failed; media status 1 unknown,
  2 pending, 3 processing, 4 partially available, 5 available;
* a user holding ``AUTO_APPROVE`` (or the movie/TV variant) gets an approved request at once;
* a second non-declined request for a movie is a duplicate (409); for a show only the seasons
  not yet requested nor available are requested, none left is 202;
* per-user quotas (``movieQuotaLimit``/``movieQuotaDays``, ``tvQuotaLimit``/``tvQuotaDays``,
  TV counted in seasons), which ``MANAGE_USERS``/``MANAGE_REQUESTS`` holders bypass.

Every state change queues a webhook notification (see :mod:`.webhooks`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Any

from medianest_overseerr.simulator.catalogue import MOVIE, TV, Catalogue, PlexCopy, Title
from medianest_overseerr.simulator.webhooks import Notification, Notifier, WebhookSettings
from medianest_plex.simulator import PlexWorld
from medianest_plex.simulator.accounts import Account
from medianest_plex.simulator.editing import add_next_episode, add_season
from medianest_plex.simulator.faults import FaultInjector
from medianest_plex.simulator.generate import MOVIES_SECTION, SHOWS_SECTION
from medianest_plex.simulator.items import Agent, Item, Kind
from medianest_plex.simulator.library import make_item

DAY = 86400


class Permission(IntFlag):
    """Overseerr's permission bits (``server/lib/permissions.ts``)."""

    NONE = 0
    ADMIN = 2
    MANAGE_SETTINGS = 4
    MANAGE_USERS = 8
    MANAGE_REQUESTS = 16
    REQUEST = 32
    VOTE = 64
    AUTO_APPROVE = 128
    AUTO_APPROVE_MOVIE = 256
    AUTO_APPROVE_TV = 512
    REQUEST_4K = 1024
    REQUEST_4K_MOVIE = 2048
    REQUEST_4K_TV = 4096
    REQUEST_ADVANCED = 8192
    REQUEST_VIEW = 16384


def has_permission(value: int, *needed: Permission, any_of: bool = False) -> bool:
    """The real ``hasPermission``: ADMIN holds everything; several bits are and-ed unless
    ``any_of``."""
    if not needed:
        return True
    if value & Permission.ADMIN:
        return True
    checks = [bool(value & p) for p in needed]
    return any(checks) if any_of else all(checks)


class RequestStatus(IntEnum):
    """``MediaRequestStatus``."""

    PENDING = 1
    APPROVED = 2
    DECLINED = 3
    FAILED = 4


class MediaStatus(IntEnum):
    """``MediaStatus``."""

    UNKNOWN = 1
    PENDING = 2
    PROCESSING = 3
    PARTIALLY_AVAILABLE = 4
    AVAILABLE = 5


class UserType(IntEnum):
    """``UserType``: Plex accounts and local accounts."""

    PLEX = 1
    LOCAL = 2


class RequestError(Exception):
    """A request the server refuses; ``status`` and ``message`` are the real answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WorldError(LookupError):
    """A control operation named something that does not exist."""


@dataclass(slots=True)
class User:
    """An Overseerr user (``server/entity/User.ts``)."""

    id: int
    email: str
    username: str | None
    plex_username: str | None
    plex_id: int | None
    user_type: UserType
    permissions: int
    avatar: str
    created_at: int
    updated_at: int
    movie_quota_limit: int | None = None
    movie_quota_days: int | None = None
    tv_quota_limit: int | None = None
    tv_quota_days: int | None = None
    plex_account: str | None = None

    @property
    def display_name(self) -> str:
        """What Overseerr shows: username, else Plex username, else the e-mail."""
        return self.username or self.plex_username or self.email

    def can(self, *needed: Permission, any_of: bool = False) -> bool:
        """Whether the user holds ``needed``."""
        return has_permission(self.permissions, *needed, any_of=any_of)


@dataclass(slots=True)
class Media:
    """Overseerr's record of a title it tracks (``server/entity/Media.ts``)."""

    id: int
    title: Title
    status: MediaStatus
    created_at: int
    updated_at: int
    media_added_at: int | None
    rating_key: str | None
    season_status: dict[int, MediaStatus] = field(default_factory=dict)
    requests: list[MediaRequest] = field(default_factory=list)
    last_season_change: int = 0

    @property
    def media_type(self) -> str:
        """``movie`` or ``tv``."""
        return self.title.media_type


@dataclass(slots=True)
class MediaRequest:
    """A request (``server/entity/MediaRequest.ts``)."""

    id: int
    media: Media
    status: RequestStatus
    requested_by: User
    modified_by: User | None
    created_at: int
    updated_at: int
    seasons: list[int]
    season_status: dict[int, RequestStatus] = field(default_factory=dict)
    deleted: bool = False

    @property
    def media_type(self) -> str:
        """``movie`` or ``tv``."""
        return self.media.media_type


_MEDIA_NAMES = {MOVIE: "Movie", TV: "Series"}


@dataclass(slots=True)
class Exchange:
    """One ``/api/v1`` request and the answer it got (what :attr:`OverseerrWorld.observers`
    receive)."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    content_type: str
    body: bytes


class OverseerrWorld:
    """Users, tracked media, requests, settings and faults of one simulated Overseerr.

    :param plex: the Plex world whose libraries Overseerr has scanned; built from ``seed``
        and ``plex_items`` when not given.
    :param requestable: number of titles that exist only on the TMDB side (default: a quarter
        of the titles Plex holds, at least 40).
    :param api_key: the key ``X-Api-Key`` must carry.
    :param clock: seconds since the epoch (quota windows and timestamps); shifted by
        :meth:`advance_clock`.
    """

    def __init__(
        self,
        plex: PlexWorld | None = None,
        *,
        seed: int = 1,
        plex_items: int = 1000,
        requestable: int | None = None,
        api_key: str = "overseerr-simulator-api-key",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.plex = plex if plex is not None else PlexWorld(seed=seed, items=plex_items)
        self.seed = self.plex.seed
        self.api_key = api_key
        self.requestable = requestable
        self._clock = clock or time.time
        self._offset = 0
        self.catalogue = Catalogue(self.plex, requestable=requestable)
        self.faults = FaultInjector()
        self.notifier = Notifier()
        self.down_status: int | None = None
        self.observers: list[Callable[[Exchange], None]] = []
        """Called with every ``/api/v1`` exchange (tests validate answers against the spec)."""
        self._build()

    # -- construction ------------------------------------------------------------------------

    def _build(self) -> None:
        self.users: dict[int, User] = {}
        self.media: dict[int, Media] = {}
        self.media_by_key: dict[tuple[str, int], Media] = {}
        self.requests: dict[int, MediaRequest] = {}
        self._request_counts: dict[int, int] | None = None
        self.version = getattr(self, "version", 0) + 1
        """Bumped by every change to requests or media (list answers are cached per version)."""
        self._next_user = 1
        self._next_media = 1
        self._next_request = 1
        self.default_permissions = int(Permission.REQUEST)
        self.default_movie_quota: tuple[int | None, int | None] = (None, None)
        self.default_tv_quota: tuple[int | None, int | None] = (None, None)
        self.webhook = WebhookSettings()
        self.notifier.settings = self.webhook
        created = self.plex.anchor - 400 * DAY
        accounts = self.plex.accounts
        self._add_plex_user(accounts["owner"], int(Permission.ADMIN), created)
        self._add_plex_user(accounts["friend1"], int(Permission.REQUEST), created + DAY)
        self.add_user(
            email="requests.manager@example.com",
            username="requestsmanager",
            permissions=int(Permission.MANAGE_REQUESTS | Permission.REQUEST),
            when=created + 2 * DAY,
        )
        self.add_user(
            email="trusted.viewer@example.com",
            username="trustedviewer",
            permissions=int(Permission.REQUEST | Permission.AUTO_APPROVE),
            when=created + 3 * DAY,
        )
        for title in self.catalogue.in_plex():
            copy = title.plex
            assert copy is not None
            status = MediaStatus.AVAILABLE
            seasons: dict[int, MediaStatus] = {}
            if title.media_type == TV:
                seasons = {
                    n: MediaStatus.AVAILABLE if n in copy.seasons else MediaStatus.UNKNOWN
                    for n in title.season_numbers()
                }
                if any(s != MediaStatus.AVAILABLE for s in seasons.values()):
                    status = MediaStatus.PARTIALLY_AVAILABLE
            self._new_media(title, status, copy.added_at, str(copy.rating_key), seasons)

    def _add_plex_user(self, account: Account, permissions: int, when: int) -> User:
        user = User(
            id=self._next_user,
            email=account.email,
            username=None,
            plex_username=account.username,
            plex_id=account.id,
            user_type=UserType.PLEX,
            permissions=permissions,
            avatar=account.thumb,
            created_at=when,
            updated_at=when,
            plex_account=account.key,
        )
        self.users[user.id] = user
        self._next_user += 1
        return user

    def _new_media(
        self,
        title: Title,
        status: MediaStatus,
        when: int,
        rating_key: str | None = None,
        seasons: dict[int, MediaStatus] | None = None,
    ) -> Media:
        media = Media(
            id=self._next_media,
            title=title,
            status=status,
            created_at=when,
            updated_at=when,
            media_added_at=when if rating_key else None,
            rating_key=rating_key,
            season_status=seasons or {},
            last_season_change=when,
        )
        self._next_media += 1
        self.media[media.id] = media
        self.media_by_key[(title.media_type, title.tmdb)] = media
        return media

    def reset(self) -> None:
        """Back to the generated state: users, media, requests, settings, faults, clock."""
        self.faults.clear()
        self.down_status = None
        self._offset = 0
        self.notifier.deliveries.clear()
        self._build()

    # -- time --------------------------------------------------------------------------------

    def now(self) -> int:
        """The world's current time (epoch seconds)."""
        return max(int(self._clock()) + self._offset, self.plex.anchor + 1)

    def advance_clock(self, seconds: int) -> int:
        """Move the clock forward (to leave a quota window); returns :meth:`now`."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()

    # -- users -------------------------------------------------------------------------------

    def user(self, user_id: int) -> User:
        """A user by id; :class:`WorldError` if none."""
        try:
            return self.users[int(user_id)]
        except (KeyError, TypeError, ValueError):
            raise WorldError(f"no user {user_id!r}") from None

    def add_user(
        self,
        *,
        email: str,
        username: str | None = None,
        permissions: int | None = None,
        plex_id: int | None = None,
        plex_username: str | None = None,
        when: int | None = None,
    ) -> User:
        """Create a user (local, or a Plex user when ``plex_id`` is given)."""
        email = email.strip()
        if not email:
            raise ValueError("email is required")
        if any(u.email.lower() == email.lower() for u in self.users.values()):
            raise ValueError(f"a user with e-mail {email} already exists")
        stamp = when if when is not None else self.now()
        user = User(
            id=self._next_user,
            email=email,
            username=username,
            plex_username=plex_username,
            plex_id=plex_id,
            user_type=UserType.PLEX if plex_id is not None else UserType.LOCAL,
            permissions=self.default_permissions if permissions is None else int(permissions),
            avatar=f"https://www.gravatar.com/avatar/{abs(hash(email.lower())) % 10**12:032x}"
            "?default=mm&size=200",
            created_at=stamp,
            updated_at=stamp,
        )
        self.users[user.id] = user
        self._next_user += 1
        return user

    def add_plex_account(self, key: str, permissions: int | None = None) -> User:
        """Import the Plex world's account ``key`` (``friend2``, ...) as a user."""
        account = self.plex.account(key)
        if any(u.plex_id == account.id for u in self.users.values()):
            raise ValueError(f"Plex account {key} already has a user")
        user = self._add_plex_user(
            account,
            self.default_permissions if permissions is None else permissions,
            self.now(),
        )
        return user

    def set_quota(
        self,
        user_id: int,
        *,
        movie_limit: int | None = None,
        movie_days: int | None = None,
        tv_limit: int | None = None,
        tv_days: int | None = None,
    ) -> User:
        """Set a user's quotas (``None`` limit: no quota)."""
        user = self.user(user_id)
        user.movie_quota_limit = movie_limit
        user.movie_quota_days = movie_days if movie_limit is not None else None
        user.tv_quota_limit = tv_limit
        user.tv_quota_days = tv_days if tv_limit is not None else None
        user.updated_at = self.now()
        return user

    def user_for_plex_account(self, key: str) -> User | None:
        """The user imported from the Plex account ``key``, if any."""
        return next((u for u in self.users.values() if u.plex_account == key), None)

    def request_count_of(self, user: User) -> int:
        """Number of live requests a user made."""
        if self._request_counts is None:
            counts: dict[int, int] = {}
            for req in self.requests.values():
                counts[req.requested_by.id] = counts.get(req.requested_by.id, 0) + 1
            self._request_counts = counts
        return self._request_counts.get(user.id, 0)

    def quota(self, user: User, media_type: str) -> tuple[int | None, int | None, int]:
        """``(limit, days, used)`` for ``user`` and ``media_type`` (limit None: unlimited)."""
        if user.can(Permission.MANAGE_USERS, Permission.MANAGE_REQUESTS, any_of=True):
            return None, None, 0
        if media_type == MOVIE:
            limit = user.movie_quota_limit
            days = user.movie_quota_days
            if limit is None:
                limit, days = self.default_movie_quota
        else:
            limit = user.tv_quota_limit
            days = user.tv_quota_days
            if limit is None:
                limit, days = self.default_tv_quota
        if not limit:
            return None, None, 0
        since = self.now() - (days or 7) * DAY
        used = 0
        for req in self.requests.values():
            if (
                req.requested_by is user
                and req.media_type == media_type
                and req.created_at > since
                and req.status != RequestStatus.DECLINED
            ):
                used += 1 if media_type == MOVIE else len(req.seasons)
        return limit, days or 7, used

    # -- media -------------------------------------------------------------------------------

    def title(self, media_type: str, tmdb: int) -> Title:
        """A catalogue title; :class:`WorldError` if TMDB has no such title."""
        found = self.catalogue.get(media_type, int(tmdb))
        if found is None:
            raise WorldError(f"no {media_type} with TMDB id {tmdb}")
        return found

    def track(self, title: Title) -> Media:
        """The tracked media of ``title``, created (status unknown) if not tracked yet."""
        found = self.media_for(title)
        return found or self._new_media(title, MediaStatus.UNKNOWN, self.now())

    def media_for(self, title: Title) -> Media | None:
        """The tracked media of ``title`` (``None`` until requested or scanned)."""
        return self.media_by_key.get((title.media_type, title.tmdb))

    # -- requests ----------------------------------------------------------------------------

    def request(self, request_id: int | str) -> MediaRequest:
        """A request by id; :class:`WorldError` if none."""
        try:
            found = self.requests.get(int(request_id))
        except (TypeError, ValueError):
            found = None
        if found is None:
            raise WorldError(f"no request {request_id!r}")
        return found

    def create_request(
        self,
        user: User,
        media_type: str,
        tmdb: int,
        seasons: list[int] | str | None = None,
        *,
        on_behalf_of: User | None = None,
    ) -> MediaRequest:
        """``POST /request``; raises :class:`RequestError` as the real server answers."""
        requester = on_behalf_of or user
        title = self.catalogue.get(media_type, int(tmdb))
        if title is None:
            raise RequestError(404, "Media does not exist in TMDB.")
        if not requester.can(Permission.REQUEST):
            kind = "movie" if media_type == MOVIE else "series"
            raise RequestError(403, f"You do not have permission to make {kind} requests.")
        media = self.media_for(title)
        wanted: list[int] = []
        if media_type == TV:
            numbers = title.season_numbers()
            if seasons == "all" or seasons is None:
                wanted = numbers
            else:
                wanted = sorted({int(s) for s in seasons if int(s) in numbers})
            taken: set[int] = set()
            if media is not None:
                taken |= {
                    n
                    for n, st in media.season_status.items()
                    if st
                    in (
                        MediaStatus.AVAILABLE,
                        MediaStatus.PARTIALLY_AVAILABLE,
                        MediaStatus.PROCESSING,
                    )
                }
                for other in media.requests:
                    if other.status not in (RequestStatus.DECLINED, RequestStatus.FAILED):
                        taken |= set(other.seasons)
            wanted = [n for n in wanted if n not in taken]
            if not wanted:
                raise RequestError(202, "No seasons available to request")
        elif media is not None:
            live = [r for r in media.requests if r.status != RequestStatus.DECLINED]
            if live or media.status in (
                MediaStatus.AVAILABLE,
                MediaStatus.PROCESSING,
                MediaStatus.PARTIALLY_AVAILABLE,
            ):
                raise RequestError(409, "Request for this media already exists.")
        limit, _days, used = self.quota(requester, media_type)
        if limit is not None:
            cost = 1 if media_type == MOVIE else len(wanted)
            if used + cost > limit:
                raise RequestError(
                    403,
                    "Movie Quota exceeded." if media_type == MOVIE else "Series Quota exceeded.",
                )
        now = self.now()
        if media is None:
            media = self._new_media(title, MediaStatus.PENDING, now)
        auto = requester.can(
            Permission.AUTO_APPROVE,
            Permission.AUTO_APPROVE_MOVIE if media_type == MOVIE else Permission.AUTO_APPROVE_TV,
            any_of=True,
        )
        status = RequestStatus.APPROVED if auto else RequestStatus.PENDING
        req = MediaRequest(
            id=self._next_request,
            media=media,
            status=status,
            requested_by=requester,
            modified_by=requester if auto else None,
            created_at=now,
            updated_at=now,
            seasons=wanted,
            season_status={n: status for n in wanted},
        )
        self._next_request += 1
        self.requests[req.id] = req
        self._request_counts = None
        media.requests.append(req)
        self._media_follows(media, req, now)
        self.version += 1
        self.notify(Notification.MEDIA_AUTO_APPROVED if auto else Notification.MEDIA_PENDING, req)
        return req

    def _media_follows(self, media: Media, req: MediaRequest, now: int) -> None:
        """Media status after a request changed (pending → processing, back to unknown)."""
        if media.status in (MediaStatus.AVAILABLE,):
            return
        target: MediaStatus | None = None
        if req.status == RequestStatus.APPROVED:
            target = MediaStatus.PROCESSING
        elif req.status == RequestStatus.PENDING:
            target = MediaStatus.PENDING
        elif req.status in (RequestStatus.DECLINED, RequestStatus.FAILED):
            live = [
                r
                for r in media.requests
                if r.status in (RequestStatus.PENDING, RequestStatus.APPROVED)
            ]
            if not live and media.status != MediaStatus.PARTIALLY_AVAILABLE:
                target = MediaStatus.UNKNOWN
        if media.media_type == TV:
            for n in req.seasons:
                if media.season_status.get(n) not in (MediaStatus.AVAILABLE,):
                    if req.status == RequestStatus.APPROVED:
                        media.season_status[n] = MediaStatus.PROCESSING
                    elif req.status == RequestStatus.PENDING:
                        media.season_status[n] = MediaStatus.PENDING
                    else:
                        media.season_status[n] = MediaStatus.UNKNOWN
            media.last_season_change = now
            if media.status == MediaStatus.PARTIALLY_AVAILABLE:
                target = None
        if target is not None and media.status != target:
            media.status = target
        media.updated_at = now

    def _check_open(self, req: MediaRequest) -> None:
        if req.deleted:
            raise WorldError(f"request {req.id} was deleted")

    def approve(self, request_id: int | str, by: User | None = None) -> MediaRequest:
        """Approve a request (status 2, media processing) and notify."""
        req = self.request(request_id)
        self._check_open(req)
        now = self.now()
        req.status = RequestStatus.APPROVED
        req.season_status = {n: RequestStatus.APPROVED for n in req.seasons}
        req.modified_by = by or self.users[1]
        req.updated_at = now
        self._media_follows(req.media, req, now)
        self.version += 1
        self.notify(Notification.MEDIA_APPROVED, req)
        return req

    def decline(self, request_id: int | str, by: User | None = None) -> MediaRequest:
        """Decline a request (status 3) and notify."""
        req = self.request(request_id)
        self._check_open(req)
        now = self.now()
        req.status = RequestStatus.DECLINED
        req.season_status = {n: RequestStatus.DECLINED for n in req.seasons}
        req.modified_by = by or self.users[1]
        req.updated_at = now
        self._media_follows(req.media, req, now)
        self.version += 1
        self.notify(Notification.MEDIA_DECLINED, req)
        return req

    def fail(self, request_id: int | str) -> MediaRequest:
        """The download service refused the request: status 4 failed, and notify."""
        req = self.request(request_id)
        self._check_open(req)
        now = self.now()
        req.status = RequestStatus.FAILED
        req.season_status = {n: RequestStatus.FAILED for n in req.seasons}
        req.updated_at = now
        self._media_follows(req.media, req, now)
        self.version += 1
        self.notify(Notification.MEDIA_FAILED, req)
        return req

    def make_available(
        self, request_id: int | str, *, plex: bool = False, server: str | int = 0
    ) -> MediaRequest:
        """The title arrived: media status 5 (the request's seasons available) and every
        approved request of it is notified; with ``plex``, it is first added to the Plex
        world's ``server`` (see :meth:`add_to_plex`)."""
        req = self.request(request_id)
        self._check_open(req)
        if plex:
            self.add_to_plex(req.media, server=server, seasons=req.seasons or None)
        self.media_available(req.media, seasons=req.seasons or None)
        return req

    def media_available(self, media: Media, seasons: list[int] | None = None) -> Media:
        """Mark ``media`` (or some of its seasons) available; approved requests are notified."""
        now = self.now()
        if media.media_type == TV:
            numbers = seasons or media.title.season_numbers()
            for n in numbers:
                media.season_status[n] = MediaStatus.AVAILABLE
            every = all(
                media.season_status.get(n) == MediaStatus.AVAILABLE
                for n in media.title.season_numbers()
            )
            media.status = MediaStatus.AVAILABLE if every else MediaStatus.PARTIALLY_AVAILABLE
            media.last_season_change = now
        else:
            media.status = MediaStatus.AVAILABLE
        media.media_added_at = media.media_added_at or now
        if media.rating_key is None:
            media.rating_key = str(900_000 + media.id)
        media.updated_at = now
        self.version += 1
        for req in media.requests:
            if req.status != RequestStatus.APPROVED:
                continue
            if media.media_type == TV and not set(req.seasons) & set(
                n for n, s in media.season_status.items() if s == MediaStatus.AVAILABLE
            ):
                continue
            req.updated_at = now
            self.notify(Notification.MEDIA_AVAILABLE, req)
        return media

    def set_media_status(self, media: Media, status: MediaStatus) -> Media:
        """``POST /media/{id}/{status}`` for every status but available (see
        :meth:`media_available`)."""
        media.status = status
        if media.media_type == TV and status == MediaStatus.UNKNOWN:
            media.season_status = {n: MediaStatus.UNKNOWN for n in media.season_status}
        media.updated_at = self.now()
        self.version += 1
        return media

    def delete_media(self, media: Media) -> None:
        """``DELETE /media/{id}``: Overseerr forgets the title and its requests (it becomes
        requestable again)."""
        for req in list(media.requests):
            self.requests.pop(req.id, None)
            req.deleted = True
        self._request_counts = None
        del self.media[media.id]
        self.media_by_key.pop((media.media_type, media.title.tmdb), None)
        self.version += 1

    def add_to_plex(
        self, media: Media, *, server: str | int = 0, seasons: list[int] | None = None
    ) -> Item:
        """Put ``media``'s title in a Plex server of the world, as the download service and a
        Plex scan would: a movie, or a show with ``seasons`` (default all) and their
        episodes, with the title's identity — so Plex reports the same TMDB/IMDb/TVDB ids and
        a sync of the served Plex world finds it. Returns the Plex item (movie or show)."""
        title = media.title
        srv = self.plex.server(server)
        now = self.plex.now()
        if title.media_type == MOVIE:
            found = next(
                (
                    i
                    for i in srv.library.of_kind(MOVIES_SECTION, Kind.MOVIE)
                    if i.ident == title.ident
                ),
                None,
            )
            item = found or self.plex.add_movie(
                srv, title=title.title, year=title.year, ident=title.ident
            )
            held: frozenset[int] = frozenset()
        else:
            show = next(
                (
                    i
                    for i in srv.library.of_kind(SHOWS_SECTION, Kind.SHOW)
                    if i.ident == title.ident
                ),
                None,
            )
            if show is None:
                show = make_item(
                    srv.library,
                    kind=Kind.SHOW,
                    section_key=SHOWS_SECTION,
                    ident=title.ident,
                    title=title.title,
                    year=title.year,
                    index=1,
                    parent=None,
                    added_at=now,
                    updated_at=now,
                    agent=Agent.MODERN,
                )
                srv.library.add(show)
            episodes = dict(title.seasons)
            present = {s.index for s in show.children or ()}
            for number in seasons or title.season_numbers():
                if number in present or number not in episodes:
                    continue
                season = add_season(srv, show, number, now)
                for _ in range(episodes[number]):
                    add_next_episode(srv, season, None, now)
            item = show
            held = frozenset(s.index for s in show.children or ())
        title.plex = PlexCopy(srv.slug, item.rating_key, item.added_at, held)
        media.rating_key = str(item.rating_key)
        return item

    def delete_request(self, request_id: int | str) -> MediaRequest:
        """``DELETE /request/{id}``: the request goes; media with no request left returns to
        unknown (unless some of it is available)."""
        req = self.request(request_id)
        del self.requests[req.id]
        self._request_counts = None
        self.version += 1
        req.deleted = True
        media = req.media
        media.requests = [r for r in media.requests if r is not req]
        now = self.now()
        if media.media_type == TV:
            for n in req.seasons:
                if media.season_status.get(n) in (MediaStatus.PENDING, MediaStatus.PROCESSING):
                    media.season_status[n] = MediaStatus.UNKNOWN
        if not media.requests and media.status in (MediaStatus.PENDING, MediaStatus.PROCESSING):
            media.status = MediaStatus.UNKNOWN
        media.updated_at = now
        return req

    def update_request(
        self,
        request_id: int | str,
        *,
        seasons: list[int] | None = None,
        user: User | None = None,
    ) -> MediaRequest:
        """``PUT /request/{id}``: change the seasons of a show request or its requester."""
        req = self.request(request_id)
        if seasons is not None and req.media_type == TV:
            numbers = set(req.media.title.season_numbers())
            req.seasons = sorted({int(s) for s in seasons if int(s) in numbers})
            req.season_status = {n: req.status for n in req.seasons}
        if user is not None:
            req.requested_by = user
            self._request_counts = None
        req.updated_at = self.now()
        self.version += 1
        if req.status == RequestStatus.PENDING:
            self.notify(Notification.MEDIA_PENDING_UPDATED, req)
        return req

    # -- notifications -----------------------------------------------------------------------

    def notify(self, kind: Notification, req: MediaRequest) -> None:
        """Queue the webhook of ``kind`` about ``req`` (sent in the background, in order)."""
        title = req.media.title
        media_word = _MEDIA_NAMES[req.media_type]
        events = {
            Notification.MEDIA_PENDING: f"New {media_word} Request",
            Notification.MEDIA_PENDING_UPDATED: f"Pending {media_word} Request Updated",
            Notification.MEDIA_AUTO_APPROVED: f"{media_word} Request Automatically Approved",
            Notification.MEDIA_APPROVED: f"{media_word} Request Approved",
            Notification.MEDIA_DECLINED: f"{media_word} Request Declined",
            Notification.MEDIA_AVAILABLE: f"{media_word} Request Now Available",
            Notification.MEDIA_FAILED: f"{media_word} Request Failed",
        }
        payload: dict[str, Any] = {
            "event": events.get(kind, ""),
            "subject": f"{title.title} ({title.year})",
            "message": title.overview,
            "image": f"https://image.tmdb.org/t/p/w600_and_h900_bestv2{title.poster_path}",
            "notifyUser": None
            if kind == Notification.MEDIA_PENDING
            else {
                "displayName": req.requested_by.display_name,
                "email": req.requested_by.email,
                "avatar": req.requested_by.avatar,
            },
            "media": {
                "tmdbId": title.tmdb,
                "imdbId": title.imdb or "",
                "tvdbId": title.tvdb if title.tvdb is not None else "",
                "mediaType": req.media_type,
                "status": int(req.media.status),
                "status4k": int(MediaStatus.UNKNOWN),
            },
            "request": {
                "id": req.id,
                "requestedBy": {
                    "displayName": req.requested_by.display_name,
                    "email": req.requested_by.email,
                    "avatar": req.requested_by.avatar,
                },
            },
            "extra": (
                [{"name": "Requested Seasons", "value": ", ".join(str(n) for n in req.seasons)}]
                if req.media_type == TV
                else []
            ),
        }
        self.notifier.send(kind, payload)

    # -- description -------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """A JSON summary of the world (what the control API's ``/state`` answers)."""
        return {
            "seed": self.seed,
            "apiKey": self.api_key,
            "plexItems": self.plex.items_per_server,
            "titles": {
                "total": len(self.catalogue.titles),
                "inPlex": sum(1 for _ in self.catalogue.in_plex()),
                "requestableOnly": sum(1 for _ in self.catalogue.requestable_only()),
            },
            "users": [
                {
                    "id": u.id,
                    "email": u.email,
                    "displayName": u.display_name,
                    "plexId": u.plex_id,
                    "plexAccount": u.plex_account,
                    "permissions": u.permissions,
                }
                for u in self.users.values()
            ],
            "plexAccountsWithoutUser": [
                key
                for key, a in self.plex.accounts.items()
                if not any(u.plex_id == a.id for u in self.users.values())
            ],
            "requests": len(self.requests),
            "media": len(self.media),
            "down": self.down_status,
            "faults": [r.describe() for r in self.faults.rules],
            "webhook": self.webhook.to_json(),
            "deliveries": len(self.notifier.deliveries),
        }
