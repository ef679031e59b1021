"""The library sync engine: copies media sources' libraries into the catalogue.

Plugins only answer "give me the page after this cursor" (``list_library``) and "what
changed since this checkpoint" (``list_changes``); everything else is here:

- **Full sync** walks the whole library. Each call asks the source for a page of its own
  size (its ``page_size``, capped by the ``[sync]`` one); pages are read ahead of the writer
  (the next page is always being fetched while one is written, up to a batch ahead), written
  in batches (see :mod:`medianest.core.sync.store`), and every id seen is recorded; at the
  end, the source's items that were not seen are deleted in one statement.
- **Incremental sync** walks the changes since the checkpoint of the last successful run
  (an incremental one, or a full one whose source gave the checkpoint of its walk) and
  stores the new checkpoint when it succeeds. It never deletes.
- A page that fails upstream (5xx, 429, timeout, malformed body) is retried with back-off;
  a run that still cannot go on fails with the reason stored on it.
- A run survives its worker: each batch commits the position after it, the worker renews a
  lease while it runs, and a run whose lease lapsed is taken over and resumed.
- Progress goes to pub/sub (``sync`` channel) after every batch; the end of a run is a
  domain event (``sync.succeeded`` or ``sync.failed``).
- Watchers (:class:`CatalogueWatcher`, added with :meth:`SyncEngine.watch`) hear of every
  committed batch and of every full sync that deleted items: the requests service marks
  requested titles available, or requestable again, from there. A watcher that fails is
  logged; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

import structlog

from medianest.config.settings import SyncSettings
from medianest.core.backoff import RetryPolicy
from medianest.core.db import Database
from medianest.core.db.models import SyncRun
from medianest.core.db.records import Record, record_of
from medianest.core.metrics import Metrics
from medianest.core.registry import ProviderRegistry
from medianest.core.sync import runs
from medianest.core.sync.runs import RunKind, Trigger
from medianest.core.sync.store import (
    BatchPosition,
    CatalogueWriter,
    DeletionRefusedError,
    LeaseLostError,
    writer_for,
)
from medianest.sdk import events
from medianest.sdk.errors import (
    ConflictError,
    InvalidInputError,
    MediaNestError,
    NotFoundError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimitedError,
)
from medianest.sdk.models import ChangesPage, DomainEvent, MediaItem, Page
from medianest.sdk.providers import ChangesSource, LibrarySource, MediaSource, SourceCapability
from medianest.sdk.services import JobQueue, PubSub

log = structlog.get_logger(__name__)

T = TypeVar("T")

PROGRESS_CHANNEL = events.SYNC_PROGRESS_CHANNEL
"""Pub/sub channel of run progress: ``{"run": <run view>}`` after every batch and at the end."""
RUN_JOB = "sync.run"
MAX_RETRY_DELAY_SECONDS = 60.0
_RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


class SyncFailedError(Exception):
    """A run cannot go on; the message is stored on the run as the reason."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Fetched:
    """A page as the walk got it, with where the walk goes next."""

    items: list[MediaItem]
    next_cursor: str | None
    checkpoint: str | None
    total: int | None


EventEmitter = Callable[[DomainEvent], Awaitable[None]]
"""Hands a domain event to analytics and subscribers (the hub's ``emit``)."""


class CatalogueWatcher(Protocol):
    """Told what syncs changed in the catalogue, once it is committed."""

    async def items_synced(self, source: str, records: Sequence[Record]) -> None:
        """A batch of ``source``'s items was committed (new, changed and unchanged alike)."""
        ...

    async def items_deleted(self, source: str) -> None:
        """A full sync of ``source`` deleted the items its walk no longer found."""
        ...


