"""Reconciliation: the hub's copy of every request brought up to date with its backend.

Webhooks tell the hub of each change at once, but a webhook can be lost (the hub was down,
the backend's notification settings changed, a network blip). The ``requests.reconcile``
job (every ``requests.reconcile_minutes``, on the workers, in the hub's process when
embedded) walks every request backend's list of everyone's requests, a page of
:data:`PAGE_SIZE` at a time, and for each page:

- reads the hub's rows for the page's remote ids in ONE query;
- applies each status that differs through the same path as a webhook
  (:meth:`RequestService.request_changed`: one event per change, live news);
- writes nothing when nothing changed.

What the hub learned itself is kept: a request the hub marked ``available`` (a sync found the
title) or ``deleted`` is not moved back by a backend that has not caught up.

The backend is asked as :data:`SYSTEM`, the hub's own principal (an admin, user id 0, held by
no person): listing *everyone's* requests is a ``manage_requests`` call, and the backend answers
it with its own admin credentials (Overseerr: its API key, without ``X-Api-User``). A backend
that fails (down, refusing, answering garbage, past the timeout) is skipped for this run and
logged; the others are still reconciled, and the next run tries it again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog

from medianest.core.db import Database
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.requests.views import DELETED
from medianest.sdk.errors import MediaNestError
from medianest.sdk.jobs import Cron, Job, JobContext
from medianest.sdk.models import MediaRequest, Principal, RequestStatus
from medianest.sdk.providers import RequestBackend

log = structlog.get_logger(__name__)

RECONCILE_JOB = "requests.reconcile"
PAGE_SIZE = 100
"""Requests asked of a backend per call."""
MAX_PAGES = 10_000
"""A walk stops after this many pages (a backend whose cursor never ends)."""

KEPT = frozenset({RequestStatus.AVAILABLE.value, DELETED})
"""Local statuses a backend's list does not overrule (the hub learned them itself)."""

ApplyChange = Callable[[MediaRequest], Awaitable[bool]]


@dataclass(slots=True)
class BackendOutcome:
    """How one backend's reconciliation went."""

    backend: str
    pages: int = 0
    seen: int = 0
    """Requests the backend listed."""
    known: int = 0
    """Of those, the ones the hub keeps."""
    updated: int = 0
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "pages": self.pages,
            "seen": self.seen,
            "known": self.known,
            "updated": self.updated,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(slots=True)
class Reconciliation:
    """What one run did, per backend."""

    backends: list[BackendOutcome] = field(default_factory=list)

    @property
    def updated(self) -> int:
        return sum(outcome.updated for outcome in self.backends)

    @property
    def calls(self) -> int:
        """Upstream calls made (one per page)."""
        return sum(outcome.pages for outcome in self.backends)

    def as_dict(self) -> dict[str, Any]:
        return {
            "updated": self.updated,
            "calls": self.calls,
            "backends": [outcome.as_dict() for outcome in self.backends],
        }


class Reconciler:
    """Walks request backends and applies the statuses the hub missed (see the module).

    :param database: the hub's database (its request table).
    :param backends: the hub's request backends, asked at each run.
    :param apply: applies one backend request's news, as a webhook does
        (``RequestService.request_changed``).
    :param principal: who the backends are asked as (the hub's own principal).
    :param timeout_seconds: the longest one page may take.
    """

    def __init__(
        self,
        database: Database,
        *,
        backends: Callable[[], Sequence[RequestBackend]],
        apply: ApplyChange,
        principal: Principal,
        timeout_seconds: float,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._database = database
        self._backends = backends
        self._apply = apply
        self._principal = principal
        self._timeout = timeout_seconds
        self._page_size = page_size

    async def run(self) -> Reconciliation:
        """Reconcile every backend in turn; a failing one is skipped and logged."""
        result = Reconciliation()
        for backend in self._backends():
            outcome = BackendOutcome(backend=backend.id)
            started = time.perf_counter()
            try:
                await self._walk(backend, outcome)
            except (MediaNestError, TimeoutError) as exc:
                outcome.error = _reason(exc)
                log.warning(
                    "request backend skipped by the reconciliation",
                    backend=backend.id,
                    reason=outcome.error,
                    pages=outcome.pages,
                )
            except Exception as exc:
                outcome.error = f"internal error: {type(exc).__name__}: {exc}"
                log.exception("request backend reconciliation crashed", backend=backend.id)
            outcome.seconds = time.perf_counter() - started
            result.backends.append(outcome)
        log.info("requests reconciled", **_summary(result))
        return result

    async def _walk(self, backend: RequestBackend, outcome: BackendOutcome) -> None:
        cursor: str | None = None
        while outcome.pages < MAX_PAGES:
            async with asyncio.timeout(self._timeout):
                page = await backend.list_requests(
                    self._principal, cursor, self._page_size, everyone=True
                )
            outcome.pages += 1
            outcome.seen += len(page.items)
            await self._page(backend.id, page.items, outcome)
            if page.next_cursor is None:
                return
            if page.next_cursor == cursor:
                raise MediaNestError(f"{backend.id} returned the same cursor again")
            cursor = page.next_cursor

    async def _page(
        self, backend_id: str, items: Sequence[MediaRequest], outcome: BackendOutcome
    ) -> None:
        remote = {
            item.request_id: item
            for item in items
            if isinstance(item, MediaRequest) and item.backend == backend_id
        }
        if not remote:
            return
        with self._database.activate():
            rows = await RequestRow.filter(
                backend=backend_id, remote_id__in=list(remote)
            ).values_list("remote_id", "status", "reason")
        for remote_id, status, reason in rows:
            outcome.known += 1
            news = remote[remote_id]
            if not _differs(news, status, reason):
                continue
            if await self._apply(news):
                outcome.updated += 1


def _differs(news: MediaRequest, status: str, reason: str | None) -> bool:
    """Whether the backend's ``news`` changes the hub's row (``status``, ``reason``)."""
    if status in KEPT:
        return False
    if news.status.value != status:
        return True
    return news.reason is not None and news.reason != reason


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    if isinstance(exc, MediaNestError):
        return exc.message
    return str(exc)


def _summary(result: Reconciliation) -> dict[str, Any]:
    return {
        "updated": result.updated,
        "calls": result.calls,
        "failed": [o.backend for o in result.backends if o.error] or None,
    }


async def reconcile_job(reconciler: Reconciler, ctx: JobContext) -> dict[str, Any]:
    """The ``requests.reconcile`` job: one run over every backend; what it did."""
    return (await reconciler.run()).as_dict()


def every(minutes: int) -> Cron | None:
    """The schedule of a run every ``minutes`` (from the hour; ``0``: none)."""
    if minutes <= 0:
        return None
    return Cron(minute=set(range(0, 60, minutes)) if minutes < 60 else 0, second=0)


def jobs_for(reconciler: Reconciler, minutes: int) -> list[Job]:
    """The reconciliation job, on a schedule of every ``minutes`` (none with ``0``)."""
    return [
        Job(
            name=RECONCILE_JOB,
            function=partial(reconcile_job, reconciler),
            max_tries=1,
            timeout_seconds=600,
            cron=every(minutes),
        )
    ]
