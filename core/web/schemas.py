"""Response models of core's own endpoints (they shape the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


CircuitStateName = Literal["closed", "open", "half_open"]


class ComponentHealth(BaseModel):
    name: str = Field(description="database, redis, or a provider id such as plex:home")
    ok: bool
    detail: str = ""
    latency_ms: float | None = None
    circuit: CircuitStateName | None = Field(
        default=None,
        description=(
            "live sources: this replica's search circuit breaker (open: searches skip the "
            "source until a trial call succeeds)"
        ),
    )
    required: bool = Field(
        default=True,
        description=(
            "false: reported for monitoring only; not ok does not make this replica unready "
            "(the ARQ workers: an API replica serves without them)"
        ),
    )


class WorkerView(BaseModel):
    """One ARQ worker as its latest heartbeat describes it (scaled mode)."""

    worker_id: str = Field(description="host:pid:random, unique per worker process")
    host: str
    pid: int
    started_at: datetime
    last_beat_at: datetime
    seconds_since_beat: float
    alive: bool = Field(description="false: no heartbeat for longer than the silence limit")
    jobs_running: int
    jobs_done: int
    jobs_failed: int
    jobs_retried: int
    unreachable: list[str] = Field(
        description="dependencies (redis, database) it could not reach at that beat; it takes "
        "no new job until they answer"
    )


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    mode: Literal["embedded", "scaled"]
    components: list[ComponentHealth]
    workers: list[WorkerView] | None = Field(
        default=None,
        description="scaled mode, to holders of view_metrics: the ARQ workers by their heartbeats",
    )


class WorkersStatus(BaseModel):
    ok: bool = Field(description="at least one worker beats and none has gone silent")
    detail: str
    silent_after_seconds: float
    items: list[WorkerView]
    total: int


class SystemView(BaseModel):
    mode: Literal["embedded", "scaled"]
    workers: WorkersStatus | None = Field(
        default=None,
        description="scaled mode: the ARQ workers (embedded mode runs jobs in the hub itself)",
    )


class CircuitView(BaseModel):
    """A live source's search circuit breaker on the replica that answered."""

    state: CircuitStateName
    failures: int = Field(description="failures in a row")
    opened_at: datetime | None = Field(default=None, description="when it last opened")
    retry_at: datetime | None = Field(default=None, description="when a trial call is allowed")
    last_error: str | None = Field(default=None, description="what the latest failure was")


class SourceView(BaseModel):
    """A media source a plugin provides."""

    id: str
    name: str
    capabilities: list[str] = Field(description="sorted: library, changes, live_search, ...")
    circuit: CircuitView | None = Field(default=None, description="live sources only")


class PluginView(BaseModel):
    key: str
    distribution: str | None
    version: str | None
    bundled: bool
    enabled: bool
    provides: dict[str, list[str]]
    sources: list[SourceView] = Field(default_factory=list, description="its media sources")


class PluginList(BaseModel):
    items: list[PluginView]
    total: int


class FlagView(BaseModel):
    key: str
    description: str
    default: bool
    enabled: bool
    overridden: bool
    updated_at: datetime | None = None
    updated_by: str | None = None


class FlagList(BaseModel):
    items: list[FlagView]
    total: int