class SyncEngine:
    """Requests, runs and resumes syncs of a hub's media sources.

    Built with what it uses; :meth:`start` hands it the job queue and pub/sub once the hub
    has opened them.
    """

    def __init__(
        self,
        settings: SyncSettings,
        *,
        database: Database,
        registry: ProviderRegistry,
        metrics: Metrics,
        emit: EventEmitter,
    ) -> None:
        self.settings = settings
        self.database = database
        self.registry = registry
        self.metrics = metrics
        self._emit = emit
        self._writer: CatalogueWriter | None = None
        self._watchers: list[CatalogueWatcher] = []
        self._jobs: JobQueue | None = None
        self._pubsub: PubSub | None = None
        self._page_backoff = RetryPolicy(
            base_seconds=settings.retry_base_seconds, max_seconds=MAX_RETRY_DELAY_SECONDS
        )

    def start(self, *, pubsub: PubSub, jobs: JobQueue | None) -> None:
        """Use ``pubsub`` for progress and ``jobs`` to queue runs (``None``: runs cannot be
        queued from here, as in admin commands)."""
        self._pubsub = pubsub
        self._jobs = jobs

    def watch(self, watcher: CatalogueWatcher) -> None:
        """Tell ``watcher`` of every committed batch and every full sync's deletions."""
        self._watchers.append(watcher)

    @property
    def jobs(self) -> JobQueue:
        """The queue runs are handed to workers through (after :meth:`start`)."""
        if self._jobs is None:
            raise RuntimeError("the sync engine has no job queue (the hub is not started)")
        return self._jobs

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.lease_seconds)

    @property
    def writer(self) -> CatalogueWriter:
        if self._writer is None:
            self._writer = writer_for(self.database)
        return self._writer

    # -- sources ---------------------------------------------------------------------------

    def sources(self) -> list[MediaSource]:
        """The media sources that have a library to sync."""
        return [
            source
            for source in self.registry.all("media_sources")
            if SourceCapability.LIBRARY in source.capabilities
        ]

    def source(self, source_id: str, kind: RunKind = RunKind.FULL) -> MediaSource:
        """The media source ``source_id``, checked to support a ``kind`` sync.

        :raises NotFoundError: no such media source (listing those there are).
        :raises InvalidInputError: it has no library, or cannot list changes (incremental).
        """
        source: MediaSource = self.registry.get("media_sources", source_id)
        if SourceCapability.LIBRARY not in source.capabilities:
            raise InvalidInputError(
                f"{source_id} has no library to sync (it is searched live)", field="source"
            )
        if kind is RunKind.INCREMENTAL and SourceCapability.CHANGES not in source.capabilities:
            raise InvalidInputError(
                f"{source_id} cannot list its changes; run a full sync instead", field="full"
            )
        return source

    # -- requesting ------------------------------------------------------------------------

    async def request(
        self,
        source_id: str,
        kind: RunKind,
        trigger: Trigger,
        requested_by: str | None = None,
    ) -> tuple[SyncRun, bool]:
        """Queue a run of ``source_id`` for a worker, or join the one already going.

        Returns ``(run, created)``. A run already queued or running that does the same work
        (same kind, or a full run when an incremental one is asked) is returned instead of
        starting another; it is handed to a worker again when its own worker is gone.

        :raises NotFoundError: no such media source.
        :raises InvalidInputError: the source cannot be synced this way.
        :raises ConflictError: a run of another kind is going; try when it ends.
        """
        run, created = await self.claim_slot(source_id, kind, trigger, requested_by)
        if created or runs.is_stale(run, utcnow(), self.lease):
            await self.jobs.enqueue(
                RUN_JOB, run_id=run.id, job_id=f"{RUN_JOB}:{run.id}:{run.attempts}"
            )
        return run, created

    async def claim_slot(
        self,
        source_id: str,
        kind: RunKind,
        trigger: Trigger,
        requested_by: str | None = None,
    ) -> tuple[SyncRun, bool]:
        """The source's run slot: a new queued run, or the active one when it will do.

        :raises NotFoundError: no such media source.
        :raises InvalidInputError: the source cannot be synced this way.
        :raises ConflictError: a run of another kind is queued or running.
        """
        self.source(source_id, kind)
        run, created = await runs.request_run(source_id, kind, trigger, requested_by, utcnow())
        if not created and not runs.covers(run.kind, kind):
            raise ConflictError(
                f"a {run.kind} sync of {source_id} is {run.status} (run {run.id}); "
                f"start the {kind.value} sync when it has ended"
            )
        return run, created

    # -- running ---------------------------------------------------------------------------

    async def execute(self, run_id: int) -> SyncRun | None:
        """Run (or resume) run ``run_id`` to its end, in this task.

        Returns the run as it ended, or ``None`` when there was nothing to do here: it
        has ended already, or another worker holds it. Cancelling the task releases the
        run at once, so the next worker resumes it without waiting for the lease to lapse.
        """
        owner = uuid.uuid4().hex
        run = await runs.claim(run_id, owner, utcnow(), self.lease)
        if run is None:
            return None
        log.info("sync started", run=run.id, source=run.source, kind=run.kind, attempt=run.attempts)
        await self._publish(run)  # followers see it running before the first batch
        started = time.perf_counter()
        try:
            await self._guarded(run, owner)
        except LeaseLostError:
            log.warning("sync run taken over by another worker", run=run.id, source=run.source)
            return None
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                # A batch still being written finishes first: released before it commits,
                # the run would make that batch fail as written by a worker that lost it.
                await asyncio.shield(asyncio.gather(*_writing, return_exceptions=True))
                await _uninterrupted(runs.record(run.id, owner, owner=None, heartbeat_at=_RELEASED))
            log.warning("sync interrupted, to be resumed", run=run.id, source=run.source)
            raise
        except SyncFailedError as exc:
            await self._fail(run, owner, str(exc))
        except Exception as exc:
            log.exception("sync crashed", run=run.id, source=run.source)
            await self._fail(run, owner, f"internal error: {type(exc).__name__}: {exc}")
        ended = await SyncRun.get(id=run.id)
        await self._ended(ended, time.perf_counter() - started)
        return ended

    async def _guarded(self, run: SyncRun, owner: str) -> None:
        """The walk, while a heartbeat keeps the lease; a lost lease stops the walk."""
        work = asyncio.create_task(self._run(run, owner))
        beat = asyncio.create_task(self._keep_lease(run.id, owner))
        try:
            done, _ = await asyncio.wait({work, beat}, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                return work.result()
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            beat.result()
            raise LeaseLostError(f"run {run.id} is no longer ours")
        finally:
            for task in (work, beat):
                task.cancel()
            await asyncio.gather(work, beat, return_exceptions=True)

    async def _keep_lease(self, run_id: int, owner: str) -> None:
        interval = max(0.2, self.settings.lease_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            if not await _uninterrupted(runs.heartbeat(run_id, owner, utcnow())):
                raise LeaseLostError(f"run {run_id} is no longer ours")

    async def _run(self, run: SyncRun, owner: str) -> None:
        try:
            source = self.source(run.source, RunKind(run.kind))
        except (NotFoundError, InvalidInputError) as exc:
            raise SyncFailedError(exc.message) from exc
        full = run.kind == RunKind.FULL
        if not full and run.attempts == 1:
            run.since = await runs.latest_checkpoint(run.source)
            await runs.record(run.id, owner, since=run.since)
        walked = run.pages > 0 and run.cursor is None
        if not walked:
            await self._walk(run, owner, source, full=full)
        if full:
            try:
                run.deleted = await _uninterrupted(
                    self.writer.delete_unseen(
                        run.source, run.id, owner, self.settings.max_delete_fraction, utcnow()
                    )
                )
            except DeletionRefusedError as exc:
                raise SyncFailedError(str(exc)) from exc
            await _uninterrupted(self.writer.forget_seen(run.id))
            if run.deleted:
                await self._tell(run, lambda watcher: watcher.items_deleted(run.source))
        elif not await _uninterrupted(runs.finish(run.id, owner, utcnow(), errors=run.errors)):
            raise LeaseLostError(f"run {run.id} is no longer ours")

    def page_size(self, source: MediaSource) -> int:
        """Items asked of ``source`` per call: its own ``page_size`` when it declares one (the
        most it reads from its upstream in one request), capped by ``[sync] page_size``."""
        own = getattr(source, "page_size", None)
        limit = self.settings.page_size
        if isinstance(own, int) and not isinstance(own, bool) and own >= 1:
            return min(own, limit)
        return limit

    async def _walk(self, run: SyncRun, owner: str, source: MediaSource, *, full: bool) -> None:
        """Fetch pages ahead of writing them; commit a batch every ``batch_size`` items.

        The reader runs in its own task: while a page is mapped to records or a batch is
        written, the next page is already being fetched, and it may get up to a batch ahead
        (a commit takes longer than a page), so the source and the database work at once.
        """
        limit = self.page_size(source)
        ahead = max(1, math.ceil(self.settings.batch_size / limit))

        # `source()` let the run through only for a source declaring what it walks (library;
        # changes too for an incremental run), and a declared method was checked at boot.
        def fetch(cursor: str | None) -> Awaitable[Page[MediaItem] | ChangesPage]:
            if full:
                return cast(LibrarySource, source).list_library(cursor, limit)
            return cast(ChangesSource, source).list_changes(run.since, cursor, limit)

        pages: asyncio.Queue[_Fetched | BaseException] = asyncio.Queue(maxsize=ahead)
        producer = asyncio.create_task(self._produce(run, source, fetch, pages))
        try:
            batch: dict[str, Record] = {}
            pages_in_batch = 0
            while True:
                fetched = await pages.get()
                if isinstance(fetched, BaseException):
                    raise fetched
                now = utcnow()
                for item in fetched.items:
                    record = record_of(item, now)
                    batch[record.item_id] = record
                pages_in_batch += 1
                last = fetched.next_cursor is None
                if len(batch) >= self.settings.batch_size or last:
                    await self._commit(run, owner, list(batch.values()), pages_in_batch, fetched)
                    batch.clear()
                    pages_in_batch = 0
                if last:
                    return
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _produce(
        self,
        run: SyncRun,
        source: MediaSource,
        fetch: Callable[[str | None], Awaitable[Page[MediaItem] | ChangesPage]],
        pages: asyncio.Queue[_Fetched | BaseException],
    ) -> None:
        cursor = run.cursor
        number = run.pages
        try:
            while True:
                number += 1
                fetched = await self._fetch(run, source, fetch, cursor, number)
                await pages.put(fetched)
                if fetched.next_cursor is None:
                    return
                if fetched.next_cursor == cursor:
                    raise SyncFailedError(
                        f"{source.id} returned page {number} with the cursor it was asked "
                        "for: its walk does not move on"
                    )
                cursor = fetched.next_cursor
        except Exception as exc:
            await pages.put(exc)

    async def _fetch(
        self,
        run: SyncRun,
        source: MediaSource,
        fetch: Callable[[str | None], Awaitable[Page[MediaItem] | ChangesPage]],
        cursor: str | None,
        number: int,
    ) -> _Fetched:
        """One page, retried with back-off while the upstream trouble may pass."""
        tries = 0
        while True:
            tries += 1
            retry_after: float | None = None
            try:
                async with asyncio.timeout(self.settings.page_timeout_seconds):
                    page = await fetch(cursor)
                return _checked(source.id, page)
            except UpstreamAuthError as exc:
                raise SyncFailedError(f"{source.id} refused the hub: {exc.message}") from exc
            except InvalidInputError as exc:
                raise SyncFailedError(
                    f"{source.id} does not accept the run's position any more ({exc.message}); "
                    "start a new sync"
                ) from exc
            except (UpstreamRateLimitedError, RateLimitedError) as exc:
                reason, retry_after = exc.message, exc.retry_after
            except UpstreamError as exc:
                reason = exc.message
            except TimeoutError:
                reason = f"no answer within {self.settings.page_timeout_seconds:g} s"
            except MediaNestError as exc:
                reason = f"{source.id} failed on page {number}: {exc.message}"
                raise SyncFailedError(reason) from exc
            run.errors += 1
            if tries > self.settings.page_retries:
                raise SyncFailedError(
                    f"{source.id} failed on page {number} after {tries} tries: {reason}"
                )
            delay = (
                min(retry_after, MAX_RETRY_DELAY_SECONDS)
                if retry_after
                else self._page_backoff.delay(tries)
            )
            log.warning(
                "sync page failed, retrying",
                run=run.id,
                source=source.id,
                page=number,
                attempt=tries,
                retry_in=round(delay, 2),
                reason=reason,
            )
            await asyncio.sleep(delay)

    async def _commit(
        self,
        run: SyncRun,
        owner: str,
        records: list[Record],
        pages: int,
        last: _Fetched,
    ) -> None:
        now = utcnow()
        position = BatchPosition(
            run_id=run.id,
            owner=owner,
            pages=pages,
            errors=run.errors,
            cursor=last.next_cursor,
            checkpoint=last.checkpoint,
            total=last.total,
            now=now,
        )
        result = await _uninterrupted(
            self.writer.write_batch(records, position, track_seen=run.kind == RunKind.FULL)
        )
        run.pages += pages
        run.items_seen += len(records)
        run.inserted += result.inserted
        run.updated += result.updated
        run.cursor = last.next_cursor
        run.checkpoint = last.checkpoint or run.checkpoint
        run.total = last.total if last.total is not None else run.total
        run.heartbeat_at = now
        if records:
            await self._tell(run, lambda watcher: watcher.items_synced(run.source, records))
        metrics = self.metrics.sync_items
        metrics.labels(run.source, "inserted").inc(result.inserted)
        metrics.labels(run.source, "updated").inc(result.updated)
        await self._publish(run)

    async def _tell(
        self, run: SyncRun, call: Callable[[CatalogueWatcher], Awaitable[None]]
    ) -> None:
        """``call`` every watcher; one that fails is logged and the run goes on."""
        for watcher in self._watchers:
            try:
                await _uninterrupted(call(watcher))
            except Exception:
                log.exception("sync watcher failed", run=run.id, source=run.source)

    async def _fail(self, run: SyncRun, owner: str, reason: str) -> None:
        log.error("sync failed", run=run.id, source=run.source, reason=reason)
        await _uninterrupted(
            runs.finish(run.id, owner, utcnow(), error=reason[:2000], errors=run.errors)
        )
        await _uninterrupted(self.writer.forget_seen(run.id))

    async def _ended(self, run: SyncRun, seconds: float) -> None:
        self.metrics.sync_runs.labels(run.source, run.kind, run.status).inc()
        if run.status == "succeeded":
            self.metrics.sync_items.labels(run.source, "deleted").inc(run.deleted)
            if run.finished_at is not None:
                self.metrics.sync_last_success.labels(run.source, run.kind).set(
                    run.finished_at.timestamp()
                )
        log.info(
            "sync ended",
            run=run.id,
            source=run.source,
            kind=run.kind,
            status=run.status,
            seconds=round(seconds, 3),
            items=run.items_seen,
            inserted=run.inserted,
            updated=run.updated,
            deleted=run.deleted,
        )
        await self._publish(run)
        await self._emit(
            DomainEvent(
                type=f"sync.{run.status}",
                source="core",
                data=runs.run_view(run),
            )
        )

    async def _publish(self, run: SyncRun) -> None:
        if self._pubsub is None:
            return
        try:
            await self._pubsub.publish(PROGRESS_CHANNEL, {"run": runs.run_view(run)})
        except Exception as exc:  # progress is best effort; the run row is the record
            log.warning("sync progress not published", run=run.id, error=str(exc))


_writing: set[asyncio.Future[Any]] = set()
"""Database writes in flight in this process (see :func:`_uninterrupted`)."""


async def _uninterrupted(write: Awaitable[T]) -> T:
    """Await a database write that a cancellation must not cut in half.

    Cancelling a task in the middle of a statement can leave the driver's connection lock
    taken (SQLite) or a transaction half done; shielded, the write completes (or fails) on
    its own while the cancellation reaches the caller at once.
    """
    task = asyncio.ensure_future(write)
    _writing.add(task)
    task.add_done_callback(_writing.discard)
    return await asyncio.shield(task)


def _checked(source_id: str, page: Any) -> _Fetched:
    """The page, once it is what the protocol promises (a plugin bug fails the run)."""
    if isinstance(page, ChangesPage):
        fetched = _Fetched(page.items, page.next_cursor, page.checkpoint, None)
    elif isinstance(page, Page):
        fetched = _Fetched(page.items, page.next_cursor, page.checkpoint, page.total)
    else:
        raise SyncFailedError(
            f"{source_id} returned {type(page).__name__} for a page; expected a Page"
        )
    for item in fetched.items:
        if not isinstance(item, MediaItem):
            raise SyncFailedError(
                f"{source_id} returned {type(item).__name__} in a page; expected MediaItem"
            )
        if item.ref.source != source_id:
            raise SyncFailedError(
                f"{source_id} returned item {item.ref.item_id!r} of another source "
                f"({item.ref.source})"
            )
    return fetched
