"""Library syncs over HTTP (permission ``run_syncs``): start one, follow runs, see sources.

- ``POST /api/v1/sync/{source}`` with ``{"full": true}`` (or no body: an incremental sync)
  queues a run for a worker and answers 202 with the run and a ``Location`` to follow it. A
  run already queued or running that does the same work (the same kind, or a full run when
  an incremental one is asked) is answered instead, with ``joined: true``. An unknown source
  is a 404 naming it, a source that cannot be synced that way a 422 naming ``full`` (or
  ``source``), a run of the other kind going on a 409. Each accepted request is recorded in
  the audit log (``sync.requested``). Like every API call it counts against the caller's
  ``api`` rate limit.
- ``GET /api/v1/sync/runs`` lists runs newest first, filtered by source, status and kind,
  paged with an opaque cursor; ``GET /api/v1/sync/runs/{id}`` is one run.
- ``GET /api/v1/sync/sources`` lists the sources with a library: schedule, the active run,
  the last full and incremental runs that ended.

Progress of a run is also published on the ``sync`` pub/sub channel after every batch.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from quart import Blueprint, Response, request
from quart.blueprints import BlueprintSetupState
from quart_schema import (
    RequestSchemaValidationError,
    document_request,
    tag,
    validate_querystring,
    validate_response,
)
from werkzeug.routing import BaseConverter

from medianest.core.auth import audit
from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind, Trigger
from medianest.core.sync import runs as sync_runs
from medianest.core.web import context, problems
from medianest.core.web.api_support import caller, page_by_id
from medianest.core.web.sync_schemas import (
    SyncRequest,
    SyncRunAccepted,
    SyncRunList,
    SyncRunQuery,
    SyncRunView,
    SyncScheduleView,
    SyncSourceList,
    SyncSourceView,
)
from medianest.sdk.access import Permission, requires
from medianest.sdk.errors import InvalidInputError, NotFoundError
from medianest.sdk.models import Principal
from medianest.sdk.providers import SourceCapability
from medianest.sdk.web import PROBLEM_JSON, responds

RUNS_PATH = "/api/v1/sync/runs"
MAX_RUN_ID = 2**63 - 1
RESERVED_SOURCE_IDS = ("runs", "sources")
"""Path segments of ``/sync/...`` that are collections, never a source to sync."""


class SyncSourceConverter(BaseConverter):
    """A source id in ``/sync/<source>``: one path segment, never ``runs`` or ``sources``, so
    ``POST /sync/runs`` is a method the collection does not allow (405 with ``Allow``), not a
    sync of a source called ``runs``."""

    regex = "(?!(?:" + "|".join(RESERVED_SOURCE_IDS) + ")(?:/|$))[^/]+"
    openapi_schema = {
        "type": "string",
        "minLength": 1,
        "pattern": "^[^/]+$",
        "not": {"enum": list(RESERVED_SOURCE_IDS)},
    }


blueprint = Blueprint("sync", __name__, url_prefix="/api/v1")


@blueprint.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("sync_source", SyncSourceConverter)


UNSUPPORTED = "sync_unsupported"
"""Problem code of a sync the source cannot do (422)."""


@blueprint.post("/sync/<sync_source:source>")
@requires(Permission.RUN_SYNCS)
@tag(["sync"])
@document_request(SyncRequest)
@validate_response(SyncRunAccepted, 202)
@responds(409, "A run of the other kind is queued or running", media_type=PROBLEM_JSON)
@responds(
    405,
    "runs and sources are collections, not sources (Allow: GET)",
    media_type=PROBLEM_JSON,
)
async def request_sync(source: str) -> Any:
    """Start a sync of a media source, or join the one going (202; Location: the run)."""
    data = await _sync_request()
    try:
        run, created = await start_sync(caller(), source, full=data.full)
    except InvalidInputError as exc:
        return _unsupported(exc)
    body = SyncRunAccepted(**SyncRunView.of(run).model_dump(), joined=not created)
    return body, 202, {"Location": f"{RUNS_PATH}/{run.id}"}


async def start_sync(principal: Principal, source: str, *, full: bool) -> tuple[SyncRun, bool]:
    """Queue ``principal``'s sync of ``source`` (or join the run going), audited; the run and
    whether it is new. The admin page's button does the same.

    :raises NotFoundError: no such source.
    :raises InvalidInputError: the source cannot be synced that way.
    :raises ConflictError: a run of the other kind is going.
    """
    kind = RunKind.FULL if full else RunKind.INCREMENTAL
    run, created = await context.hub().sync.request(
        source, kind, Trigger.API, requested_by=principal.username
    )
    await audit.record(
        "sync.requested",
        actor=principal,
        target=f"source:{source}",
        details={"run_id": run.id, "kind": kind.value, "joined": not created},
    )
    return run, created


@blueprint.get("/sync/runs")
@requires(Permission.RUN_SYNCS)
@tag(["sync"])
@validate_querystring(SyncRunQuery)
@validate_response(SyncRunList)
async def list_runs(query_args: SyncRunQuery) -> SyncRunList:
    """Sync runs, newest first, filtered by source, status and kind."""
    return await run_list(query_args)


async def run_list(query_args: SyncRunQuery) -> SyncRunList:
    """The page of runs ``query_args`` asks for (the admin page shows the same)."""
    query = SyncRun.all()
    if query_args.source:
        query = query.filter(source=query_args.source)
    if query_args.status:
        query = query.filter(status=query_args.status)
    if query_args.kind:
        query = query.filter(kind=query_args.kind)
    rows, total, following = await page_by_id(query, query_args, newest_first=True)
    return SyncRunList(
        items=[SyncRunView.of(run) for run in rows], total=total, next_cursor=following
    )


@blueprint.get(f"/sync/runs/<int(max={MAX_RUN_ID}):run_id>")
@requires(Permission.RUN_SYNCS)
@tag(["sync"])
@validate_response(SyncRunView)
async def get_run(run_id: int) -> SyncRunView:
    """One sync run."""
    run = await SyncRun.get_or_none(id=run_id)
    if run is None:
        raise NotFoundError(f"no sync run with id {run_id}")
    return SyncRunView.of(run)


@blueprint.get("/sync/sources")
@requires(Permission.RUN_SYNCS)
@tag(["sync"])
@validate_response(SyncSourceList)
async def list_sources() -> SyncSourceList:
    """The media sources with a library: schedule, active run and last runs of each kind."""
    return await source_list()


async def source_list() -> SyncSourceList:
    """The sources with a library as ``GET /api/v1/sync/sources`` shows them."""
    engine = context.hub().sync
    items = []
    for source in engine.sources():
        active = await SyncRun.filter(source=source.id, status__in=sync_runs.ACTIVE).first()
        last_full = await sync_runs.last_finished(source.id, RunKind.FULL)
        last_incremental = await sync_runs.last_finished(source.id, RunKind.INCREMENTAL)
        items.append(
            SyncSourceView(
                id=source.id,
                name=source.name,
                incremental=SourceCapability.CHANGES in source.capabilities,
                schedule=SyncScheduleView.of(engine.settings.schedule_for(source.id)),
                active=SyncRunView.of(active) if active else None,
                last_full=SyncRunView.of(last_full) if last_full else None,
                last_incremental=SyncRunView.of(last_incremental) if last_incremental else None,
            )
        )
    return SyncSourceList(items=items, total=len(items))


async def _sync_request() -> SyncRequest:
    """The request body, or the defaults when there is none.

    :raises InvalidInputError: a body that is not JSON (400).
    :raises RequestSchemaValidationError: a body that is not a :class:`SyncRequest` (422).
    """
    if not await request.get_data(as_text=False):
        return SyncRequest()
    body = await request.get_json()
    try:
        return SyncRequest.model_validate(body)
    except ValidationError as exc:
        raise RequestSchemaValidationError(exc) from exc


def _unsupported(error: InvalidInputError) -> Response:
    """422 naming what made the sync impossible (``full``, or the ``source`` itself)."""
    field = error.field or "source"
    where = "body" if field == "full" else "path"
    return problems.problem(
        422,
        UNSUPPORTED,
        error.message,
        title="Sync not possible",
        errors=[{"field": field, "message": error.message, "in": where}],
    )
