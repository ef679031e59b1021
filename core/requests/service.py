"""Media requests: filed with a request backend as the asking person, kept by the hub.

:class:`RequestService` is the one way core files, reads and acts on requests; the API, the
CLI, the pages and the hub's ``request_changed`` (webhooks) all go through it.

Rules it keeps:

- **Attribution**: every backend call carries the acting person's :class:`Principal` (their
  linked identities and email), never an admin's; a person the backend does not know gets its
  :class:`~medianest.sdk.errors.AccountNotLinkedError`.
- **Quotas** per person and kind (films, shows) over a window of days, from settings or the
  person's override, counted on the hub's own table before the backend is asked, under a lock
  per person shared by every replica. A backend's own quota refusal becomes the same error.
- **Duplicates**: one open request per work (kind + TMDB id, or the IMDb/TheTVDB id); asking
  again adds the person to the interested and answers with the existing request. A work
  already in a library is not requested at all.
- **Nothing half-saved**: the backend files the request first, then the hub writes its row in
  a transaction; when that write fails the backend's request is deleted again. A backend that
  timed out may still have filed it: the hub asks it by ids and keeps what it finds, else
  withdraws it later.
- Every change emits its ``request.*`` event, is published on ``REQUESTS_CHANNEL`` and to the
  requester and the interested, and every action is in the audit log.

Calls need the hub's database current in the task (core makes it so per request and job).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from medianest.config.settings import RequestSettings
from medianest.core.auth import audit
from medianest.core.db import Database
from medianest.core.db.models import (
    LibraryItem,
    MediaRequestInterest,
    RequestQuotaOverride,
    User,
)
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.events import publish_to_person
from medianest.core.registry import ProviderRegistry
from medianest.core.requests.errors import (
    AlreadyAvailableError,
    AlreadyRequestedError,
    InvalidTransitionError,
    NoRequestBackendError,
    QuotaExceededError,
    RequestNotSavedError,
)
from medianest.core.requests.locks import Locks
from medianest.core.requests.views import (
    DELETED,
    OPEN_STATUSES,
    Action,
    Created,
    Kind,
    Person,
    Quota,
    RequestAsk,
    RequestPage,
    RequestQuery,
    RequestSummary,
    RequestView,
)
from medianest.sdk import events
from medianest.sdk.access import Permission
from medianest.sdk.errors import (
    InvalidInputError,
    MediaNestError,
    NotFoundError,
    PermissionDeniedError,
    UpstreamError,
    UpstreamTimeoutError,
)
from medianest.sdk.models import (
    DomainEvent,
    ExternalIds,
    MediaItem,
    MediaKind,
    MediaRequest,
    MediaRequestCreate,
    Principal,
    RequestStatus,
    SourceRef,
    decode_cursor,
    encode_cursor,
)
from medianest.sdk.providers import RequestBackend
from medianest.sdk.services import PubSub

log = structlog.get_logger(__name__)

T = TypeVar("T")

SYSTEM = Principal(user_id=0, username="system", role="admin")
"""Who acts when no person does (the command line without ``--as``)."""

MAX_PAGE = 200
_EVENT_BY_STATUS = {
    RequestStatus.APPROVED.value: events.REQUEST_APPROVED,
    RequestStatus.DECLINED.value: events.REQUEST_DECLINED,
    RequestStatus.AVAILABLE.value: events.REQUEST_AVAILABLE,
    RequestStatus.FAILED.value: events.REQUEST_FAILED,
    DELETED: events.REQUEST_DELETED,
}
_EVENT_OF_ACTION = {
    "approve": events.REQUEST_APPROVED,
    "decline": events.REQUEST_DECLINED,
    "delete": events.REQUEST_DELETED,
}
_ACTED = {"approve": "approved", "decline": "declined", "retry": "retried", "delete": "deleted"}
_FROM: dict[str, tuple[str, ...]] = {
    "approve": (RequestStatus.PENDING.value, RequestStatus.DECLINED.value),
    "decline": (RequestStatus.PENDING.value, RequestStatus.APPROVED.value),
    "retry": (RequestStatus.FAILED.value,),
    "delete": tuple(s.value for s in RequestStatus),
}
"""The statuses each action applies to."""

Views = list[RequestView]
People = list[Person]
Quotas = list[Quota]
Outcomes = list[tuple[int, RequestView | None, MediaNestError | None]]
FindItem = Callable[[str, str], Awaitable[MediaItem | None]]


class RequestService:
    """Files, reads and acts on media requests (see the module's rules).

    :param find_item: the hub's media read: the item ``(source, item_id)`` as the hub shows it
        (its catalogue, else the source live), or ``None``.
    :param pubsub: the hub's pub/sub, once started.
    :param locks: locks shared by the hub's replicas.
    """

    def __init__(
        self,
        settings: RequestSettings,
        *,
        database: Database,
        registry: ProviderRegistry,
        emit: Callable[[DomainEvent], Awaitable[None]],
        pubsub: Callable[[], PubSub],
        locks: Locks,
        find_item: FindItem,
    ) -> None:
        self.settings = settings
        self._database = database
        self._registry = registry
        self._emit = emit
        self._pubsub = pubsub
        self._locks = locks
        self._find_item = find_item
        self._background: set[asyncio.Task[None]] = set()

    # -- backends --------------------------------------------------------------------------

    def backends(self) -> list[RequestBackend]:
        """The hub's request backends."""
        return list(self._registry.all("request_backends"))

    def backend(self, backend_id: str | None = None) -> RequestBackend:
        """The backend ``backend_id``, or the default one (settings, else the only one).

        :raises NotFoundError: there is no such backend (naming it).
        :raises InvalidInputError: naming ``backend``: there are several and no default.
        :raises NoRequestBackendError: none is configured.
        """
        backends = {backend.id: backend for backend in self.backends()}
        wanted = backend_id or self.settings.default_backend
        if wanted is not None:
            if wanted in backends:
                return backends[wanted]
            raise NotFoundError(
                f"no request backend {wanted!r} on this hub (there are: "
                f"{', '.join(sorted(backends)) or 'none'})"
            )
        if len(backends) == 1:
            return next(iter(backends.values()))
        if not backends:
            raise NoRequestBackendError(
                "this hub has no request backend: an admin must configure one (Overseerr)"
            )
        raise InvalidInputError(
            f"this hub has several request backends ({', '.join(sorted(backends))}): "
            "say which in 'backend'",
            field="backend",
        )

    async def _call(self, backend: RequestBackend, call: Awaitable[T]) -> T:
        """Await a backend's ``call``, within the timeout; its trouble names the backend."""
        timeout = self.settings.backend_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                return await call
        except TimeoutError:
            raise UpstreamTimeoutError(
                f"request backend {backend.id} did not answer within {timeout:g} s",
                source=backend.id,
            ) from None
        except UpstreamError as exc:
            if exc.source is None:
                exc.source = backend.id
            raise

    # -- create ----------------------------------------------------------------------------

    async def create(self, principal: Principal, ask: RequestAsk) -> Created:
        """File ``ask`` for ``principal`` (who holds ``request``; the caller checked it).

        :raises InvalidInputError: naming the field (seasons for a film, a media reference
            that is no film or show, no external id to request it by).
        :raises NotFoundError: the media reference or the TMDB id is unknown (naming it).
        :raises AlreadyAvailableError: the work is in a library.
        :raises AlreadyRequestedError: it has an open request (the person joined it).
        :raises QuotaExceededError: the person's quota (or the backend's) is used up.
        :raises AccountNotLinkedError: the backend has no account for the person.
        :raises UpstreamError: the backend failed or timed out (naming it).
        :raises RequestNotSavedError: the hub could not keep the request (withdrawn again).
        """
        with self._database.activate():
            backend = self.backend(ask.backend)
            ids, title = await self._ids_of(ask)
            seasons = _seasons(ask)
            await self._not_in_a_library(ask.kind, ids, seasons)
            existing = await self._open_request(ask.kind, ids)
            if existing is not None:
                raise await self._join(existing, principal)
            async with self._locks.hold(
                f"request:{principal.user_id}",
                ttl=self.settings.backend_timeout_seconds * 3 + 5,
                wait=self.settings.backend_timeout_seconds + 5,
            ):
                await self._check_quota(principal, ask.kind)
                remote = await self._file(backend, principal, ask.kind, ids, title, seasons)
                if remote.title is None and title is not None:
                    remote = remote.model_copy(update={"title": title})
                view = await self._keep(backend, principal, ask.kind, ids, seasons, remote)
            created = Created(request=view)
            await self._announce(view, events.REQUEST_CREATED)
            await audit.record(
                "request.created",
                actor=principal,
                target=f"request:{view.id}",
                details={"backend": backend.id, "remote_id": view.remote_id, "kind": ask.kind},
            )
            if principal.has(Permission.AUTO_APPROVE) and view.status == "pending":
                try:
                    approved = await self.act(principal, view.id, "approve", audit_as="auto")
                except MediaNestError as exc:
                    log.warning(
                        "auto-approval failed; the request waits for review",
                        request_id=view.id,
                        error=str(exc),
                    )
                    created.notes.append(f"not approved at once: {exc}")
                else:
                    if approved is not None:
                        created.request = approved
                        created.approved = True
            return created

    async def _ids_of(self, ask: RequestAsk) -> tuple[ExternalIds, str | None]:
        if (ask.tmdb_id is None) == (ask.media is None):
            raise InvalidInputError("give either 'tmdb_id' or 'media', not both", field="tmdb_id")
        if ask.tmdb_id is not None:
            return ExternalIds(tmdb=ask.tmdb_id), None
        assert ask.media is not None
        source, item_id = ask.media
        item = await self._find_item(source, item_id)
        if item is None:
            raise NotFoundError(f"no media item {source}/{item_id} on this hub")
        if item.kind.value != ask.kind:
            raise InvalidInputError(
                f"{source}/{item_id} is a {item.kind.value}, not a {ask.kind}", field="media"
            )
        if not (item.ids.tmdb or item.ids.imdb or item.ids.tvdb):
            raise InvalidInputError(
                f"{source}/{item_id} has no TMDB, IMDb or TheTVDB id to request it by",
                field="media",
            )
        return ExternalIds(tmdb=item.ids.tmdb, imdb=item.ids.imdb, tvdb=item.ids.tvdb), item.title

    async def _not_in_a_library(
        self, kind: Kind, ids: ExternalIds, seasons: list[int] | str | None
    ) -> None:
        found = await _library_item(kind, ids)
        if found is None:
            return
        if kind == "show" and isinstance(seasons, list):
            have = set(
                await LibraryItem.filter(
                    source=found.source, parent_id=found.item_id, kind="season"
                ).values_list("number", flat=True)
            )
            if not set(seasons) <= have:
                return  # some of the seasons asked for are missing: they may be requested
        raise AlreadyAvailableError(
            f"{found.title} is already available in {found.source} (item {found.item_id})"
            + ("; ask for the missing seasons by number" if kind == "show" else ""),
            source=found.source,
            item_id=found.item_id,
        )

    async def _open_request(self, kind: str, ids: ExternalIds) -> RequestRow | None:
        match = _id_match(ids)
        if match is None:
            return None
        return (
            await RequestRow.filter(match, kind=kind, status__in=OPEN_STATUSES)
            .order_by("id")
            .first()
        )

    async def _join(self, row: RequestRow, principal: Principal) -> AlreadyRequestedError:
        """Add ``principal`` to the interested in ``row``; the 409 to answer with it."""
        if principal.user_id and principal.user_id != row.requested_by_id:
            with contextlib.suppress(IntegrityError):
                await MediaRequestInterest.create(
                    request_id=row.id, user_id=principal.user_id, created_at=_now()
                )
        view = (await self._views([row]))[0]
        return AlreadyRequestedError(
            f"{view.title or 'this title'} was requested already (request {view.id}, "
            f"{view.status}); you will hear when it changes",
            existing=view,
        )

    async def _check_quota(self, principal: Principal, kind: Kind) -> None:
        quota = await self.quota(principal.user_id, kind, exempt=_exempt(principal))
        if quota.remaining is not None and quota.remaining <= 0:
            raise QuotaExceededError(
                f"you used your {quota.limit} {kind} request(s) per {quota.days} days"
                + (
                    f"; the next one frees up at {quota.reset_at.isoformat()}"
                    if quota.reset_at
                    else ""
                ),
                limit=quota.limit,
                days=quota.days,
                remaining=0,
                reset_at=quota.reset_at,
            )

    async def _file(
        self,
        backend: RequestBackend,
        principal: Principal,
        kind: Kind,
        ids: ExternalIds,
        title: str | None,
        seasons: list[int] | str | None,
    ) -> MediaRequest:
        ask = MediaRequestCreate(
            kind=MediaKind(kind),
            ids=ids,
            title=title,
            seasons=tuple(seasons) if isinstance(seasons, list) else (),
        )
        try:
            return await self._call(backend, backend.create_request(principal, ask))
        except QuotaExceededError:
            raise
        except PermissionDeniedError as exc:
            if "quota" in exc.message.lower():
                raise QuotaExceededError(
                    f"{backend.id} refused: {exc.message}", plugin=exc.plugin
                ) from exc
            raise
        except NotFoundError as exc:
            raise NotFoundError(
                f"{backend.id} knows no {kind} with "
                + (f"TMDB id {ids.tmdb}" if ids.tmdb else f"ids {_ids_text(ids)}")
                + f": {exc.message}"
            ) from exc
        except UpstreamTimeoutError:
            found = await self._look_for(backend, principal, ids)
            if found is not None:
                log.info("request backend timed out but filed the request", backend=backend.id)
                return found
            self._later(self._withdraw_late(backend, principal, ids))
            raise

    async def _look_for(
        self, backend: RequestBackend, principal: Principal, ids: ExternalIds
    ) -> MediaRequest | None:
        """The backend's request for ``ids``, if it has one (``None`` also when it cannot say)."""
        try:
            found = await self._call(backend, backend.request_status(principal, [ids]))
        except MediaNestError as exc:
            log.warning(
                "request backend could not say what it filed", backend=backend.id, error=str(exc)
            )
            return None
        return found.get(ids)

    async def _withdraw_late(
        self, backend: RequestBackend, principal: Principal, ids: ExternalIds
    ) -> None:
        """After a timeout: a request the backend filed late has no local row; withdraw it."""
        await asyncio.sleep(self.settings.backend_timeout_seconds)
        with self._database.activate():
            if await self._open_request(MediaKind.MOVIE.value, ids) or await self._open_request(
                MediaKind.SHOW.value, ids
            ):
                return  # someone filed it since: it is kept
            late = await self._look_for(backend, principal, ids)
            if (
                late is not None
                and not await RequestRow.filter(backend=backend.id, remote_id=late.request_id)
                .exclude(status=DELETED)
                .exists()
            ):
                await self._compensate(backend, principal, late.request_id)

    async def _keep(
        self,
        backend: RequestBackend,
        principal: Principal,
        kind: Kind,
        ids: ExternalIds,
        seasons: list[int] | str | None,
        remote: MediaRequest,
    ) -> RequestView:
        """Write the local row for ``remote``; withdraw ``remote`` when that fails."""
        now = _now()
        merged = ExternalIds(
            tmdb=ids.tmdb or remote.ids.tmdb,
            imdb=ids.imdb or remote.ids.imdb,
            tvdb=ids.tvdb or remote.ids.tvdb,
        )
        try:
            async with in_transaction(self._database.connection.connection_name):
                row = await RequestRow.create(
                    backend=backend.id,
                    remote_id=remote.request_id,
                    kind=kind,
                    tmdb_id=merged.tmdb,
                    imdb_id=merged.imdb,
                    tvdb_id=merged.tvdb,
                    title=remote.title,
                    year=remote.year,
                    seasons=[] if seasons == "all" else seasons,
                    status=remote.status.value,
                    reason=remote.reason,
                    requested_by_id=principal.user_id,
                    created_at=now,
                    updated_at=now,
                    decided_at=now if remote.status in _DECIDED else None,
                )
                await MediaRequestInterest.create(
                    request_id=row.id, user_id=principal.user_id, created_at=now
                )
        except IntegrityError:
            # Another replica kept the same work a moment ago: this one joins it.
            await self._compensate(backend, principal, remote.request_id)
            existing = await self._open_request(kind, merged)
            if existing is None:
                raise RequestNotSavedError(
                    "the request could not be kept on the hub and was withdrawn; try again"
                ) from None
            raise await self._join(existing, principal) from None
        except Exception as exc:
            log.error(
                "the hub could not keep a filed request; withdrawing it",
                backend=backend.id,
                remote_id=remote.request_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            await self._compensate(backend, principal, remote.request_id)
            raise RequestNotSavedError(
                "the hub could not save the request (its database is not answering), so it "
                f"was withdrawn from {backend.id}; try again shortly"
            ) from exc
        # Just written: the requester is the one person on it (no need to read it back).
        person = Person(principal.user_id, principal.username)
        return self._view(row, {principal.user_id: principal.username}, {row.id: [person]})

    async def _compensate(
        self, backend: RequestBackend, principal: Principal, remote_id: str
    ) -> bool:
        """Delete the backend's request ``remote_id``; True when it is gone."""
        try:
            await self._call(backend, backend.act(principal, remote_id, "delete"))
        except NotFoundError:
            return True
        except Exception as exc:
            log.error(
                "could not withdraw a request the hub does not keep; delete it in the backend",
                backend=backend.id,
                remote_id=remote_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        log.info(
            "withdrew a request the hub could not keep", backend=backend.id, remote_id=remote_id
        )
        return True

    def _later(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:
                log.error("request clean-up failed", error=f"{type(exc).__name__}: {exc}")

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Stop background clean-ups (the reconciliation catches what they leave)."""
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    # -- read ------------------------------------------------------------------------------

    async def get(self, principal: Principal, request_id: int) -> RequestView:
        """Request ``request_id`` if ``principal`` may see it (theirs, one they follow, or
        any with ``manage_requests``).

        :raises NotFoundError: no such request visible to them.
        """
        with self._database.activate():
            row = await self._row(request_id)
            view = (await self._views([row]))[0]
            if not _may_see(principal, view):
                raise _not_found(request_id)
            return view

    async def list(self, principal: Principal, query: RequestQuery) -> RequestPage:
        """Requests newest first, keyset-paged, with the total of the whole list.

        :raises PermissionDeniedError: ``everyone`` or another ``user`` without
            ``manage_requests``.
        :raises InvalidInputError: a bad cursor, status or limit, naming it.
        """
        manager = principal.has(Permission.MANAGE_REQUESTS)
        if (query.everyone or (query.user is not None and query.user != principal.user_id)) and (
            not manager
        ):
            raise PermissionDeniedError(
                "listing other people's requests needs the manage_requests permission",
                permission=Permission.MANAGE_REQUESTS.value,
            )
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        unknown = [
            s for s in query.status if s not in (*OPEN_STATUSES, "declined", "available", DELETED)
        ]
        if unknown:
            raise InvalidInputError(f"unknown status {unknown[0]!r}", field="status")
        with self._database.activate():
            filtered = RequestRow.all()
            if query.user is not None:
                filtered = filtered.filter(requested_by_id=query.user)
            elif not query.everyone:
                filtered = filtered.filter(requested_by_id=principal.user_id)
            if query.status:
                filtered = filtered.filter(status__in=query.status)
            if query.kind:
                filtered = filtered.filter(kind=query.kind)
            if query.since:
                filtered = filtered.filter(created_at__gte=query.since)
            if query.until:
                filtered = filtered.filter(created_at__lt=query.until)
            total = await filtered.count()
            paged = filtered
            if query.cursor:
                after = decode_cursor(query.cursor)
                if not isinstance(after.get("id"), int):
                    raise InvalidInputError("this cursor was not made by this list", field="cursor")
                paged = paged.filter(id__lt=after["id"])
            rows = await paged.order_by("-id").limit(query.limit + 1)
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            return RequestPage(
                items=await self._views(rows),
                next_cursor=encode_cursor({"id": rows[-1].id}) if more else None,
                total=total,
            )

    async def lookup_by_ids(
        self, ids: Iterable[ExternalIds], *, kind: str | None = None
    ) -> dict[ExternalIds, RequestSummary]:
        """The request for each of ``ids`` that has one, in ONE query on the hub's table
        (no backend call): an open one first, else the latest that is not deleted.

        ``kind`` narrows to films or shows (a TMDB id alone does not say which); ids without
        a request are left out.
        """
        wanted = [i for i in dict.fromkeys(ids) if i.tmdb or i.imdb or i.tvdb]
        if not wanted:
            return {}
        tmdb = sorted({i.tmdb for i in wanted if i.tmdb})
        imdb = sorted({i.imdb for i in wanted if i.imdb})
        tvdb = sorted({i.tvdb for i in wanted if i.tvdb})
        arms = [
            Q(**_kw({f"{column}__in": values}))
            for column, values in (("tmdb_id", tmdb), ("imdb_id", imdb), ("tvdb_id", tvdb))
            if values
        ]
        match = Q(*arms, join_type="OR")
        with self._database.activate():
            found = RequestRow.filter(match).exclude(status=DELETED)
            if kind is not None:
                found = found.filter(kind=kind)
            rows = await found.order_by("-id").values(
                "id",
                "kind",
                "status",
                "tmdb_id",
                "imdb_id",
                "tvdb_id",
                "requested_by_id",
                "requested_by__username",
                "created_at",
                "location_source",
                "location_item_id",
            )
        result: dict[ExternalIds, RequestSummary] = {}
        for key in wanted:
            best: dict[str, Any] | None = None
            for row in rows:
                if not (
                    (key.tmdb and row["tmdb_id"] == key.tmdb)
                    or (key.imdb and row["imdb_id"] == key.imdb)
                    or (key.tvdb and row["tvdb_id"] == key.tvdb)
                ):
                    continue
                if best is None or (
                    row["status"] in OPEN_STATUSES and best["status"] not in OPEN_STATUSES
                ):
                    best = row
            if best is not None:
                result[key] = RequestSummary(
                    id=best["id"],
                    kind=best["kind"],
                    status=best["status"],
                    requested_by=Person(best["requested_by_id"], best["requested_by__username"]),
                    created_at=best["created_at"],
                    location=(
                        (best["location_source"], best["location_item_id"])
                        if best["location_source"] and best["location_item_id"]
                        else None
                    ),
                )
        return result

    # -- act -------------------------------------------------------------------------------

    async def act(
        self,
        principal: Principal,
        request_id: int,
        action: Action,
        *,
        reason: str | None = None,
        audit_as: str | None = None,
    ) -> RequestView | None:
        """Approve, decline (with ``reason``), retry or delete request ``request_id`` as
        ``principal``, in the backend first, then on the hub; ``None`` once deleted.

        Approving, declining and retrying need ``manage_requests``; a person may delete their
        own request while it is pending.

        :raises NotFoundError: no such request visible to ``principal``.
        :raises PermissionDeniedError: ``principal`` may not do this.
        :raises InvalidTransitionError: the action does not apply to the request's status.
        :raises UpstreamError: the backend failed or timed out (nothing changed on the hub).
        """
        with self._database.activate():
            row = await self._row(request_id)
            view = (await self._views([row]))[0]
            manager = principal.has(Permission.MANAGE_REQUESTS)
            if not _may_see(principal, view):
                raise _not_found(request_id)
            own_pending = (
                action == "delete"
                and row.requested_by_id == principal.user_id
                and row.status == RequestStatus.PENDING.value
            )
            if not (manager or own_pending or audit_as == "auto"):
                raise PermissionDeniedError(
                    f"to {action} this request you need the manage_requests permission"
                    + (
                        " (you may delete your own request while it is pending)"
                        if action == "delete"
                        else ""
                    ),
                    permission=Permission.MANAGE_REQUESTS.value,
                )
            if row.status not in _FROM[action]:
                raise InvalidTransitionError(
                    f"request {request_id} is {row.status}: it cannot be {_ACTED[action]}"
                )
            backend = self._registry_backend(row.backend)
            remote: MediaRequest | None = None
            if backend is not None:
                try:
                    remote = await self._call(
                        backend, backend.act(principal, row.remote_id, action)
                    )
                except NotFoundError:
                    if action != "delete":
                        raise NotFoundError(
                            f"{row.backend} no longer has request {row.remote_id}; the "
                            "reconciliation will bring the hub's copy up to date"
                        ) from None
            elif action != "delete":
                raise NotFoundError(f"the request backend {row.backend} is not configured")
            if action == "delete":
                status = DELETED
            elif remote is not None:
                status = remote.status.value
            else:
                status = {"approve": "approved", "decline": "declined", "retry": "pending"}[action]
            updated = await self._apply(
                row,
                status,
                reason=reason if action == "decline" else (remote.reason if remote else None),
                decided_by=principal if action in ("approve", "decline") else None,
                # Approving says "approved" even when the backend moved on at once (processing).
                event=_EVENT_OF_ACTION.get(action),
            )
            await audit.record(
                f"request.{_ACTED[action]}",
                actor=principal if principal.user_id else None,
                actor_label=None if principal.user_id else principal.username,
                target=f"request:{request_id}",
                details={
                    k: v
                    for k, v in {"reason": reason, "via": audit_as, "status": status}.items()
                    if v
                },
            )
            return None if status == DELETED else updated

    async def bulk(
        self,
        principal: Principal,
        request_ids: Sequence[int],
        action: Action,
        *,
        reason: str | None = None,
    ) -> Outcomes:
        """:meth:`act` on each of ``request_ids`` in turn; each outcome, in order."""
        outcomes: Outcomes = []
        for request_id in dict.fromkeys(request_ids):
            try:
                view = await self.act(principal, request_id, action, reason=reason)
            except MediaNestError as exc:
                outcomes.append((request_id, None, exc))
            else:
                outcomes.append((request_id, view, None))
        return outcomes

    def _registry_backend(self, backend_id: str) -> RequestBackend | None:
        for backend in self.backends():
            if backend.id == backend_id:
                return backend
        return None

    # -- changes from elsewhere ------------------------------------------------------------

    async def request_changed(self, request: MediaRequest) -> bool:
        """Apply a backend's news about one of its requests (``HubContext.request_changed``).

        False when the hub keeps no such request; a status it already holds changes nothing.
        """
        with self._database.activate():
            row = (
                await RequestRow.filter(backend=request.backend, remote_id=request.request_id)
                .exclude(status=DELETED)
                .first()
            )
            if row is None:
                return False
            status = request.status.value
            if status == row.status and (request.reason or None) == (row.reason or None):
                return True
            await self._apply(row, status, reason=request.reason)
            return True

    async def mark(
        self,
        request_id: int,
        status: str,
        *,
        reason: str | None = None,
        location: tuple[str, str] | None = None,
    ) -> RequestView:
        """Set request ``request_id``'s status as the hub learned it (a sync found the title:
        ``available`` with its ``location``), with its event and live messages."""
        with self._database.activate():
            row = await self._row(request_id)
            return await self._apply(row, status, reason=reason, location=location)

    async def _apply(
        self,
        row: RequestRow,
        status: str,
        *,
        reason: str | None = None,
        decided_by: Principal | None = None,
        location: tuple[str, str] | None = None,
        event: str | None = None,
    ) -> RequestView:
        now = _now()
        changed = status != row.status
        row.status = status
        row.updated_at = now
        if reason is not None or status in (
            RequestStatus.APPROVED.value,
            RequestStatus.PENDING.value,
        ):
            row.reason = reason
        decided = event in (events.REQUEST_APPROVED, events.REQUEST_DECLINED)
        if decided or (
            status in (RequestStatus.APPROVED.value, RequestStatus.DECLINED.value) and changed
        ):
            row.decided_at = now
            row.decided_by_id = decided_by.user_id if decided_by and decided_by.user_id else None
        if status == RequestStatus.AVAILABLE.value:
            row.available_at = row.available_at if not changed and row.available_at else now
        if location is not None:
            row.location_source, row.location_item_id = location
        await row.save()
        view = (await self._views([row]))[0]
        if event is None and changed:
            event = _EVENT_BY_STATUS.get(status)
        await self._announce(view, event)
        return view

    async def _announce(self, view: RequestView, event_type: str | None) -> None:
        """The event (when the status calls for one) and the live messages of a change."""
        if event_type is not None:
            await self._emit(
                DomainEvent(
                    type=event_type,
                    source="core",
                    user_id=view.requested_by.id,
                    item=SourceRef(source=view.location[0], item_id=view.location[1])
                    if view.location
                    else None,
                    data=view.event_data(),
                )
            )
        shown = view.to_json()
        try:
            await self._pubsub().publish(events.REQUESTS_CHANNEL, {"request": shown})
            for user_id in view.people():
                await publish_to_person(
                    self._pubsub(), user_id, {"type": "request", "request": shown}
                )
        except Exception as exc:  # live news is best effort; the change itself is saved
            log.warning("could not publish a request change", request_id=view.id, error=str(exc))

    # -- quotas ----------------------------------------------------------------------------

    async def quota(self, user_id: int, kind: Kind, *, exempt: bool = False) -> Quota:
        """Person ``user_id``'s quota for ``kind`` and how much of it is used now.

        :param exempt: the person is not held to the settings' default (they manage
            requests); an override still applies.
        """
        override = await RequestQuotaOverride.get_or_none(user_id=user_id, kind=kind)
        default = self.settings.quota[kind]
        limit, days = (override.limit, override.days) if override else (default.limit, default.days)
        if override is None and exempt:
            limit = 0
        if limit == 0:
            return Quota(kind, 0, days, 0, None, None, override is not None)
        since = _now() - timedelta(days=days)
        counted = RequestRow.filter(
            requested_by_id=user_id, kind=kind, created_at__gte=since
        ).exclude(status=DELETED)
        used = await counted.count()
        oldest = (
            await counted.order_by("created_at").offset(max(0, used - limit)).first()
            if used >= limit
            else None
        )
        reset_at = oldest.created_at + timedelta(days=days) if oldest else None
        return Quota(kind, limit, days, used, max(0, limit - used), reset_at, override is not None)

    async def quotas(self, user_id: int) -> Quotas:
        """Person ``user_id``'s quotas, films then shows."""
        with self._database.activate():
            user = await User.get_or_none(id=user_id)
            if user is None:
                raise NotFoundError(f"no user {user_id}")
            exempt = user.role == "admin" or Permission.MANAGE_REQUESTS.value in (
                user.permissions or []
            )
            return [await self.quota(user_id, kind, exempt=exempt) for kind in ("movie", "show")]

    async def set_quota(
        self, actor: Principal, user_id: int, kind: Kind, limit: int | None, days: int | None
    ) -> Quotas:
        """Give person ``user_id`` their own quota for ``kind`` (``limit`` None: back to the
        default); audited."""
        with self._database.activate():
            if not await User.exists(id=user_id):
                raise NotFoundError(f"no user {user_id}")
            if limit is None:
                await RequestQuotaOverride.filter(user_id=user_id, kind=kind).delete()
            else:
                await RequestQuotaOverride.update_or_create(
                    user_id=user_id,
                    kind=kind,
                    defaults={
                        "limit": limit,
                        "days": days or self.settings.quota[kind].days,
                        "updated_at": _now(),
                        "updated_by": actor.username,
                    },
                )
            await audit.record(
                "request.quota_changed",
                actor=actor,
                target=f"user:{user_id}",
                details={"kind": kind, "limit": limit, "days": days},
            )
            return await self.quotas(user_id)

    # -- rows to views ---------------------------------------------------------------------

    async def _row(self, request_id: int) -> RequestRow:
        row = await RequestRow.get_or_none(id=request_id)
        if row is None:
            raise _not_found(request_id)
        return row

    async def _views(self, rows: Sequence[RequestRow]) -> Views:
        if not rows:
            return []
        ids = [row.id for row in rows]
        people = {row.requested_by_id for row in rows} | {
            row.decided_by_id for row in rows if row.decided_by_id
        }
        interests = (
            await MediaRequestInterest.filter(request_id__in=ids)
            .order_by("id")
            .values("request_id", "user_id")
        )
        people |= {i["user_id"] for i in interests}
        names = dict(await User.filter(id__in=people).values_list("id", "username"))
        interested: dict[int, People] = {}
        for i in interests:
            interested.setdefault(i["request_id"], []).append(
                Person(i["user_id"], names.get(i["user_id"], "?"))
            )
        return [self._view(row, names, interested) for row in rows]

    @staticmethod
    def _view(row: RequestRow, names: dict[int, str], interested: dict[int, People]) -> RequestView:
        return RequestView(
            id=row.id,
            backend=row.backend,
            remote_id=row.remote_id,
            kind=row.kind,
            title=row.title,
            year=row.year,
            ids=ExternalIds(tmdb=row.tmdb_id, imdb=row.imdb_id, tvdb=row.tvdb_id),
            seasons=_shown_seasons(row.seasons),
            status=row.status,
            reason=row.reason,
            requested_by=Person(row.requested_by_id, names.get(row.requested_by_id, "?")),
            decided_by=(
                Person(row.decided_by_id, names.get(row.decided_by_id, "?"))
                if row.decided_by_id
                else None
            ),
            interested=interested.get(row.id, []),
            created_at=row.created_at,
            updated_at=row.updated_at,
            decided_at=row.decided_at,
            available_at=row.available_at,
            location=(
                (row.location_source, row.location_item_id)
                if row.location_source and row.location_item_id
                else None
            ),
        )


_DECIDED = (RequestStatus.APPROVED, RequestStatus.DECLINED)


def _now() -> datetime:
    return datetime.now(UTC)


def _exempt(principal: Principal) -> bool:
    return principal.has(Permission.MANAGE_REQUESTS)


def _may_see(principal: Principal, view: RequestView) -> bool:
    return principal.has(Permission.MANAGE_REQUESTS) or principal.user_id in view.people()


def _not_found(request_id: int) -> NotFoundError:
    return NotFoundError(f"no request {request_id}")


def _seasons(ask: RequestAsk) -> list[int] | str | None:
    if ask.kind == "movie":
        if ask.seasons is not None:
            raise InvalidInputError("seasons are for shows only, not films", field="seasons")
        return None
    if ask.seasons is None or ask.seasons == "all":
        return "all"
    numbers = sorted(set(ask.seasons))
    if not numbers or any(n < 0 or n > 1000 for n in numbers):
        raise InvalidInputError(
            'seasons is a list of season numbers (0 to 1000) or "all"', field="seasons"
        )
    return numbers


def _shown_seasons(stored: Any) -> list[int] | Literal["all"] | None:
    """Seasons as stored (a list; empty: every season; null: a film) as shown."""
    if stored is None:
        return None
    return list(stored) or "all"


def _id_match(ids: ExternalIds) -> Q | None:
    arms = [
        Q(**_kw({column: value}))
        for column, value in (("tmdb_id", ids.tmdb), ("imdb_id", ids.imdb), ("tvdb_id", ids.tvdb))
        if value
    ]
    if not arms:
        return None
    return Q(*arms, join_type="OR")


def _ids_text(ids: ExternalIds) -> str:
    return ", ".join(f"{k} {v}" for k, v in ids.model_dump(exclude_none=True).items())


async def _library_item(kind: str, ids: ExternalIds) -> LibraryItem | None:
    arms = [
        Q(**_kw({column: value}))
        for column, value in (("tmdb", ids.tmdb), ("imdb", ids.imdb), ("tvdb", ids.tvdb))
        if value
    ]
    if not arms:
        return None
    return (
        await LibraryItem.filter(Q(*arms, join_type="OR"), kind=kind)
        .order_by("source", "id")
        .first()
    )


def _kw(filters: dict[str, Any]) -> dict[str, Any]:
    """Filters built from column names, as keyword arguments of ``Q``."""
    return filters
