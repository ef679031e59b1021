"""``medianest sync``: sync a media source's library now and follow it, or list recent runs.

``medianest sync plex:home [--full]`` asks for an incremental (or full) sync of the source,
or joins the run already queued or running when that one does the work, then follows it
with a progress bar until it ends:

- embedded mode (no ``redis_url``): this process runs it, in the hub's database;
- scaled mode: it is queued for the ``medianest worker`` processes, and followed by reading
  the run every half second.

Exit status: 0 when the run succeeded; 1 when it failed (the reason is printed); 2 for bad
input: an unknown source (the sources with a library are listed), an incremental sync of a
source that cannot list its changes, or a run of the other kind going on. Ctrl-C stops
following and exits 130; the run goes on. When this process was running it (embedded mode),
the run stops after its last committed batch and the next sync of the source resumes it.

``medianest sync --list [SOURCE]`` shows the latest runs. ``--json`` prints the run (or the
runs) as JSON on standard output instead, with no progress bar.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import NoReturn, Protocol

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from medianest.config import Settings
from medianest.core.auth import audit
from medianest.core.cli._common import (
    Context,
    err,
    handles_errors,
    out,
    plain_table,
    print_error,
    run,
)
from medianest.core.cli._hub import services
from medianest.core.db.models import SyncRun
from medianest.core.hub import Hub, build_hub
from medianest.core.sync import RunKind, Trigger
from medianest.core.sync import runs as sync_runs
from medianest.core.sync.engine import utcnow
from medianest.sdk.errors import ConflictError, InvalidInputError, NotFoundError

CLI_ACTOR = "cli"
POLL_SECONDS = 0.5
"""How often a followed run is read again."""
RELEASE_TIMEOUT_SECONDS = 10.0
"""How long an interrupted run gets to release itself before this process exits."""
QUEUED_HINT_SECONDS = 15.0
"""How long a run may sit queued in scaled mode before the command asks about workers."""


@dataclass
class _Following:
    """What the command is doing, for the message Ctrl-C gets."""

    source: str
    run_id: int | None = None
    running_here: bool = False
    released: bool = False
    lease_seconds: float = 0.0


class _View(Protocol):
    def update(self, run: SyncRun) -> None: ...


class _Silent:
    """No progress display (``--json``)."""

    def update(self, run: SyncRun) -> None:
        pass


class _ProgressBar:
    """A run's progress on a terminal: items against the library's total, pages, changes."""

    def __init__(self, console: Console, run: SyncRun) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[items]}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task("", total=None, items="", detail="")
        self.update(run)

    def __enter__(self) -> _ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, run: SyncRun) -> None:
        total = run.total
        if run.status == "succeeded" and total is None:
            total = run.items_seen  # the walk is over: the bar is full
        items = f"{run.items_seen:,}" + (f"/{total:,}" if total is not None else "") + " items"
        # As in --list's "changes": + new, ~ updated, - deleted (the summary spells them out).
        detail = f"{run.pages:,} pages, +{run.inserted:,} ~{run.updated:,} -{run.deleted:,}"
        if run.errors:
            detail += f", {run.errors:,} retried"
        self._progress.update(
            self._task,
            description=f"{run.source} {run.kind} ({run.status})",
            completed=run.items_seen,
            total=max(total, run.items_seen) if total is not None else None,
            items=items,
            detail=detail,
        )


@click.command("sync")
@click.argument("source", required=False)
@click.option(
    "--full",
    is_flag=True,
    help="Walk the whole library and delete what is gone from it (default: read only what "
    "changed since the last sync).",
)
@click.option(
    "--list", "list_runs", is_flag=True, help="Show the latest runs (of SOURCE, if given)."
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many runs --list shows.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run (or runs) as JSON, no progress bar."
)
@click.pass_obj
@handles_errors
def sync_command(
    obj: Context, source: str | None, full: bool, list_runs: bool, limit: int, as_json: bool
) -> None:
    """Sync the library of SOURCE (plex:home) now and follow the run until it ends.

    Joins the run already going when it does the same work. Exits 0 when the run succeeded,
    1 when it failed, 2 for a source or kind of sync that cannot be done. Ctrl-C stops
    following; the run goes on (or, when this process was running it, resumes at the next
    sync).
    """
    settings = obj.settings()
    if list_runs:
        if full:
            raise click.UsageError("--full starts a sync; it does not go with --list")
        _list(settings, source, limit, as_json)
        return
    if source is None:
        known = ", ".join(s.id for s in build_hub(settings).sync.sources()) or "none"
        raise click.UsageError(
            f"name the media source to sync (sources with a library: {known}), "
            "or use --list to see the latest runs"
        )
    kind = RunKind.FULL if full else RunKind.INCREMENTAL
    following = _Following(source=source, lease_seconds=settings.sync.lease_seconds)
    try:
        ended, joined = run(_sync(settings, source, kind, following, as_json=as_json))
    except (NotFoundError, InvalidInputError, ConflictError) as exc:
        _refuse(exc)
    except KeyboardInterrupt:
        err.print(_interrupted(following), soft_wrap=True)
        sys.exit(130)
    if as_json:
        out.print_json(json.dumps(sync_runs.run_view(ended) | {"joined": joined}))
    if ended.status != "succeeded":
        if not as_json:
            print_error(
                f"the {ended.kind} sync of {ended.source} failed (run {ended.id}): "
                f"{ended.error or 'no reason was recorded'}"
            )
        sys.exit(1)
    if not as_json:
        out.print(_summary(ended), markup=False, soft_wrap=True)


@asynccontextmanager
async def _sync_services(settings: Settings) -> AsyncIterator[Hub]:
    """The hub a sync from the command line needs.

    Embedded mode: the database and shared state (the run is run here; no job runner, so no
    scheduled job starts in this process). Scaled mode: the hub as a worker starts it, with
    the job queue the run is handed to.
    """
    if settings.mode == "embedded":
        async with services(settings) as hub:
            yield hub
        return
    hub = build_hub(settings)
    await hub.start(run_jobs=False)
    try:
        yield hub
    finally:
        await hub.close()


async def _sync(
    settings: Settings, source: str, kind: RunKind, following: _Following, *, as_json: bool
) -> tuple[SyncRun, bool]:
    """Request (or join) the run and follow it; returns the run as it ended and ``joined``.

    :raises NotFoundError: no such media source.
    :raises InvalidInputError: the source cannot be synced this way.
    :raises ConflictError: a run of the other kind is going.
    """
    async with _sync_services(settings) as hub:
        with hub.database.activate():
            embedded = hub.mode == "embedded"
            hub.sync.source(source, kind)
            if embedded:
                claimed, created = await hub.sync.claim_slot(
                    source, kind, Trigger.CLI, requested_by=CLI_ACTOR
                )
            else:
                claimed, created = await hub.sync.request(
                    source, kind, Trigger.CLI, requested_by=CLI_ACTOR
                )
            following.run_id = claimed.id
            await audit.record(
                "sync.requested",
                actor_label=CLI_ACTOR,
                target=f"source:{source}",
                details={"run_id": claimed.id, "kind": kind.value, "joined": not created},
            )
            if as_json:
                return await _follow(hub, claimed, following, _Silent()), not created
            err.print(_announcement(claimed, created, embedded=embedded), soft_wrap=True)
            with _ProgressBar(err, claimed) as bar:
                return await _follow(hub, claimed, following, bar), not created


async def _follow(hub: Hub, run: SyncRun, following: _Following, view: _View) -> SyncRun:
    """Follow ``run`` until it ends; in embedded mode run it here unless a live worker has it.

    Cancelling stops following; a run this process was running is released at once, so the
    next sync resumes it without waiting for its lease to lapse.
    """
    embedded = hub.mode == "embedded"
    executor: asyncio.Task[SyncRun | None] | None = None

    def run_here() -> asyncio.Task[SyncRun | None]:
        following.running_here = True
        return asyncio.create_task(hub.sync.execute(run.id))

    if embedded:
        executor = run_here()
    queued_since = time.monotonic()
    hinted = False
    try:
        while True:
            if executor is not None:
                await asyncio.wait({executor}, timeout=POLL_SECONDS)
                if executor.done():
                    ended = executor.result()
                    executor = None
                    following.running_here = False
                    if ended is not None:
                        view.update(ended)
                        return ended
            else:
                await asyncio.sleep(POLL_SECONDS)
            current = await SyncRun.get(id=run.id)
            view.update(current)
            if current.status not in sync_runs.ACTIVE:
                return current
            if embedded and executor is None:
                if sync_runs.is_stale(current, utcnow(), hub.sync.lease):
                    executor = run_here()  # its worker is gone: take it over
            elif current.status == "queued" and not hinted:
                if time.monotonic() - queued_since > QUEUED_HINT_SECONDS:
                    hinted = True
                    err.print(
                        f"run {run.id} is still queued: is a `medianest worker` running?",
                        soft_wrap=True,
                    )
    finally:
        if executor is not None and not executor.done():
            executor.cancel()
            done, _ = await asyncio.wait({executor}, timeout=RELEASE_TIMEOUT_SECONDS)
            following.released = bool(done)


def _announcement(run: SyncRun, created: bool, *, embedded: bool) -> str:
    if not created:
        return f"joining the {run.kind} sync of {run.source} already {run.status} (run {run.id})"
    if embedded:
        return f"{run.kind} sync of {run.source} started (run {run.id})"
    return f"{run.kind} sync of {run.source} queued for the workers (run {run.id})"


def _summary(run: SyncRun) -> str:
    took = ""
    if run.started_at is not None and run.finished_at is not None:
        took = f" in {(run.finished_at - run.started_at).total_seconds():.1f} s"
    retried = f" ({run.errors:,} failed fetches retried)" if run.errors else ""
    return (
        f"{run.source}: {run.kind} sync succeeded (run {run.id}){took}: "
        f"{run.items_seen:,} items in {run.pages:,} pages; {run.inserted:,} new, "
        f"{run.updated:,} updated, {run.deleted:,} deleted{retried}"
    )


def _interrupted(following: _Following) -> str:
    run_id, source = following.run_id, following.source
    if run_id is None:
        return "interrupted before a run was queued"
    if not following.running_here:
        return (
            f"stopped following run {run_id}; the sync of {source} goes on "
            "(`medianest sync --list` shows it)"
        )
    if following.released:
        return (
            f"interrupted: run {run_id} stopped after its last committed batch; the next sync "
            f"of {source} resumes it from there"
        )
    return (
        f"interrupted: run {run_id} stopped; the next sync of {source} resumes it from its "
        f"last committed batch once its lease lapses ({following.lease_seconds:g} s)"
    )


def _refuse(error: NotFoundError | InvalidInputError | ConflictError) -> NoReturn:
    """Say why the sync cannot be done and exit with status 2."""
    print_error(error.message)
    sys.exit(2)


# --list ------------------------------------------------------------------------------------


def _list(settings: Settings, source: str | None, limit: int, as_json: bool) -> None:
    async def latest() -> list[SyncRun]:
        async with services(settings) as hub:
            with hub.database.activate():
                query = SyncRun.all()
                if source:
                    query = query.filter(source=source)
                return await query.order_by("-id").limit(limit)

    rows = run(latest())
    if as_json:
        out.print_json(json.dumps([sync_runs.run_view(r) for r in rows]))
        return
    if not rows:
        out.print(f"no sync runs{f' of {source}' if source else ''} yet", markup=False)
        return
    out.print(_runs_table(rows, wide=out.width >= WIDE_COLUMNS))
    failed = [row for row in rows if row.status == "failed" and row.error]
    for row in failed:
        out.print(f"run {row.id} failed: {row.error}", markup=False, soft_wrap=True)


WIDE_COLUMNS = 100
"""From this terminal width on, ``--list`` also shows who asked for each run and how long it
took; narrower, it keeps to the columns that fit 80 (``--json`` has everything)."""


def _runs_table(rows: list[SyncRun], *, wide: bool) -> Table:
    columns = [
        Column("run", justify="right", no_wrap=True),
        Column("source", no_wrap=True),
        Column("kind", no_wrap=True),
        Column("status", no_wrap=True),
        Column("created (UTC)", no_wrap=True),
        *([Column("took", justify="right", no_wrap=True), Column("by")] if wide else []),
        Column("items", justify="right"),
        Column("changes"),
    ]
    table = plain_table(*columns)
    for row in rows:
        cells = _cells(row)
        if not wide:
            del cells["took"], cells["by"]
        table.add_row(*cells.values())
    return table


def _cells(run: SyncRun) -> dict[str, str]:
    took = "-"
    if run.started_at is not None and run.finished_at is not None:
        took = f"{(run.finished_at - run.started_at).total_seconds():.1f} s"
    items = f"{run.items_seen:,}" + (f"/{run.total:,}" if run.total is not None else "")
    by = run.trigger + (f" ({run.requested_by})" if run.requested_by not in (None, "cli") else "")
    changes = f"+{run.inserted:,} ~{run.updated:,} -{run.deleted:,}"
    if run.errors:
        changes += f", {run.errors:,} errors"
    return {
        "run": str(run.id),
        "source": run.source,
        "kind": run.kind,
        "status": run.status,
        "created": run.created_at.strftime("%m-%d %H:%M"),
        "took": took,
        "by": by,
        "items": items,
        "changes": changes,
    }
