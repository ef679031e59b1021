"""Request and response models of the library sync API (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from medianest.config.settings import SyncSchedule
from medianest.core.db.models import SyncRun
from medianest.core.sync.runs import run_view
from medianest.core.web.api_support import PageQuery

RunStatus = Literal["queued", "running", "succeeded", "failed"]
RunKindName = Literal["full", "incremental"]


class SyncRequest(BaseModel):
    """The body of ``POST /api/v1/sync/{source}``; it may be left out (an incremental sync)."""

    model_config = ConfigDict(extra="forbid")

    full: StrictBool = Field(
        default=False,
        description="true: walk the whole library and delete what is gone from it; "
        "false: read what changed since the last sync",
    )


class SyncRunView(BaseModel):
    """One sync run: what started it, where it stands, what it changed."""

    id: int
    source: str = Field(description="the media source synced (plex:home)")
    kind: RunKindName
    trigger: str = Field(description="what asked for it: schedule, webhook, api, cli or plugin")
    requested_by: str | None = Field(description="who asked for it (a username, or cli)")
    status: RunStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime = Field(description="the last sign of life of its worker")
    attempts: int = Field(description="workers that took it on (more than 1: it was resumed)")
    pages: int = Field(description="pages read and committed")
    items_seen: int
    total: int | None = Field(description="items in the library, when the source says")
    inserted: int
    updated: int
    deleted: int
    errors: int = Field(description="pages that failed and were retried")
    error: str | None = Field(description="why it failed")

    @classmethod
    def of(cls, run: SyncRun) -> SyncRunView:
        """The view of ``run``."""
        return cls.model_validate(run_view(run))


class SyncRunAccepted(SyncRunView):
    joined: bool = Field(
        description="true: a run already queued or running does the work asked for, and this "
        "is it; false: a new run was queued"
    )


class SyncRunQuery(PageQuery):
    source: str | None = Field(
        default=None, min_length=1, max_length=100, description="runs of this media source"
    )
    status: RunStatus | None = None
    kind: RunKindName | None = None


class SyncRunList(BaseModel):
    items: list[SyncRunView]
    total: int = Field(description="runs matching the filters, on every page")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class SyncScheduleView(BaseModel):
    incremental_minutes: int = Field(description="minutes between incremental syncs; 0: off")
    full_daily_at: str | None = Field(description="UTC time (HH:MM) of the daily full sync")

    @classmethod
    def of(cls, schedule: SyncSchedule) -> SyncScheduleView:
        """The view of a source's schedule."""
        at = schedule.full_daily_at
        return cls(
            incremental_minutes=schedule.incremental_minutes,
            full_daily_at=at.strftime("%H:%M") if at is not None else None,
        )


class SyncSourceView(BaseModel):
    id: str
    name: str
    incremental: bool = Field(description="whether the source can list its changes")
    schedule: SyncScheduleView
    active: SyncRunView | None = Field(description="the run queued or running, if any")
    last_full: SyncRunView | None = Field(description="the last full run that ended")
    last_incremental: SyncRunView | None = Field(description="the last incremental run that ended")


class SyncSourceList(BaseModel):
    items: list[SyncSourceView]
    total: int
